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


def require_real(name: str, values) -> None:
    """TypeError when `values` (an array, a list or a torch tensor) are complex: a float conversion drops the
    imaginary part. Also TypeError for a generator or anything without a length (materialize it with list())."""
    if not hasattr(values, "__len__"):
        raise TypeError(f"{name} must be an array, a tensor or a list, not {type(values).__name__}: use list(...)")
    if values.is_complex() if hasattr(values, "is_complex") else np.iscomplexobj(values):
        raise TypeError(f"{name} must be real numbers, not complex: take .real or abs() first if that is meant")


def indices(values, name: str, n: int) -> np.ndarray:
    """`values` (a list, an array or a tensor of ints) as a 1-D integer array: TypeError for a string, floats,
    bools or other types, ValueError for another shape or an index outside 0..n-1 (negative ones would wrap)."""
    listed(values, name, "ints")
    a = np.asarray(values.cpu() if hasattr(values, "cpu") else values)
    if a.size and a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be ints, not {a.dtype} ({values!r:.60})")
    if a.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of ints, got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"{name} must be in 0..{n - 1}, got {int(a.min())} to {int(a.max())}")
    return a


def all_str(items, what: str) -> None:
    """TypeError naming the first item of `items` that is not a str (None, a number...)."""
    for t in items:
        if not isinstance(t, str):
            raise TypeError(f"{what} must be str, got {type(t).__name__} ({t!r:.40})")
