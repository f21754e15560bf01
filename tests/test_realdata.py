"""URL -> download -> verify -> unpack -> load -> tensors, for every real dataset, offline.

Fixtures in each dataset's exact distributed layout (zip archives with their top folders, `__MACOSX`
junk, messy text files) are served from a local HTTP server; the loaders must return the structures the
embedded data uses (CaptionData / ClassData / KeyedVectors) and reject bad copies with clear errors.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pytest

import helpers
from helpers import download as dl
from helpers import layouts, realdata
from helpers.download import DownloadError, UnknownDatasetError
from helpers.formats import CaptionData, ClassData, DatasetFormatError, write_coco_captions
from tests.test_download import LocalServer, cache, closed_port_url, leftovers, make_zip, serve_dataset  # noqa: F401
from tests.test_formats import TOKENS, WORDS, flickr_text, seed000_phase, tiny_imagenet, vec_text


@pytest.fixture
def server():
    with LocalServer() as s:
        yield s


def jpeg_bytes(i: int, size=(24, 20)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (i * 37 % 256, 90, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """A zip of everything under `folder`, member names prefixed with `prefix` (e.g. 'tiny-imagenet-200/')."""
    members = {
        prefix + p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
    return make_zip(members)


# ------------------------------------------------------------------------------------------------ COCO
def coco_archives(tmp_path: Path) -> dict:
    """annotations_trainval2014.zip, caption_datasets.zip, train2014.zip, val2014.zip as COCO ships them."""
    train = [f"COCO_train2014_{i:012d}.jpg" for i in range(3)]
    val = [f"COCO_val2014_{i:012d}.jpg" for i in range(10)]  # restval 2, val 2, test 6
    splits = ["restval"] * 2 + ["val"] * 2 + ["test"] * 6
    images, sid = [], 0
    for folder, names, sp in (("train2014", train, ["train"] * 3), ("val2014", val, splits)):
        for name, s in zip(names, sp):
            n = 6 if name.endswith("0.jpg") else 5
            images.append(
                {
                    "filepath": folder,
                    "filename": name,
                    "split": s,
                    "cocoid": len(images),
                    "sentences": [
                        {"raw": f"A photo of {name} , number {k} . ", "sentid": sid + k, "tokens": ["a"]}
                        for k in range(n)
                    ],
                }
            )
            sid += n
    karpathy = make_zip(
        {
            "dataset_coco.json": json.dumps({"dataset": "coco", "images": images}).encode(),
            "dataset_flickr8k.json": b'{"dataset": "flickr8k", "images": []}',
        }
    )
    ann = tmp_path / "ann" / "annotations"
    write_coco_captions(
        ann / "captions_train2014.json", train, ["A man riding  a wave ", "Un café ", "x", "y"], [0, 0, 1, 2]
    )
    write_coco_captions(ann / "captions_val2014.json", val, [f"caption {i}" for i in range(10)], list(range(10)))
    return {
        "annotations_trainval2014.zip": zip_folder(ann.parent),
        "caption_datasets.zip": karpathy,
        "train2014.zip": make_zip({f"train2014/{n}": jpeg_bytes(i) for i, n in enumerate(train)}),
        "val2014.zip": make_zip(
            {**{f"val2014/{n}": jpeg_bytes(i) for i, n in enumerate(val)}, "__MACOSX/val2014/._x": b"junk"}
        ),
    }


def test_coco_end_to_end(monkeypatch, server, cache, tmp_path):
    serve_dataset(monkeypatch, server, "coco", coco_archives(tmp_path))
    monkeypatch.setattr(layouts, "TEST_CHUNK", 2)
    test = realdata.load_real_captions("coco", "test", progress=False)
    assert isinstance(test, CaptionData) and len(test) == 6 and test.name == "coco-karpathy/test"
    assert {r["path"] for r in server.requests} == {"caption_datasets.zip", "val2014.zip"}, "only what test needs"
    train = realdata.load_real_captions("coco", "train", "en", progress=False)
    assert len(train) == 5 and train.files[0] == "train2014/COCO_train2014_000000000000.jpg"
    assert train.files[-1].startswith("val2014/") and all(p.is_file() for p in train.paths())
    assert train.captions_of(0)[0] == "A photo of COCO_train2014_000000000000.jpg , number 0 ."
    b = realdata.load_real_captions("coco", "test_B", progress=False)
    assert b.files == test.files[2:4] and b.captions == [c for i in (2, 3) for c in test.captions_of(i)]
    official = realdata.load_real_captions("coco", "train2014", progress=False)
    assert official.captions[:2] == ["A man riding a wave", "Un café"] and official.name == "coco/train2014"
    # through the book's own entry point, the one notebooks call
    data = helpers.load_captions("test_A", "en", dataset="coco")
    assert data.files == test.files[:2]
    # down to tensors
    from PIL import Image

    from helpers.features import preprocess

    x = preprocess([Image.open(p).convert("RGB") for p in data.paths()], 32, (0.5,) * 3, (0.5,) * 3)
    assert tuple(x.shape) == (2, 3, 32, 32) and bool(x.isfinite().all())
    assert dl.status("coco")["status"] == "present" and leftovers(cache) == []


def test_coco_bad_requests(monkeypatch, server, cache, tmp_path):
    serve_dataset(monkeypatch, server, "coco", coco_archives(tmp_path))
    with pytest.raises(ValueError, match="set LANGUAGE = 'en'.*coco-spanish"):
        realdata.load_real_captions("coco", "train", "es")
    with pytest.raises(ValueError, match="no split 'dev'"):
        realdata.load_real_captions("coco", "dev")
    with pytest.raises(UnknownDatasetError, match="Did you mean 'coco'"):
        helpers.load_captions("train", "en", dataset="cocoo")
    with pytest.raises(ValueError, match="not a captioned-image dataset.*load_real_classes"):
        realdata.load_real_captions("tiny-imagenet")
    assert server.requests == []


def test_image_listed_but_absent(monkeypatch, server, cache, tmp_path):
    serve_dataset(monkeypatch, server, "coco", coco_archives(tmp_path))
    data = realdata.load_real_captions("coco", "val", progress=False)
    data.paths()[1].unlink()
    with pytest.raises(DatasetFormatError, match="1 of 2 listed images are absent"):
        realdata.load_real_captions("coco", "val", progress=False)


def test_offline_loader_gives_one_clear_error(monkeypatch, cache):
    ds = dl.REGISTRY["flickr8k"]
    dead = closed_port_url()
    res = tuple(dataclasses.replace(r, urls=(f"{dead}/{r.filename}",)) for r in ds.resources)
    monkeypatch.setitem(dl.REGISTRY, "flickr8k", dataclasses.replace(ds, resources=res))
    with pytest.raises(DownloadError) as e:
        helpers.load_captions("train", "en", dataset="flickr8k")
    msg = str(e.value)
    assert "Flickr8k_Dataset.zip" in msg and dead in msg and "md5 f18a1e2920de5bd84dae7cf08ec78978" in msg
    assert "checksum unknown" in msg and "by hand" in msg
    assert leftovers(cache) == []


# -------------------------------------------------------------------------------------------- Flickr8k
def flickr_archives(tmp_path: Path) -> dict:
    text = flickr_text(tmp_path / "text")
    names = sorted({ln.split("#")[0] for ln in TOKENS.splitlines() if ln.strip()})
    images = {f"Flicker8k_Dataset/{n}": jpeg_bytes(i) for i, n in enumerate(names)}
    images["__MACOSX/Flicker8k_Dataset/._" + names[0]] = b"resource fork"
    return {"Flickr8k_Dataset.zip": make_zip(images), "Flickr8k_text.zip": zip_folder(text)}


def test_flickr8k_end_to_end(monkeypatch, server, cache, tmp_path, capsys):
    serve_dataset(monkeypatch, server, "flickr8k", flickr_archives(tmp_path), checksums="md5")
    train = helpers.load_captions("train", "en", dataset="flickr8k")
    assert "pinned" in capsys.readouterr().err  # no sha256 in the registry: pinned on first download
    assert len(train) == 2 and len(train.captions) == 8 and train.name == "flickr8k/train"
    assert all(p.is_file() for p in train.paths())
    assert train.captions_of(1)[-1] == "sixth caption, no final newline"
    val = realdata.load_real_captions("flickr8k", "val", progress=False)
    assert val.files == ["1001773457_577c3a7d70.jpg"] and len(val.captions) == 3
    assert realdata.load_real_captions("flickr8k", "test_A", progress=False).files == val.files
    folder = dl.dataset_dir("flickr8k")
    assert not (folder / "__MACOSX").exists() and not (folder / "Flicker8k_Dataset" / "__MACOSX").exists()
    # the same folder, placed by hand elsewhere, through root=
    alt = realdata.load_real_captions("flickr8k", "train", root=folder)
    assert alt.files == train.files


# ------------------------------------------------------------------------------------------ Tiny ImageNet
def test_tiny_imagenet_end_to_end(monkeypatch, server, cache, tmp_path):
    root = tiny_imagenet(tmp_path / "src" / "tiny-imagenet-200")
    (root / "test" / "images").mkdir(parents=True)
    (root / "test" / "images" / "test_0.JPEG").write_bytes(jpeg_bytes(0))
    serve_dataset(
        monkeypatch, server, "tiny-imagenet", {"tiny-imagenet-200.zip": zip_folder(root, "tiny-imagenet-200/")}
    )
    train = helpers.load_classes("train", dataset="tiny-imagenet")
    assert isinstance(train, ClassData) and len(train) == 4 and train.classes == ["n01443537", "n01629819"]
    assert train.boxes.shape == (4, 4) and all(p.is_file() for p in train.paths())
    val = realdata.load_real_classes("tiny-imagenet", "val", progress=False)
    assert len(val) == 2 and list(val.labels) == [0, 1] and val.name == "tiny-imagenet/val"
    assert helpers.seen_unseen(train) == (train.classes, [])
    with pytest.raises(ValueError, match="no split 'test'"):
        realdata.load_real_classes("tiny-imagenet", "test")
    val.paths()[0].unlink()
    with pytest.raises(DatasetFormatError, match="absent"):
        realdata.load_real_classes("tiny-imagenet", "val", progress=False)


# ------------------------------------------------------------------------------------------ COCO-Spanish
def test_coco_spanish_manual_placement(cache, tmp_path):
    with pytest.raises(DownloadError, match="drive.google.com"):
        helpers.load_captions("test_A", "es", dataset="coco-spanish")
    folder = dl.dataset_dir("coco-spanish")
    vec_train = seed000_phase(folder, "train", n=30, dim=2048)
    vec_a = seed000_phase(folder, "test_A", n=4, dim=2048)
    # the registry checks the real files' sizes (1,000 test images): ours fail that check, root= skips it
    ds = dl.REGISTRY["coco-spanish"]
    with pytest.raises(dl.ChecksumError, match="bytes but"):
        realdata.load_real_captions("coco-spanish", "test_A", "es", progress=False)
    data = realdata.load_real_captions("coco-spanish", "test_A", "es", root=folder)
    assert data.lang == "es" and len(data) == 4 and data.name.startswith("coco-spanish-")  # a folder of your own
    feats = realdata.precomputed_features(data)
    assert feats["pooled"].shape == (4, 2048) and np.array_equal(feats["pooled"], vec_a)
    assert realdata.image_features(data) is feats
    train = realdata.load_real_captions("coco-spanish", "train", root=folder)
    val = realdata.load_real_captions("coco-spanish", "val", root=folder)
    full = realdata.load_real_captions("coco-spanish", "train_full", root=folder)
    assert (len(train), len(val), len(full)) == (27, 3, 30) and set(train.files).isdisjoint(val.files)
    assert np.array_equal(realdata.precomputed_features(val)["pooled"], vec_train[27:])
    assert len(val.captions) == 15 and val.captions_of(0)[0] == "Una niña con un vestido rosa número 0"
    with pytest.raises(ValueError, match="set LANGUAGE = 'es'"):
        realdata.load_real_captions("coco-spanish", "train", "en", root=folder)
    assert ds is dl.REGISTRY["coco-spanish"]


def test_coco_spanish_verified_by_registry_sizes(monkeypatch, cache):
    folder = dl.dataset_dir("coco-spanish")
    seed000_phase(folder, "test_B", n=3)
    ds = dl.REGISTRY["coco-spanish"]
    res = tuple(
        dataclasses.replace(r, size=3 * 2048 * 4) if r.filename == "test_B_images_vectors.bin" else r
        for r in ds.resources
    )
    monkeypatch.setitem(dl.REGISTRY, "coco-spanish", dataclasses.replace(ds, resources=res))
    data = helpers.load_captions("test_B", "es", dataset="coco-spanish")
    assert len(data) == 3 and realdata.precomputed_features(data)["pooled"].dtype == np.float32
    assert (folder / "test_B" / "test_B_images_vectors.bin.verified.json").is_file()


# ------------------------------------------------------------------------------------------ word vectors
def test_vectors_end_to_end(monkeypatch, server, cache, tmp_path):
    import gzip

    from gensim.models import KeyedVectors

    crawl = vec_text(WORDS, 6, sep="\n") + "\n"
    serve_dataset(
        monkeypatch,
        server,
        "fasttext-crawl-en",
        {"crawl-300d-2M.vec.zip": make_zip({"crawl-300d-2M.vec": crawl.encode()})},
    )
    kv = realdata.load_vectors("fasttext-crawl-en", limit=4, progress=False)
    assert kv.index_to_key == WORDS[:4] and kv.vector_size == 6 and "</s>" in kv.key_to_index
    native = list((cache / "wordvectors").glob("crawl-300d-2M-4-*.words.json"))
    assert len(native) == 1 and Path(str(native[0]).replace(".words.json", ".vectors.npy")).is_file()
    assert not list((cache / "wordvectors").glob("*.kv*")), "no gensim (pickle) file"

    assert isinstance(kv, KeyedVectors) and kv.most_similar("the", topn=1)[0][0] in WORDS

    def no_parse(*a, **k):
        raise AssertionError("the text file was parsed again")

    with monkeypatch.context() as m:
        m.setattr(realdata, "read_text_vectors", no_parse)
        again = realdata.load_vectors("fasttext-crawl-en", limit=4, progress=False)
    assert np.allclose(again["niño"], kv["niño"])
    # the Spanish vectors stay gzip-compressed: gensim reads them as they are
    sbwc = gzip.compress(vec_text(WORDS, 5, sep="\r\n").encode())
    serve_dataset(monkeypatch, server, "fasttext-sbwc", {"fasttext-sbwc.vec.gz": sbwc})
    kv = realdata.load_vectors("fasttext-sbwc", progress=False)
    assert len(kv) == 6 and kv["año"].shape == (5,)
    assert (cache / "downloads" / "fasttext-sbwc" / "fasttext-sbwc.vec.gz").is_file()


def test_vector_files_by_path(tmp_path, cache):
    glove = tmp_path / "glove.6B.4d.txt"
    glove.write_text(vec_text(WORDS, 4, header=False, trailing=""), encoding="utf-8")
    kv = realdata.load_vectors(glove, progress=False)
    assert len(kv) == 6 and kv.vector_size == 4
    bad = tmp_path / "truncated.vec"
    bad.write_text(vec_text(WORDS, 5)[:-20], encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="truncated"):
        realdata.load_vectors(bad, progress=False)
    header = tmp_path / "header.vec"
    header.write_text("10 5\n" + vec_text(WORDS, 5).split("\n", 1)[1], encoding="utf-8")
    with pytest.raises(DatasetFormatError, match="header says 10"):
        realdata.load_vectors(header, progress=False)
    empty = tmp_path / "empty.vec"
    empty.write_text("")
    with pytest.raises(DatasetFormatError, match="empty"):
        realdata.load_vectors(empty)
    with pytest.raises(DatasetFormatError, match="missing"):
        realdata.load_vectors(tmp_path / "nowhere.vec")
    assert [
        p.name
        for p in (cache / "wordvectors").iterdir()
        if "truncated" in p.name or "header" in p.name
        if not p.name.endswith(".lock")
    ] == []
