"""Argument checks shared by the metrics and the text helpers (NumPy only, at the bottom of the import graph)."""

from __future__ import annotations

import numpy as np


def positive_int(value, name: str) -> int:
    """`value` as an int: TypeError unless it is a whole number (int or numpy integer), ValueError below 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, not {type(value).__name__} ({value!r:.40})")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def require_finite(name: str, values) -> None:
    """ValueError when `values` (rows: an array, a list or a torch tensor, checked on its own device without a
    copy) holds NaN or +-inf: a diverged model must never score well. The message counts the bad rows."""
    finite = values.isfinite() if hasattr(values, "isfinite") else np.isfinite(np.asarray(values, dtype=np.float64))
    if finite.all():
        return
    bad = ~finite.reshape(len(finite) if finite.ndim else 1, -1).all(1)  # (rows,) bool
    raise ValueError(
        f"{name} contain NaN or infinite values ({int(bad.sum()):,} of {len(bad):,} rows, first row "
        f"{int(bad.nonzero()[0][0])}): the model diverged or its input is broken; check the loss curve and "
        "lower the learning rate"
    )


def listed(items, what: str, of: str = "tokens (str)", nested: bool = False):
    """`items` (with `nested`, as a list of its items, each checked the same way): TypeError for a string, bytes
    or anything not iterable where a list belongs, since iterating a string gives its characters."""
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        hint = "use helpers.tokenize(text)" if of.startswith("token") else "wrap a single one in a list"
        raise TypeError(f"{what} must be a list of {of}, not {type(items).__name__} ({items!r:.60}): {hint}")
    return [listed(x, f"{what}[{i}]") for i, x in enumerate(items)] if nested else items
