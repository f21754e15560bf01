"""helpers.download under faults: unconfirmed sizes and pins, resumes that do not continue, interruptions
(Ctrl-C and kill -9 during the download, the hash and the unpacking), a damaged cache, file modes.

Issue #14, "Downloads and the cache". Everything runs against the 127.0.0.1 server of tests/test_download.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from helpers import download as dl
from helpers.download import ArchiveError, DownloadError, fetch, fetch_file
from tests.test_download import LocalServer, _Handler, cache, closed_port_url, make_zip, server, sha256  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
NAME = "t-faults"
PACK = make_zip({"pack/a.txt": b"hello\n" * 1000, "pack/b.bin": random.Random(0).randbytes(300_000)})
OTHER = make_zip({"pack/a.txt": b"second edition\n" * 500, "pack/b.bin": random.Random(1).randbytes(200_000)})


def register(monkeypatch, server, check="sha", data=PACK, name=NAME):
    """Serve `data` as pack.zip and register dataset `name` for it; `check`: what the registry knows of it:
    'sha' (sha256 + size), 'md5' (md5 only), 'size' (size only) or 'none' (nothing)."""
    import hashlib

    server.files["pack.zip"] = data
    kw = {
        "sha": dict(sha256=sha256(data), size=len(data)),
        "md5": dict(md5=hashlib.md5(data).hexdigest()),
        "size": dict(size=len(data)),
        "none": {},
    }[check]
    res = dl.Resource("pack.zip", (f"{server.url}/pack.zip",), extract="pack", **kw)
    monkeypatch.setitem(dl.REGISTRY, name, dl.Dataset(name, "test", "captions", (res,), license="t", citation="t"))
    return dl.dataset_dir(name)


def left(folder: Path) -> list:
    """Everything in the dataset folder but the lock files (which stay, empty, by design)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if not p.name.endswith(".lock"))


def stamp_of(folder: Path) -> dict:
    return json.loads((folder / "pack.zip.verified.json").read_text())


# ------------------------------------------------------------------------------- pins need a confirmed size
def test_no_content_length_and_no_checksum_is_kept_not_pinned(monkeypatch, server, capsys):
    """dl_tests.py nolen (d07c): a body cut short, with no Content-Length, used to be pinned as good."""
    folder = register(monkeypatch, server, "none")
    server.rules["pack.zip"] = {"no_length": True, "no_length_cut": len(PACK) // 2}
    path = fetch_file(NAME, progress=False)
    assert path.stat().st_size == len(PACK) // 2
    err = capsys.readouterr().err
    assert "not pinned" in err and "pinned sha256" not in err
    assert stamp_of(folder)["pinned"] is False
    ds = dl.REGISTRY[NAME]
    assert dl.expected_sha256(ds, ds.resources[0]) is None
    with pytest.raises(ArchiveError, match="delete it and fetch again"):
        fetch(NAME, progress=False)
    path.unlink()  # as the message says
    server.rules.clear()
    assert (fetch(NAME, progress=False) / "pack" / "a.txt").is_file()
    assert stamp_of(folder)["sha256"] == sha256(PACK) and stamp_of(folder)["pinned"] is True


@pytest.mark.parametrize("check", ["size", "md5"])
def test_no_content_length_is_pinned_when_the_registry_confirms_it(monkeypatch, server, check, capsys):
    folder = register(monkeypatch, server, check)
    server.rules["pack.zip"] = {"no_length": True}
    fetch_file(NAME, progress=False)
    assert stamp_of(folder)["pinned"] is True and stamp_of(folder)["sha256"] == sha256(PACK)
    assert "pinned sha256" in capsys.readouterr().err


def test_content_length_the_body_matched_confirms_the_size(monkeypatch, server):
    folder = register(monkeypatch, server, "none")
    fetch_file(NAME, progress=False)
    stamp = stamp_of(folder)
    assert stamp["pinned"] is True and "declared by the server" in stamp["verified_by"]


def test_pin_is_dropped_with_the_file_it_pinned(monkeypatch, server):
    """dl_tests.py nolen, second half: after deleting the file as told, the good file was rejected forever."""
    folder = register(monkeypatch, server, "none")
    fetch_file(NAME, progress=False)
    (folder / "pack.zip").unlink()
    server.files["pack.zip"] = OTHER  # the host now serves another edition
    assert fetch_file(NAME, progress=False).read_bytes() == OTHER
    assert stamp_of(folder)["sha256"] == sha256(OTHER)


def test_pin_is_dropped_when_the_user_replaces_the_file(monkeypatch, server, capsys):
    folder = register(monkeypatch, server, "none")
    path = fetch_file(NAME, progress=False)
    path.write_bytes(OTHER)  # a copy placed by hand
    assert fetch_file(NAME, progress=False) == path
    assert "pin was dropped" in capsys.readouterr().err
    assert stamp_of(folder)["sha256"] == sha256(OTHER)
    assert server.requests[-1]["range"] is None and len(server.requests) == 1


def test_stale_pin_sh_through_the_cli(monkeypatch, server, capsys):
    """stale_pin.sh: a truncated copy placed by hand, then the good copy placed by hand."""
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "none")
    (folder / "pack.zip").write_bytes(PACK[:1000])
    assert main(["fetch", NAME]) == 2
    assert "delete it and fetch again" in capsys.readouterr().err
    (folder / "pack.zip").unlink()
    (folder / "pack.zip").write_bytes(PACK)
    assert main(["fetch", NAME]) == 0
    assert (folder / "pack" / "b.bin").stat().st_size == 300_000 and server.requests == []


