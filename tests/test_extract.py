"""Archives made by others: nothing is ever written outside the target folder, and failures are one clear line.

tests/data/archives/zip_symlink_chain.zip is the case from the issue "Inputs made by others" (a chain of zip
symlinks, each harmless alone, then a file written through the chain). The other link archives are built
here: tar chains (one of them long enough to bypass Python 3.11.7's own `filter="data"`, CVE-2025-4517),
absolute links, hard links, links to links. Each test unpacks deep inside its own `tmp_path`, so that an
escape lands where the test can see it.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import os
import random
import shutil
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import download as dl
from helpers.download import ArchiveError, UnsafeArchiveError, archive_kind, fetch, safe_extract
from tests.test_download import LocalServer, cache, leftovers, make_tar, make_zip, serve_dataset  # noqa: F401

CASE = Path(__file__).parent / "data" / "archives" / "zip_symlink_chain.zip"


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def tree(root: Path) -> list:
    """Every path under `root` (links listed, not followed)."""
    out = []
    for folder, dirs, files in os.walk(root):
        out += [os.path.relpath(os.path.join(folder, n), root) for n in dirs + files]
    return sorted(out)


class Watch:
    """What exists in `tmp_path` (recursively) and next to it (pytest's base folder) before unpacking."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.before = tree(tmp_path), sorted(os.listdir(tmp_path.parent))

    def assert_nothing_new(self):
        after = tree(self.tmp_path), sorted(os.listdir(self.tmp_path.parent))
        assert after == self.before, "something was written (inside or outside the target folder)"


def zinfo(name: str, mode: int) -> zipfile.ZipInfo:
    z = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))
    z.create_system, z.external_attr = 3, mode << 16
    return z


def zip_links(links: list, file: str) -> bytes:
    """[(name, target), ...] as zip symlink entries, then `file` as a regular file."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, target in links:
            zf.writestr(zinfo(name, stat.S_IFLNK | 0o777), target)
        zf.writestr(zinfo(file, stat.S_IFREG | 0o644), "written outside the extraction folder\n")
    return buf.getvalue()


def tar_links(links: list, file: str) -> bytes:
    """[(name, target) or (name, target, 'hard'), ...] as tar links, then `file` as a regular file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, target, *hard in links:
            t = tarfile.TarInfo(name)
            t.type, t.linkname = (tarfile.LNKTYPE if hard else tarfile.SYMTYPE), target
            tf.addfile(t)
        data = b"written outside the extraction folder\n"
        f = tarfile.TarInfo(file)
        f.size = len(data)
        tf.addfile(f, io.BytesIO(data))
    return buf.getvalue()


def chain(levels: int) -> list:
    """s/a -> .., s/a/b -> .., ...: each link lexically inside, together `levels` folders above the target."""
    out, path = [], "s"
    for letter in "abcdefghij"[: levels + 1]:
        path = f"{path}/{letter}"
        out.append((path, ".."))
    return out


def cve_2025_4517() -> bytes:
    """Symlinks through 16 folders of 247 characters: the resolved path passes PATH_MAX, where Python < 3.11.13's
    `os.path.realpath` (and so `filter="data"`) stops resolving; 'escape' then points two folders above."""
    comp, steps, path, members = "d" * 247, "abcdefghijklmnop", "", []
    for step in steps:  # a -> ddd, ddd/b -> ddd, ddd/ddd/c -> ddd, ...
        members += [(os.path.join(path, comp), None), (os.path.join(path, step), comp)]
        path = os.path.join(path, comp)
    deep = os.path.join(*steps, "l" * 254)  # a/b/.../p/lll -> ../../.. (16 up: the target itself)
    members += [(deep, "../" * len(steps)), ("escape", deep + "/../.."), ("escape/PWNED.txt", b"outside\n")]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, what in members:
            t = tarfile.TarInfo(name)
            if what is None:
                t.type = tarfile.DIRTYPE
            elif isinstance(what, str):
                t.type, t.linkname = tarfile.SYMTYPE, what
            else:
                t.size = len(what)
            tf.addfile(t, io.BytesIO(what) if isinstance(what, bytes) else None)
    return buf.getvalue()


