"""Unpacking downloaded archives (zip, tar, single compressed files) without writing outside the target.

`safe_extract(archive, dest)` is what `helpers.download.fetch` uses (and re-exports). Three lines of defence:

1. every member is checked before anything is written: absolute paths, `..`, devices and fifos are refused,
   and so is every LINK member (symlink or hard link, zip or tar). The datasets the book unpacks (COCO,
   Flickr8k, Tiny ImageNet, fastText zips) contain none, and links are how archives escape their folder: a
   chain of links that are each harmless alone (`s/a -> ..`, `s/a/b -> ..`, ...) points outside after
   extraction, and Python 3.11.7's own `tarfile` filter can be bypassed that way (CVE-2025-4517/4138);
2. tar members still go through the standard library's `filter="data"`;
3. after unpacking into a temporary folder next to `dest`, the folder is walked: no links, no special
   files, every real path inside it. Only then is it renamed to `dest`.

A full disk during unpacking raises `DiskFullError` (one line) and the half-written folder is removed; one
left by a kill -9 (`.<dest>.unpacking-<pid>`) is removed by `remove_stale_unpacking` at the next fetch.
"""

from __future__ import annotations

import errno
import json
import lzma
import os
import shutil
import stat
import tarfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath

CHUNK = 1 << 20
MARKER = ".seeing-saying-extracted.json"
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SINGLE = {"gzip": ".gz", "bz2": ".bz2", "xz": ".xz"}  # one compressed file (not a tar): kind -> suffix


class ArchiveError(ValueError):
    """An archive is truncated or damaged."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would be written outside the target folder (absolute path, `..`, link)."""


class DiskFullError(OSError):
    """The disk filled up while unpacking (errno ENOSPC or EDQUOT); the half-written folder was removed."""

    def __str__(self):
        return self.strerror or super().__str__()


def _disk_full(archive: Path, tmp: Path, why: str) -> DiskFullError:
    return DiskFullError(
        errno.ENOSPC,
        f"the disk is full: unpacking {archive.name} into {tmp.parent} failed ({why}); "
        "the half-unpacked folder was removed. Free some space and fetch again.",
    )


def _damaged(archive: Path, tmp: Path, e: BaseException) -> Exception:
    """The error to raise for an exception met while reading or writing members: disk full, else damaged."""
    if isinstance(e, OSError) and e.errno in _FULL:
        return _disk_full(archive, tmp, e.strerror or str(e))
    why = " ".join(str(e).split())  # one line, even for tarfile's multi-line "r:*" errors
    return ArchiveError(
        f"{archive.name} is truncated or damaged ({type(e).__name__}: {why}); delete it and fetch again"
    )


# ----------------------------------------------------------------------------------- member checks
def _check_member(name: str, archive: Path) -> PurePosixPath:
    """The member's path, relative and inside the target; UnsafeArchiveError otherwise."""
    norm = name.replace("\\", "/")
    if not norm or "\x00" in norm:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an empty or invalid name; not unpacking")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} has an absolute path; refusing to unpack "
            "(it would be written outside the target folder)"
        )
    parts = PurePosixPath(norm).parts
    if ".." in parts:
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} contains '..'; refusing to unpack "
            "(it would be written outside the target folder)"
        )
    return PurePosixPath(*[p for p in parts if p not in (".", "")]) if parts else PurePosixPath(".")


def _refuse_link(archive: Path, name: str, target: str, hard: bool = False) -> None:
    kind = "a hard link to" if hard else "a symbolic link to"
    raise UnsafeArchiveError(
        f"{archive.name}: member {name!r} is {kind} {target!r}; refusing to unpack (links in "
        "archives are refused: they can send later members outside the target folder)"
    )


def _skip(rel: PurePosixPath) -> bool:
    return bool(rel.parts) and rel.parts[0] == "__MACOSX"


def archive_kind(path: Path) -> str:
    """'zip', 'tar' (plain or compressed), or 'gzip' / 'bz2' / 'xz' (ONE compressed file), from the content.

    A compressed file is a tar only if `tarfile` reads a first member from it, so `x.gz` holding a single
    file (even one that starts with zero bytes) is never taken for a tar. Raises `ArchiveError` for
    anything else (an HTML error page saved as `.zip`, ...).
    """
    with open(path, "rb") as f:
        head = f.read(512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    compressed = (
        "gzip"
        if head[:2] == b"\x1f\x8b"
        else "bz2"
        if head[:3] == b"BZh"
        else "xz"
        if head[:6] == b"\xfd7zXZ\x00"
        else None
    )
    if compressed:
        try:
            with tarfile.open(path, "r:*") as t:
                return "tar" if t.next() is not None else compressed
        except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError):
            return compressed
    raise ArchiveError(
        f"{path.name} is not a zip, tar or gzip archive (first bytes {head[:8]!r}); "
        "a damaged or wrong download? Delete it and fetch again."
    )


def _check_space(total: int, folder: Path, archive: Path) -> None:
    free = shutil.disk_usage(folder).free
    if total > free:
        raise DiskFullError(
            errno.ENOSPC,
            f"not enough disk space: {archive.name} unpacks to {total / 1e9:.1f} GB "
            f"but {folder} has only {free / 1e9:.1f} GB free",
        )


