"""The data front door on the real datasets' exact layouts (`../shared/realdata`), read as they are.

Expected counts are computed here from the files themselves. Each layout is loaded through
`helpers.load_captions` / `load_classes` with `data_dir=`, checked by `python -m helpers inspect`, and
broken (unknown layout, a missing caption file, a missing image) to see one clear line.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import helpers
from helpers import datasets, layouts
from helpers.__main__ import main
from helpers.formats import CaptionData, ClassData, DatasetFormatError
from tests.test_formats import seed000_phase, write

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata"
real = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real-layout samples are not at {REAL} (../shared/realdata from the repository)"
)
WORD = re.compile(r"\w")


@pytest.fixture(autouse=True)
def fresh(tmp_path, monkeypatch):
    """A cache of our own, and the once-per-process lines said again."""
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    layouts.said.clear()


def snapshot(folder: Path) -> dict:
    """Every entry under `folder`: (size, mtime_ns) of files, None for folders."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for d in dirnames:
            out[os.path.join(dirpath, d)] = None
        for f in filenames:
            st = os.stat(os.path.join(dirpath, f))
            out[os.path.join(dirpath, f)] = (st.st_size, st.st_mtime_ns)
    return out


def inspect(capsys, *args) -> tuple:
    """(exit code, the JSON printed or None, stderr) of `python -m helpers inspect ...`, in-process."""
    capsys.readouterr()  # what was printed before
    code = main(["inspect", *map(str, args)])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def one_line(e) -> str:
    msg = str(e.value) if hasattr(e, "value") else str(e)
    assert "\n" not in msg.strip() and "Traceback" not in msg, msg
    return msg


def kaggle_copy(dst: Path, lists: bool, images: bool = True) -> Path:
    """Kaggle's Flickr8k layout in `dst` (captions.txt + Images/), with the official split lists in a subfolder."""
    dst.mkdir(parents=True)
    shutil.copy(REAL / "flickr8k" / "kaggle" / "captions.txt", dst / "captions.txt")
    if images:
        shutil.copytree(REAL / "flickr8k" / "kaggle" / "Images", dst / "Images")
    if lists:
        shutil.copytree(
            REAL / "flickr8k" / "Flickr8k_text", dst / "splits", ignore=shutil.ignore_patterns("Flickr8k.token.txt")
        )
    return dst


def csv_captions(path: Path) -> dict:
    out = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out.setdefault(row["image"], []).append(" ".join(row["caption"].split()))
    return out


# ------------------------------------------------------------------------------------------------ COCO
@real
def test_coco_karpathy_layout(capsys):
    folder = REAL / "coco"
    layout = helpers.detect_layout("coco", folder)
    assert (layout.name, layout.image_dir) == ("coco-karpathy", folder)
    assert layout.files == (folder / "dataset_coco.json", folder / "annotations" / "captions_val2014.json")
    doc = json.loads((folder / "dataset_coco.json").read_text())
    for split in ("train", "val", "test"):
        images = [im for im in doc["images"] if im["split"] == split]
        data = helpers.load_captions(split, "en", "coco", data_dir=folder)
        assert data.files == [f"{im['filepath']}/{im['filename']}" for im in images]
        assert len(data.captions) == sum(len(im["sentences"]) for im in images)
        assert all(p.is_file() for p in data.paths()) and all(c == c.strip() for c in data.captions)
    assert max(Counter(data.caption_image.tolist()).values()) <= 6
    test = helpers.load_captions("test", "en", "coco", folder)
    capsys.readouterr()
    test_a = helpers.load_captions("test_A", "en", "coco", folder)
    assert test_a.files == test.files and test_a.captions == test.captions  # fewer than 1,000: all of them
    said = capsys.readouterr().out.strip().splitlines()
    assert said == [
        f"coco at {folder}: the test split has {len(test):,} images, so one test set (test_A) of {len(test):,} images"
    ]
    with pytest.raises(DatasetFormatError, match=r"1 test set\(s\) \(test_A\), not test_B") as e:
        helpers.load_captions("test_B", "en", "coco", folder)
    one_line(e)
    assert helpers.test_sets("coco", folder) == ("test_A",)
    official = json.loads((folder / "annotations" / "captions_val2014.json").read_text())
    val2014 = helpers.load_captions("val2014", "en", "coco", folder)
    assert len(val2014) == len(official["images"]) and len(val2014.captions) == len(official["annotations"])
    assert all(p.is_file() for p in val2014.paths())


