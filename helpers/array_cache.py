"""Named arrays cached as `.npz` files: atomic writes, keys, and reading back (a damaged file is recomputed).

`helpers.features` re-exports these names; its feature cache (`cached_features`) is built on them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .paths import cache_dir, new_file_mode, stable_key


def save_npz_atomic(path: Path, **arrays) -> None:
    """np.savez of `arrays` ({name: np.ndarray}) to a temporary file, then rename: a crash never leaves half a file.

    Errors while writing (OSError: a full disk) propagate after the temporary file is removed. TypeError for an
    array of Python objects: np.savez would pickle it, and nothing reads a pickle back from the cache.
    """
    path = Path(path)
    for k, v in arrays.items():
        if np.asarray(v).dtype.hasobject:
            raise TypeError(f"{path.name}: array {k!r} holds Python objects; cache numbers or strings (no pickle)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_arrays(name: str, key_parts, compute) -> dict:
    """`compute()` -> {name: array}, stored as `cache_dir('arrays')/<name>-<hash of key_parts>.npz` and read back
    on later calls. Put everything the arrays depend on (dataset, split, language, settings) in `key_parts`.

    Returns {name: np.ndarray} (each value of `compute()` through `np.asarray`; read back without pickle). A cache
    file that does not load is recomputed, with one printed line. TypeError (`save_npz_atomic`) for arrays of
    Python objects.
    """
    path = cache_dir("arrays") / f"{name}-{stable_key(key_parts)}.npz"
    out = _load_npz(path) if path.is_file() else None  # unreadable: recompute
    if out is None:
        out = {k: np.asarray(v) for k, v in compute().items()}
        save_npz_atomic(path, **out)
    return out


def file_stamps(paths: list) -> list:
    """[size in bytes, modification time in ns] of each file ([-1, -1] for one that cannot be read): what `make`
    and `rsync` compare, so a file rewritten under the same name gets another key."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([-1, -1])
    return out


def cache_key(name: str, backbone: str, size: int, files: list, version: int, stamps: list = ()) -> str:
    """A short key naming a feature file: dataset version and split (`name`), backbone, resolution, file list,
    the version of the extraction code (`version`, bumped when the same images give other numbers) and the
    files' `file_stamps`.

    `size` is the input side in pixels. The key is `<name, '/' -> '_'>-<backbone>-<size>-<12 hex digits>`, the
    hex digits a sha256 of all six parts.
    """
    parts = [name, backbone, size, list(map(str, files)), version, list(stamps)]
    h = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
    return f"{name.replace('/', '_')}-{backbone}-{size}-{h}"


def _load_npz(path: Path) -> dict | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception as e:  # a corrupt or truncated file: recompute it
        print(f"{path.name} is unreadable ({type(e).__name__}: {e}): recomputing")
        return None
