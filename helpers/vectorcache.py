"""Word vectors in the cache folder without pickle: `.npy` arrays and a JSON word list.

gensim's own `KeyedVectors.save` / `.load` files (`.kv`) are pickles: a crafted `.kv` in the cache folder runs
code when it is loaded. The book's word-vector caches (`helpers.glove()`, `helpers.realdata.load_vectors`,
`helpers.text.cached_fasttext`) are instead, for a cache name `<stem>`:

- `<stem>.<array>.npy`: float32 matrices (`vectors`, and for fastText `vectors_vocab`, `vectors_ngrams`),
  read with `np.load(..., allow_pickle=False)`, memory-mapped;
- `<stem>.words.json`: `{"format", "words", "shapes", ...}`; words may hold spaces and any Unicode.

The `KeyedVectors` are built in memory from them. Every file is written through a temporary file and a
rename, the JSON last, so a reader finds a complete set or none (and no temporary file survives an error).
An old gensim `<stem>.kv` (and its `.npy` files) is removed when the new files are written, with one line
saying so; it is never loaded.
"""

from __future__ import annotations

import glob
import json
import sys
from pathlib import Path

import numpy as np

from .formats import write_atomic

FORMAT = "seeing-saying word vectors, version 1"
_BLOCK = 65_536  # rows checked at a time when a cache is loaded


def _npy(stem: Path, name: str) -> Path:
    return stem.with_name(f"{stem.name}.{name}.npy")


def index_path(stem: Path) -> Path:
    """The JSON word list of the cache `stem` (written last: its presence means the arrays are complete)."""
    return stem.with_name(stem.name + ".words.json")


def save(stem: Path, words: list, arrays: dict, **meta) -> Path:
    """Write `arrays` ({name: matrix with one row per word for 'vectors'}) and `words` under `stem`.

    Returns the JSON path. Raises `TypeError` if a word is not a `str`, `ValueError` if 'vectors' does not
    have one row per word; errors while writing (a full disk) propagate and leave no temporary file.
    """
    stem = Path(stem)
    words = list(words)
    if not all(isinstance(w, str) for w in words):
        raise TypeError(f"words must be strings; got {sorted({type(w).__name__ for w in words})}")
    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    if arrays["vectors"].ndim != 2 or len(arrays["vectors"]) != len(words):
        raise ValueError(f"{len(words)} words but vectors of shape {arrays['vectors'].shape}")
    for name, a in arrays.items():
        write_atomic(_npy(stem, name), lambda f, a=a: np.save(f, a, allow_pickle=False))
    doc = {"format": FORMAT, "words": words, "shapes": {k: list(a.shape) for k, a in arrays.items()}, **meta}
    # ASCII escapes: any word (even one with a lone surrogate) round-trips exactly
    write_atomic(index_path(stem), lambda f: f.write(json.dumps(doc).encode("ascii")))
    _drop_pickled(stem)
    return index_path(stem)


def load(stem: Path, names=("vectors",), meta_keys=()):
    """(words, {name: read-only memory-mapped array}, meta) from the cache `stem`, or None if it is not there.

    Nothing is unpickled. A damaged or inconsistent cache (unreadable JSON, missing or mismatched arrays,
    a word listed twice, NaN or infinite values, missing `meta_keys`) also gives None, after one line saying
    it will be rebuilt.
    """
    stem = Path(stem)
    index = index_path(stem)
    if not index.is_file():
        return None
    try:
        doc = json.loads(index.read_text(encoding="ascii"))
        words, shapes = doc["words"], doc["shapes"]
        if doc.get("format") != FORMAT or not all(isinstance(w, str) for w in words):
            raise ValueError(f"not a {FORMAT!r} file")
        arrays = {}
        for name in names:
            a = np.load(_npy(stem, name), mmap_mode="r", allow_pickle=False)
            if a.dtype != np.float32 or list(a.shape) != shapes[name]:
                raise ValueError(f"{name}: {a.dtype} {a.shape}, expected float32 {shapes[name]}")
            arrays[name] = a
        if len(arrays["vectors"]) != len(words):
            raise ValueError(f"{len(words)} words but {len(arrays['vectors'])} vectors")
        if len(set(words)) != len(words):  # gensim would silently keep the last row of a repeated word
            raise ValueError(f"{len(words) - len(set(words))} word(s) listed twice")
        for name, a in arrays.items():  # in blocks: the arrays stay memory-mapped
            for s in range(0, len(a), _BLOCK):
                if not np.isfinite(a[s : s + _BLOCK]).all():
                    raise ValueError(f"{name}: NaN or infinite values")
        meta = {k: v for k, v in doc.items() if k not in ("format", "words", "shapes")}
        missing = [k for k in meta_keys if not isinstance(meta.get(k), int)]
        if missing:
            raise KeyError(f"no {missing}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{index.name} is unreadable ({type(e).__name__}: {e}): rebuilding it", file=sys.stderr)
        return None
    return words, arrays, meta


