"""The seeds' real datasets, loaded into the same structures as the embedded data.

    load_real_captions("coco", "train")            -> CaptionData  (MS-COCO 2014, Karpathy split)
    load_real_captions("coco-spanish", "test_A", "es")  CaptionData + data.precomputed_features (seed 000)
    load_real_captions("flickr8k", "val")          -> CaptionData
    load_real_classes("tiny-imagenet", "train")    -> ClassData
    load_vectors("fasttext-crawl-en", limit=200_000)  gensim KeyedVectors (also a path to a .vec / GloVe file)
    inspect("flickr8k", "path/to/Flickr8k_text")   -> JSON-able summary (python -m helpers inspect ...)

Each loader fetches what it needs through `helpers.download` (checksummed, resumable, safely unpacked) unless
`root=` points at a copy of the dataset's folder as distributed, and checks that every listed image is on
disk. `helpers.load_captions(split, lang, dataset=NAME)` and `helpers.load_classes(split, dataset=NAME)` call
these functions, so a notebook switches to real data by changing its DATASET parameter.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from .download import dataset_dir, fetch, get_dataset
from .formats import (CaptionData, ClassData, DatasetFormatError, FLICKR8K_SPLITS, FLICKR8K_TOKENS, _read_json,
                      check_images, missing_images, read_coco_captions, read_flickr8k, read_flickr8k_tokens,
                      read_image_list, read_karpathy_captions, read_seed000, read_text_vectors, read_tiny_imagenet,
                      scan_vectors, summarize_captions, summarize_classes, vectors_header)
from . import vectorcache
from .paths import cache_dir
from .vectorcache import keyed_vectors

CAPTION_DATASETS = ("coco", "coco-spanish", "flickr8k")
CLASS_DATASETS = ("tiny-imagenet",)
LANGUAGES = {"coco": "en", "flickr8k": "en", "coco-spanish": "es"}
TEST_CHUNK = 1000  # images per test_A / test_B / test_C (seed 000's test sets)
SPANISH_VAL = 1000  # images of seed 000's train phase held out as 'val'


def splits(name: str) -> tuple:
    """The split names a real dataset accepts."""
    return get_dataset(name).splits


def _check_split(name: str, split: str) -> None:
    if split not in splits(name):
        raise ValueError(f"{name} has no split {split!r}; choose one of {splits(name)}")


def _find(folder: Path, filename: str, depth: int = 3) -> Path | None:
    """The first `filename` at most `depth` folders below `folder` (shallowest first), or None."""
    folder = Path(folder)
    for d in range(depth + 1):
        hits = sorted(folder.glob("/".join(["*"] * d + [filename])))
        if hits:
            return hits[0]
    return None


def _require(folder: Path, filename: str, what: str) -> Path:
    hit = _find(folder, filename)
    if hit is None:
        raise DatasetFormatError(f"{filename} ({what}) is not in {folder} or its subfolders")
    return hit


def _subset(data: CaptionData, images, name: str) -> CaptionData:
    """The images `images` (indices) of a CaptionData, with their captions."""
    images = np.asarray(images, np.int64)
    new = -np.ones(len(data.files), np.int64)
    new[images] = np.arange(len(images))
    keep = np.flatnonzero(new[data.caption_image] >= 0)
    return CaptionData(data.image_dir, [data.files[i] for i in images], [data.captions[k] for k in keep],
                       new[data.caption_image[keep]], None, None, data.lang, name)


# ------------------------------------------------------------------------------------------ captions
def load_real_captions(name: str, split: str = "train", lang: str | None = None, root=None, download: bool = True,
                       check: bool = True, progress: bool = True) -> CaptionData:
    """Captioned images of a real dataset, as `CaptionData` (the embedded data's structure).

    name: 'coco' (English; Karpathy splits 'train'/'val'/'test', 'test_A'/'test_B'/'test_C' = 1,000-image
    chunks of 'test', or the official 'train2014'/'val2014'), 'coco-spanish' (Spanish; seed 000's files;
    'train'/'val'/'train_full'/'test_A'/'test_B'/'test_C'; the precomputed ResNet152 vectors are in
    `data.precomputed_features`), 'flickr8k' (English; 'train'/'val'/'test'/'all').
    lang: the captions' language ('en' for coco and flickr8k, 'es' for coco-spanish); None accepts it.
    root: a folder holding the dataset as distributed (skips the download); default: the cache.
    check: raise `DatasetFormatError` if a listed image is not on disk (not for coco-spanish: no images).
    """
    ds = get_dataset(name)
    if ds.name not in CAPTION_DATASETS:
        raise ValueError(f"{ds.name} is not a captioned-image dataset; captioned datasets: {CAPTION_DATASETS}"
                         + (" (use load_real_classes)" if ds.name in CLASS_DATASETS else ""))
    want = LANGUAGES[ds.name]
    if lang is not None and lang != want:
        other = {"en": "'coco' or 'flickr8k'", "es": "'coco-spanish'"}[lang] if lang in ("en", "es") else "none"
        raise ValueError(f"{ds.name} captions are in {want!r}, not {lang!r}: set LANGUAGE = {want!r}, or use a "
                         f"dataset in {lang!r} ({other})")
    _check_split(ds.name, split)
    loader = {"coco": _load_coco, "coco-spanish": _load_coco_spanish, "flickr8k": _load_flickr8k}[ds.name]
    data = loader(split, Path(root) if root else None, download, progress)
    if check and ds.name != "coco-spanish":
        check_images(data)
    return data


def _load_coco(split, root, download, progress) -> CaptionData:
    official = split in ("train2014", "val2014")
    if official:
        files = ["annotations_trainval2014.zip", f"{split}.zip"]
    else:
        files = ["caption_datasets.zip", "val2014.zip"] + (["train2014.zip"] if split in ("train", "restval") else [])
    folder = root or (fetch("coco", files, progress=progress) if download else dataset_dir("coco"))
    if official:
        ann = _require(folder, f"captions_{split}.json", "COCO captions, from annotations_trainval2014.zip")
        image_dir = _find(folder, split, depth=2) or folder / split
        data = read_coco_captions(ann, image_dir, "en")
        data.name = f"coco/{split}"
        return data
    karpathy = _require(folder, "dataset_coco.json", "Karpathy split, from caption_datasets.zip")
    base = "test" if split.startswith("test_") else split
    data = read_karpathy_captions(karpathy, base, image_dir=_image_root(folder))
    if split.startswith("test_"):
        k = "ABC".index(split[-1])
        if len(data.files) < (k + 1) * TEST_CHUNK:
            raise DatasetFormatError(f"the Karpathy test split has {len(data.files)} images: too few for {split}")
        return _subset(data, range(k * TEST_CHUNK, (k + 1) * TEST_CHUNK), f"coco-karpathy/{split}")
    data.name = f"coco-karpathy/{split}"
    return data


def _image_root(folder: Path) -> Path:
    """The folder that holds `train2014/` and `val2014/` (the Karpathy file's `filepath`s)."""
    for cand in (folder, *sorted(p for p in folder.glob("*") if p.is_dir())):
        if (cand / "val2014").is_dir() or (cand / "train2014").is_dir():
            return cand
    return folder


def _load_flickr8k(split, root, download, progress) -> CaptionData:
    folder = root or (fetch("flickr8k", progress=progress) if download else dataset_dir("flickr8k"))
    tokens = _require(folder, FLICKR8K_TOKENS, "Flickr8k captions, from Flickr8k_text.zip")
    base = "test" if split == "test_A" else split
    data = read_flickr8k(tokens.parent, None, base)
    first = _find(folder, data.files[0]) if data.files else None
    data.image_dir = first.parent if first else folder / "Flicker8k_Dataset"
    data.name = f"flickr8k/{split}"
    return data


def _load_coco_spanish(split, root, download, progress) -> CaptionData:
    phase = "train" if split in ("train", "val", "train_full") else split
    if root is None:
        folder = dataset_dir("coco-spanish")
        if download:  # nothing to download (a drive share): check the files are in place, say how if not
            ds = get_dataset("coco-spanish")
            fetch("coco-spanish", [r.filename for r in ds.resources if r.filename.startswith(phase + "_")],
                  progress=progress)
    else:
        folder = root
    data, vectors = read_seed000(folder, phase)
    if split in ("train", "val"):
        n = len(data.files)
        n_val = SPANISH_VAL if n > 2 * SPANISH_VAL else max(1, n // 10)
        idx = np.arange(n - n_val) if split == "train" else np.arange(n - n_val, n)
        data = _subset(data, idx, "")
        vectors = vectors[idx]
    data.name = f"coco-spanish/{split}"
    data.precomputed_features = {"pooled": vectors, "files": np.array(data.files),
                                 "backbone": "resnet152 (precomputed by seed 000)"}
    return data


def precomputed_features(data):
    """The features that came with a dataset (coco-spanish: seed 000's ResNet152 vectors), else None.

    Same keys as `helpers.image_features(data)`: {'pooled': (N, 2048) float32, 'files': (N,)} (no 'map').
    """
    return getattr(data, "precomputed_features", None)


def image_features(data, **kwargs) -> dict:
    """`precomputed_features(data)` when the dataset has them, else `helpers.image_features(data, **kwargs)`."""
    pre = precomputed_features(data)
    if pre is not None:
        return pre
    from .data import image_features as compute
    return compute(data, **kwargs)


# ------------------------------------------------------------------------------------------- classes
def load_real_classes(name: str = "tiny-imagenet", split: str = "train", root=None, download: bool = True,
                      check: bool = True, progress: bool = True) -> ClassData:
    """Labelled images of a real dataset as `ClassData` ('tiny-imagenet': 'train' 100,000 / 'val' 10,000).

    Every Tiny ImageNet class has training images, so `seen_unseen()` finds no unseen class: zero-shot
    queries use words that are not class names (seed 001 searched for 'bridge').
    """
    ds = get_dataset(name)
    if ds.name not in CLASS_DATASETS:
        raise ValueError(f"{ds.name} is not a classification dataset; those are {CLASS_DATASETS}"
                         + (" (use load_real_captions)" if ds.name in CAPTION_DATASETS else ""))
    _check_split(ds.name, split)
    folder = Path(root) if root else (fetch(ds.name, progress=progress) if download else dataset_dir(ds.name))
    wnids = _require(folder, "wnids.txt", "Tiny ImageNet class list, from tiny-imagenet-200.zip")
    data = read_tiny_imagenet(wnids.parent, split)
    if not len(data.files):
        raise DatasetFormatError(f"{wnids.parent} has no {split} images listed")
    data.name = f"tiny-imagenet/{split}"
    if check:
        check_images(data)
    return data


# -------------------------------------------------------------------------------------- word vectors
def _vector_source(path_or_name, download: bool, progress: bool) -> Path:
    p = Path(str(path_or_name)).expanduser()
    if p.exists() or any(c in str(path_or_name) for c in "/\\") or p.suffix in (".vec", ".txt", ".gz", ".bz2"):
        if not p.is_file():
            raise DatasetFormatError(f"{p} is missing")
        return p
    ds = get_dataset(path_or_name)
    if ds.kind != "vectors":
        raise ValueError(f"{ds.name} is not a word-vector dataset")
    res = ds.resources[0]
    folder = fetch(ds.name, progress=progress) if download else dataset_dir(ds.name)
    if res.extract:
        hit = _find(folder / res.extract, "*.vec") or _find(folder / res.extract, "*.txt")
        if hit is None:
            raise DatasetFormatError(f"no .vec file in {folder / res.extract}")
        return hit
    return folder / res.relpath


def native_vectors_path(src: Path, limit: int | None, fmt: str) -> Path:
    """The cache name (`<stem>`) of the fast-reload copy of a text vector file, keyed by path, size, mtime, limit.

    The copy is `<stem>.vectors.npy` + `<stem>.words.json` (`helpers.vectorcache`: no pickle).
    """
    st = src.stat()
    key = hashlib.sha256(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fmt}".encode()).hexdigest()[:10]
    stem = src.name.split(".")[0]
    return cache_dir("wordvectors") / f"{stem}-{limit or 'all'}-{key}"


def load_vectors(path_or_name, limit: int | None = None, fmt: str = "auto", download: bool = True,
                 progress: bool = True):
    """Word vectors as gensim `KeyedVectors`, from a registry name or a text file.

    Names: 'fasttext-crawl-en' (seed 001), 'fasttext-sbwc', 'glove-sbwc' (seed 000), 'glove-6b-50d' (the
    offline GloVe of `helpers.glove()`). Files: word2vec/fastText `.vec` text with a 'count dim' header, or
    GloVe text without one (fmt 'auto' tells them apart), plain or `.gz`. `limit` keeps the first (most
    frequent) words. The first load parses the text with pandas' C reader and checks it (every row has a
    word and `dim` numbers, header vs rows), then saves a `.npy` + word-list copy in the cache
    (`helpers.vectorcache`; gensim's own `.kv` files are pickles and are never loaded); later loads
    memory-map that copy (see benchmarks/bench_vectors.py for the timings).
    """
    from filelock import FileLock

    if str(path_or_name) == "glove-6b-50d":
        from .text import glove
        kv = glove()
        if limit:
            words = [w for w in kv.index_to_key if w is not None][:limit]
            return keyed_vectors(words, np.asarray(kv[words], np.float32))
        return kv
    src = _vector_source(path_or_name, download, progress)
    header = vectors_header(src)
    if fmt == "auto":
        fmt = "word2vec" if header else "glove"
    native = native_vectors_path(src, limit, fmt)
    kv = vectorcache.load_keyed_vectors(native)
    if kv is not None:
        return kv
    with FileLock(str(native) + ".lock"):
        kv = vectorcache.load_keyed_vectors(native)
        if kv is not None:
            return kv
        t = time.perf_counter()
        words, matrix, _ = read_text_vectors(src, limit, fmt)
        kv = keyed_vectors(words, matrix)
        vectorcache.save_keyed_vectors(native, kv)
        if progress:
            print(f"loaded {len(kv):,} x {kv.vector_size} vectors from {src.name} in {time.perf_counter() - t:.1f} s; "
                  f"copy for fast reloads (.npy + word list): {native}")
    return kv


# ------------------------------------------------------------------------------------------- inspect
FORMATS = ("coco", "flickr8k", "tiny-imagenet", "coco-spanish", "word2vec", "glove")


def inspect(fmt: str, path, images=None) -> dict:
    """Validate a local copy of a dataset and summarise it (`python -m helpers inspect FORMAT PATH`).

    PATH: the file for single-file formats ('coco': a captions JSON, ours, COCO's or Karpathy's;
    'word2vec' / 'glove': a vector file), the dataset's folder for the others ('flickr8k': the text folder
    or the folder holding it; 'tiny-imagenet': the tiny-imagenet-200 folder; 'coco-spanish': the folder of
    the phase folders). `images`: the image folder, where it cannot be guessed. Problems raise
    `DatasetFormatError`; the summary has counts of images, captions, classes, vectors and the dimension.
    """
    path = Path(path).expanduser()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")
    if not path.exists():
        raise DatasetFormatError(f"{path} does not exist")
    out = {"format": fmt, "path": str(path), "images": None, "captions": None, "classes": None, "vectors": None,
           "dimension": None}
    if fmt == "coco":
        out.update(_inspect_coco(path, images))
    elif fmt == "flickr8k":
        out.update(_inspect_flickr8k(path, images))
    elif fmt == "tiny-imagenet":
        wnids = _require(path, "wnids.txt", "Tiny ImageNet class list") if path.is_dir() else None
        if wnids is None:
            raise DatasetFormatError(f"{path}: give the tiny-imagenet-200 folder")
        parts = {}
        for split in ("train", "val"):
            d = read_tiny_imagenet(wnids.parent, split)
            parts[split] = dict(summarize_classes(d), images_missing=len(missing_images(d)))
        out.update(images=sum(p["images"] for p in parts.values()), classes=parts["train"]["classes"], splits=parts,
                   words=parts["train"]["classes_with_words"])
        _fail_on_missing(parts, wnids.parent)
    elif fmt == "coco-spanish":
        phases = sorted({p.name[: -len("_images_names.txt")] for p in path.rglob("*_images_names.txt")})
        if not phases:
            raise DatasetFormatError(f"{path} has no <phase>_images_names.txt (seed 000's layout)")
        parts = {}
        for phase in phases:
            d, v = read_seed000(path, phase)
            parts[phase] = dict(summarize_captions(d), vectors=int(v.shape[0]), dimension=int(v.shape[1]))
        out.update(images=sum(p["images"] for p in parts.values()), captions=sum(p["captions"] for p in parts.values()),
                   vectors=sum(p["vectors"] for p in parts.values()), dimension=2048, splits=parts)
    else:
        if not path.is_file():
            raise DatasetFormatError(f"{path} is not a file")
        info = scan_vectors(path, fmt, full=True)
        out.update(vectors=info["vectors"], dimension=info["dimension"], header=info["header"])
    out["ok"] = True
    return out


def _fail_on_missing(parts: dict, root: Path) -> None:
    missing = {s: p["images_missing"] for s, p in parts.items() if p.get("images_missing")}
    if missing:
        raise DatasetFormatError(f"images listed but absent under {root}: {missing}")


def _guess_image_dir(ann: Path, split_hint: str) -> Path | None:
    """Where a captions JSON's images are: ours (../images/<split>), COCO's (../<split>2014), or next to it."""
    stem = split_hint
    cands = [ann.parent.parent / "images" / stem, ann.parent.parent / stem, ann.parent / stem, ann.parent / "images",
             ann.parent]
    for c in cands:
        if c.is_dir() and any(c.iterdir()):
            return c
    return None


def _inspect_coco(path: Path, images) -> dict:
    if path.is_dir():
        raise DatasetFormatError(f"{path} is a folder: give the captions JSON file (e.g. captions_train2014.json)")
    doc = _read_json(path)
    imgs = doc.get("images")
    if isinstance(imgs, list) and imgs and "sentences" in imgs[0]:  # Karpathy's split file
        per = {}
        for im in imgs:
            s = per.setdefault(im.get("split", "?"), {"images": 0, "captions": 0})
            s["images"] += 1
            s["captions"] += len(im["sentences"])
        return {"variant": "karpathy", "images": len(imgs), "captions": sum(s["captions"] for s in per.values()),
                "splits": per}
    del doc
    stem = path.stem.removeprefix("captions_")
    for suffix in ("_es", "_en"):
        stem = stem.removesuffix(suffix)
    image_dir = Path(images) if images else _guess_image_dir(path, stem)
    data = read_coco_captions(path, image_dir or path.parent)
    out = summarize_captions(data)
    out["variant"] = "coco"
    out["image_dir"] = str(image_dir) if image_dir else None
    if image_dir is not None:
        miss = missing_images(data)
        out["images_missing"] = len(miss)
        if miss:
            raise DatasetFormatError(f"{len(miss):,} images of {path.name} are absent from {image_dir}, e.g. {miss[:3]}")
    return out


def _inspect_flickr8k(path: Path, images) -> dict:
    tokens = path if path.is_file() else _require(path, FLICKR8K_TOKENS, "Flickr8k captions")
    text_dir = tokens.parent
    caps = read_flickr8k_tokens(tokens)
    out = {"images": len(caps), "captions": sum(len(c) for c in caps.values()),
           "captions_per_image": {"min": min(map(len, caps.values())), "max": max(map(len, caps.values()))}}
    parts = {}
    for split in ("train", "val", "test"):
        if (text_dir / FLICKR8K_SPLITS[split]).is_file():
            parts[split] = summarize_captions(read_flickr8k(text_dir, None, split))
    out["splits"] = parts
    image_dir = Path(images) if images else None
    if image_dir is None:
        first = next(iter(caps))
        for base in (text_dir, text_dir.parent):
            hit = _find(base, first, depth=2)
            if hit:
                image_dir = hit.parent
                break
    out["image_dir"] = str(image_dir) if image_dir else None
    if image_dir is not None and parts:
        listed = list(dict.fromkeys(n for s in parts for n in read_image_list(text_dir / FLICKR8K_SPLITS[s])))
        present = {p.name for p in Path(image_dir).iterdir()}
        miss = [n for n in listed if n not in present]
        out["images_missing"] = len(miss)
        if miss:
            raise DatasetFormatError(f"{len(miss):,} images of the split files are absent from {image_dir}, "
                                     f"e.g. {miss[:3]}")
    return out


__all__ = ["load_real_captions", "load_real_classes", "load_vectors", "precomputed_features", "image_features",
           "inspect", "splits", "native_vectors_path", "CAPTION_DATASETS", "CLASS_DATASETS", "FORMATS"]
