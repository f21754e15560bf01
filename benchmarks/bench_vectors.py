"""Benchmark: reloading word vectors from the book's cache vs parsing the text file into a dict.

Seed 001 loaded fastText's `crawl-300d-2M.vec` with a dict comprehension over the text lines (minutes for
2M words, every time the notebook starts). `helpers.realdata.load_vectors` parses the text once, saves a
`.npy` matrix + a JSON word list in the cache (`helpers.vectorcache`, no pickle), and memory-maps it
afterwards. This script measures both on a synthetic `.vec` file of N x D random vectors (default
100,000 x 300, about 200 MB of text):

    .venv/bin/python benchmarks/bench_vectors.py [--n 100000] [--dim 300] [--repeats 5]

It prints the times and the ratio (text-to-dict parse / native reload). Nothing is written outside a
temporary folder (its cache included), which is deleted at the end unless --keep is given.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_vec_file(path: Path, n: int, dim: int, seed: int = 0) -> None:
    """A fastText-style `.vec`: 'n dim' header, then 'word v1 ... vdim ' rows with 4 decimals."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{n} {dim}\n")
        for start in range(0, n, 5000):
            block = rng.standard_normal((min(5000, n - start), dim)).astype(np.float32)
            rows = []
            for i, vec in enumerate(block):
                word = "".join(rng.choice(letters, 3 + (start + i) % 8)) + str(start + i)
                rows.append(word + " " + " ".join(f"{x:.4f}" for x in vec) + " \n")
            f.write("".join(rows))


def seed001_parse(path: Path) -> dict:
    """Seed 001's loader, as written there (np.float is float64; the header line becomes a bogus entry)."""
    wv_file = open(path, encoding="utf-8", newline="\n", errors="ignore")
    fasttext = {line.split()[0]: np.array(line.split()[1:]).astype(float) for line in list(wv_file)}
    wv_file.close()
    return fasttext


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_vectors_"))
    os.environ["SEEING_SAYING_CACHE"] = str(work / "cache")  # the native copy goes here, not in the book's cache
    from helpers.realdata import load_vectors

    try:
        vec = work / "bench.vec"
        t = time.perf_counter()
        make_vec_file(vec, args.n, args.dim)
        print(
            f"wrote {vec.name}: {args.n:,} x {args.dim}, {vec.stat().st_size / 1e6:.0f} MB "
            f"in {time.perf_counter() - t:.1f} s"
        )

        t, c = time.perf_counter(), time.process_time()
        d = seed001_parse(vec)
        t_dict, c_dict = time.perf_counter() - t, time.process_time() - c
        assert len(d) == args.n + 1  # + the header line, as in the seed
        del d

        t, c = time.perf_counter(), time.process_time()
        kv = load_vectors(vec, progress=False)
        t_first, c_first = time.perf_counter() - t, time.process_time() - c
        assert kv.vectors.shape == (args.n, args.dim)
        del kv

        reload, touch, creload, ctouch = [], [], [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            kv = load_vectors(vec, progress=False)
            reload.append(time.perf_counter() - t)
            creload.append(time.process_time() - c)
            total = float(np.asarray(kv.vectors, dtype=np.float64).sum())  # read every vector from the mmap
            touch.append(time.perf_counter() - t)
            ctouch.append(time.process_time() - c)
            assert np.isfinite(total)
            del kv
        med = statistics.median
        rows = [
            ("seed 001: parse the text into a dict of numpy arrays", t_dict, c_dict),
            ("load_vectors, first call (parse + checks + save .npy)", t_first, c_first),
            ("load_vectors, reload from .npy + word list (mmap), median", med(reload), med(creload)),
            ("  ... and read every vector once, median", med(touch), med(ctouch)),
        ]
        print(f"\n{'method':58s} {'wall s':>9s} {'CPU s':>9s}")
        for name, wall, cpu in rows:
            print(f"{name:58s} {wall:9.3f} {cpu:9.3f}")
        print(f"\nratio dict parse / native reload (wall):            {t_dict / med(reload):8.0f}x")
        print(f"ratio dict parse / native reload + read all (wall): {t_dict / med(touch):8.0f}x")
        print(f"ratio dict parse / first load_vectors call (wall):  {t_dict / t_first:8.1f}x")
        try:
            print(f"(load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        except OSError:
            pass
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