def _drop_pickled(stem: Path) -> None:
    """Remove gensim's pickled cache of the same name (`<stem>.kv`, `<stem>.kv.*.npy`) from earlier versions."""
    old = stem.with_name(stem.name + ".kv")
    gone = [p for p in [old, *map(Path, glob.glob(glob.escape(str(old)) + ".*.npy"))] if p.is_file() or p.is_symlink()]
    for p in gone:
        p.unlink(missing_ok=True)
    if gone:
        print(
            f"removed {old.name} from {old.parent}: an old gensim (pickle) cache, never loaded any more; "
            f"its vectors are now in {stem.name}.*.npy + {index_path(stem).name}",
            file=sys.stderr,
        )


# ------------------------------------------------------------------------------------- KeyedVectors
def keyed_vectors(words: list, matrix: np.ndarray):
    """gensim KeyedVectors holding `matrix` (rows in the order of `words`) without copying it."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(matrix.shape[1], count=len(words), dtype=np.float32)
    kv.vectors = np.ascontiguousarray(matrix, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    return kv


def save_keyed_vectors(stem: Path, kv) -> Path:
    """Cache gensim `KeyedVectors` as `<stem>.vectors.npy` + `<stem>.words.json` (see `save`)."""
    return save(stem, kv.index_to_key, {"vectors": kv.vectors})


def load_keyed_vectors(stem: Path):
    """The `KeyedVectors` that `save_keyed_vectors` cached under `stem` (memory-mapped), or None."""
    got = load(stem)
    return None if got is None else keyed_vectors(got[0], got[1]["vectors"])


_FASTTEXT = ("vectors", "vectors_vocab", "vectors_ngrams")


def save_fasttext(stem: Path, kv) -> Path:
    """Cache gensim `FastTextKeyedVectors` (word and character-n-gram vectors, n-gram settings) under `stem`."""
    return save(
        stem,
        kv.index_to_key,
        {name: getattr(kv, name) for name in _FASTTEXT},
        min_n=int(kv.min_n),
        max_n=int(kv.max_n),
        bucket=int(kv.bucket),
    )


def load_fasttext(stem: Path):
    """The `FastTextKeyedVectors` that `save_fasttext` cached under `stem` (out-of-vocabulary words work), or None."""
    from gensim.models.fasttext import FastTextKeyedVectors

    got = load(stem, _FASTTEXT, ("min_n", "max_n", "bucket"))
    if got is None:
        return None
    words, arrays, meta = got
    kv = FastTextKeyedVectors(arrays["vectors"].shape[1], meta["min_n"], meta["max_n"], meta["bucket"])
    for name in _FASTTEXT:
        setattr(kv, name, arrays[name])
    kv.index_to_key = list(words)
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.recalc_char_ngram_buckets()
    return kv


__all__ = [
    "save",
    "load",
    "index_path",
    "keyed_vectors",
    "save_keyed_vectors",
    "load_keyed_vectors",
    "save_fasttext",
    "load_fasttext",
    "FORMAT",
]
