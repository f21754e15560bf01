"""helpers.download: checksummed, resumable, locked downloads and safe extraction, against a local server.

Everything runs offline: a small HTTP server on 127.0.0.1 (random port, stops itself after a while) serves
fixtures built by the tests; the registry entries are pointed at it with the fixtures' own checksums.
The shared pieces (server, archive builders, `serve_dataset`) are imported by tests/test_realdata.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from helpers import download as dl
from helpers.download import (
    ArchiveError,
    ChecksumError,
    DownloadError,
    UnknownDatasetError,
    UnsafeArchiveError,
    fetch,
    fetch_file,
    safe_extract,
)


# ---------------------------------------------------------------------------------------- local server
class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = 10  # a stuck client cannot hold a server thread for long
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        name = self.path.lstrip("/")
        srv.requests.append({"path": name, "range": self.headers.get("Range")})
        rule = srv.rules.get(name, {})
        if rule.get("status"):
            self.send_error(rule["status"])
            return
        data = srv.files.get(name)
        if data is None:
            self.send_error(404)
            return
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and not rule.get("ignore_range"):
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            code = 206
        content_range = f"bytes {start}-{len(data) - 1}/{len(data)}"
        bad = rule.get("bad_range") if code == 206 else None  # 206 answers that do not continue the .part
        if bad == "start":  # the whole file from byte 0, labelled as such
            start, content_range = 0, f"bytes 0-{len(data) - 1}/{len(data)}"
        elif bad == "start_unlabelled":  # the whole file from byte 0, labelled as the range asked for
            start = 0
        elif bad == "total":
            content_range = f"bytes {start}-{len(data) - 1}/{len(data) + 1000}"
        elif bad == "garbage":
            content_range = "bytes=whatever"
        body = data[start:]
        if rule.get("no_length"):  # HTTP/1.0 style: no Content-Length, the body ends when the connection closes
            self.send_response(code)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: rule.get("no_length_cut", len(body))])
            self.close_connection = True
            return
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        if code == 206 and bad != "missing":
            self.send_header("Content-Range", content_range)
        self.end_headers()
        cut = rule.pop("cut_after", None)  # one-shot: drop the connection after this many bytes
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)


class LocalServer:
    """Serves `files` ({name: bytes}) on 127.0.0.1:<random port>; stops after `lifetime` seconds at the latest."""

    def __init__(self, lifetime: float = 120):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.files, self.httpd.rules, self.httpd.requests = {}, {}, []
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.watchdog = threading.Timer(lifetime, self.httpd.shutdown)
        self.watchdog.daemon = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    files = property(lambda self: self.httpd.files)
    rules = property(lambda self: self.httpd.rules)
    requests = property(lambda self: self.httpd.requests)

    def __enter__(self):
        self.thread.start()
        self.watchdog.start()
        return self

    def __exit__(self, *exc):
        self.watchdog.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (SEEING_SAYING_CACHE) and no mirror."""
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    yield tmp_path / "cache"
    import os

    assert os.environ.get("SEEING_SAYING_CACHE") == str(tmp_path / "cache"), (
        "the test lost its private cache folder (monkeypatch.undo?) and may have written into the book's cache"
    )


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused: 'no network')."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# -------------------------------------------------------------------------------------- archive builders
def make_zip(members: dict) -> bytes:
    """{name: bytes | ('symlink', target)} -> zip bytes (names written exactly as given)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, tuple) and data[0] == "symlink":
                info = zipfile.ZipInfo(name)
                info.external_attr = 0o120777 << 16
                zf.writestr(info, data[1])
            else:
                zf.writestr(zipfile.ZipInfo(name), data)
    return buf.getvalue()


def make_tar(members: dict, mode: str = "w:gz") -> bytes:
    """{name: bytes | ('symlink'|'hardlink', target)} -> tar bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tuple):
                info.type = tarfile.SYMTYPE if data[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = data[1]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def serve_dataset(monkeypatch, server, name: str, files: dict, checksums: str = "sha256", **overrides) -> None:
    """Serve `files` ({filename: bytes}) and point the registry entry `name` at them.

    checksums: 'sha256' (sha256 + size known), 'md5' (md5 only, sha256 pinned on first download) or
    'none' (nothing known but the size).
    """
    import hashlib as h

    ds = dl.REGISTRY[name]
    res = []
    for r in ds.resources:
        if r.filename not in files:
            continue
        data = files[r.filename]
        server.files[r.filename] = data
        kw = {
            "urls": (f"{server.url}/{r.filename}",),
            "size": len(data),
            "sha256": sha256(data) if checksums == "sha256" else None,
            "md5": h.md5(data).hexdigest() if checksums == "md5" else None,
        }
        kw.update(overrides.get(r.filename, {}))
        res.append(dataclasses.replace(r, **kw))
    monkeypatch.setitem(dl.REGISTRY, name, dataclasses.replace(ds, resources=tuple(res)))


def leftovers(folder: Path) -> list:
    """Temporary files that must not survive a failure (partial downloads, unpacking folders, pooch temps)."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.name.endswith(".part") or ".unpacking-" in p.name or p.name.startswith("tmp")
    )


# ------------------------------------------------------------------------------------------- registry
def test_registry_entries_are_complete():
    for name, ds in dl.REGISTRY.items():
        assert ds.resources, name
        assert ds.license and ds.citation and ds.title, name
        for r in ds.resources:
            if not ds.manual:
                assert r.urls and all(u.startswith(("http://", "https://")) for u in r.urls), (name, r.filename)
            if r.sha256 is not None:
                assert len(r.sha256) == 64 and int(r.sha256, 16) >= 0, (name, r.filename)
                assert r.size, "a pinned sha256 comes with its size"
    # every dataset the seeds used is there
    for name in (
        "coco",
        "coco-spanish",
        "flickr8k",
        "tiny-imagenet",
        "fasttext-crawl-en",
        "fasttext-sbwc",
        "glove-sbwc",
        "resnet152",
        "vgg16_bn",
    ):
        assert name in dl.REGISTRY
    assert dl.REGISTRY["coco"].resource("train2014.zip").sha256.startswith("ede4087e")


@pytest.mark.slow  # imports torchvision.models (seconds on a busy machine)
def test_torchvision_entries_match_torchvision():
    import torchvision.models as tvm

    for ds in dl.REGISTRY.values():
        if ds.torchvision:
            _, enum, member = ds.torchvision
            assert ds.resources[0].urls[0] == getattr(getattr(tvm, enum), member).url


def test_unknown_dataset_name_suggests():
    with pytest.raises(UnknownDatasetError, match="Did you mean 'flickr8k'"):
        fetch("flickr8")
    with pytest.raises(UnknownDatasetError, match="Known datasets"):
        dl.get_dataset("imagenet-21k")


# ------------------------------------------------------------------------------------------- download
def test_download_verifies_and_reuses(monkeypatch, server, cache):
    data = b"tiny imagenet " * 1000
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": data})
    path = fetch_file("tiny-imagenet", progress=False)
    assert path == cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200.zip"
    assert path.read_bytes() == data
    stamp = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert stamp["sha256"] == sha256(data) and stamp["verified_by"] == "sha256 (registry)"
    assert fetch_file("tiny-imagenet", progress=False) == path
    assert len(server.requests) == 1, "a verified file is not downloaded again"
    assert leftovers(cache) == []
    assert dl.status("tiny-imagenet")["status"] == "present"


def test_checksum_mismatch_leaves_nothing(monkeypatch, server, cache):
    data = b"x" * 5000
    serve_dataset(
        monkeypatch,
        server,
        "tiny-imagenet",
        {"tiny-imagenet-200.zip": data},
        **{"tiny-imagenet-200.zip": {"sha256": "0" * 64}},
    )
    with pytest.raises(DownloadError) as e:
        fetch_file("tiny-imagenet", progress=False)
    msg = str(e.value)
    assert "wrong file" in msg and "0" * 64 in msg and f"{server.url}/tiny-imagenet-200.zip" in msg
    assert "tiny-imagenet-200.zip" in msg and "by hand" in msg
    assert not (cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200.zip").exists()
    assert leftovers(cache) == []


def test_size_mismatch_when_sha256_unknown(monkeypatch, server, cache):
    serve_dataset(
        monkeypatch,
        server,
        "flickr8k",
        {"Flickr8k_text.zip": b"y" * 100},
        checksums="none",
        **{"Flickr8k_text.zip": {"size": 99}},
    )
    with pytest.raises(DownloadError, match="got 100 bytes, expected 99"):
        fetch_file("flickr8k", "Flickr8k_text.zip", progress=False)
    assert leftovers(cache) == [] and not (cache / "downloads" / "flickr8k" / "Flickr8k_text.zip").exists()


def test_unknown_sha256_is_pinned_on_first_download(monkeypatch, server, cache, capsys):
    data = b"flickr text" * 300
    serve_dataset(monkeypatch, server, "flickr8k", {"Flickr8k_text.zip": data}, checksums="md5")
    path = fetch_file("flickr8k", "Flickr8k_text.zip", progress=False)
    assert "pinned" in capsys.readouterr().err
    ds = dl.REGISTRY["flickr8k"]
    assert dl.expected_sha256(ds, ds.resource("Flickr8k_text.zip")) == sha256(data)
    # a different file placed later under that name: the pin goes with the file it pinned (it is not held
    # against the new copy), and the registry's md5 rejects the new copy
    path.write_bytes(b"z" * len(data))
    with pytest.raises(ChecksumError, match="md5"):
        fetch_file("flickr8k", "Flickr8k_text.zip", progress=False)
    assert "pin was dropped" in capsys.readouterr().err
    assert dl.expected_sha256(ds, ds.resource("Flickr8k_text.zip")) is None


def test_md5_mismatch_is_rejected(monkeypatch, server, cache):
    serve_dataset(
        monkeypatch,
        server,
        "flickr8k",
        {"Flickr8k_text.zip": b"abc" * 10},
        checksums="md5",
        **{"Flickr8k_text.zip": {"md5": "f" * 32}},
    )
    with pytest.raises(DownloadError, match="md5"):
        fetch_file("flickr8k", "Flickr8k_text.zip", progress=False)
    assert leftovers(cache) == []


def test_no_network_gives_one_clear_error(monkeypatch, cache):
    ds = dl.REGISTRY["coco"]
    res = ds.resource("annotations_trainval2014.zip")
    url = f"{closed_port_url()}/annotations_trainval2014.zip"
    monkeypatch.setitem(
        dl.REGISTRY, "coco", dataclasses.replace(ds, resources=(dataclasses.replace(res, urls=(url,)),))
    )
    with pytest.raises(DownloadError) as e:
        fetch("coco", progress=False)
    msg = str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__  # one error, no chained traceback
    for needle in (
        url,
        "annotations_trainval2014.zip",
        res.sha256,
        "252,872,794 bytes",
        "by hand",
        str(cache / "downloads" / "coco" / "annotations_trainval2014.zip"),
        "python -m helpers fetch coco",
        "connection refused by 127.0.0.1",
    ):
        assert needle in msg
    assert leftovers(cache) == []


def test_http_error_then_mirror(monkeypatch, server, cache, tmp_path):
    data = b"vectors" * 100
    serve_dataset(monkeypatch, server, "fasttext-sbwc", {"fasttext-sbwc.vec.gz": data})
    server.rules["fasttext-sbwc.vec.gz"] = {"status": 503}
    with pytest.raises(DownloadError, match="503"):
        fetch_file("fasttext-sbwc", progress=False)
    mirror = tmp_path / "usb-stick"
    mirror.mkdir()
    (mirror / "fasttext-sbwc.vec.gz").write_bytes(data)
    monkeypatch.setenv(dl.MIRROR_ENV, str(mirror))
    assert fetch_file("fasttext-sbwc", progress=False).read_bytes() == data


def test_interrupted_download_resumes(monkeypatch, server, cache):
    data = bytes(range(256)) * 400  # 102,400 bytes
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": data})
    server.rules["tiny-imagenet-200.zip"] = {"cut_after": 70000}
    with pytest.raises(DownloadError, match="Partial download kept"):
        fetch_file("tiny-imagenet", progress=False)
    part = cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200.zip.part"
    kept = part.stat().st_size
    assert 0 < kept < len(data)
    assert dl.status("tiny-imagenet")["files"]["tiny-imagenet-200.zip"].startswith("partial download")
    path = fetch_file("tiny-imagenet", progress=False)
    assert path.read_bytes() == data and not part.exists()
    assert server.requests[-1]["range"] == f"bytes={kept}-"


def test_server_without_range_restarts_cleanly(monkeypatch, server, cache):
    data = b"0123456789" * 5000
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": data})
    server.rules["tiny-imagenet-200.zip"] = {"cut_after": 1234, "ignore_range": True}
    with pytest.raises(DownloadError):
        fetch_file("tiny-imagenet", progress=False)
    path = fetch_file("tiny-imagenet", progress=False)
    assert path.read_bytes() == data


def test_two_concurrent_fetches_download_once(monkeypatch, server, cache):
    data = b"k" * 200_000
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": data})
    results, errors = [], []

    def worker():
        try:
            results.append(fetch_file("tiny-imagenet", progress=False))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert len(server.requests) == 1


def test_placed_by_hand_is_verified(monkeypatch, server, cache):
    data = b"instructor copy" * 50
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": data})
    target = cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(data[:-1])  # a damaged copy
    with pytest.raises(ChecksumError, match="(?i)delete it and fetch again"):
        fetch_file("tiny-imagenet", progress=False)
    target.write_bytes(data)
    assert fetch_file("tiny-imagenet", progress=False) == target
    assert server.requests == []


def test_manual_dataset_explains_where_to_put_files(cache):
    with pytest.raises(DownloadError) as e:
        fetch("coco-spanish", progress=False)
    msg = str(e.value)
    assert "drive.google.com" in msg and str(cache / "downloads" / "coco-spanish") in msg
    assert "train_images_vectors.bin" in msg or "train/" in msg


def test_fetch_unpacks_and_can_delete_archive(monkeypatch, server, cache):
    archive = make_zip(
        {
            "tiny-imagenet-200/wnids.txt": b"n01\n",
            "tiny-imagenet-200/words.txt": b"n01\tfish\n",
            "__MACOSX/tiny-imagenet-200/._wnids.txt": b"junk",
        }
    )
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": archive})
    folder = fetch("tiny-imagenet", delete_archives=True, progress=False)
    root = folder / "tiny-imagenet-200"
    assert (root / "wnids.txt").read_text() == "n01\n"
    assert not (folder / "__MACOSX").exists() and not (root / "__MACOSX").exists()
    assert not (folder / "tiny-imagenet-200.zip").exists()
    assert fetch("tiny-imagenet", progress=False) == folder  # unpacked copy: nothing downloaded again
    assert len(server.requests) == 1
    assert dl.status("tiny-imagenet")["files"]["tiny-imagenet-200.zip"] == "unpacked"


def test_cli_fetch_and_datasets(monkeypatch, server, cache, capsys):
    from helpers.__main__ import main

    archive = make_zip({"tiny-imagenet-200/wnids.txt": b"n01\n"})
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": archive})
    assert main(["fetch", "tiny-imagenet"]) == 0
    capsys.readouterr()
    assert main(["datasets"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(dl.REGISTRY) <= set(listing) and "embedded" in listing
    assert listing["tiny-imagenet"]["status"] == "present"
    assert listing["coco"]["status"].startswith("absent")
    assert main(["fetch", "no-such-data"]) == 2
    assert "unknown dataset" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------- extraction
@pytest.mark.parametrize("kind", ["zip", "tar"])
@pytest.mark.parametrize("bad", ["../evil.txt", "/tmp/evil.txt", "data/../../evil.txt"])
def test_unsafe_member_paths_are_refused(tmp_path, kind, bad):
    members = {"data/ok.txt": b"fine", bad: b"evil"}
    archive = tmp_path / f"a.{kind}"
    archive.write_bytes(make_zip(members) if kind == "zip" else make_tar(members))
    dest = tmp_path / "out" / "data"
    dest.parent.mkdir()
    with pytest.raises(UnsafeArchiveError, match="absolute|'\\.\\.'"):
        safe_extract(archive, dest, progress=False)
    assert list((tmp_path / "out").iterdir()) == [], "nothing half-written"
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize(
    "kind,link",
    [
        ("tar", ("symlink", "../../etc/passwd")),
        ("tar", ("symlink", "/etc/passwd")),
        ("tar", ("hardlink", "../outside")),
        ("zip", ("symlink", "../../outside")),
    ],
)
def test_links_leaving_the_folder_are_refused(tmp_path, kind, link):
    members = {"data/ok.txt": b"fine", "data/link": link}
    archive = tmp_path / f"a.{kind}"
    archive.write_bytes(make_zip(members) if kind == "zip" else make_tar(members))
    dest = tmp_path / "out" / "data"
    dest.parent.mkdir()
    with pytest.raises(UnsafeArchiveError, match="link"):
        safe_extract(archive, dest, progress=False)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_truncated_archive(tmp_path, kind):
    members = {f"data/f{i}.bin": bytes([i]) * 5000 for i in range(20)}
    full = make_zip(members) if kind == "zip" else make_tar(members)
    archive = tmp_path / f"a.{kind}"
    archive.write_bytes(full[: len(full) // 2])
    with pytest.raises(ArchiveError, match="truncated|damaged"):
        safe_extract(archive, tmp_path / "data", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name]


def test_truncated_archive_from_the_server_is_caught_by_the_checksum(monkeypatch, server, cache):
    full = make_zip({"tiny-imagenet-200/wnids.txt": b"n01\n" * 1000})
    serve_dataset(monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": full})
    server.files["tiny-imagenet-200.zip"] = full[:-100]  # the host serves a truncated copy
    with pytest.raises(DownloadError, match="wrong file"):
        fetch("tiny-imagenet", progress=False)
    assert leftovers(cache) == [] and not (cache / "downloads" / "tiny-imagenet" / "tiny-imagenet-200").exists()


def test_not_an_archive(tmp_path):
    junk = tmp_path / "page.zip"
    junk.write_bytes(b"<html>404 not found</html>")
    with pytest.raises(ArchiveError, match="not a zip, tar or gzip"):
        safe_extract(junk, tmp_path / "x", progress=False)


def test_top_folder_becomes_the_target_and_flat_archives_get_one(tmp_path):
    a = tmp_path / "a.zip"
    a.write_bytes(make_zip({"annotations/captions.json": b"{}"}))
    assert (safe_extract(a, tmp_path / "annotations", progress=False) / "captions.json").is_file()
    b = tmp_path / "b.zip"
    b.write_bytes(make_zip({"dataset_coco.json": b"{}", "dataset_flickr8k.json": b"{}"}))
    out = safe_extract(b, tmp_path / "karpathy", progress=False)
    assert {p.name for p in out.iterdir()} >= {"dataset_coco.json", "dataset_flickr8k.json"}


def test_the_registry_is_data_that_a_normal_install_ships():
    """`helpers/registry.toml` holds the registry; pyproject's package-data must ship it in a wheel."""
    import fnmatch
    import tomllib

    from helpers import registry

    assert registry.REGISTRY_FILE.name == "registry.toml" and registry.REGISTRY_FILE.parent.name == "helpers"
    assert set(registry.load_registry()) <= set(dl.REGISTRY)
    project = tomllib.loads((registry.REGISTRY_FILE.parents[1] / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["helpers"]
    assert any(fnmatch.fnmatch("registry.toml", p) for p in patterns), patterns


# ------------------------------------------------------------------ torchvision weights: never unpickled
class _Payload:  # unpickling this would create the marker file
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_torchvision_model_does_not_unpickle_a_crafted_weight_file(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = dl.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True)
    marker = tmp_path / "payload-ran"
    torch.save({"conv1.weight": _Payload(marker)}, path)  # the right name, in torch's cache
    with pytest.raises(dl.ChecksumError, match="holds Python objects") as e:
        dl.torchvision_model("resnet152", progress=False)
    assert not marker.exists()
    assert "\n" not in str(e.value) and "helpers fetch resnet152" in str(e.value)


def test_torchvision_model_refuses_tensors_of_another_network(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = dl.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True)
    torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(dl.ChecksumError, match="does not load"):
        dl.torchvision_model("resnet152", progress=False)


@pytest.mark.slow
def test_torchvision_model_loads_a_plain_state_dict(tmp_path, monkeypatch):
    import torch
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    path = dl.torchvision_weights_path("resnet152")
    path.parent.mkdir(parents=True)
    torch.manual_seed(1)
    state = torchvision.models.resnet152().state_dict()
    torch.save(state, path)
    model = dl.torchvision_model("resnet152", progress=False)
    assert not model.training
    assert torch.equal(model.state_dict()["fc.weight"], state["fc.weight"])
