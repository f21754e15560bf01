"""Reference loops, written the slow obvious way, that the vectorized `helpers.metrics.ranks` must agree with.

Not part of the library: `tests/test_metrics.py` and `tests/test_nb01_search.py` compare against them, and
`benchmarks/bench_ranks.py` times seed 000's loop against `helpers.metrics.ranks`.
"""

from __future__ import annotations

import numpy as np


def ranks_loop(d: np.ndarray, targets) -> np.ndarray:
    """Per query, sort (distance, index) pairs in Python and find the target (a reference for tests)."""
    out = []
    for row, t in zip(d, targets):
        order = sorted(zip(row.tolist(), range(len(row))))
        out.append([i for _, i in order].index(int(t)) + 1)
    return np.array(out)


def ranks_seed000(queries, items, targets) -> np.ndarray:
    """Seed 000's evaluation loop, kept for the benchmark: per query a NumPy L2 distance, then `sorted`."""
    out = []
    for q, t in zip(queries, targets):
        dist = np.sqrt(np.sum((items - q) ** 2, axis=1))
        order = sorted(range(items.shape[0]), key=lambda j: dist[j])
        out.append(order.index(int(t)) + 1)
    return np.array(out)
