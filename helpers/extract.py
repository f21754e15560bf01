"""Unpacking downloaded archives (zip, tar, single compressed files) without writing outside the target.

`safe_extract(archive, dest)` is what `helpers.download.fetch` uses (and re-exports). The standard library
writes the members: `zipfile` (it maps every name inside the target and checks each CRC) and `tarfile` with
the `"data"` filter (PEP 706: no escaping paths, devices, fifos or setuid bits). Before anything is written,
every member whose name is absolute or contains `..` is refused (the standard library would quietly rename
it), and so is EVERY link member, zip or tar: the datasets hold none, and a chain of links that are each
harmless alone (`s/a -> ..`, `s/a/b -> ..`, ...) gets through Python 3.11.7's `"data"` filter
(CVE-2025-4517/4138); `zipfile` never creates links. Members go to `.<dest>.unpacking-<pid>` next to `dest`,
renamed to `dest` at the end; a full disk raises `DiskFullError` (one line) and that folder is removed, or
by `remove_stale_unpacking` at the next fetch after a kill -9.
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


def _refuse_unsafe(archive: Path, name: str, link: str | None = None, hard: bool = False) -> None:
    """UnsafeArchiveError for a link member (`link`: its target) or an empty, absolute or '..' name."""
    if link is not None:
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} is {'a hard' if hard else 'a symbolic'} link to {link!r}; refusing "
            "to unpack (links in archives are refused: they can send later members outside the target folder)"
        )
    parts = name.replace("\\", "/").split("/")
    if not name or parts[0] == "" or parts[0][1:2] == ":" or ".." in parts:
        why = "contains '..'" if ".." in parts else "has an absolute path" if name else "has no name"
        raise UnsafeArchiveError(
            f"{archive.name}: member {name!r} {why}; refusing to unpack (it would be written outside the target folder)"
        )


def _skip(name: str) -> bool:
    return PurePosixPath(name.replace("\\", "/")).parts[:1] == ("__MACOSX",)


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
    magic = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
    compressed = next((kind for m, kind in magic.items() if head.startswith(m)), None)
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
        with zipfile.ZipFile(archive) as zf:
            plan = [info for info in zf.infolist() if not _skip(info.filename)]
            for info in plan:  # every member is checked before anything is written
                link = None
                if stat.S_ISLNK(info.external_attr >> 16):  # zipfile would write a file holding the target
                    try:
                        with zf.open(info) as f:
                            link = f.read(300).decode("utf-8", "replace")
                    except Exception:  # only for the message: a damaged or encrypted link member
                        link = "?"
                _refuse_unsafe(archive, info.filename, link)
            _check_space(sum(i.file_size for i in plan), tmp, archive)
            for info in tqdm(
                plan, desc=f"unpacking {archive.name}", unit="file", disable=not progress, mininterval=0.5
            ):
                zf.extract(info, tmp)
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, RuntimeError, NotImplementedError) as e:
        if isinstance(e, DiskFullError):
            raise
        raise _damaged(archive, tmp, e) from None  # RuntimeError: encrypted; NotImplementedError: Deflate64


def _extract_tar(archive: Path, tmp: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    def data_without_links(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        """Our refusals (links, absolute, '..'), then the standard library's "data" filter."""
        if _skip(member.name):
            return None
        link = member.linkname if member.issym() or member.islnk() else None
        _refuse_unsafe(archive, member.name, link, hard=member.islnk())
        return tarfile.data_filter(member, path)

    try:
        with tarfile.open(archive, "r:*") as tf:
            members = tf.getmembers()  # reads the whole archive: a truncated one fails here
            kept = [m for m in members if data_without_links(m, str(tmp))]  # all checked, nothing written yet
            _check_space(sum(m.size for m in kept), tmp, archive)
            bar = tqdm(kept, desc=f"unpacking {archive.name}", unit="file", disable=not progress, mininterval=0.5)
            tf.extractall(tmp, members=bar, filter=data_without_links)
    except tarfile.FilterError as e:  # a device, a fifo, a path that resolves outside
        raise UnsafeArchiveError(f"{archive.name}: {e}; refusing to unpack") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        if isinstance(e, DiskFullError):
            raise
        raise _damaged(archive, tmp, e) from None


def _extract_single(archive: Path, tmp: Path, kind: str = "gzip") -> None:
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


def _unpacking(dest: Path, pid="") -> Path:
    """The temporary folder `safe_extract` unpacks into, next to `dest`: `.<dest name>.unpacking-<pid>`."""
    return dest.with_name(f".{dest.name}.unpacking-{pid}")


def remove_stale_unpacking(dest) -> list:
    """Remove the temporary folders a killed `safe_extract` into `dest` left; call it holding `dest`'s lock.

    Returns the list of the folders removed (Paths).
    """
    stale = sorted(Path(dest).parent.glob(_unpacking(Path(dest)).name + "*"))
    for tmp in stale:
        _remove(tmp)
    return stale


def _remove(path: Path) -> None:
    """Remove a folder of ours; a symbolic link (or a file) in its place is unlinked, never followed."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    shutil.rmtree(path, ignore_errors=True)


def recorded_sha256(dest) -> str | None:
    """The sha256 (lower case) of the archive the marker in the unpacked folder `dest` records; None when there
    is no such folder or marker, or it records none (an older or damaged marker)."""
    try:
        sha = json.loads((Path(dest) / MARKER).read_text(encoding="utf-8")).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None
    return sha.lower() if isinstance(sha, str) else None


def safe_extract(archive, dest, progress: bool = True, marker: dict | None = None) -> Path:
    """Unpack a zip / tar / gzip file into the folder `dest`, safely; returns `dest`.

    Every member is checked before anything is written. Raises `UnsafeArchiveError` (naming the archive and
    the member) for absolute paths, `..`, devices, fifos and ANY link member (symlink or hard link, in zip
    and tar: links can make later members land outside `dest`); `ArchiveError` for a truncated, damaged or
    unknown archive; `DiskFullError` (an `OSError` with errno ENOSPC) when the disk fills up;
    `FileExistsError` if `dest` exists. Members go to a temporary folder next to `dest`, then renamed to
    `dest`, so `dest` is complete or absent and no temporary folder is left behind on error. If the archive
    holds a single top folder named like `dest` (`tiny-imagenet-200/...`), that folder becomes `dest`.
    `__MACOSX/` members are skipped. A single compressed file (`x.gz`, not a tar) becomes `dest/x`.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"{dest} exists already: remove it to unpack {archive.name} again")
    tmp = _unpacking(dest, os.getpid())
    _remove(tmp)
    tmp.mkdir(parents=True)
    try:
        kind = archive_kind(archive)
        if kind == "zip":
            _extract_zip(archive, tmp, progress)
        elif kind == "tar":
            _extract_tar(archive, tmp, progress)
        else:
            _extract_single(archive, tmp, kind)
        entries = list(tmp.iterdir())
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
    "recorded_sha256",
    "MARKER",
    "ArchiveError",
    "UnsafeArchiveError",
    "DiskFullError",
]