# ------------------------------------------------------------------------------------------ unpacking
def _extract_zip(archive: Path, tmp: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ArchiveError(
            f"{archive.name} is truncated or not a zip archive ({e}); delete it and fetch again"
        ) from None
    with zf:
        plan = []
        for info in zf.infolist():  # check every member before writing anything
            rel = _check_member(info.filename, archive)
            if _skip(rel):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                try:
                    with zf.open(info) as f:
                        target = f.read(300).decode("utf-8", "replace")
                except Exception:  # only for the message: a damaged or encrypted link member
                    target = "?"
                _refuse_link(archive, info.filename, target)
            plan.append((info, rel))
        _check_space(sum(i.file_size for i, _ in plan), tmp, archive)
        try:
            for info, rel in tqdm(
                plan, desc=f"unpacking {archive.name}", unit="file", disable=not progress, mininterval=0.5
            ):
                dest = tmp / rel
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:  # zipfile checks each member's CRC
                    shutil.copyfileobj(src, out, CHUNK)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError) as e:
            raise _damaged(archive, tmp, e) from None  # RuntimeError: encrypted; NotImplementedError: Deflate64


def _extract_tar(archive: Path, tmp: Path, progress: bool) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()  # reads the whole archive: a truncated one fails here
            keep = []
            for m in members:
                rel = _check_member(m.name, archive)
                if _skip(rel):
                    continue
                if m.issym() or m.islnk():
                    _refuse_link(archive, m.name, m.linkname, hard=m.islnk())
                elif not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(f"{archive.name}: member {m.name!r} is a device or fifo; refusing")
                keep.append(m)
            _check_space(sum(m.size for m in keep), tmp, archive)
            tf.extractall(tmp, members=keep, filter="data")  # Python's own checks, as a second line
    except tarfile.FilterError as e:
        raise UnsafeArchiveError(f"{archive.name}: {e}; refusing to unpack") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        if isinstance(e, DiskFullError):
            raise
        raise _damaged(archive, tmp, e) from None


def _extract_gzip(archive: Path, tmp: Path, kind: str = "gzip") -> None:
    """One compressed file (gzip, bz2 or xz) -> `tmp/<archive name without its suffix>`."""
    import bz2
    import gzip

    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    out = tmp / (archive.name.removesuffix(_SINGLE[kind]) or archive.name)
    try:
        with opener(archive, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    except (EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        raise _damaged(archive, tmp, e) from None


def _check_tree(tmp: Path, archive: Path) -> None:
    """The last line: after unpacking, `tmp` holds only real folders and files, all inside it."""
    root = os.path.realpath(tmp)
    for folder, dirs, files in os.walk(tmp):  # does not follow links
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, tmp)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink > 1):
                raise UnsafeArchiveError(f"{archive.name}: {rel!r} is a link after unpacking; refusing it")
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                raise UnsafeArchiveError(f"{archive.name}: {rel!r} is not a file or folder after unpacking")
            if os.path.commonpath([root, os.path.realpath(path)]) != root:
                raise UnsafeArchiveError(f"{archive.name}: {rel!r} lies outside the target folder")


def _unpacking(dest: Path, pid="") -> Path:
    """The temporary folder `safe_extract` unpacks into, next to `dest`: `.<dest name>.unpacking-<pid>`."""
    return dest.with_name(f".{dest.name}.unpacking-{pid}")


def remove_stale_unpacking(dest) -> list:
    """Remove the temporary folders a killed `safe_extract` into `dest` left; call it holding `dest`'s lock.

    Returns the list of the folders removed (Paths).
    """
    stale = sorted(Path(dest).parent.glob(_unpacking(Path(dest)).name + "*"))
    for tmp in stale:
        shutil.rmtree(tmp, ignore_errors=True)
    return stale


def safe_extract(archive, dest, progress: bool = True, marker: dict | None = None) -> Path:
    """Unpack a zip / tar / gzip file into the folder `dest`, safely; returns `dest`.

    Every member is checked before anything is written. Raises `UnsafeArchiveError` (naming the archive and
    the member) for absolute paths, `..`, devices, fifos and ANY link member (symlink or hard link, in zip
    and tar: links can make later members land outside `dest`); `ArchiveError` for a truncated, damaged or
    unknown archive; `DiskFullError` (an `OSError` with errno ENOSPC) when the disk fills up;
    `FileExistsError` if `dest` exists. Members go to a temporary folder next to `dest`, checked once more
    (no links, every real path inside), then renamed to `dest`, so `dest` is complete or absent and no
    temporary folder is left behind on error. If the archive holds a single top folder named like `dest`
    (`tiny-imagenet-200/...`), that folder becomes `dest`. `__MACOSX/` members are skipped. A single
    compressed file (`x.gz`, not a tar) becomes `dest/x`.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} exists already: remove it to unpack {archive.name} again")
    tmp = _unpacking(dest, os.getpid())
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        kind = archive_kind(archive)
        if kind == "zip":
            _extract_zip(archive, tmp, progress)
        elif kind == "tar":
            _extract_tar(archive, tmp, progress)
        else:
            _extract_gzip(archive, tmp, kind)
        _check_tree(tmp, archive)
        entries = [p for p in tmp.iterdir()]
        src = entries[0] if len(entries) == 1 and entries[0].is_dir() and entries[0].name == dest.name else tmp
        (src / MARKER).write_text(
            json.dumps({"archive": archive.name, "unpacked": time.strftime("%Y-%m-%d %H:%M:%S"), **(marker or {})})
        )
        os.replace(src, dest)
    except OSError as e:
        if e.errno in _FULL and not isinstance(e, DiskFullError):
            raise _disk_full(archive, tmp, e.strerror or str(e)) from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


__all__ = [
    "safe_extract",
    "archive_kind",
    "remove_stale_unpacking",
    "MARKER",
    "ArchiveError",
    "UnsafeArchiveError",
    "DiskFullError",
]
