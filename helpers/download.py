"""The real datasets of the seeds: one registry, checksummed downloads, safe extraction.

`REGISTRY` (`helpers.registry`, read from `helpers/registry.toml`) names every dataset the seeds used, with its
files, URLs, sha256, sizes, license and citation; torchvision's weights are fetched by `helpers.weights`.
`fetch(name)` brings a dataset into the cache folder, `cache_dir("downloads")/<name>/` (the cache folder is
`$SEEING_SAYING_CACHE` or `<repo>/.cache`), and unpacks its archives:

- downloads go through `pooch` (`pooch.retrieve` with a downloader that keeps a `<file>.part` and resumes it
  with an HTTP Range request after an interruption, or restarts cleanly when the server ignores Range);
- pooch checks the sha256 AFTER the download, on a temporary file, and only then renames it into place,
  so a file under its final name is always complete and verified;
- a lock file (`<file>.lock`, `filelock`) makes a second notebook wait for the first one's download;
- when every URL fails (offline, dead host, wrong checksum) `DownloadError` says, in one message, which URLs
  were tried, the file name, size and checksum expected, and where to put a copy by hand;
- archives are unpacked by `helpers.extract.safe_extract` (re-exported here) into a temporary folder, member
  by member, refusing absolute paths, `..` and every link member, checked again, then renamed into place.

Checksums: where no sha256 has been published or checked for a file, the registry says `sha256=None` and
the download is checked by the published MD5 (where there is one) and the size (where known). Its sha256 is
then pinned (`<file>.verified.json` next to it, with the file's size and mtime) only when the download is
confirmed: by that MD5, the registry's size, or a Content-Length (or Content-Range total) the body matched.
A body whose size nobody declared is kept but not pinned. A pin lives and dies with its file: a stamp whose
file is gone, or whose size or mtime changed, is dropped, never held against a new copy.

Interruptions: Ctrl-C keeps only what its one line says (the `.part`, complete or not, or nothing); pooch's
temporary files live in `.<file>.downloading/` and half-unpacked folders are `.<folder>.unpacking-<pid>`,
both removed by the next fetch under the file's lock after a kill -9.

Instructors: `python -m helpers fetch NAME` ahead of class; `SEEING_SAYING_MIRROR` (a folder, `file://`
folder or base URL holding the files, flat or in `<name>/` subfolders) is tried before the original hosts; one
line says why a value that cannot be used is skipped. Passwords in URLs are shown masked (`user:***@`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ._errors import CacheError, ChecksumError, DownloadError, UnknownDatasetError  # noqa: F401 (re-exported)
from ._resumable import CHUNK, TIMEOUT, ResumableDownloader, _kept, _note, _short, mask, mirror_sources, part_size  # noqa: F401
from ._stamps import (
    _current_stamp,
    _hash_file,
    _how,
    _Locked,
    _read_stamp,
    _stamp_path,
    _write_stamp,
)
from .dataset_status import status  # noqa: F401 (re-exported: helpers.download.status)
from .extract import (
    MARKER,
    ArchiveError,
    DiskFullError,
    UnsafeArchiveError,
    archive_kind,
    recorded_sha256,
    remove_stale_unpacking,
    safe_extract,
)
from .registry import (  # noqa: F401
    MIRROR_ENV,
    REGISTRY,
    Dataset,
    Resource,
    _blocked,
    _describe,
    _mkdirs,
    dataset_dir,
    expected_sha256,
    get_dataset,
    manual_instructions,
)
from .weights import fetch_torchvision_weights, torchvision_model, torchvision_weights, torchvision_weights_path  # noqa: F401


def verify_file(ds: Dataset, res: Resource, path: Path, force: bool = False) -> str:
    """Check a file against the registry (sha256, else md5 and size); returns its sha256 (64 hex digits).

    The result is remembered in `<file>.verified.json` (with size and modification time), so a 13 GB
    archive is hashed once, not at every use. A file the registry knows nothing about (no checksum, no size)
    is accepted but its sha256 is not pinned: nothing confirms it is complete. Raises ChecksumError when the
    file is empty, or its size (bytes), sha256 or md5 is not the expected one (`force` re-hashes a stamped file).
    """
    path = Path(path)
    stamp = _current_stamp(path)
    pin = stamp["sha256"] if stamp and stamp.get("pinned", True) and not res.sha256 else None
    if stamp and not force:
        if res.sha256 is None or stamp["sha256"] == res.sha256.lower():
            return stamp["sha256"]
    size = path.stat().st_size
    if size == 0:
        raise ChecksumError(f"{path} is empty: delete it and fetch again (python -m helpers fetch {ds.name})")
    if res.size is not None and size != res.size:
        raise ChecksumError(
            f"{path} has {size:,} bytes but {res.filename} has {res.size:,}: an incomplete or "
            f"different file. Delete it and fetch again (python -m helpers fetch {ds.name})."
        )
    want = res.sha256.lower() if res.sha256 else pin
    digests = _hash_file(path)
    if want and digests["sha256"] != want:
        raise ChecksumError(
            f"{path}: sha256 {digests['sha256']} but expected {want} for {res.filename}. The file "
            f"is damaged or not the registered one: delete it and fetch again "
            f"(python -m helpers fetch {ds.name})."
        )
    if not want and res.md5 and digests["md5"] != res.md5.lower():
        raise ChecksumError(
            f"{path}: md5 {digests['md5']} but expected {res.md5} for {res.filename}. Delete it "
            f"and fetch again (python -m helpers fetch {ds.name})."
        )
    how, pinned = _how(res, False, bool(pin))
    if not want and pinned:
        _note(
            f"{res.filename}: checksum unknown in the registry; pinned sha256 {digests['sha256']} on first use "
            f"(put it in helpers/registry.toml to check every copy)."
        )
    elif not pinned:
        _note(
            f"{res.filename}: neither a checksum nor the size is known, so nothing confirms this copy is complete; "
            "kept, not pinned (if it turns out damaged, delete it and fetch again)."
        )
    _write_stamp(path, digests["sha256"], how, pinned)
    return digests["sha256"]


# --------------------------------------------------------------------------------------------- download
def _staging(target: Path) -> Path:
    """The folder pooch downloads and hashes in (its temporary files have no recognisable name of their own)."""
    return target.with_name(f".{target.name}.downloading")


def _tidy(target: Path) -> None:
    """Under the file's lock: remove what a killed fetch left (pooch's temporaries, a stamp's temporary file)."""
    if _staging(target).is_symlink() or not _staging(target).is_dir():
        _staging(target).unlink(missing_ok=True)  # a link is removed, never followed
    shutil.rmtree(_staging(target), ignore_errors=True)
    for tmp in target.parent.glob(f".{_stamp_path(target).name}.*.tmp"):
        tmp.unlink(missing_ok=True)