# ------------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize(
    "bad,check",
    [
        (bad, check)
        for bad in ("start", "start_unlabelled", "total", "missing", "garbage")
        for check in ("sha", "size", "none")
        if (bad, check) != ("total", "none")
    ],
)  # no size to compare a total with
def test_206_that_does_not_continue_the_part_restarts_from_zero(monkeypatch, server, capsys, bad, check):
    """dl_tests.py badrange (d08): a 206 that ignores the Range was appended to the .part."""
    folder = register(monkeypatch, server, check)
    (folder / "pack.zip.part").write_bytes(PACK[:100_000])
    server.rules["pack.zip"] = {"bad_range": bad}
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert "discarded pack.zip.part (100,000 bytes) and started again from zero" in capsys.readouterr().err
    assert [r["range"] for r in server.requests] == ["bytes=100000-", None]
    assert left(folder) == ["pack.zip", "pack.zip.verified.json"]


def test_200_to_a_range_request_restarts_from_zero(monkeypatch, server, capsys):
    folder = register(monkeypatch, server, "none")
    (folder / "pack.zip.part").write_bytes(b"X" * 100_000)  # would be wrong to keep
    server.rules["pack.zip"] = {"ignore_range": True}
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert "does not resume" in capsys.readouterr().err and len(server.requests) == 1


@pytest.mark.parametrize("check", ["sha", "md5"])
def test_part_of_another_file_is_retried_from_zero(monkeypatch, server, capsys, check):
    """dl_tests.py stalepart (d10): a .part with other content failed the download instead of restarting."""
    folder = register(monkeypatch, server, check)
    (folder / "pack.zip.part").write_bytes(b"X" * 100_000)
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert "again from zero" in capsys.readouterr().err
    assert [r["range"] for r in server.requests] == ["bytes=100000-", None]


def test_complete_part_of_unknown_size_is_not_downloaded_again_when_a_checksum_checks_it(monkeypatch, server):
    folder = register(monkeypatch, server, "md5")
    (folder / "pack.zip.part").write_bytes(PACK)
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert [r["range"] for r in server.requests] == [f"bytes={len(PACK)}-"]  # answered 416 bytes */N
    assert stamp_of(folder)["pinned"] is True


@pytest.mark.parametrize("stale", [False, True])
def test_a_416_confirms_a_length_not_content(monkeypatch, server, capsys, stale):
    """probe F8: with nothing registered, a stale .part of the server's length was answered 416 bytes */N,
    taken for complete, and its (garbage) bytes pinned as the dataset."""
    folder = register(monkeypatch, server, "none")
    (folder / "pack.zip.part").write_bytes(b"\0" * len(PACK) if stale else PACK)
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert [r["range"] for r in server.requests] == [f"bytes={len(PACK)}-", None]
    assert "confirms its length, not its content" in capsys.readouterr().err
    assert stamp_of(folder)["sha256"] == sha256(PACK) and stamp_of(folder)["pinned"] is True


# ------------------------------------------------------------------------------------ Ctrl-C (in process)
class _InterruptingBar:
    """Stands in for tqdm: Ctrl-C after the first block has been written."""

    def __init__(self, *a, **k):
        self.calls = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt


@pytest.mark.parametrize("check", ["sha", "none"])
def test_ctrl_c_during_the_download_keeps_the_part_it_names(monkeypatch, server, capsys, check):
    folder = register(monkeypatch, server, check)
    with monkeypatch.context() as m:
        m.setattr(dl.ResumableDownloader, "_bar", lambda self, *a, **k: _InterruptingBar())
        with pytest.raises(KeyboardInterrupt):
            fetch(NAME, progress=False)
    part = folder / "pack.zip.part"
    n = part.stat().st_size
    assert 0 < n < len(PACK)
    assert f"kept the partial download {part} ({n:,} bytes): the next fetch resumes it" in capsys.readouterr().err
    assert left(folder) == ["pack.zip.part"]
    assert (fetch(NAME, progress=False) / "pack" / "a.txt").is_file()
    assert server.requests[-1]["range"] == f"bytes={n}-"
    assert left(folder) == [
        "pack",
        "pack.zip",
        "pack.zip.verified.json",
        "pack/.seeing-saying-extracted.json",
        "pack/a.txt",
        "pack/b.bin",
    ]


