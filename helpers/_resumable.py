"""The resumable downloader behind `helpers.download.fetch_file` (re-exported there as `ResumableDownloader`).

It streams a URL into `<file>.part` and, after an interruption, resumes it with an HTTP Range request. A
resumed answer is trusted only when it continues exactly where the `.part` ends: a 206 must carry a
`Content-Range` whose first byte is the size of the `.part` and whose total (when given) is the expected
size. Anything else (no or a malformed Content-Range, the wrong start or total, a 416) discards the `.part`
and downloads from byte 0 (one line says so); a 200 (the whole file) restarts from zero too. Wrong bytes are
never appended. `size_confirmed` tells whether the source declared the whole size (Content-Length, or the
total of a Content-Range) and exactly that many bytes arrived: only then may a file with no known checksum
have its sha256 pinned. A 416 `bytes */N` confirms a length, not content: it ends a download only when a
checksum will check the `.part`, else the `.part` is downloaded again from zero.

Nothing is written outside the cache: a `.part` that is a symbolic or hard link is removed, never written
through; a folder or fifo is refused in one line (`CacheError`). Requests ask for `Accept-Encoding: identity`;
another encoding is refused before a byte is written (`gzip` on a `.gz` only if it is not gzipped twice). A
body longer than the registered (or declared) size is cut off. `mask` hides credentials in what is shown.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import stat
import sys
import zlib
from pathlib import Path

from .paths import local_path, new_file_mode

TIMEOUT = (15, 60)  # seconds: connect, read (between two chunks)
CHUNK = 1 << 20
_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)
_UNSATISFIED = re.compile(r"\s*bytes\s+\*/(\d+)\s*$", re.I)
_USERINFO = re.compile(r"(?<=://)([^/@\s:]*)(:?)[^/\s]*@")  # up to the last '@' before the path
_QUERY_VALUE = re.compile(r"(?<=[?&])([^=&#\s]+)=[^&#\s]*")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)  # a fifo fails at once, never blocks


class _Incomplete(OSError):
    """The connection ended before the whole file arrived (the `.part` file is kept for resuming)."""


def _note(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _checksum_error(msg: str) -> Exception:
    from ._errors import ChecksumError

    return ChecksumError(msg)


def mask(text: str) -> str:
    """`text` with the credentials of every URL in it hidden: `http://user:pass@host/` -> `http://user:***@host/`,
    a token `http://TOKEN@host/` -> `http://***@host/`, query values `?token=abc` -> `?token=***`."""
    text = _USERINFO.sub(lambda m: f"{m[1]}:***@" if m[2] else "***@", str(text))
    return _QUERY_VALUE.sub(r"\1=***", text)


def part_size(part: Path) -> int:
    """Bytes in the `.part` file `part` (0: none). A symbolic or hard link is removed, never followed or written
    (one line says so); CacheError (one line) when it is a folder or another non-file (fifo, socket, device)."""
    try:
        st = os.lstat(part)
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink > 1):  # a hard link: a file elsewhere
        os.unlink(part)
        kind = "symbolic" if stat.S_ISLNK(st.st_mode) else "hard"
        _note(f"{part} was a {kind} link (not a download of ours): removed it, never followed")
        return 0
    if not stat.S_ISREG(st.st_mode):
        from ._errors import CacheError

        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a fifo, socket or device)"
        raise CacheError(f"{part} is {what}, not a partial download: move it away (or delete it) and fetch again")
    return st.st_size


def _open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    """os.open that never follows a symbolic link and accepts a regular file only, for writing one without other
    (hard) links (else OSError, fd closed)."""
    fd = os.open(path, flags | _NOFOLLOW, mode)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or (flags & os.O_WRONLY and st.st_nlink > 1):  # never write into another file
        os.close(fd)
        raise OSError(f"{path} is not a regular file: move it away and fetch again")
    os.set_blocking(fd, True)
    return fd


def mirror_sources(value: str, subs: list, env: str = "SEEING_SAYING_MIRROR") -> tuple:
    """`(sources, why)`: what a mirror `value` (a folder, `file://` folder or http(s) base URL) offers for the
    relative paths `subs`, and, when it is set but offers nothing, why in one line (credentials masked)."""
    value = value.strip()
    if not value:
        return [], ""
    if value.startswith(("http://", "https://")):
        if re.search(r"[?#]", value):  # the file's path would land in the query
            return [], f"{env}={mask(value)} is not used: a mirror URL is a base folder, without '?' or '#'"
        return [value.rstrip("/") + "/" + sub for sub in subs], ""
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value) and not value.startswith("file://"):
        return [], f"{env}={mask(value)} is not used: a mirror is a folder or an http(s):// URL"
    try:
        folder = local_path(value)
    except ValueError as e:
        return [], f"{env}={mask(value)} is not used: {e}"
    if not folder.is_dir():
        return [], f"{env}={value} is not used: {folder} is {'a file' if folder.exists() else 'missing'}, not a folder"
    found = [str(folder / sub) for sub in subs if (folder / sub).is_file()]
    return found, "" if found else f"{env}={value}: the folder holds none of {', '.join(subs)}"


def content_range(value) -> tuple | None:
    """`(first, last, total or None)` of a `Content-Range: bytes first-last/total` header; None if absent or invalid."""
    m = _RANGE.match(value or "")
    if not m:
        return None
    first, last, total = int(m[1]), int(m[2]), None if m[3] == "*" else int(m[3])
    if last < first or (total is not None and last >= total):
        return None
    return first, last, total


def _hashers(path: Path | None = None, follow: bool = True) -> dict:
    """{'sha256': ..., 'md5': ...} hash objects, fed with the bytes of `path` if given (one read for both);
    `follow=False`: a symbolic link or a non-file at `path` is never read (OSError)."""
    hashers = {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}
    if path is not None and (path.exists() or not follow):
        with open(path, "rb") if follow else os.fdopen(_open_nofollow(path, os.O_RDONLY), "rb") as f:
            while block := f.read(CHUNK):
                for h in hashers.values():
                    h.update(block)
    return hashers


class ResumableDownloader:
    """A pooch downloader: streams `url` into `<file>.part`, resuming it with a checked Range request.

    The `.part` file survives an interrupted download (network error, Ctrl-C) so the next call resumes it.
    The size, and the MD5 where the registry has one, are checked on the complete `.part` (hashed while it
    streams) before it is handed to pooch, which checks the sha256 and renames it into place. The `.part`
    is handed over as a hard link, so it still holds the whole download while pooch hashes it: Ctrl-C
    during that hash keeps it (the caller removes it once the file is in place). `size` is in bytes.

    `checked`: a sha256 checks the file afterwards (pooch), so a 416 may end a download of unknown size.

    A call raises ChecksumError when the size or the MD5 is not the expected one, or the body runs past the
    expected size (the `.part` is removed), OSError when the connection ends before the declared size (the
    `.part` is kept for resuming), for a 206 answer that does not start at the byte asked for or an answer
    with a Content-Encoding (nothing written), CacheError for a `.part` that is a folder or another non-file,
    `requests.HTTPError` for an HTTP error status, and FileNotFoundError for a local source (`file://` or a
    path) that does not exist.
    """

    def __init__(
        self,
        part: Path,
        size: int | None = None,
        md5: str | None = None,
        progress: bool = True,
        timeout=TIMEOUT,
        checked: bool = False,
    ):
        self.part, self.size, self.md5, self.progress, self.timeout = Path(part), size, md5, progress, timeout
        self.checked = checked or bool(md5)  # a checksum will check the content of the .part
        self.sha256 = None
        self.size_confirmed = False  # the source declared the whole size and exactly that many bytes arrived
        self.resumed_from = 0  # bytes of an earlier `.part` this download continued (0: it started afresh)

    def __call__(self, url, output_file, pooch=None):
        have = part_size(self.part)
        if self.size is not None and have > self.size:
            self.part.unlink()  # longer than the file can be: a stale part of something else
        if self.size is not None and have == self.size:
            hashers = _hashers(self.part, follow=False)  # complete from an earlier run; only verification was missing
            self.resumed_from = have
        elif url.startswith(("http://", "https://")):
            hashers = self._http(url)
        else:
            hashers = self._copy(url)
        got = os.lstat(self.part).st_size
        if self.size is not None and got != self.size:
            self.part.unlink()
            raise _checksum_error(f"got {got:,} bytes, expected {self.size:,}")
        md5 = hashers["md5"].hexdigest()
        if self.md5 and md5 != self.md5.lower():
            self.part.unlink()
            raise _checksum_error(f"md5 {md5}, expected {self.md5}")
        self.sha256 = hashers["sha256"].hexdigest()
        try:  # pooch's temporary file becomes a second name of the .part
            os.unlink(output_file)
            os.link(self.part, output_file, follow_symlinks=False)
        except OSError:  # a file system without hard links: hand the .part itself over
            os.replace(self.part, output_file)

    def _bar(self, total, initial, desc):
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            initial=initial,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=desc,
            disable=not self.progress,
            miniters=1,
            mininterval=0.5,
        )

    def _resume_refused(self, r, start: int) -> str | None:
        """Why the answer to `Range: bytes=start-` cannot be appended to the `.part` (None: it can)."""
        if r.status_code == 416 and _UNSATISFIED.match(r.headers.get("Content-Range") or ""):
            return "the server says it is complete (HTTP 416), which confirms its length, not its content"
        if r.status_code == 416:
            return "the server cannot continue it (HTTP 416)"
        if r.status_code != 206:
            return None  # 200 (the whole file) is handled by the caller; errors raise there
        header = r.headers.get("Content-Range")
        cr = content_range(header)
        if cr is None:
            return f"the server's partial answer has {'no' if header is None else 'an invalid'} Content-Range"
        if cr[0] != start:
            return f"the server's partial answer starts at byte {cr[0]:,}, not at {start:,}"
        if cr[2] is not None and self.size is not None and cr[2] != self.size:
            return f"the server's partial answer is of a {cr[2]:,}-byte file, not of {self.size:,} bytes"
        length = r.headers.get("Content-Length")
        if length and length.isdigit() and int(length) != cr[1] - cr[0] + 1:
            return f"the server's partial answer has {int(length):,} bytes for a range of {cr[1] - cr[0] + 1:,}"
        return None

    def _complete(self, r, start: int) -> bool:
        """A 416 whose `Content-Range: bytes */total` says the `.part` already holds the whole file."""
        m = _UNSATISFIED.match(r.headers.get("Content-Range") or "")
        return (
            r.status_code == 416
            and m is not None
            and int(m[1]) == start
            and (self.size is None or self.size == start)
            and self.checked  # a length is no proof of content: without a checksum, download it again
        )

    def _http(self, url):
        import requests

        def get(start):
            return requests.get(
                url,
                stream=True,
                headers={"Accept-Encoding": "identity", **({"Range": f"bytes={start}-"} if start else {})},
                timeout=self.timeout,
                allow_redirects=True,
            )

        start = part_size(self.part)
        r = get(start)
        try:
            if start and self._complete(r, start):
                self.resumed_from, self.size_confirmed = start, True
                return _hashers(self.part, follow=False)
            why = self._resume_refused(r, start) if start else None
            if why:
                _note(f"{mask(url)}: {why}; discarded {self.part.name} ({start:,} bytes) and started again from zero")
                r.close()
                self.part.unlink(missing_ok=True)
                start = 0
                r = get(0)
            r.raise_for_status()
            labelled_gz = self._check_encoding(r, url)
            if start and r.status_code != 206:
                _note(f"{mask(url)}: the server does not resume downloads; starting {self.part.name} again from zero")
                start = 0
            cr = content_range(r.headers.get("Content-Range")) if r.status_code == 206 else None
            if r.status_code == 206 and (cr is None or cr[0] != start):  # a partial answer nobody asked for
                raise OSError(
                    f"{mask(url)}: HTTP 206 with Content-Range {r.headers.get('Content-Range')!r} to a request "
                    f"for byte {start:,} on"
                )
            length = r.headers.get("Content-Length")
            if cr:
                total, declared = (cr[2], True) if cr[2] is not None else (cr[1] + 1, False)
            elif length and length.isdigit():
                total, declared = int(length), True
            else:
                total, declared = self.size, False
            self.resumed_from = start
            # raw bytes, as the server stores them: a '.gz' sent with 'Content-Encoding: gzip' stays compressed
            blocks = r.raw.stream(1 << 16, decode_content=False)
            if labelled_gz and not start:  # a stored .gz labelled gzip, or gzipped again on the way? Look inside.
                first = next(blocks, b"")
                self._refuse_gzip_twice(first, url)
                blocks = itertools.chain([first], blocks)
            limit = self.size if self.size is not None else total if declared else None
            hashers, written = self._write(blocks, start, total, self.part.name.removesuffix(".part"), limit)
            if total is not None and written < total:
                raise _Incomplete(
                    f"the connection ended after {written:,} of {total:,} bytes "
                    f"({self.part.name} kept: the next fetch resumes it)"
                )
            self.size_confirmed = declared and written == total
            return hashers
        finally:
            r.close()

    def _check_encoding(self, r, url) -> bool:
        """OSError (nothing written) for an answer compressed on the way: the file is stored as sent. True for
        `Content-Encoding: gzip` on a `.gz`/`.tgz` (a server labelling what it stores, or compressing it again)."""
        enc = (r.headers.get("Content-Encoding") or "identity").strip().lower()
        stored_gz = enc in ("gzip", "x-gzip") and self.part.name.removesuffix(".part").endswith((".gz", ".tgz"))
        if enc not in ("", "identity") and not stored_gz:
            raise OSError(
                f"{mask(url)}: the server sent {self.part.name.removesuffix('.part')} compressed on the way "
                f"(Content-Encoding: {enc}) although asked for it as stored; refused, nothing kept"
            )
        return stored_gz

    def _refuse_gzip_twice(self, first: bytes, url) -> None:
        """OSError (nothing written) when one layer of gzip taken off the first bytes leaves gzip again."""
        try:
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(first, 2)
        except zlib.error:
            inner = b""
        if inner[:2] == b"\x1f\x8b":
            raise OSError(
                f"{mask(url)}: the server compressed {self.part.name.removesuffix('.part')} again on the way "
                "(Content-Encoding: gzip over a gzip file) although asked for it as stored; refused, nothing kept"
            )

    def _copy(self, src):
        src = local_path(src)
        if not src.is_file():
            raise FileNotFoundError(f"{src} does not exist")
        n = src.stat().st_size
        if self.size is not None and n != self.size:  # a mirror's copy of another size: refused before copying
            raise _checksum_error(f"got {n:,} bytes, expected {self.size:,} ({src} is another file; nothing copied)")
        with open(src, "rb") as fin:
            return self._write(iter(lambda: fin.read(CHUNK), b""), 0, n, src.name, n)[0]

    def _write(self, blocks, start: int, total: int | None, desc: str, limit: int | None = None) -> tuple:
        """Write `blocks` into the `.part` (appended after its first `start` bytes; 0: a new file), hashing
        them with a progress bar; returns (hashers of the whole `.part`, its size in bytes). A `.part` that
        would pass `limit` bytes is removed (ChecksumError) before the extra bytes are written."""
        hashers, written = _hashers(self.part if start else None, follow=False), start
        if not start:  # a new file of our own: whatever has the name (a link to a file elsewhere) is unlinked first
            self.part.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if start else os.O_EXCL)
        with os.fdopen(_open_nofollow(self.part, flags), "ab") as f, self._bar(total, start, desc) as bar:
            os.fchmod(f.fileno(), new_file_mode())
            for block in blocks:
                if limit is not None and written + len(block) > limit:
                    f.close()
                    self.part.unlink(missing_ok=True)
                    got, why = written + len(block), "the source sends more; nothing kept"
                    raise _checksum_error(f"got {got:,} bytes, expected {limit:,} ({why})")
                f.write(block)
                for h in hashers.values():
                    h.update(block)
                written += len(block)
                bar.update(len(block))
            f.flush()
            os.fsync(f.fileno())
        return hashers, written


def _kept(target: Path, part: Path, res) -> str:
    """What an interrupted download left, in words (read from the disk, so it is what is there)."""
    if target.is_file():
        return f"{target.name} is in place; the next fetch checks it"
    if not part.is_file() or part.is_symlink():
        return f"nothing of {res.filename} was kept"
    n = os.lstat(part).st_size
    if res.size is not None and n == res.size:
        return f"kept the complete download {part} ({n:,} bytes): the next fetch checks it without downloading it again"
    return f"kept the partial download {part} ({n:,} bytes): the next fetch resumes it"


def _short(e: Exception) -> str:
    """A one-line reason: 'no network (could not resolve cs.stanford.edu)', 'HTTP 404 Not Found', ..."""
    from urllib.parse import urlparse

    import requests

    text = str(e).replace("\n", " ")
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code} {e.response.reason}"
    if isinstance(e, requests.Timeout):
        return "timed out (slow or unreachable host)"
    host = "the host"
    if getattr(e, "request", None) is not None:
        host = urlparse(e.request.url).hostname
    if "NameResolution" in text or "Name or service not known" in text or "Temporary failure in name" in text:
        return f"no network? could not resolve {host}"
    if "Connection refused" in text:
        return f"connection refused by {host}"
    if any(k in text for k in ("RemoteDisconnected", "IncompleteRead", "Connection broken", "ProtocolError")):
        return f"the connection dropped during the download ({text[:120]})"
    return text if len(text) < 240 else text[:237] + "..."