def _retrieve(url: str, want: str | None, target: Path, downloader: ResumableDownloader) -> None:
    """pooch downloads into `.<file>.downloading/` and checks the sha256; the file is then renamed into place."""
    import pooch

    staging, log = _staging(target), pooch.get_logger()
    level = log.level
    log.setLevel("WARNING")  # its lines would name the staging folder; ours names the file
    _note(f"Downloading {mask(url)} to {target}")
    try:
        got = pooch.retrieve(
            url,
            known_hash=f"sha256:{want}" if want else None,
            fname=target.name,
            path=staging,
            downloader=downloader,
            progressbar=False,
        )
        os.replace(got, target)
        downloader.part.unlink(missing_ok=True)  # the second name of the file just put in place
    finally:
        log.setLevel(level)
        shutil.rmtree(staging, ignore_errors=True)


def fetch_file(name: str, filename: str | None = None, progress: bool = True) -> Path:
    """Download (if needed) and verify one file of a registry dataset; returns its path in the cache.

    A file already in place is verified (once: see `verify_file`); a missing one is downloaded from the
    mirror (if `SEEING_SAYING_MIRROR` is set) and then from each registry URL in turn. If none works, one
    `DownloadError` names the URLs and what went wrong, the file expected and how to place it by hand.
    A download that resumed a `.part` and then fails its checks is tried once more from zero.
    Also raises UnknownDatasetError (an unknown name), KeyError (a file the dataset does not have), CacheError
    (a folder or a file where the file or its folder belongs, a `<file>.part` that is a folder or another
    non-file), ChecksumError (a file in place that fails its check), and DownloadError for a manual dataset
    whose file is missing. A `.part` that is a symbolic link is removed, never followed.
    """
    import requests

    ds = get_dataset(name)
    res = ds.resource(filename) if filename else ds.resources[0]
    target = dataset_dir(ds.name) / res.relpath
    _mkdirs(target.parent)
    part = target.with_name(target.name + ".part")
    with _Locked(target):
        _tidy(target)
        part_size(part)  # a symbolic link is removed; a folder or a fifo: CacheError, one line
        if target.exists() or target.is_symlink():
            if not target.is_file():
                raise CacheError(
                    f"{target} is not a file (a folder?) where {res.filename} belongs: move it away and fetch again"
                )
            verify_file(ds, res, target)
            part.unlink(missing_ok=True)  # left by a kill between the rename and its removal
            return target
        _current_stamp(target)  # its file is gone: the pin goes with it
        if ds.manual or not res.urls:
            raise DownloadError(
                f"{ds.name}: {res.relpath} is not in {dataset_dir(ds.name, create=False)}.\n"
                + manual_instructions(ds, res)
            )
        want = res.sha256.lower() if res.sha256 else None
        errors, subs = [], [f"{ds.name}/{res.relpath}", res.relpath, res.filename]
        mirror, why = mirror_sources(os.environ.get(MIRROR_ENV, ""), subs, MIRROR_ENV)
        if why:
            _note(why)
        for url in dict.fromkeys(mirror + list(res.urls)):
            for again in (False, True):
                downloader = ResumableDownloader(
                    part, res.size, None if want else res.md5, progress, checked=bool(want)
                )
                try:
                    _retrieve(url, want, target, downloader)
                except KeyboardInterrupt:
                    _note(f"interrupted: {_kept(target, part, res)}")
                    raise
                except ValueError as e:  # ChecksumError (size, md5), pooch's sha256 mismatch; not requests' own
                    if isinstance(e, requests.RequestException):
                        errors.append(f"{mask(url)}\n      -> {_short(e)} ({type(e).__name__})")
                        break
                    part.unlink(missing_ok=True)
                    if downloader.resumed_from and not again:
                        _note(
                            f"{res.filename}: the download that continued {part.name} ({downloader.resumed_from:,} "
                            "bytes kept earlier) failed its check; downloading it again from zero"
                        )
                        continue
                    errors.append(f"{mask(url)}\n      -> wrong file: {str(e).split('. Deleted')[0]}")
                    break
                except Exception as e:  # requests / OS errors: offline, dead host, 404, refused, timeout
                    errors.append(f"{mask(url)}\n      -> {_short(e)} ({type(e).__name__})")
                    break
                how, pinned = _how(res, downloader.size_confirmed)
                _write_stamp(target, downloader.sha256 or want, how, pinned)
                if pinned and not want:
                    _note(
                        f"{res.filename}: downloaded; the registry has no sha256 for it, so this machine pinned sha256 "
                        f"{downloader.sha256} (checked: {how.split(',')[0]}; the pin lasts while this file is here)."
                    )
                elif not pinned:
                    _note(
                        f"{res.filename}: downloaded, but no Content-Length confirmed its size and the registry has "
                        "neither size nor checksum: kept, not pinned (if it turns out damaged, delete it and fetch "
                        "again)."
                    )
                return target
        kept = (
            f"\nPartial download kept: {part} ({part.stat().st_size:,} bytes); the next fetch resumes it."
            if part.is_file() and not part.is_symlink()
            else ""
        )
        raise DownloadError(
            mask(
                f"Could not download {res.filename} for dataset '{ds.name}' ({ds.title}).\nTried:\n  "
                + "\n  ".join(errors)
                + (f"\nMirror skipped: {why}" if why else "")
                + f"\nExpected: {_describe(ds, res)}{kept}\n"
                + manual_instructions(ds, res)
            )
        ) from None


