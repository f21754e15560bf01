"""The seeds' word vectors; the real datasets' loaders moved to the data front door (helpers/datasets.py).

    load_vectors("fasttext-crawl-en", limit=200_000)  gensim KeyedVectors (also a path to a .vec / GloVe file)
    load_word_vectors("glove-6b-50d" or a path)     -> chapter 02's word vectors (GloVe offline, or your file)
    load_real_captions("coco", "train")            -> CaptionData   (= helpers.load_captions("train", None, "coco"))
    load_real_classes("tiny-imagenet", "train")    -> ClassData     (= helpers.load_classes("train", "tiny-imagenet"))
    inspect("flickr8k", "path/to/Flickr8k")        -> JSON-able summary (= helpers.datasets.inspect)

The caption and class loaders, `inspect`, `precomputed_features` and `image_features` are re-exported
from helpers/datasets.py and helpers/layouts.py under their old names, so older code keeps working.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from . import vectorcache
from ._checks import positive_int
from .datasets import (  # noqa: F401
    CAPTION_DATASETS,
    CLASS_DATASETS,
    FORMATS,
    LANGUAGES,
    image_features,
    inspect,
    load_real_captions,
    load_real_classes,
    precomputed_features,
    splits,
)
from .download import dataset_dir, fetch, get_dataset
from .formats import DatasetFormatError
from .layouts import SPANISH_VAL, TEST_CHUNK, _find  # noqa: F401 (older names; _find serves _vector_source)
from .paths import cache_dir, file_lock
from .vectorcache import keyed_vectors
from .vectorfiles import read_text_vectors, vectors_header

# -------------------------------------------------------------------------------------- word vectors
PARSER = "vectorfiles-1"


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
    # PARSER names the reader's version: copies made by an older parser (e.g. one that split words on
    # Unicode spaces) are not reused
    key = hashlib.sha256(f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fmt}|{PARSER}".encode()).hexdigest()[:10]
    stem = src.name.split(".")[0]
    return cache_dir("wordvectors") / f"{stem}-{limit or 'all'}-{key}"


def load_vectors(
    path_or_name, limit: int | None = None, fmt: str = "auto", download: bool = True, progress: bool = True
):
    """Word vectors as gensim `KeyedVectors`, from a registry name or a text file.

    Names: 'fasttext-crawl-en' (seed 001), 'fasttext-sbwc', 'glove-sbwc' (seed 000), 'glove-6b-50d' (the
    offline GloVe of `helpers.glove()`). Files: word2vec/fastText `.vec` text with a 'count dim' header, or
    GloVe text without one (fmt 'auto' tells them apart), plain or `.gz`. `limit` keeps the first (most
    frequent) words. The first load parses the text with `helpers.vectorfiles` (the one reader) and checks it
    (every row has a word and `dim` numbers, header vs rows), then saves a `.npy` + word-list copy in the cache
    (`helpers.vectorcache`; gensim's own `.kv` files are pickles and are never loaded); later loads
    memory-map that copy (see benchmarks/bench_vectors.py for the timings). The vectors: (n, dim) float32.
    Raises DatasetFormatError (a missing or malformed file, naming the line), UnknownDatasetError (an unknown
    name), ValueError (a registry entry that is not word vectors, an unknown `fmt`), DownloadError; TypeError /
    ValueError for a `limit` that is not None or an int >= 1.
    """
    limit = None if limit is None else positive_int(limit, "limit")  # before the cache name, which holds it
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
    with file_lock(native):
        kv = vectorcache.load_keyed_vectors(native)
        if kv is not None:
            return kv
        t = time.perf_counter()
        words, matrix, _ = read_text_vectors(src, limit, fmt)
        kv = keyed_vectors(words, matrix)
        vectorcache.save_keyed_vectors(native, kv)
        if progress:
            print(
                f"loaded {len(kv):,} x {kv.vector_size} vectors from {src.name} in {time.perf_counter() - t:.1f} s; "
                f"copy for fast reloads (.npy + word list): {native}"
            )
    return kv


def load_word_vectors(spec: str = "glove-6b-50d", limit: int | None = None):
    """Word vectors as gensim `KeyedVectors`.

    `"glove-6b-50d"` is the book's offline default (`helpers.glove()`, all 400k words: `limit` is not applied
    to it). Anything else is a path to a text `.vec` file (fastText's `crawl-300d-2M.vec`, or GloVe converted
    with a header line) or a word2vec `.bin`; `limit` keeps only the first (most frequent) words, which saves
    minutes and gigabytes. Raises FileNotFoundError for a path that is not a file, and as `load_vectors`.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 2. The targets: a word vector per label
    """
    if spec == "glove-6b-50d":
        from .text import glove

        return glove()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"word vectors {spec!r} not found: give 'glove-6b-50d' or the path of a .vec/.bin file "
            "(see the 'Real data and GPUs' page of the book for where to download fastText's vectors)"
        )
    return load_vectors(path, limit=limit)  # the book's one reader (helpers/vectorfiles.py), .bin included


__all__ = [
    "load_real_captions",
    "load_real_classes",
    "load_vectors",
    "load_word_vectors",
    "precomputed_features",
    "image_features",
    "inspect",
    "splits",
    "native_vectors_path",
    "CAPTION_DATASETS",
    "CLASS_DATASETS",
    "FORMATS",
]
