"""Stamps, pins and locks of `helpers.download`: `<file>.verified.json` and `<file>.lock`, next to each file
of the cache.

A stamp records the sha256 of a file that passed its checks, with the file's size and mtime, so a 13 GB
archive is hashed once, not at every use. For a file the registry has no sha256 for, the stamp's sha256 is
a pin (trust on first use) only when something confirmed the download: the registry's MD5 or size, or a size
the server declared and the body matched (`"pinned": true`); otherwise it only saves hashing again. A stamp is
valid while its file is there with the same size and mtime: a damaged stamp, or one whose file is gone or was
replaced, is removed (the pin goes with the file it pinned), never held against a new copy.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

from ._resumable import _hashers, _note
from .paths import file_lock


def _hash_file(path: Path) -> dict:
    """{'sha256': hex digest, 'md5': hex digest} of a file, read once."""
    return {a: h.hexdigest() for a, h in _hashers(path).items()}


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


_STAMP = {"sha256": str, "size": int, "mtime_ns": int, "verified_by": str}


def _load_stamp(target: Path) -> tuple:
    """`(stamp, problem)`: `({}, "")` when there is none, `({}, why)` when it is unreadable or malformed."""
    path = _stamp_path(target)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {}, ""
    except OSError as e:
        return {}, f"unreadable: {type(e).__name__}"
    if not stat.S_ISREG(st.st_mode) or st.st_size > 1 << 16:  # a link, fifo, device or something huge: not ours
        return {}, "not a small regular file (a link, fifo or device?): it is replaced at the next verification"
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # invalid JSON or UTF-8 are ValueErrors; a folder is an OSError
        return {}, f"unreadable: {type(e).__name__}"
    if not isinstance(stamp, dict):
        return {}, f"a JSON {type(stamp).__name__}, not an object"
    bad = [k for k, t in _STAMP.items() if type(stamp.get(k)) is not t]
    if not bad and not re.fullmatch(r"[0-9a-f]{64}", stamp["sha256"]):
        bad = ["sha256"]
    if bad or not isinstance(stamp.get("pinned", True), bool):
        return {}, f"wrong or missing {', '.join(bad or ['pinned'])}"
    return stamp, ""


def _read_stamp(target: Path) -> dict:
    return _load_stamp(target)[0]


def _write_stamp(target: Path, sha256: str, how: str, pinned: bool = True) -> None:
    st = target.stat()
    from .formats_core import write_text_atomic  # group-readable (paths.new_file_mode), atomic

    write_text_atomic(
        _stamp_path(target),
        json.dumps(
            {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "verified_by": how, "pinned": pinned},
            indent=1,
        ),
    )


def _stamp_is_fresh(target: Path, stamp: dict) -> bool:
    try:
        st = target.stat()
    except OSError:
        return False
    return stamp.get("size") == st.st_size and stamp.get("mtime_ns") == st.st_mtime_ns and bool(stamp.get("sha256"))


def _current_stamp(target: Path) -> dict:
    """The stamp of `target` if it still describes it; a damaged stamp, or one whose file is gone or changed,
    is removed (a pin goes with the file it pinned), with one line when that is news."""
    stamp, problem = _load_stamp(target)
    if not problem and (not stamp or _stamp_is_fresh(target, stamp)):
        return stamp
    try:
        _stamp_path(target).unlink(missing_ok=True)
    except OSError as e:  # a folder where the stamp belongs
        from ._errors import CacheError

        raise CacheError(
            f"{_stamp_path(target)} is damaged and cannot be removed ({e.strerror}): move it away and try again"
        ) from None
    if problem:
        _note(f"{_stamp_path(target)} is damaged ({problem}); removed it: {target.name} is checked again")
    elif target.exists() and stamp.get("pinned", True) and stamp["verified_by"] != "sha256 (registry)":
        _note(f"{target.name} changed since its sha256 was pinned; the pin was dropped and the file is checked again")
    return {}


def _how(res, confirmed: bool, pinned_before: bool = False) -> tuple:
    """(verified_by, pinned) of a file that passed the registry's checks; `confirmed`: a source declared its size."""
    if res.sha256:
        return "sha256 (registry)", True
    if pinned_before:
        return "sha256 (pinned)", True
    if res.md5:
        return f"md5{' + size' if res.size else ''}, sha256 pinned", True
    if res.size is not None or confirmed:
        return f"size {'from the registry' if res.size is not None else 'declared by the server'}, sha256 pinned", True
    return "nothing known: size unconfirmed, not pinned", False


class _Locked:
    """Hold `<target>.lock`; say so when another process holds it (a second notebook waits, then reuses).
    A lock file that is a symbolic or hard link is removed first, never written through (`paths.file_lock`)."""

    def __init__(self, target: Path):
        self.target = target

    def __enter__(self):
        from filelock import Timeout

        self.lock = file_lock(self.target)  # built on entry: a link put there just before is removed too
        try:
            self.lock.acquire(timeout=0.2)
        except Timeout:
            _note(f"waiting for another process that is fetching {self.target.name} ...")
            self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()