def fetch(name: str, files=None, extract: bool = True, delete_archives: bool = False, progress: bool = True) -> Path:
    """Download, verify and unpack a registry dataset (or only `files` of it); returns its folder.

    Files whose archive is already unpacked (and verified when it was) are not downloaded again, even if
    the archive was deleted to save space. Manual datasets (coco-spanish) are checked, not downloaded.
    `delete_archives` removes each archive once it is unpacked. Raises as `fetch_file` (DownloadError,
    ChecksumError, CacheError, UnknownDatasetError), DownloadError naming the missing files of a manual dataset,
    CacheError for a folder in the way that `fetch` did not unpack or one unpacked from another release of the
    archive than the registry's, and as `safe_extract` (ArchiveError, UnsafeArchiveError, DiskFullError).
    """
    ds = get_dataset(name)
    if ds.torchvision:
        fetch_torchvision_weights(ds.name, progress=progress)
        return torchvision_weights_path(ds.name).parent
    folder = dataset_dir(ds.name)
    wanted = ds.resources if files is None else [ds.resource(f) for f in files]
    if ds.manual:
        missing = [r.relpath for r in wanted if not (folder / r.relpath).is_file()]
        if missing:
            raise DownloadError(
                f"{ds.name}: {len(missing)} file(s) missing from {folder}, e.g. {missing[:3]}.\n"
                + manual_instructions(ds)
            )
        for r in wanted:
            verify_file(ds, r, folder / r.relpath)
        return folder
    for res in wanted:
        if res.extract:
            with _Locked(folder / res.extract):
                if _ready_to_unpack(ds, res, check=extract):
                    continue
        archive = fetch_file(ds.name, res.filename, progress)
        if res.extract and extract:
            with _Locked(folder / res.extract):
                if not _ready_to_unpack(ds, res):
                    try:
                        safe_extract(
                            archive,
                            folder / res.extract,
                            progress=progress,
                            marker={"archive": res.filename, "sha256": _read_stamp(archive).get("sha256")},
                        )
                    except KeyboardInterrupt:
                        left = list(folder.glob(f".{res.extract}.unpacking-*"))
                        _note(
                            f"interrupted while unpacking {archive.name}: "
                            + (
                                f"{left[0].name} is left half-unpacked (the next fetch removes it)"
                                if left
                                else "nothing unpacked was kept"
                            )
                            + f"; {archive.name} is kept, the next fetch unpacks it"
                        )
                        raise
            if delete_archives:
                archive.unlink()
    return folder


