"""Where the book keeps things: the cache folder (datasets, features, compile caches) and the repo root."""

import hashlib
import json
import os
import stat
from pathlib import Path

CACHE_ENV = "SEEING_SAYING_CACHE"


def repo_root() -> Path:
    """The folder that holds `helpers/` (the book's repository when installed editable)."""
    return Path(__file__).resolve().parents[1]


def new_file_mode() -> int:
    """The mode `open()` gives a new file: 0o666 less the process umask (so group-readable under the usual umask).

    Atomic writers chmod their `tempfile.mkstemp` file (always 0o600) to it before renaming it into place.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def cache_dir(*parts: str) -> Path:
    """The cache folder, `$SEEING_SAYING_CACHE` or `<repo>/.cache`; `parts` name a subfolder, created if missing.

    Used in: notebooks/03_show_and_tell.ipynb § Saving and loading without pickle
    """
    base = Path(os.environ.get(CACHE_ENV) or repo_root() / ".cache").expanduser()
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_path(value: str) -> Path:
    """The path a setting names: a plain path (`~` expanded) or a `file://` URL as RFC 8089 writes it
    (`file:///srv/mirror`, `file://localhost/srv/mirror`, percent-encoded: `%20` is a space). ValueError for
    a `file://` URL of another host (`file://server/share`): a mirror is a local folder."""
    if not value.startswith("file://"):
        return Path(value).expanduser()
    import urllib.parse
    import urllib.request  # here: about 50 ms to import, and every module imports this one

    url = urllib.parse.urlsplit(value)
    if url.netloc not in ("", "localhost"):
        raise ValueError(f"a file:// URL names a local folder (file:///path), not one on {url.netloc!r}")
    return Path(urllib.request.url2pathname(url.path))


def stable_key(parts) -> str:
    """16 hex digits naming a cache entry: the sha256 of `parts` as JSON (sorted keys; `str` of anything else)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_lock(target):
    """A `filelock.FileLock` on `<target>.lock`. filelock opens that file with O_TRUNC and chmods it, so a lock
    file that is a symbolic link, or a hard link to a file elsewhere, is removed first (never written through).
    IsADirectoryError (one line, never removed) when `<target>.lock` is a folder."""
    from filelock import FileLock

    lock = Path(f"{target}.lock")
    try:
        st = os.lstat(lock)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(f"{lock} is a folder where a lock file belongs: move it away and try again")
        if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1:
            lock.unlink()
    except FileNotFoundError:
        pass
    return FileLock(str(lock))
