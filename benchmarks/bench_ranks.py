"""Rank computation: seed 000's per-query `sorted` loop vs helpers.metrics.ranks vs the bare distance product.

5000 queries x 1000 images x 2048 dims (seed 000's test set shape). Prints the times, checks that the ranks
are identical, and the ratios. Usage: python benchmarks/bench_ranks.py [--queries 5000]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.reference
from helpers import metrics  # noqa: E402
from tests.reference import ranks_seed000  # noqa: E402


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--queries", type=int, default=5000)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--dim", type=int, default=2048)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    q = rng.normal(size=(a.queries, a.dim)).astype(np.float32)
    x = rng.normal(size=(a.images, a.dim)).astype(np.float32)
    t = rng.integers(0, a.images, a.queries)
    qt, xt = torch.from_numpy(q), torch.from_numpy(x)

    t_prod, _ = best_of(lambda: qt @ xt.T)
    t_fast, fast = best_of(lambda: metrics.ranks(q, x, t))
    t_loop, loop = best_of(lambda: ranks_seed000(q, x, t), repeat=1)
    near_ties = int((fast != loop).sum())  # float32 rounding differs between the two formulas on near ties
    # identity check in float64, where rounding cannot reorder distinct distances
    q64, x64 = q.astype(np.float64), x.astype(np.float64)
    differ = int((metrics.ranks(q64, x64, t, dtype=torch.float64) != ranks_seed000(q64, x64, t)).sum())
    assert differ == 0, f"vectorized ranks differ from the loop for {differ} queries"
    print(f"{a.queries} queries x {a.images} images x {a.dim} dims, torch threads = {torch.get_num_threads()}")
    print(f"bare distance product : {t_prod * 1000:8.1f} ms")
    print(f"helpers.metrics.ranks : {t_fast * 1000:8.1f} ms  ({t_fast / t_prod:.2f}x the product)")
    print(f"seed 000 sorted loop  : {t_loop * 1000:8.1f} ms  (the loop is {t_loop / t_fast:.0f}x slower)")
    print(f"ranks identical to the loop in float64; in float32, {near_ties} of {a.queries} differ on near ties")


if __name__ == "__main__":
    main()