@pytest.mark.parametrize("check", ["sha", "none"])
def test_ctrl_c_during_the_hash_keeps_the_download(monkeypatch, server, capsys, check):
    """sigrun.py on:hashing SIGINT + slowhash.py: the message said the .part was kept, but it was deleted."""
    import pooch.core

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    folder = register(monkeypatch, server, check)
    with monkeypatch.context() as m:
        m.setattr(pooch.core, "hash_matches", interrupted)
        with pytest.raises(KeyboardInterrupt):
            fetch(NAME, progress=False)
    part = folder / "pack.zip.part"
    err = capsys.readouterr().err
    if check == "sha":
        assert f"kept the complete download {part} ({len(PACK):,} bytes): the next fetch checks it without" in err
    else:
        assert f"kept the partial download {part} ({len(PACK):,} bytes): the next fetch resumes it" in err
    assert left(folder) == ["pack.zip.part"] and part.read_bytes() == PACK
    assert (fetch(NAME, progress=False) / "pack" / "a.txt").is_file()
    # without a checksum, the server's 416 to the complete .part confirms only its length: downloaded again
    assert [r["range"] for r in server.requests][1:] == ([] if check == "sha" else [f"bytes={len(PACK)}-", None])


def test_ctrl_c_during_unpacking_keeps_the_archive_only(monkeypatch, server, capsys):
    import shutil

    real, calls = shutil.copyfileobj, []

    def copy(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    folder = register(monkeypatch, server, "sha")
    with monkeypatch.context() as m:
        m.setattr(shutil, "copyfileobj", copy)
        with pytest.raises(KeyboardInterrupt):
            fetch(NAME, progress=False)
    err = capsys.readouterr().err
    assert "interrupted while unpacking pack.zip: nothing unpacked was kept; pack.zip is kept" in err
    assert left(folder) == ["pack.zip", "pack.zip.verified.json"]
    assert (fetch(NAME, progress=False) / "pack" / "b.bin").stat().st_size == 300_000
    assert len(server.requests) == 1


def test_stale_unpacking_folder_is_removed_by_the_next_fetch(monkeypatch, server):
    folder = register(monkeypatch, server, "sha")
    stale = folder / ".pack.unpacking-999999" / "pack"
    stale.mkdir(parents=True)
    (stale / "a.txt").write_text("half")
    fetch(NAME, progress=False)
    assert not stale.parent.exists() and (folder / "pack" / "a.txt").read_text() == "hello\n" * 1000


# ---------------------------------------------------------------------------- kill -9 / SIGINT (real process)
DRIVER = r"""
import json, sys, time, types
args = json.loads(sys.argv[1])
# the helpers package without its __init__ (torch, nltk: seconds of imports on a busy machine), as in
# `python -m helpers fetch`, which uses only helpers.download and what it imports
sys.modules["helpers"] = types.ModuleType("helpers")
sys.modules["helpers"].__path__ = [args["package"]]
from helpers import download as dl

def stall(where):
    print(f"[stalled in {where}]", file=sys.stderr, flush=True)
    time.sleep(60)

if args["phase"] == "hash":
    import pooch.core
    real_hash = pooch.core.hash_matches
    def hash_matches(*a, **k):
        stall("hash")
        return real_hash(*a, **k)
    pooch.core.hash_matches = hash_matches
elif args["phase"] == "download":
    class Bar:
        def __enter__(self): return self
        def __exit__(self, *exc): return False
        def update(self, n): stall("download")
    dl.ResumableDownloader._bar = lambda self, *a, **k: Bar()
elif args["phase"] == "extract":
    import shutil
    real_copy, calls = shutil.copyfileobj, []
    def copyfileobj(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            stall("extract")
        return real_copy(*a, **k)
    shutil.copyfileobj = copyfileobj
res = dl.Resource("pack.zip", (args["url"],), args["sha256"], args["size"], extract="pack")
dl.REGISTRY[args["name"]] = dl.Dataset(args["name"], "test", "captions", (res,), license="t", citation="t")
from helpers.__main__ import main
sys.exit(main(["fetch", args["name"]]))
"""


def run_and_signal(phase: str, sig, server, check="sha") -> tuple:
    """Run `python -m helpers fetch` in a subprocess, stalled in `phase`; send `sig` there. (rc, stderr)."""
    args = {
        "phase": phase,
        "name": NAME,
        "url": f"{server.url}/pack.zip",
        "package": str(ROOT / "helpers"),
        "sha256": sha256(PACK) if check == "sha" else None,
        "size": len(PACK) if check == "sha" else None,
    }
    p = subprocess.Popen(
        [sys.executable, "-c", DRIVER, json.dumps(args)],
        cwd=ROOT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lines, stalled = [], threading.Event()

    def read():
        for line in p.stderr:
            lines.append(line)
            if f"[stalled in {phase}]" in line:
                stalled.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert stalled.wait(90), "the subprocess never reached the " + phase + ":\n" + "".join(lines)[-3000:]
        p.send_signal(sig)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    reader.join(10)
    return p.returncode, "".join(lines)


@pytest.mark.parametrize(
    "phase,debris",
    [("download", ".pack.zip.downloading"), ("hash", ".pack.zip.downloading"), ("extract", ".pack.unpacking-")],
)
def test_kill_9_then_fetch_cleans_up_and_succeeds(monkeypatch, server, phase, debris):
    folder = register(monkeypatch, server, "sha")
    rc, err = run_and_signal(phase, signal.SIGKILL, server)
    assert rc == -signal.SIGKILL, err[-2000:]
    assert any(name.startswith(debris) for name in left(folder)), left(folder)  # what a kill leaves
    assert (fetch(NAME, progress=False) / "pack" / "b.bin").stat().st_size == 300_000
    assert left(folder) == [
        "pack",
        "pack.zip",
        "pack.zip.verified.json",
        "pack/.seeing-saying-extracted.json",
        "pack/a.txt",
        "pack/b.bin",
    ]
    if phase != "download":  # the complete download survived the kill: nothing is downloaded again
        assert len(server.requests) == 1


def test_sigint_during_the_hash_cli_says_what_it_kept(monkeypatch, server):
    folder = register(monkeypatch, server, "sha")
    rc, err = run_and_signal("hash", signal.SIGINT, server)
    part = folder / "pack.zip.part"
    assert rc == 130 and "Traceback" not in err, err[-2000:]
    assert f"interrupted: kept the complete download {part} ({len(PACK):,} bytes)" in err
    assert left(folder) == ["pack.zip.part"]
    fetch(NAME, progress=False)
    assert len(server.requests) == 1


# ------------------------------------------------------------------------------------- a damaged cache
VALID = "0" * 64


@pytest.mark.parametrize(
    "content",
    [
        b"{bad json",
        b"",
        b"[]",
        b"\xff\xfe\x00",
        b'{"sha256": 5}',
        b'{"sha256": "zz", "size": "1", "mtime_ns": 1.5, "verified_by": "x"}',
        f'{{"sha256": "{VALID}", "size": 1, "mtime_ns": 1, "verified_by": "x", "pinned": "yes"}}'.encode(),
    ],
)
def test_damaged_stamp_gets_one_line_and_is_rewritten(monkeypatch, server, capsys, content):
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "md5")
    fetch_file(NAME, progress=False)
    (folder / "pack.zip.verified.json").write_bytes(content)
    capsys.readouterr()
    assert dl.status(NAME)["files"]["pack.zip"].startswith("present, not verified yet (its stamp is damaged")
    assert main(["fetch", NAME]) == 0
    err = capsys.readouterr().err
    damaged = [line for line in err.splitlines() if "damaged" in line]
    assert "Traceback" not in err and len(damaged) == 1
    assert damaged[0].startswith(f"{folder / 'pack.zip.verified.json'} is damaged (")
    assert stamp_of(folder)["sha256"] == sha256(PACK) and len(server.requests) == 1


def test_stamp_that_is_a_folder_is_one_clear_error(monkeypatch, server, capsys):
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "sha")
    fetch_file(NAME, progress=False)
    (folder / "pack.zip.verified.json").unlink()
    (folder / "pack.zip.verified.json").mkdir()
    with pytest.raises(dl.CacheError, match="verified.json is damaged and cannot be removed"):
        fetch_file(NAME, progress=False)
    capsys.readouterr()
    assert main(["fetch", NAME]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize("where", ["cache", "downloads", "dataset", "cache-parent"])
def test_a_file_where_a_cache_folder_belongs(monkeypatch, server, cache, capsys, where):
    """SEEING_SAYING_CACHE pointing at a file, or downloads/NAME being a file: one line, never a traceback."""
    from helpers.__main__ import main

    register(monkeypatch, server, "sha")
    blocker = {
        "cache": cache,
        "cache-parent": cache,
        "downloads": cache / "downloads",
        "dataset": cache / "downloads" / NAME,
    }[where]
    import shutil

    shutil.rmtree(cache)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    with monkeypatch.context() as m:
        if where == "cache-parent":
            m.setenv("SEEING_SAYING_CACHE", str(cache / "sub"))
        with pytest.raises(dl.CacheError) as e:
            fetch(NAME, progress=False)
        assert isinstance(e.value, DownloadError) and "\n" not in str(e.value) and str(blocker) in str(e.value)
        assert main(["fetch", NAME]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "is a file" in err
        if where.startswith("cache"):
            assert main(["datasets"]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and "SEEING_SAYING_CACHE" in err
        else:  # the listing still works and says which dataset is blocked
            assert main(["datasets"]) == 0
            listing = json.loads(capsys.readouterr().out)
            assert listing[NAME]["status"].startswith(f"blocked: {blocker} is a file")
    assert blocker.read_text() == "not a folder" and server.requests == []


def test_a_cache_folder_that_is_a_link_to_nothing_is_named_so(monkeypatch, server, tmp_path, capsys):
    # a dangling SEEING_SAYING_CACHE link was reported as "... is a file"
    from helpers.__main__ import main

    register(monkeypatch, server, "sha")
    link = tmp_path / "cache-link"
    link.symlink_to(tmp_path / "nowhere", target_is_directory=True)
    with monkeypatch.context() as m:
        m.setenv("SEEING_SAYING_CACHE", str(link))
        assert main(["datasets"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"SEEING_SAYING_CACHE={link} cannot be made: {link} is a link to nothing" in err
        assert main(["fetch", NAME]) == 2 and "is a link to nothing" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists() and server.requests == []


def test_a_folder_where_the_file_belongs(monkeypatch, server):
    folder = register(monkeypatch, server, "sha")
    (folder / "pack.zip").mkdir()
    with pytest.raises(dl.CacheError, match="is not a file"):
        fetch(NAME, progress=False)


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_extraction_folder_without_its_marker(monkeypatch, server, capsys, kind):
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "sha")
    if kind == "folder":
        (folder / "pack").mkdir()
        (folder / "pack" / "mine.txt").write_text("the user's")
    else:
        (folder / "pack").write_text("the user's")
    with pytest.raises(dl.CacheError, match="without the marker .* Move it away or delete it") as e:
        fetch(NAME, progress=False)
    assert "\n" not in str(e.value) and server.requests == []  # nothing downloaded for nothing
    assert main(["fetch", NAME]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "without the unpacking marker" in dl.status(NAME)["files"]["pack.zip"]
    assert main(["fetch", NAME, "--no-extract"]) == 0  # downloading alone is fine
    mine = folder / "pack" / "mine.txt" if kind == "folder" else folder / "pack"
    assert mine.read_text() == "the user's"  # never deleted


# ---------------------------------------------------------------------------------------------- modes
@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_written_files_are_group_readable(monkeypatch, server, cache, umask_022):
    folder = register(monkeypatch, server, "none")
    with monkeypatch.context() as m:  # an interrupted download: the .part
        m.setattr(dl.ResumableDownloader, "_bar", lambda self, *a, **k: _InterruptingBar())
        with pytest.raises(KeyboardInterrupt):
            fetch(NAME, progress=False)
    assert stat.S_IMODE((folder / "pack.zip.part").stat().st_mode) & 0o040
    fetch(NAME, progress=False)
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "pack.zip",
        "pack.zip.verified.json",
        "a.txt",
        "b.bin",
        ".seeing-saying-extracted.json",
    }
    unreadable = [str(p) for p in files if not stat.S_IMODE(p.stat().st_mode) & 0o040]
    assert unreadable == []


# ----------------------------------------------------------------- nothing followed, nothing written outside
def _outside(tmp_path: Path) -> Path:
    """A user's file outside the cache, private (0600)."""
    victim = tmp_path / "outside" / "notes.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"my notes\n")
    victim.chmod(0o600)
    return victim


@pytest.mark.parametrize("check", ["none", "sha"])
@pytest.mark.parametrize("dangling", [False, True])
def test_part_that_is_a_symlink_is_never_followed(monkeypatch, server, tmp_path, capsys, check, dangling):
    """probe F1 (min_d1.py, d1_part_symlink.py): a .part symlink made fetch append the download to the file it
    points to (outside the cache), chmod it, pin it and hard-link the cache's file to it; a dangling one made
    fetch create the file it points to."""
    folder = register(monkeypatch, server, check)
    victim = _outside(tmp_path)
    if dangling:
        victim.unlink()
    (folder / "pack.zip.part").symlink_to(victim)
    path = fetch_file(NAME, progress=False)
    assert path.read_bytes() == PACK and not path.is_symlink() and path.stat().st_nlink == 1
    assert [r["range"] for r in server.requests] == [None]  # started from zero, nothing resumed
    if dangling:
        assert not victim.exists()
    else:
        assert victim.read_bytes() == b"my notes\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert "was a symbolic link (not a download of ours): removed it, never followed" in capsys.readouterr().err
    assert stamp_of(folder)["sha256"] == sha256(PACK)
    assert left(folder) == ["pack.zip", "pack.zip.verified.json"]


def test_lock_file_that_is_a_symlink_is_never_followed(monkeypatch, server, tmp_path):
    """filelock opens `<file>.lock` with O_TRUNC and fchmods it: through a symlink, a file outside was emptied."""
    folder = register(monkeypatch, server, "sha")
    victim = _outside(tmp_path)
    (folder / "pack.zip.lock").symlink_to(victim)
    fetch_file(NAME, progress=False)
    assert victim.read_bytes() == b"my notes\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert not (folder / "pack.zip.lock").is_symlink()


def test_lock_file_that_is_a_folder_is_one_clear_line(monkeypatch, server, capsys):
    """A `pack.zip.lock` folder (made by hand or by another tool) raised a bare IsADirectoryError from our own
    unlink: a folder's link count is above one, so it was taken for a hard link."""
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "sha")
    (folder / "pack.zip.lock").mkdir()
    (folder / "pack.zip.lock" / "x").write_text("the user's")
    with pytest.raises(IsADirectoryError, match="pack.zip.lock is a folder where a lock file belongs: move it away"):
        fetch(NAME, progress=False)
    assert main(["fetch", NAME]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "lock file belongs" in err
    assert (folder / "pack.zip.lock" / "x").read_text() == "the user's" and server.requests == []


def test_staging_folder_that_is_a_symlink_is_never_followed(monkeypatch, server, tmp_path):
    """pooch's temporary file went into the folder a `.pack.zip.downloading` symlink points to."""
    folder = register(monkeypatch, server, "sha")
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / ".pack.zip.downloading").symlink_to(outside, target_is_directory=True)
    seen, real = [], dl.ResumableDownloader.__call__

    def call(self, *a, **k):
        real(self, *a, **k)
        seen.extend(p.name for p in outside.iterdir())  # while pooch still holds its temporary file

    monkeypatch.setattr(dl.ResumableDownloader, "__call__", call)
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert seen == [] and list(outside.iterdir()) == []


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_part_that_is_a_folder_or_a_fifo_is_one_clear_line(monkeypatch, server, capsys, kind):
    """probe F12 (d2_part_dir.py): a .part folder gave 'Partial download kept: ...part (4,096 bytes); the next
    fetch resumes it', which never happened; a .part fifo hung the fetch."""
    from helpers.__main__ import main

    folder = register(monkeypatch, server, "sha")
    part = folder / "pack.zip.part"
    if kind == "folder":
        part.mkdir()
        (part / "x").write_text("the user's")
    else:
        os.mkfifo(part)
    what = "a folder" if kind == "folder" else "not a regular file"
    with pytest.raises(dl.CacheError, match=f"pack.zip.part is {what}.*, not a partial download: move it away") as e:
        fetch(NAME, progress=False)
    assert "\n" not in str(e.value) and server.requests == []
    capsys.readouterr()
    assert main(["fetch", NAME]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "resumes" not in err
    assert part.is_dir() if kind == "folder" else stat.S_ISFIFO(part.lstat().st_mode)  # never removed


# ------------------------------------------------------------------ a server that compresses, or sends too much
class _EncodingHandler(_Handler):
    """The server of tests/test_download.py plus the rules 'gzip' ('auto': gzip on the fly when the request
    accepts it, as servers and CDNs do; 'always': whatever the request says) and 'huge' (the file ten times
    over, with that Content-Length). It records each request's Accept-Encoding in `encodings`."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        import gzip

        srv, name = self.server, self.path.lstrip("/")
        rule, data, accept = srv.rules.get(name, {}), srv.files.get(name), self.headers.get("Accept-Encoding")
        srv.encodings.append(accept)
        zipped = rule.get("gzip") == "always" or (rule.get("gzip") == "auto" and "gzip" in (accept or ""))
        if data is None or not (zipped or rule.get("huge")):
            return super().do_GET()
        srv.requests.append({"path": name, "range": self.headers.get("Range")})
        body = gzip.compress(data, mtime=0) if zipped else data * 10
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if zipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client stopped reading
            pass


@pytest.fixture
def server2():
    with LocalServer() as s:
        s.httpd.RequestHandlerClass, s.httpd.encodings = _EncodingHandler, []
        yield s


@pytest.mark.parametrize("check", ["none", "sha"])
def test_asks_for_the_file_as_stored(monkeypatch, server2, check):
    """probe F2 (min_d3.py, d3_gzip.py): requests sent 'Accept-Encoding: gzip, deflate' and stored the raw body,
    so a server compressing on the fly got its gzip bytes pinned as the dataset, or the good file blamed."""
    folder = register(monkeypatch, server2, check)
    server2.rules["pack.zip"] = {"gzip": "auto"}
    assert (fetch(NAME, progress=False) / "pack" / "a.txt").read_bytes() == b"hello\n" * 1000
    assert (folder / "pack.zip").read_bytes() == PACK and stamp_of(folder)["sha256"] == sha256(PACK)
    assert server2.httpd.encodings == ["identity"]


@pytest.mark.parametrize("check", ["none", "sha"])
def test_an_answer_compressed_anyway_is_refused(monkeypatch, server2, check):
    folder = register(monkeypatch, server2, check)
    server2.rules["pack.zip"] = {"gzip": "always"}
    with pytest.raises(DownloadError, match=r"compressed on the way \(Content-Encoding: gzip\).*refused, nothing"):
        fetch_file(NAME, progress=False)
    assert left(folder) == []


def test_a_body_longer_than_the_registered_size_is_cut_off(monkeypatch, server2):
    """probe F13 (d4_misc.py huge): a body ten times the registered size was read to its end (the .part grew
    to ten times the size) before it was refused."""
    folder = register(monkeypatch, server2, "sha")
    server2.rules["pack.zip"] = {"huge": True}
    sizes = []

    class Bar(_InterruptingBar):
        def update(self, n):
            sizes.append((folder / "pack.zip.part").stat().st_size)

    monkeypatch.setattr(dl.ResumableDownloader, "_bar", lambda self, *a, **k: Bar())
    with pytest.raises(DownloadError, match=f"expected {len(PACK):,} \\(the source sends more; nothing kept\\)") as e:
        fetch_file(NAME, progress=False)
    assert max(sizes) <= len(PACK) and left(folder) == []
    assert "Partial download kept" not in str(e.value)


# ------------------------------------------------------------------------------------------------- mirror
def only_a_mirror_can_serve_it(monkeypatch) -> None:
    """Point the registry's URL of pack.zip at a closed port."""
    import dataclasses

    ds = dl.REGISTRY[NAME]
    res = dataclasses.replace(ds.resources[0], urls=(f"{closed_port_url()}/pack.zip",))
    monkeypatch.setitem(dl.REGISTRY, NAME, dataclasses.replace(ds, resources=(res,)))


@pytest.mark.parametrize("kind", ["a file", "ftp", "missing"])
def test_a_mirror_that_cannot_be_used_says_why(monkeypatch, server, tmp_path, capsys, kind):
    """probe F14 (d5_mirror.py): a mirror value that is a file, an ftp:// URL or a missing folder was dropped
    without a word, and the DownloadError never named it."""
    register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    value = {"a file": tmp_path / "mirror.txt", "ftp": "ftp://127.0.0.1/pub", "missing": tmp_path / "nowhere"}[kind]
    if kind == "a file":
        value.write_text("x")
    monkeypatch.setenv(dl.MIRROR_ENV, str(value))
    with pytest.raises(DownloadError) as e:
        fetch_file(NAME, progress=False)
    line = f"SEEING_SAYING_MIRROR={value} is not used: "
    assert f"\nMirror skipped: {line}" in str(e.value)
    assert line in capsys.readouterr().err


def test_a_file_url_mirror_is_used(monkeypatch, server, tmp_path):
    folder = register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    (tmp_path / "mirror" / NAME).mkdir(parents=True)
    (tmp_path / "mirror" / NAME / "pack.zip").write_bytes(PACK)
    monkeypatch.setenv(dl.MIRROR_ENV, f"file://{tmp_path / 'mirror'}")
    assert fetch_file(NAME, progress=False).read_bytes() == PACK and server.requests == []
    assert left(folder) == ["pack.zip", "pack.zip.verified.json"]


@pytest.mark.parametrize("form", ["localhost", "percent-encoded"])
def test_a_file_url_mirror_as_rfc_8089_writes_it_is_used(monkeypatch, server, tmp_path, form):
    # `file://localhost/...` and `%20` for a space (what browsers and pathlib's as_uri() write) were taken
    # literally and reported as a missing folder
    folder = register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    mirror = tmp_path / "class mirror"
    (mirror / NAME).mkdir(parents=True)
    (mirror / NAME / "pack.zip").write_bytes(PACK)
    url = mirror.as_uri() if form == "percent-encoded" else f"file://localhost{mirror}"
    assert "%20" in mirror.as_uri()
    monkeypatch.setenv(dl.MIRROR_ENV, url)
    assert fetch_file(NAME, progress=False).read_bytes() == PACK and server.requests == []
    assert left(folder) == ["pack.zip", "pack.zip.verified.json"]


def test_a_file_url_of_another_host_says_a_mirror_is_local(monkeypatch, server, capsys):
    register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    monkeypatch.setenv(dl.MIRROR_ENV, "file://fileserver/share/mirror")
    with pytest.raises(DownloadError):
        fetch_file(NAME, progress=False)
    assert "is not used: a file:// URL names a local folder (file:///path), not one on 'fileserver'" in (
        capsys.readouterr().err
    )


def test_mirror_credentials_are_never_printed(monkeypatch, server, capsys):
    register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    monkeypatch.setenv(dl.MIRROR_ENV, server.url.replace("http://", "http://alice:s3cret@") + "/mirror")
    with pytest.raises(DownloadError) as e:
        fetch_file(NAME, progress=False)
    err = capsys.readouterr().err
    assert "s3cret" not in str(e.value) and "s3cret" not in err
    assert "http://alice:***@127.0.0.1:" in str(e.value) and "Downloading http://alice:***@" in err


# ---------------------------------------------------------------------------------- a new release of the file
def test_folder_unpacked_from_another_release_is_stale(monkeypatch, server, capsys):
    """probe F7 (d7_stamps.py): after the registry's sha256 of an archive changed, the folder unpacked from the
    old one was reported unpacked and reused."""
    import shutil

    from helpers.__main__ import main

    folder = register(monkeypatch, server, "sha")
    fetch(NAME, progress=False)
    register(monkeypatch, server, "sha", data=OTHER)  # the registry now wants the second edition
    ds = dl.REGISTRY[NAME]
    assert not dl.is_extracted(ds, ds.resources[0])
    assert dl.status(NAME)["files"]["pack.zip"].startswith("stale: pack/ was unpacked from another release")
    assert dl.status(NAME)["status"] == "partial"
    with pytest.raises(dl.CacheError, match="was unpacked from another release of pack.zip") as e:
        fetch(NAME, progress=False)
    assert "\n" not in str(e.value) and f"delete it and {folder / 'pack.zip'}, then fetch" in str(e.value)
    capsys.readouterr()
    assert main(["fetch", NAME]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    shutil.rmtree(folder / "pack")  # as the line says
    (folder / "pack.zip").unlink()
    assert (fetch(NAME, progress=False) / "pack" / "a.txt").read_bytes() == b"second edition\n" * 500


# ------------------------------------------------------------------------ the fourth round (a fresh user's probe)
class _Deadline:
    """SIGALRM after `seconds`: a fetch that blocks on a fifo fails the test instead of hanging it."""

    def __init__(self, seconds: int = 20):
        self.seconds = seconds

    def __enter__(self):
        def boom(*a):
            raise TimeoutError("blocked (on a fifo?)")

        self.old = signal.signal(signal.SIGALRM, boom)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


@pytest.mark.parametrize("check", ["sha", "none"])
def test_part_that_is_a_hard_link_is_never_written(monkeypatch, server, tmp_path, capsys, check):
    """A cache copied with `cp -al` holds hard links: the download was appended to (or truncated into) the
    user's file elsewhere, and its mode changed."""
    folder = register(monkeypatch, server, check)
    victim = _outside(tmp_path)
    os.link(victim, folder / "pack.zip.part")
    assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert victim.read_bytes() == b"my notes\n" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert "was a hard link (not a download of ours): removed it, never followed" in capsys.readouterr().err


def test_a_stamp_that_is_a_fifo_is_replaced_not_read(monkeypatch, server):
    """Reading a fifo stamp blocked fetch and status forever."""
    folder = register(monkeypatch, server, "sha")
    fetch_file(NAME, progress=False)
    (folder / "pack.zip.verified.json").unlink()
    os.mkfifo(folder / "pack.zip.verified.json")
    with _Deadline():
        assert dl.status(NAME)["files"]["pack.zip"].startswith("present, not verified yet")
        assert fetch_file(NAME, progress=False).read_bytes() == PACK
    assert stamp_of(folder)["sha256"] == sha256(PACK)


def test_a_weight_file_that_is_a_fifo_is_one_line(monkeypatch, tmp_path):
    from helpers import weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = weights.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    with _Deadline(), pytest.raises(dl.ChecksumError, match="is not a regular file: move it away") as e:
        weights.fetch_torchvision_weights("resnet152", progress=False)
    assert "\n" not in str(e.value)
    with _Deadline():
        assert "is not a regular file" in dl.status("resnet152")["status"]


def test_a_tgz_gzipped_again_on_the_way_is_refused(monkeypatch, server2):
    """gzip is accepted for a stored .gz/.tgz (servers label it so), but not a second layer added on the way:
    with no checksum, the doubly compressed file was pinned and unpacked as one gzipped file."""
    from tests.test_download import make_tar

    tgz = make_tar({"pk/a.txt": b"hello\n" * 100})
    server2.files["pk.tgz"] = tgz
    res = dl.Resource("pk.tgz", (f"{server2.url}/pk.tgz",), extract="pk")
    monkeypatch.setitem(
        dl.REGISTRY, "t-tgz", dl.Dataset("t-tgz", "test", "captions", (res,), license="t", citation="t")
    )
    server2.rules["pk.tgz"] = {"gzip": "always"}
    with pytest.raises(DownloadError, match=r"compressed pk.tgz again on the way .*refused, nothing kept"):
        fetch("t-tgz", progress=False)
    assert left(dl.dataset_dir("t-tgz")) == []
    server2.rules.clear()
    assert (fetch("t-tgz", progress=False) / "pk" / "a.txt").read_bytes() == b"hello\n" * 100


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://ghp_TOKEN@host/x", "http://***@host/x"),
        ("http://bob:p@ss@host/x", "http://bob:***@host/x"),
        ("https://host/x?token=SECRET&b=2", "https://host/x?token=***&b=***"),
        ("https://host/plain.zip", "https://host/plain.zip"),
    ],
)
def test_credentials_in_urls_are_masked(url, shown):
    assert dl.mask(f"Downloading {url} to /c") == f"Downloading {shown} to /c"


def test_a_mirror_url_with_a_query_is_refused(monkeypatch, server):
    register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    monkeypatch.setenv(dl.MIRROR_ENV, f"{server.url}/mirror?token=SECRET")
    with pytest.raises(DownloadError) as e:
        fetch_file(NAME, progress=False)
    assert "without '?' or '#'" in str(e.value) and "SECRET" not in str(e.value)


def test_a_mirror_copy_of_another_size_is_not_copied(monkeypatch, server, tmp_path):
    folder = register(monkeypatch, server, "sha")
    only_a_mirror_can_serve_it(monkeypatch)
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "pack.zip").write_bytes(PACK * 5)
    monkeypatch.setenv(dl.MIRROR_ENV, str(tmp_path / "mirror"))
    written = []
    real = dl.ResumableDownloader._write
    monkeypatch.setattr(
        dl.ResumableDownloader, "_write", lambda self, *a, **k: written.append(1) or real(self, *a, **k)
    )
    with pytest.raises(DownloadError, match=f"expected {len(PACK):,} .*is another file; nothing copied"):
        fetch_file(NAME, progress=False)
    assert written == [] and left(folder) == []