@real
def test_coco_official_layout_gets_a_deterministic_split(tmp_path, capsys):
    copy = tmp_path / "coco"
    (copy / "annotations").mkdir(parents=True)
    shutil.copy(REAL / "coco" / "annotations" / "captions_val2014.json", copy / "annotations")
    (copy / "val2014").symlink_to(REAL / "coco" / "val2014", target_is_directory=True)
    assert helpers.detect_layout("coco", copy).name == "coco-official"
    official = json.loads((copy / "annotations" / "captions_val2014.json").read_text())
    names = {f"val2014/{im['file_name']}" for im in official["images"]}
    splits = {s: helpers.load_captions(s, "en", "coco", copy) for s in ("train", "val", "test")}
    assert "deterministic split" in capsys.readouterr().out
    again = {s: helpers.load_captions(s, "en", "coco", copy).files for s in ("train", "val", "test")}
    assert again == {s: d.files for s, d in splits.items()}
    files = [set(d.files) for d in splits.values()]
    assert set().union(*files) == names and sum(map(len, files)) == len(names)  # disjoint, covers every image
    hold = min(5000, len(names) // 10)
    assert (len(splits["val"]), len(splits["test"])) == (hold, hold)
    assert sum(len(d.captions) for d in splits.values()) == len(official["annotations"])
    assert layouts.hash_split(sorted(names, reverse=True), hold) == layouts.hash_split(sorted(names), hold)


# -------------------------------------------------------------------------------------------- Flickr8k
@real
def test_flickr8k_official_layout():
    folder = REAL / "flickr8k"  # also holds kaggle/: the official layout, shallower, wins
    layout = helpers.detect_layout("flickr8k", folder)
    assert (layout.name, layout.image_dir) == ("flickr8k-official", folder / "Flicker8k_Dataset")
    tokens = Counter(
        ln.split("#")[0]
        for ln in (folder / "Flickr8k_text" / "Flickr8k.token.txt").read_text().splitlines()
        if ln.strip()
    )
    for split, listing in (("train", "trainImages"), ("val", "devImages"), ("test", "testImages")):
        names = (folder / "Flickr8k_text" / f"Flickr_8k.{listing}.txt").read_text().split()
        data = helpers.load_captions(split, "en", "flickr8k", folder)
        assert data.files == names and len(data.captions) == sum(tokens[n] for n in names)
    assert helpers.load_captions("test_A", "en", "flickr8k", folder).files == data.files
    assert len(helpers.load_captions("all", "en", "flickr8k", folder)) == len(tokens)


@real
def test_flickr8k_official_variants(tmp_path):
    """The text folder given itself; the image folder under its other common spelling."""
    text = shutil.copytree(REAL / "flickr8k" / "Flickr8k_text", tmp_path / "Flickr8k_text")
    photos = tmp_path / "Flickr8k_Dataset"
    photos.symlink_to(REAL / "flickr8k" / "Flicker8k_Dataset", target_is_directory=True)
    for given in (tmp_path, text):
        layout = helpers.detect_layout("flickr8k", given)
        assert (layout.name, layout.image_dir) == ("flickr8k-official", photos)
        assert all(p.is_file() for p in helpers.load_captions("val", "en", "flickr8k", given).paths())


@real
def test_flickr8k_kaggle_layout_with_and_without_split_lists(tmp_path, capsys):
    expected = csv_captions(REAL / "flickr8k" / "kaggle" / "captions.txt")
    assert any("," in c for caps in expected.values() for c in caps), "the sample has captions with commas"
    with_lists = kaggle_copy(tmp_path / "a", lists=True)
    layout = helpers.detect_layout("flickr8k", with_lists)
    assert (layout.name, layout.image_dir) == ("flickr8k-kaggle", with_lists / "Images")
    listed = helpers.load_captions("val", "en", "flickr8k", with_lists)
    assert listed.files == (with_lists / "splits" / "Flickr_8k.devImages.txt").read_text().split()
    assert [listed.captions_of(i) for i in range(len(listed))] == [expected[n] for n in listed.files]
    assert "official split lists" in capsys.readouterr().out

    for p in (with_lists / "splits").iterdir():
        p.unlink()
    runs = [
        {s: helpers.load_captions(s, "en", "flickr8k", with_lists).files for s in ("train", "val", "test")}
        for _ in range(2)
    ]
    assert "deterministic split" in capsys.readouterr().out
    assert runs[0] == runs[1]
    files = [set(v) for v in runs[0].values()]
    assert set().union(*files) == set(expected) and sum(map(len, files)) == len(expected)
    hold = min(1000, len(expected) // 8)
    assert [len(v) for v in runs[0].values()] == [len(expected) - 2 * hold, hold, hold]
    # the sample folder itself has no lists either: the same split
    assert helpers.load_captions("test", "en", "flickr8k", REAL / "flickr8k" / "kaggle").files == runs[0]["test"]


# --------------------------------------------------------------------------------- Tiny ImageNet, Spanish
@real
def test_tiny_imagenet_layout():
    folder = REAL / "tiny-imagenet-200"
    wnids = (folder / "wnids.txt").read_text().split()
    for where in (folder, REAL):  # the folder itself, or the folder that holds tiny-imagenet-200/
        layout = helpers.detect_layout("tiny-imagenet", where)
        assert (layout.name, layout.image_dir) == ("tiny-imagenet", folder)
    train = helpers.load_classes("train", "tiny-imagenet", REAL)
    boxes = sum(len((folder / "train" / w / f"{w}_boxes.txt").read_text().splitlines()) for w in wnids)
    assert isinstance(train, ClassData) and train.classes == wnids and len(train) == boxes
    val = helpers.load_classes("val", "tiny-imagenet", folder)
    assert len(val) == len((folder / "val" / "val_annotations.txt").read_text().splitlines())
    assert all(p.is_file() for p in val.paths()[:50]) and val.boxes.shape == (len(val), 4)
    assert any(len(v) > 1 for v in train.words.values()), "class names with commas are split into names"
    assert helpers.seen_unseen(train) == (wnids, [])


def test_coco_spanish_layout(tmp_path):
    vectors = seed000_phase(tmp_path / "es", "train", n=30)
    seed000_phase(tmp_path / "es", "test_A", n=4)
    layout = helpers.detect_layout("coco-spanish", tmp_path / "es")
    assert layout.name == "coco-spanish-seed000" and layout.image_dir is None
    assert layout.splits == ("train", "val", "train_full", "test_A")
    train = helpers.load_captions("train", "es", "coco-spanish", tmp_path / "es")
    val = helpers.load_captions("val", None, "coco-spanish", tmp_path / "es")
    assert (len(train), len(val)) == (27, 3) and set(train.files).isdisjoint(val.files)
    assert np.array_equal(helpers.image_features(val)["pooled"], vectors[27:])
    assert helpers.test_sets("coco-spanish", tmp_path / "es") == ("test_A",)


# ------------------------------------------------------------------------------- read as is, nothing written
@real
def test_nothing_is_written_into_data_dir(tmp_path, capsys):
    before = snapshot(REAL)
    helpers.load_captions("test_A", "en", "coco", REAL / "coco")
    helpers.load_captions("val2014", "en", "coco", REAL / "coco")
    helpers.load_captions("train", "en", "flickr8k", REAL / "flickr8k")
    helpers.load_captions("val", "en", "flickr8k", REAL / "flickr8k" / "kaggle")
    helpers.load_classes("val", "tiny-imagenet", REAL / "tiny-imagenet-200")
    for name, sub in (
        ("coco", "coco"),
        ("flickr8k", "flickr8k"),
        ("flickr8k", "flickr8k/kaggle"),
        ("tiny-imagenet", "tiny-imagenet-200"),
    ):
        assert inspect(capsys, name, REAL / sub)[0] == 0
    assert snapshot(REAL) == before


# ------------------------------------------------------------------------------------------- bad input
def test_unknown_layout_names_folder_layouts_and_first_missing_file(tmp_path):
    write(tmp_path / "photos" / "notes.txt", "not a dataset\n")
    with pytest.raises(DatasetFormatError) as e:
        helpers.load_captions("train", "en", "flickr8k", data_dir=tmp_path / "photos")
    msg = one_line(e)
    assert str(tmp_path / "photos") in msg and "flickr8k-official" in msg and "flickr8k-kaggle" in msg
    assert msg.endswith("first missing file: Flickr8k_text/Flickr8k.token.txt")
    with pytest.raises(
        DatasetFormatError, match="coco-karpathy .* coco-official .*first missing file: dataset_coco.json"
    ):
        helpers.load_captions("train", "en", "coco", data_dir=tmp_path / "photos")
    with pytest.raises(DatasetFormatError, match="tiny-imagenet .*first missing file: wnids.txt"):
        helpers.load_classes("train", "tiny-imagenet", data_dir=tmp_path / "photos")
    with pytest.raises(DatasetFormatError, match="no such folder"):
        helpers.load_classes("train", "tiny-imagenet", data_dir=tmp_path / "nowhere")


@real
def test_missing_caption_file_is_named(tmp_path):
    copy = tmp_path / "flickr8k"
    shutil.copytree(REAL / "flickr8k" / "Flickr8k_text", copy / "Flickr8k_text")
    (copy / "Flicker8k_Dataset").symlink_to(REAL / "flickr8k" / "Flicker8k_Dataset", target_is_directory=True)
    (copy / "Flickr8k_text" / "Flickr_8k.devImages.txt").unlink()
    assert len(helpers.load_captions("train", "en", "flickr8k", copy)) > 0
    with pytest.raises(DatasetFormatError) as e:
        helpers.load_captions("val", "en", "flickr8k", copy)
    msg = one_line(e)
    assert msg.startswith(f"{copy}: flickr8k-official layout") and "split list is missing" in msg
    assert msg.endswith("first missing file: Flickr8k_text/Flickr_8k.devImages.txt")
    seed000_phase(tmp_path / "es", "test_A", n=3)
    (tmp_path / "es" / "test_A" / "test_A_captions.txt").unlink()
    with pytest.raises(
        DatasetFormatError,
        match=r"coco-spanish-seed000 layout .*phase test_A is incomplete; "
        r"first missing file: test_A/test_A_captions.txt$",
    ):
        helpers.load_captions("test_A", "es", "coco-spanish", tmp_path / "es")


@real
def test_image_listed_but_absent_is_named(tmp_path):
    copy = kaggle_copy(tmp_path / "kaggle", lists=False)
    test = helpers.load_captions("test", "en", "flickr8k", copy)
    (copy / "Images" / test.files[1]).unlink()
    with pytest.raises(DatasetFormatError) as e:
        helpers.load_captions("test", "en", "flickr8k", copy)
    msg = one_line(e)
    assert msg.startswith(f"{copy}: flickr8k-kaggle layout") and f"1 of {len(test):,} listed images are absent" in msg
    assert msg.endswith(f"first missing file: Images/{test.files[1]}")
    assert len(helpers.load_captions("test", "en", "flickr8k", copy, check=False)) == len(test)


def test_captions_without_words_are_dropped_and_counted(tmp_path, capsys):
    folder = tmp_path / "coco"
    files = [f"COCO_val2014_{i:012d}.jpg" for i in range(3)]
    doc = {
        "images": [{"id": i + 1, "file_name": f} for i, f in enumerate(files)],
        "annotations": [
            {"id": k + 1, "image_id": i + 1, "caption": c}
            for k, (i, c) in enumerate(
                [(0, "A dog ."), (0, None), (1, "  "), (1, 'Two cats, one "grey".'), (2, " . "), (2, "ok")]
            )
        ],
    }
    write(folder / "annotations" / "captions_val2014.json", json.dumps(doc))
    data = helpers.load_captions("val2014", "en", "coco", folder, check=False)
    assert data.captions == ["A dog .", 'Two cats, one "grey".', "ok"] and data.dropped.tolist() == [1, 1, 1]
    code, s, err = inspect(capsys, "coco", folder)
    assert s["splits"]["val2014"]["captions_dropped"] == 3 and s["splits"]["val2014"]["captions"] == 3
    write(
        tmp_path / "k" / "captions.txt",
        'image,caption\na.jpg,"A dog, running ."\na.jpg,\nb.jpg,"  ."\nb.jpg,ok\nc.jpg,x\nd.jpg,y\n',
    )
    code, s, err = inspect(capsys, "flickr8k", tmp_path / "k")
    assert s["layout"] == "flickr8k-kaggle" and (s["captions"], s["captions_dropped"]) == (4, 2)


# ------------------------------------------------------------------------------------------ inspect (CLI)
@real
def test_inspect_names_each_layout(capsys):
    for name, sub, layout in (
        ("coco", "coco", "coco-karpathy"),
        ("flickr8k", "flickr8k", "flickr8k-official"),
        ("flickr8k", "flickr8k/kaggle", "flickr8k-kaggle"),
        ("tiny-imagenet", "tiny-imagenet-200", "tiny-imagenet"),
    ):
        code, s, err = inspect(capsys, name, REAL / sub)
        assert (code, s["layout"], s["ok"], s["images_missing"], err) == (0, layout, True, 0, "")
    code, s, _ = inspect(capsys, "flickr8k", REAL / "flickr8k" / "kaggle")
    expected = csv_captions(REAL / "flickr8k" / "kaggle" / "captions.txt")
    assert s["images"] == len(expected) and s["captions"] == sum(map(len, expected.values()))
    assert "deterministic split" in s["notes"][0]
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "inspect", "coco", str(REAL / "coco")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    s = json.loads(out.stdout)
    doc = json.loads((REAL / "coco" / "dataset_coco.json").read_text())
    assert out.returncode == 0 and s["layout"] == "coco-karpathy" and s["test_sets"] == ["test_A"]
    assert {k: v["images"] for k, v in s["splits"].items() if k != "val2014"} == Counter(
        im["split"] for im in doc["images"]
    )


@real
def test_inspect_a_caption_file_before_the_photos(tmp_path, capsys):
    ann = tmp_path / "coco" / "annotations"
    ann.mkdir(parents=True)
    shutil.copy(REAL / "coco" / "annotations" / "captions_val2014.json", ann)
    n = len(json.loads((ann / "captions_val2014.json").read_text())["images"])
    for target in (ann / "captions_val2014.json", tmp_path / "coco"):
        code, s, err = inspect(capsys, "coco", target)
        assert code == 1 and s["images"] == n and s["images_missing"] == n and not s["ok"]
        assert len(err.strip().splitlines()) == 1 and "first missing file: " in err
    assert s["layout"] == "coco-official" and s["splits"]["val2014"]["images"] == n
    assert "val2014/COCO_val2014_" in s["first_missing"]
    kaggle_copy(tmp_path / "kaggle", lists=False, images=False)
    code, s, err = inspect(capsys, "flickr8k", tmp_path / "kaggle" / "captions.txt")
    assert code == 1 and s["layout"] == "flickr8k-kaggle" and s["images_missing"] == s["images"] > 0
    assert "first missing file: Images/" in err


def test_inspect_gives_one_line_never_a_traceback(tmp_path, capsys):
    bad_utf8 = tmp_path / "captions_val2014.json"
    bad_utf8.write_bytes(b'{"images": [], "annotations": [{"caption": "caf\xe9"}]}')
    no_filename = {"images": [{"split": "train", "sentences": []}]}  # a Karpathy record without 'filename'
    karpathy = write(tmp_path / "k" / "dataset_coco.json", json.dumps(no_filename))
    for args in (
        ("coco", bad_utf8),
        ("coco", karpathy),
        ("word2vec", tmp_path),
        ("coco", tmp_path / "nowhere"),
        ("coco-spanish", tmp_path),
        ("cocoa", tmp_path),
    ):
        code, s, err = inspect(capsys, *args)
        assert code == 1 and s is None and len(err.strip().splitlines()) == 1, (args, err)
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "inspect", "coco", str(karpathy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr and "no 'filename' key" in out.stderr


def test_a_folder_where_a_layout_file_belongs_is_a_missing_file(tmp_path):
    """A folder named like the file (an archive unzipped in place) read as a file raised IsADirectoryError."""
    for dataset, loader, name in (
        ("flickr8k", helpers.load_captions, "Flickr8k_text/Flickr8k.token.txt"),
        ("flickr8k", helpers.load_captions, "captions.txt"),
        ("coco", helpers.load_captions, "dataset_coco.json"),
        ("tiny-imagenet", helpers.load_classes, "wnids.txt"),
    ):
        root = tmp_path / dataset / name.replace("/", "_")
        (root / name).mkdir(parents=True)
        args = ("train", "en", dataset) if loader is helpers.load_captions else ("train", dataset)
        with pytest.raises(DatasetFormatError) as e:
            loader(*args, data_dir=root)
        assert "first missing file" in one_line(e), (name, e.value)


# --------------------------------------------------------------------------- the door: embedded, names
def test_embedded_through_the_same_door(tmp_path, capsys):
    from tests.test_data import TINY

    root = shutil.copytree(helpers.embedded.build(TINY, progress=False, features=False), tmp_path / "mine")
    cached = helpers.load_captions("val", "es", config=TINY)
    given = helpers.load_captions("val", "es", "embedded", data_dir=root, config=TINY)
    assert given.files == cached.files and given.captions == cached.captions
    assert given.image_dir == root / "scenes" / "images" / "val" and all(p.is_file() for p in given.paths())
    classes = helpers.load_classes("val", data_dir=root, config=TINY)
    assert classes.image_dir == root / "classes" and len(classes) == len(helpers.load_classes("val", config=TINY))
    code, s, _ = inspect(capsys, "embedded", root)
    assert code == 0 and s["splits"]["val"]["images"] == len(cached) and s["images_missing"] == 0


def test_subset_keeps_what_belongs_to_each_image():
    data = CaptionData(
        Path("."),
        ["a", "b", "c"],
        ["a0", "b0", "b1", "c0"],
        [0, 1, 1, 2],
        ["m0", "m1", "m2", "m3"],
        ["sa", "sb", "sc"],
        "en",
        "x",
        {"pooled": np.arange(6.0).reshape(3, 2), "backbone": "r"},
        [0, 2, 1],
    )
    sub = helpers.subset(data, [2, 1])
    assert sub.files == ["c", "b"] and sub.captions == ["b0", "b1", "c0"] and sub.caption_image.tolist() == [1, 1, 0]
    assert sub.meanings == ["m1", "m2", "m3"] and sub.scenes == ["sc", "sb"] and sub.dropped.tolist() == [1, 2]
    assert sub.features["pooled"].tolist() == [[4.0, 5.0], [2.0, 3.0]] and sub.features["backbone"] == "r"
    cls = ClassData(Path("."), ["n1", "n2"], {}, ["x", "y", "z"], np.array([0, 1, 1]), np.arange(12).reshape(3, 4))
    part = helpers.subset(cls, [1])
    assert part.files == ["y"] and part.labels.tolist() == [1] and part.boxes.tolist() == [[4, 5, 6, 7]]


def test_old_names_keep_working():
    import helpers.data
    import helpers.realdata

    assert helpers.data.load_captions is helpers.load_captions is datasets.load_captions
    assert helpers.data.load_classes is helpers.load_classes and helpers.data.seen_unseen is helpers.seen_unseen
    assert helpers.data.image_features is helpers.image_features and helpers.data.SCENE_SPLITS[0] == "train"
    assert helpers.data.build is helpers.embedded.build and helpers.data.class_split is helpers.class_split
    assert helpers.realdata.load_real_captions is datasets.load_real_captions
    assert helpers.realdata.inspect is datasets.inspect and callable(helpers.realdata.load_vectors)
    with pytest.raises(ValueError, match="not a captioned-image dataset"):
        helpers.load_captions("train", "en", "tiny-imagenet", data_dir=".")
    with pytest.raises(ValueError, match="captions are in 'es'"):
        helpers.load_captions("train", "en", "coco-spanish", data_dir=".")