def _unpack_refused(tmp_path: Path, data: bytes, name: str, member: str):
    """Unpack `data` (saved as `name`) 4 folders deep; assert it is refused, naming archive and member, and that
    nothing at all was written."""
    archive = tmp_path / name
    archive.write_bytes(data)
    dest = tmp_path / "p" / "q" / "r" / "s" / "out"
    dest.parent.mkdir(parents=True)
    watch = Watch(tmp_path)
    with pytest.raises(UnsafeArchiveError) as e:
        safe_extract(archive, dest, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and name in msg and repr(member) in msg and "link" in msg, msg
    watch.assert_nothing_new()


# ------------------------------------------------------------------------------------ the case itself
def test_case_zip_symlink_chain_is_refused(tmp_path):
    """The case file: 6 zip symlinks ('..' each), then s/a/b/c/d/e/f/PWNED.txt, 5 folders above the target."""
    _unpack_refused(tmp_path, CASE.read_bytes(), "zip_symlink_chain.zip", "s/a")
    assert not list(tmp_path.rglob("PWNED.txt"))


def test_case_zip_symlink_chain_through_fetch_and_the_cli(monkeypatch, server, cache, tmp_path, capsys):
    """A dataset archive with the right checksum is still refused; the CLI says so in one line, no traceback."""
    from helpers.__main__ import main

    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": CASE.read_bytes()})
    watch = Watch(tmp_path)
    with pytest.raises(UnsafeArchiveError, match=r"tiny-imagenet-200\.zip: member 's/a' is a symbolic link"):
        fetch("tiny-imagenet", progress=False)
    folder = cache / "downloads" / "tiny-imagenet"
    assert not (folder / "tiny-imagenet-200").exists() and leftovers(cache) == []
    assert main(["fetch", "tiny-imagenet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err.strip().splitlines()[-1]  # (pooch and tqdm report the download above it)
    assert err.startswith("fetch tiny-imagenet: tiny-imagenet-200.zip: member 's/a' is a symbolic link"), err
    assert not list(tmp_path.rglob("PWNED.txt")) and "PWNED.txt" not in os.listdir(tmp_path.parent)
    # only the verified download (and its stamp and lock) appeared, all inside the cache
    new = sorted(set(tree(tmp_path)) - set(watch.before[0]))
    assert all(p.startswith("cache") for p in new) and not any("PWNED" in p for p in new), new
    assert sorted(os.listdir(tmp_path.parent)) == watch.before[1]


# --------------------------------------------------------------------------------- more link archives
@pytest.mark.parametrize(
    "kind",
    [
        "tar_chain",
        "tar_cve_2025_4517",
        "tar_absolute",
        "tar_hardlink_outside",
        "tar_hardlink_through_chain",
        "zip_absolute",
        "zip_link_to_link",
        "tar_link_to_link",
        "zip_chain_6_levels",
    ],
)
def test_link_archives_are_refused_and_write_nothing(tmp_path, kind):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    archive, member = {
        "tar_chain": (tar_links(chain(4), "s/a/b/c/d/e/PWNED.txt"), "s/a"),
        "tar_cve_2025_4517": (cve_2025_4517(), "a"),
        "tar_absolute": (tar_links([("abs", str(tmp_path))], "abs/PWNED.txt"), "abs"),
        "tar_hardlink_outside": (tar_links([("h", str(outside), "hard")], "h"), "h"),
        # the hard link goes through a chain that ends in tmp_path; then a file is written through it
        "tar_hardlink_through_chain": (tar_links(chain(4) + [("h", "s/a/b/c/d/e/outside.txt", "hard")], "h"), "s/a"),
        "zip_absolute": (zip_links([("abs", str(tmp_path))], "abs/PWNED.txt"), "abs"),
        # a/up -> .. is the target itself; a/b/l -> ../up/.. goes through that link, one folder above
        "zip_link_to_link": (zip_links([("a/up", ".."), ("a/b/l", "../up/..")], "a/b/l/PWNED.txt"), "a/up"),
        "tar_link_to_link": (tar_links([("a/up", ".."), ("a/b/l", "../up/..")], "a/b/l/PWNED.txt"), "a/up"),
        "zip_chain_6_levels": (zip_links(chain(5), "s/a/b/c/d/e/f/PWNED.txt"), "s/a"),
    }[kind]
    _unpack_refused(tmp_path, archive, f"a.{kind.split('_')[0]}", member)
    assert outside.read_text() == "keep me"
    assert not list(tmp_path.rglob("PWNED.txt"))


def test_tar_cve_2025_4517_archive_gets_through_the_stdlib_filter_alone(tmp_path):
    """Why tar links are refused before `filter="data"`: on Python 3.11 before 3.11.13 (this book's 3.11.7
    included) the archive of `tar_cve_2025_4517` above gets through the filter alone and writes outside."""
    import sys

    if sys.version_info[:2] != (3, 11) or sys.version_info >= (3, 11, 13):
        pytest.skip("the filter of this Python refuses CVE-2025-4517 archives itself")
    archive = tmp_path / "a.tar"
    archive.write_bytes(cve_2025_4517())
    dest = tmp_path / "x" / "y" / "out"
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tf:
        tf.extractall(dest, filter="data")
    assert (tmp_path / "x" / "PWNED.txt").read_text() == "outside\n"


def test_links_that_stay_inside_are_refused_too(tmp_path):
    """The datasets hold no links, so every link member is refused: no case-by-case judgement to get wrong."""
    for data, name in (
        (make_tar({"data/a.txt": b"A", "data/b.txt": ("symlink", "a.txt")}), "a.tar.gz"),
        (make_zip({"data/a.txt": b"A", "data/b.txt": ("symlink", "a.txt")}), "a.zip"),
    ):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnsafeArchiveError, match=r"member 'data/b.txt' is a symbolic link to 'a.txt'"):
            safe_extract(tmp_path / name, tmp_path / "data", progress=False)
        assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("kind", [tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE], ids=["fifo", "chr", "blk"])
def test_tar_devices_and_fifos_are_refused_by_the_data_filter(tmp_path, kind):
    """Special files are refused by the standard library's `filter="data"` (PEP 706), in one line."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        tf.addfile(tarfile.TarInfo("data/ok.txt"), io.BytesIO(b""))
        special = tarfile.TarInfo("data/dev")
        special.type = kind
        tf.addfile(special)
    archive = tmp_path / "a.tar"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match=r"a\.tar: .*'data/dev' is a special file") as e:
        safe_extract(archive, tmp_path / "out", progress=False)
    assert "\n" not in str(e.value) and sorted(os.listdir(tmp_path)) == ["a.tar"]


def test_tar_modes_are_cleaned_and_dot_slash_and_macosx_members_are_handled(tmp_path):
    """`filter="data"` drops setuid and group/other write bits; `./x` is `x`; `__MACOSX/` is skipped."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, mode in (("./data/run.sh", 0o4777), ("./data/a.txt", 0o666), ("__MACOSX/data/._a.txt", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = 1, mode
            tf.addfile(info, io.BytesIO(b"x"))
    archive = tmp_path / "a.tar"
    archive.write_bytes(buf.getvalue())
    out = safe_extract(archive, tmp_path / "data", progress=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(["a.txt", "run.sh", dl.MARKER])
    assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "a.txt").stat().st_mode) & 0o022 == 0


def test_zip_members_are_written_by_zipfile_inside_the_target(tmp_path):
    """Folders, `./` prefixes and `__MACOSX/` in a zip: zipfile writes every kept member under the target."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"./data/sub/a.txt": b"A", "data/b.txt": b"B", "__MACOSX/data/._b.txt": b"junk"}))
    out = safe_extract(archive, tmp_path / "data", progress=False)
    assert (out / "sub" / "a.txt").read_bytes() == b"A" and (out / "b.txt").read_bytes() == b"B"
    assert tree(tmp_path) == sorted(["a.zip", "data", "data/b.txt", "data/sub", "data/sub/a.txt", f"data/{dl.MARKER}"])


# ------------------------------------------------------------------------------- single compressed files
@pytest.mark.parametrize(
    "content",
    [b"\0" * 2048, b"", b"the 1.0 2.0\nof 3.0 4.0\n", bytes(range(256)) * 8],
    ids=["zeros", "empty", "text", "bytes"],
)
@pytest.mark.parametrize("compress,kind", [(gzip.compress, "gzip"), (bz2.compress, "bz2")], ids=["gzip", "bz2"])
def test_single_compressed_file_is_never_taken_for_a_tar(tmp_path, content, compress, kind):
    name = "vectors.txt" + {"gzip": ".gz", "bz2": ".bz2"}[kind]
    archive = tmp_path / name
    archive.write_bytes(compress(content))
    assert archive_kind(archive) == kind
    out = safe_extract(archive, tmp_path / "out", progress=False)
    assert (out / "vectors.txt").read_bytes() == content
    assert sorted(p.name for p in out.iterdir()) == sorted(["vectors.txt", dl.MARKER])


def test_compressed_tars_are_still_tars(tmp_path):
    for i, mode in enumerate(("w:gz", "w:bz2", "w:xz", "w")):
        archive = tmp_path / f"a{i}"
        archive.write_bytes(make_tar({"data/a.txt": b"A"}, mode=mode))
        assert archive_kind(archive) == "tar"
        assert (safe_extract(archive, tmp_path / f"out{i}" / "data", progress=False) / "a.txt").read_bytes() == b"A"


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_damaged_compressed_tars_give_one_archive_error(tmp_path, mode, cut):
    full = make_tar({f"data/f{i}.bin": random.Random(i).randbytes(3000) for i in range(10)}, mode=mode)
    archive = tmp_path / "a.tar"
    archive.write_bytes(full[: int(len(full) * cut)])
    with pytest.raises(ArchiveError, match="truncated|damaged") as e:
        safe_extract(archive, tmp_path / "data", progress=False)
    assert "\n" not in str(e.value) and sorted(os.listdir(tmp_path)) == ["a.tar"]


# ------------------------------------------------------------------------------------------ full disk
def _full_disk(src, dst, *args, **kwargs):
    dst.write(b"half a file")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("kind", ["zip", "tar", "gzip"])
def test_full_disk_is_reported_as_such_and_cleaned_up(monkeypatch, tmp_path, kind):
    data = {
        "zip": make_zip({"data/a.txt": b"A" * 5000, "data/b.txt": b"B"}),
        "tar": make_tar({"data/a.txt": b"A" * 5000, "data/b.txt": b"B"}),
        "gzip": gzip.compress(b"A" * 5000),
    }[kind]
    archive = tmp_path / f"a.{kind}"
    archive.write_bytes(data)
    monkeypatch.setattr(tarfile if kind == "tar" else shutil, "copyfileobj", _full_disk)
    with pytest.raises(OSError, match="disk is full") as e:
        safe_extract(archive, tmp_path / "out" / "data", progress=False)
    assert e.value.errno == errno.ENOSPC and "\n" not in str(e.value) and archive.name in str(e.value)
    assert not isinstance(e.value, ArchiveError), "a full disk is not a damaged archive: fetching again won't help"
    assert sorted(os.listdir(tmp_path)) == [archive.name, "out"] and os.listdir(tmp_path / "out") == []


def test_not_enough_space_before_unpacking(monkeypatch, tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip({"data/a.txt": b"A" * 5000}))
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 10, 10))
    with pytest.raises(OSError, match="not enough disk space") as e:
        safe_extract(archive, tmp_path / "data", progress=False)
    assert e.value.errno == errno.ENOSPC and sorted(os.listdir(tmp_path)) == ["a.zip"]


def test_full_disk_through_the_cli_is_one_line(monkeypatch, server, cache, capsys):
    from helpers.__main__ import main

    serve_dataset(
        monkeypatch,
        server,
        "tiny-imagenet",
        {"tiny-imagenet-200.zip": make_zip({"tiny-imagenet-200/wnids.txt": b"n01\n" * 100})},
    )
    assert main(["fetch", "tiny-imagenet", "--no-extract"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(shutil, "copyfileobj", _full_disk)
    assert main(["fetch", "tiny-imagenet"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err.strip().splitlines()[-1]  # (tqdm's progress bar is above it)
    assert err.startswith("fetch tiny-imagenet: the disk is full: unpacking tiny-imagenet-200.zip"), err
    assert leftovers(cache) == [] and not (cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200").exists()
