"""Feature extraction at scale: helpers.features.extract vs the bare forward pass, and peak memory.

1. Throughput: N full-size photos (the sample photos that ship with scikit-image and scikit-learn, about
   512 px, saved as JPEG files and repeated) through `extract` (DataLoader decode + resize + forward) against
   the bare forward pass on the same images already decoded and resized in memory. Target (issue "real
   data"): extract >= 0.7x the bare images/s.
2. Memory: peak RSS of `cached_features` extracting `--rss-images` images with maps (small JPEGs, so the
   run is about the feature arrays, not decoding). Target: <= 2 GB for 20,000 images.

Usage: python benchmarks/bench_extract.py [--photos 256] [--rss-images 20000] [--workers N]
Prints one line per measurement; no file is written outside a temporary folder.
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import helpers
from helpers import features as feats
from helpers.formats import ClassData


def sample_photos() -> list:
    from skimage import data as skd
    from sklearn.datasets import load_sample_images

    arrays = [skd.astronaut(), skd.coffee(), skd.chelsea(), skd.rocket(), *load_sample_images().images]
    return [Image.fromarray(np.asarray(a)).convert("RGB") for a in arrays]


def write_photos(folder: Path, n: int, photos: list) -> list:
    paths = []
    for i in range(n):
        p = folder / f"photo{i:05d}.jpg"
        if i < len(photos):
            photos[i].save(p, quality=90)
        else:  # repeat the bytes: decoding cost is what matters
            p.write_bytes(paths[i % len(photos)].read_bytes())
        paths.append(p)
    return paths


def throughput(paths: list, workers: int, batch: int, repeat: int = 3) -> None:
    model = feats.Backbone("efficientnet_lite0")
    size, mean, std = feats.BACKBONES["efficientnet_lite0"]
    with Image.open(paths[0]) as im:
        w, h = im.size
    x = torch.cat([feats.preprocess([Image.open(p)], size, mean, std) for p in paths])  # (N, 3, S, S)

    def bare():
        with torch.inference_mode():
            for s in range(0, len(x), batch):
                model(x[s : s + batch])

    def full():
        feats.extract(paths, model=model, batch_size=batch, progress=False, workers=workers)

    feats.extract(paths[:batch], model=model, progress=False, workers=0)  # warm-up
    best = {"bare": float("inf"), "extract": float("inf")}
    for _ in range(repeat):  # alternate, best of `repeat`: other load on the machine hits both alike
        for name, fn in (("bare", bare), ("extract", full)):
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    n = len(paths)
    print(
        f"{n} photos of about {w}x{h} px -> {size} px, batch {batch}, {workers} DataLoader workers, "
        f"{torch.get_num_threads()} torch threads, best of {repeat}"
    )
    print(f"bare forward on preloaded tensors : {n / best['bare']:7.1f} images/s")
    print(
        f"helpers.features.extract          : {n / best['extract']:7.1f} images/s  "
        f"({best['bare'] / best['extract']:.2f}x the bare forward; target >= 0.70)"
    )


def peak_rss(folder: Path, n: int) -> None:
    small = folder / "small"
    small.mkdir()
    rng = np.random.default_rng(0)
    names = []
    for i in range(min(n, 64)):
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(small / f"s{i:05d}.jpg")
        names.append(f"s{i:05d}.jpg")
    for i in range(len(names), n):  # hard links: n files, 64 images on disk
        (small / f"s{i:05d}.jpg").hardlink_to(small / names[i % 64])
        names.append(f"s{i:05d}.jpg")
    data = ClassData(small, ["x"], {}, names, np.zeros(n, np.int64), name=f"bench-rss-{n}")
    t = time.perf_counter()
    out = feats.cached_features(data, progress=False)
    secs = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(
        f"cached_features, {n:,} images with maps {out['map'].shape[1:]} float16: {secs:.0f} s, "
        f"peak RSS {rss:.2f} GiB (largest worker {child:.2f} GiB; target <= 2 GiB)"
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--photos", type=int, default=256)
    p.add_argument("--rss-images", type=int, default=20000, help="0 skips the memory run")
    p.add_argument("--workers", type=int, default=None, help="default: helpers.num_workers()")
    p.add_argument("--batch", type=int, default=64)
    a = p.parse_args()
    workers = helpers.num_workers() if a.workers is None else a.workers
    with tempfile.TemporaryDirectory() as tmp:
        import os

        os.environ["SEEING_SAYING_CACHE"] = str(Path(tmp) / "cache")
        paths = write_photos(Path(tmp), a.photos, sample_photos())
        throughput(paths, workers, a.batch)
        if a.rss_images:
            peak_rss(Path(tmp), a.rss_images)


if __name__ == "__main__":
    main()
