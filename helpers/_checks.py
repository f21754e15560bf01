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


def require_finite(name: str, values: np.ndarray) -> None:
    """ValueError when a NumPy array of rows holds NaN or +-inf: a diverged model must never score well."""
    bad = ~np.isfinite(np.asarray(values, dtype=np.float64)).reshape(len(values), -1).all(1)
    if bad.any():
        raise ValueError(
            f"{name} contain NaN or infinite values ({int(bad.sum()):,} of {len(bad):,} rows, first row "
            f"{int(np.flatnonzero(bad)[0])}): the model diverged or its input is broken; check the loss curve"
        )
