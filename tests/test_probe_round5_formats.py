"""A fifth round of inputs made by others (a fresh user's probe, session 17): dataset files and vector files.

Each test names the fault it guards; each failed on the code before its fix.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers import formats as fm
from helpers import vectorfiles as vf
from helpers.__main__ import main
from helpers.formats_core import bad_file_name

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata"
real = pytest.mark.skipif(not REAL.is_dir(), reason=f"the real-layout samples are not at {REAL}")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))


def _w(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _inspect(capsys, *args) -> tuple:
    """(exit code, the JSON printed or None, stderr) of `python -m helpers inspect ...`, in-process."""
    capsys.readouterr()
    code = main(["inspect", *map(str, args)])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


KAGGLE = 'image,caption\na.jpg,A dog runs .\na.jpg,"A dog , running ."\nb.jpg,A cat sits .\n'


def test_kaggle_csv_field_over_the_csv_limit_is_one_line_not_a_traceback(tmp_path, capsys):
    # _csv.Error (not a ValueError) escaped the CLI as a traceback
    path = _w(tmp_path / "k" / "captions.txt", KAGGLE + "b.jpg," + "y" * 200_000 + "\n")
    with pytest.raises(fm.DatasetFormatError, match=r"captions.txt:5: field larger than field limit .*damaged file"):
        fm.read_flickr8k_csv(path)
    code, summary, err = _inspect(capsys, "flickr8k", tmp_path / "k")
    assert code == 1 and summary is None and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_kaggle_csv_with_a_third_column_is_refused_not_glued_onto_captions(tmp_path):
    path = _w(tmp_path / "captions.txt", "image,caption,source\na.jpg,A dog runs .,flickr\n")
    with pytest.raises(fm.DatasetFormatError, match=r"captions.txt:1: expected the header 'image,caption'"):
        fm.read_flickr8k_csv(path)
    assert fm.read_flickr8k_csv(_w(tmp_path / "ok.txt", KAGGLE)) == {
        "a.jpg": ["A dog runs .", "A dog , running ."],
        "b.jpg": ["A cat sits ."],
    }


@pytest.mark.parametrize("index", ["\u00b2", "\u0665", "\uff11"])  # superscript two, Arabic-Indic five, fullwidth 1
def test_flickr8k_caption_index_must_be_ascii_digits(tmp_path, index):
    # '²'.isdigit() is True but int('²') fails (a raw ValueError); '٥' was read as 5
    path = _w(tmp_path / "Flickr8k.token.txt", f"a.jpg#0\tA dog runs .\na.jpg#{index}\tA dog .\n")
    with pytest.raises(fm.DatasetFormatError, match=r"Flickr8k.token.txt:2: expected 'image.jpg#k<TAB>caption'"):
        fm.read_flickr8k_tokens(path)


@pytest.mark.parametrize("name", ["./val_0.JPEG", "sub/./a.jpg", "a//b.jpg", "sub\\.\\a.jpg"])
def test_a_second_name_for_one_file_is_refused(name):
    # 'val/images/./val_0.JPEG' passed the listed-twice check of 'val_0.JPEG' and counted the image twice
    assert bad_file_name(name).startswith("a '.' or empty part")
    assert bad_file_name("val_0.JPEG") is None and bad_file_name("val2014/COCO_val2014_1.jpg") is None


@real
def test_tiny_imagenet_image_listed_again_as_dot_slash_is_refused(tmp_path, capsys):
    root = tmp_path / "tiny-imagenet-200"
    shutil.copytree(REAL / "tiny-imagenet-200", root, ignore=shutil.ignore_patterns("*.JPEG"))
    ann = root / "val" / "val_annotations.txt"
    first = ann.read_text().splitlines()[0].split("\t")
    ann.write_text(ann.read_text() + "\t".join(["./" + first[0], *first[1:]]) + "\n")
    with pytest.raises(fm.DatasetFormatError, match=r"val_annotations.txt:\d+: .*'\./val_.*a '\.' or empty part"):
        fm.read_tiny_imagenet(root, "val")
    code, summary, err = _inspect(capsys, "tiny-imagenet", root)
    assert code == 1 and summary is None and len(err.strip().splitlines()) == 1


@real
def test_inspect_of_a_karpathy_file_counts_restval_images_once(tmp_path, capsys):
    # 'train' holds restval's images too: inspect counted them under both
    doc = json.loads((REAL / "coco" / "dataset_coco.json").read_text())
    for im in doc["images"][:300]:
        im["split"] = "restval"
    folder = tmp_path / "kc"
    _w(folder / "dataset_coco.json", json.dumps(doc))
    (folder / "val2014").symlink_to(REAL / "coco" / "val2014", target_is_directory=True)
    code, summary, err = _inspect(capsys, "coco", folder / "dataset_coco.json")
    assert summary["images"] == len(doc["images"]), (summary["images"], summary["splits"].keys())
    assert summary["captions"] == sum(len(im["sentences"]) for im in doc["images"])
    assert "restval" not in summary["splits"] and summary["splits"]["train"]["images"] == sum(
        im["split"] in ("train", "restval") for im in doc["images"]
    )


def _bin(path: Path, words: list, dim: int = 3, header: int | None = None) -> Path:
    """A word2vec binary file; `header` overrides the count it declares."""
    rows = b"".join(w.encode() + b" " + np.full(dim, i + 1, np.float32).tobytes() for i, w in enumerate(words))
    return _w(path, f"{len(words) if header is None else header} {dim}\n".encode() + rows)


def test_word2vec_binary_with_a_repeated_word_keeps_the_first_like_text_files(tmp_path, capsys):
    # gensim left a None key for the repeated word and our NFC step raised a raw TypeError
    from helpers.realdata import load_word_vectors

    path = _bin(tmp_path / "dup.bin", ["the", "cat", "the"])
    with pytest.warns(fm.DatasetWarning, match="1 duplicate word"):
        words, matrix, info = vf.read_binary_vectors(path)
    assert words == ["the", "cat"] and matrix[:, 0].tolist() == [1.0, 2.0] and info["vectors"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.DatasetWarning)
        assert load_word_vectors(str(path)).index_to_key == ["the", "cat"]
        code, summary, err = _inspect(capsys, "word2vec", path)
    assert code == 0 and summary["vectors"] == 2, err


def test_word2vec_binary_with_no_vectors_is_refused_like_a_text_file(tmp_path, capsys):
    path = _bin(tmp_path / "zero.bin", [], header=0)
    with pytest.raises(fm.DatasetFormatError, match="zero.bin has no vectors"):
        vf.read_binary_vectors(path)
    code, summary, err = _inspect(capsys, "word2vec", path)
    assert code == 1 and summary is None and "has no vectors" in err


@pytest.mark.parametrize("limit, error", [(0, ValueError), (-1, ValueError), (2.5, TypeError), (True, TypeError)])
def test_load_vectors_checks_limit_before_the_cache_and_leaves_no_lock(tmp_path, limit, error):
    # with a full copy cached, limit=0 returned every vector; invalid limits left '<name>-<limit>-<key>.lock' files
    from helpers.paths import cache_dir
    from helpers.realdata import load_vectors

    path = _w(tmp_path / "ok.vec", "3 2\nthe 0.1 0.2\ncat 0.3 0.4\ndog 0.5 0.6\n")
    assert len(load_vectors(str(path), progress=False)) == 3  # the full copy is now cached
    with pytest.raises(error, match="limit"):
        load_vectors(str(path), limit=limit, progress=False)
    assert not list(cache_dir("wordvectors").glob("*.lock")) or all(
        "-all-" in p.name for p in cache_dir("wordvectors").glob("*.lock")
    )
    assert len(load_vectors(str(path), limit=2, progress=False)) == 2


def _tiny(root: Path, box: str = "0\t0\t10\t10") -> Path:
    _w(root / "wnids.txt", "n01\nn02\n")
    _w(root / "words.txt", "n01\tgoldfish\nn02\ttench\n")
    _w(root / "train" / "n01" / "n01_boxes.txt", f"n01_0.JPEG\t{box}\n")
    _w(root / "train" / "n02" / "n02_boxes.txt", "n02_0.JPEG\t0\t0\t10\t10\n")
    _w(root / "val" / "val_annotations.txt", "val_0.JPEG\tn01\t0\t0\t63\t63\n")
    return root


@pytest.mark.parametrize("box", ["\u0661\t3\t4\t62", " 3\t0\t4\t62", "4_4\t0\t50\t62", "0\t0\t4\t\uff16\uff12"])
def test_tiny_imagenet_box_coordinates_are_ascii_integers(tmp_path, box):
    # int() read '١' as 1, ' 3' as 3, '4_4' as 44 and '６２' as 62
    root = _tiny(tmp_path / "tiny", box)
    with pytest.raises(fm.DatasetFormatError, match=r"n01_boxes.txt:1: expected 4 integer box coordinates"):
        fm.read_tiny_imagenet(root, "train")
    assert fm.read_tiny_imagenet(_tiny(tmp_path / "ok"), "train").boxes.tolist() == [[0, 0, 10, 10]] * 2


def test_tiny_imagenet_boxes_file_that_is_a_folder_is_not_a_held_out_class(tmp_path, capsys):
    # its images vanished silently and the class counted as held out
    root = _tiny(tmp_path / "tiny-imagenet-200")
    box_file = root / "train" / "n01" / "n01_boxes.txt"
    box_file.unlink()
    box_file.mkdir()
    with pytest.raises(fm.DatasetFormatError, match=r"n01_boxes.txt is not a readable file"):
        fm.read_tiny_imagenet(root, "train")
    shutil.rmtree(box_file)
    assert fm.read_tiny_imagenet(root, "train").files == ["train/n02/images/n02_0.JPEG"]  # absent: held out


def test_coco_caption_listed_twice_is_refused(tmp_path):
    # a copied annotation counted its caption twice
    p = tmp_path / "captions_val2014.json"
    fm.write_coco_captions(p, ["a.jpg", "b.jpg"], ["a cat", "a dog"], [0, 1])
    doc = json.loads(p.read_text())
    doc["annotations"].append(dict(doc["annotations"][0]))
    p.write_text(json.dumps(doc))
    with pytest.raises(fm.DatasetFormatError, match=r"at annotations: two share the id \d+ \(ids "):
        fm.read_coco_captions(p)


@pytest.mark.parametrize("where", ["same split", "another split"])
def test_karpathy_image_listed_twice_or_in_two_splits_is_refused(tmp_path, where):
    # a record appended twice counted the image twice; one moved into train as well leaked test images
    records = [
        {"filepath": "val2014", "filename": f"{n}.jpg", "split": s, "sentences": [{"raw": "a cat"}]}
        for n, s in (("a", "train"), ("b", "test"))
    ]
    path = _w(tmp_path / "dataset_coco.json", json.dumps({"images": records}))
    assert fm.read_karpathy_captions(path, "train").files == ["val2014/a.jpg"]
    twin = dict(records[0], split="train" if where == "same split" else "test")
    _w(path, json.dumps({"images": [*records, twin]}))
    with pytest.raises(fm.DatasetFormatError, match=r"at images\[2\]: 'a.jpg' is also images\[0\]: list each image"):
        fm.read_karpathy_captions(path, "test")