def _ready_to_unpack(ds: Dataset, res: Resource, check: bool = True) -> bool:
    """Under the folder's lock: True if unpacked already; else removes what a killed unpacking left and
    (with `check`) raises `CacheError` when something the book did not unpack stands in the way."""
    dest = dataset_dir(ds.name) / res.extract
    stale = _stale_unpacked(ds, res)
    if stale and check:
        raise CacheError(stale)
    if is_extracted(ds, res):
        return True
    remove_stale_unpacking(dest)
    if check and (dest.exists() or dest.is_symlink()):
        what = "folder" if dest.is_dir() else "file"
        raise CacheError(
            f"{dest} is a {what} without the marker {MARKER}: it was not unpacked (completely) by "
            f"`fetch`. Move it away or delete it, then fetch {ds.name} again to unpack {res.filename}"
        )
    return False


def is_extracted(ds: Dataset, res: Resource) -> bool:
    """True when the archive's folder exists with the marker `safe_extract` writes before renaming it in, and
    the marker does not record another sha256 than the registry's (a folder of an older release)."""
    marker = dataset_dir(ds.name, create=False) / res.extract / MARKER if res.extract else None
    return bool(marker) and marker.is_file() and not _stale_unpacked(ds, res)


def _stale_unpacked(ds: Dataset, res: Resource) -> str:
    """One line when the unpacking marker of `res` records another sha256 than the registry's; else ''."""
    folder = dataset_dir(ds.name, create=False)
    old = recorded_sha256(folder / res.extract) if res.extract and res.sha256 else None
    if not old or old == res.sha256.lower():
        return ""
    also = f" and {folder / res.relpath}" if (folder / res.relpath).exists() else ""
    return (
        f"{folder / res.extract} was unpacked from another release of {res.filename} (sha256 {old[:12]}..., the "
        f"registry now expects {res.sha256[:12]}...): delete it{also}, then fetch {ds.name} again"
    )


__all__ = [
    "REGISTRY",
    "Dataset",
    "Resource",
    "get_dataset",
    "dataset_dir",
    "fetch",
    "fetch_file",
    "verify_file",
    "status",
    "safe_extract",
    "archive_kind",
    "is_extracted",
    "manual_instructions",
    "expected_sha256",
    "torchvision_weights",
    "torchvision_weights_path",
    "fetch_torchvision_weights",
    "torchvision_model",
    "DownloadError",
    "ChecksumError",
    "ArchiveError",
    "UnsafeArchiveError",
    "DiskFullError",
    "UnknownDatasetError",
    "CacheError",
    "ResumableDownloader",
    "MIRROR_ENV",
]
