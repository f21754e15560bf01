"""The dataset and word-vector files of ../shared/cases (copied to tests/data), each with its right value
or error: a DatasetFormatError naming the file, the line or JSON path and what was expected."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from helpers import formats as fm
from helpers import vectorfiles as vf
from helpers.__main__ import main
from helpers.datasets import inspect
from helpers.realdata import load_word_vectors

DATA = Path(__file__).parent / "data"
F, V = DATA / "formats", DATA / "vectors"


@pytest.mark.parametrize(
    "folder, split, match",
    [
        (
            "tinyimagenet_val_annotations_spaces/tiny-imagenet-200",
            "val",
            r"val_annotations.txt:1: expected 6 tab-separated fields .* \(spaces instead of tabs\?\)",
        ),
        (
            "tinyimagenet_val_annotations_short_line/tiny-imagenet-200",
            "val",
            r"val_annotations.txt:2: expected 6 tab-separated fields .* got 2",
        ),
        ("val_one_field", "val", r"val_annotations.txt:1: expected 6 tab-separated fields .* got 1"),
    ],
)
def test_tiny_imagenet_lines_of_the_wrong_shape(folder, split, match):
    with pytest.raises(fm.DatasetFormatError, match=match):
        fm.read_tiny_imagenet(F / folder, split)


def test_tiny_imagenet_non_utf8_is_read_with_a_warning_naming_file_and_line():
    with pytest.warns(fm.DatasetWarning, match=r"wnids.txt is not UTF-8 \(line 2\)"):
        data = fm.read_tiny_imagenet(F / "nonutf8", "val")
    assert data.classes == ["n01", "n0é2"] and data.files == ["val/images/val_0.JPEG"]


@pytest.mark.parametrize(
    "name, match",
    [
        ("null.json", r"null.json: expected a JSON object with 'images', 'annotations' .* got null"),
        ("images_is_dict.json", r"images_is_dict.json: at images: expected a list of images, got an object"),
        ("no_caption_key.json", r"no_caption_key.json: at annotations\[0\]: no 'caption' key"),
    ],
)
def test_coco_json_of_the_wrong_shape(name, match):
    with pytest.raises(fm.DatasetFormatError, match=match):
        fm.read_coco_captions(F / name)


@pytest.mark.parametrize("name", ["null.json", "images_is_dict.json", "no_caption_key.json"])
def test_inspect_prints_one_line_for_bad_coco_files(name, capsys):
    assert main(["inspect", "coco", str(F / name)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and name in err[0] and "Traceback" not in err[0]


def test_flickr8k_caption_group_without_an_image_is_reported_not_counted():
    summary = inspect("flickr8k", F / "flickr8k_token_jpg1_orphan")
    assert summary["images"] == 3 and summary["ok"]
    assert any("2258277193_586949ec62.jpg.1" in n and "no image" in n for n in summary["notes"])
    oddities = {}
    tokens = fm.read_flickr8k_tokens(F / "flickr8k_token_jpg1_orphan/Flickr8k_text/Flickr8k.token.txt", {}, oddities)
    assert oddities == {"2258277193_586949ec62.jpg.1": 5} and len(tokens) == 3


def test_null_and_wordless_captions_are_dropped_and_counted(tmp_path):
    import json

    doc = {
        "images": [{"id": 1, "file_name": "a.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 1, "caption": None},
            {"id": 2, "image_id": 1, "caption": " . "},
            {"id": 3, "image_id": 1, "caption": ""},
            {"id": 4, "image_id": 1, "caption": "A dog."},
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc))
    data = fm.read_coco_captions(tmp_path / "c.json")
    assert data.captions == ["A dog."] and data.dropped.tolist() == [3]


@pytest.mark.parametrize(
    "name, words, dim",
    [
        ("glove840b_word_with_spaces.txt", ["the", ". . .", "dog"], 3),
        ("glove_space_token_first.txt", ["new york", "the", "dog"], 3),
        ("nbsp_token.vec", ["new\u00a0york", "dog", "cat"], 4),
        ("devise_loader_glove_no_header.txt", ["the", "cat", "dog"], 3),
    ],
)
def test_vector_files_as_they_are(name, words, dim, tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path))
    got, matrix, info = vf.read_text_vectors(V / name)
    assert got == words and matrix.shape == (len(words), dim)
    assert vf.scan_vectors(V / name) == info  # inspect and the loader agree
    kv = load_word_vectors(str(V / name))  # chapter 02's loader: the same reader
    assert kv.index_to_key == words


def test_vector_file_with_nan_names_file_and_line():
    with pytest.raises(fm.DatasetFormatError, match=r"nan_value.vec:2: the vector of 'the' .* not a finite"):
        vf.read_text_vectors(V / "nan_value.vec")
    with pytest.raises(fm.DatasetFormatError, match=r"nan_value.vec:2"):
        vf.scan_vectors(V / "nan_value.vec")


def test_vector_word_with_bad_bytes_is_read_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path))
    with pytest.warns(fm.DatasetWarning, match=r"devise_loader_non_utf8_word.vec:3: 1 word"):
        kv = load_word_vectors(str(V / "devise_loader_non_utf8_word.vec"))
    assert kv.index_to_key == ["the", "caf\ufffd", "dog"]


def test_damaged_compressed_vectors_name_the_line(tmp_path):
    import gzip

    body = b"".join(b"w%d 0.1 0.2 0.3\n" % i for i in range(5000))
    p = tmp_path / "v.txt.gz"
    p.write_bytes(gzip.compress(body)[:4000])
    with pytest.raises(fm.DatasetFormatError, match=r"v.txt.gz:\d+: the compressed file is damaged or truncated"):
        vf.read_text_vectors(p)


# ------------------------------------------------------------- more inputs of the same kinds (user check)
def _w(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize(
    "doc, match",
    [
        ('{"images": ["sentences"]}', r"no 'annotations'"),
        ('{"images": [{"filename": "a.jpg", "split": "train", "sentences": []}, "oops"]}', r"at images\[1\]"),
        ('{"images": [null], "annotations": []}', r"at images\[0\]"),
        ('{"images": [5]}', r"no 'annotations'"),
        ('{"images": [{"filename": "a.jpg", "split": ["train"], "sentences": []}]}', r"images\[0\].split"),
        (
            '{"images": [{"filepath": 2014, "filename": "a.jpg", "split": "train", "sentences": []}]}',
            r"images\[0\].filepath",
        ),
    ],
)
def test_more_mistyped_json_gets_one_line_with_the_json_path(tmp_path, capsys, doc, match):
    p = _w(tmp_path / "dataset_coco.json", doc)
    assert main(["inspect", "coco", str(p)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(match, err[0]), err


@pytest.mark.parametrize("box", ["inf", "12.5", "x"])
def test_tiny_imagenet_boxes_must_be_whole_pixels(tmp_path, box):
    _w(tmp_path / "wnids.txt", "n01\n")
    _w(tmp_path / "val" / "val_annotations.txt", f"val_0.JPEG\tn01\t0\t0\t{box}\t10\n")
    with pytest.raises(fm.DatasetFormatError, match=r"val_annotations.txt:1: expected 4 integer box"):
        fm.read_tiny_imagenet(tmp_path, "val")


@pytest.mark.parametrize(
    "text, match",
    [
        ("the 0.1 0.2 0.3\ncat 0.4 0.5\ndog 0.7 0.8 0.9\n", r"g.txt:2: expected a word and 3 numbers"),
        ("the 0.1 abc 0.3\ncat 0.4 0.5 0.6\ndog 0.7 0.8 0.9\n", r"g.txt:1: b'abc' is not a number"),
    ],
)
def test_a_damaged_glove_row_cannot_set_the_width(tmp_path, text, match):
    with pytest.raises(fm.DatasetFormatError, match=match):
        vf.read_text_vectors(_w(tmp_path / "g.txt", text))


def test_byte_order_marks_and_decomposed_words(tmp_path):
    import unicodedata

    bom = b"\xef\xbb\xbf"
    w, m, info = vf.read_text_vectors(_w(tmp_path / "a.vec", bom + b"2 3\nthe 0.1 0.2 0.3\ncat 0.4 0.5 0.6\n"))
    assert w == ["the", "cat"] and info["header"] == [2, 3]
    w, m, _ = vf.read_text_vectors(_w(tmp_path / "g.txt", bom + b"the 0.1 0.2\ncat 0.4 0.5\n"))
    assert w == ["the", "cat"]
    nfd = unicodedata.normalize("NFD", "niño").encode()
    w, m, _ = vf.read_text_vectors(_w(tmp_path / "n.txt", nfd + b" 0.1 0.2\ncat 0.4 0.5\n"))
    assert w == ["niño", "cat"] and len(w[0]) == 4  # NFC, as queries are


def test_word2vec_binary_files_one_reader_for_inspect_and_loaders(tmp_path, monkeypatch):
    from gensim.models import KeyedVectors

    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    kv = KeyedVectors(vector_size=4)
    kv.add_vectors(["the", "cat"], np.arange(8, dtype=np.float32).reshape(2, 4))
    ok = tmp_path / "ok.bin"
    kv.save_word2vec_format(str(ok), binary=True)
    assert vf.scan_vectors(ok)["vectors"] == 2 and inspect("word2vec", ok)["dimension"] == 4
    assert load_word_vectors(str(ok)).index_to_key == ["the", "cat"]
    bad = _w(tmp_path / "bad.bin", ok.read_bytes()[:-5])
    with pytest.raises(fm.DatasetFormatError, match="bad.bin: not a readable word2vec binary"):
        vf.read_text_vectors(bad)
    with pytest.raises(fm.DatasetFormatError):
        load_word_vectors(str(_w(tmp_path / "text.bin", "2 3\nthe 0.1 0.2 0.3\ncat 0.4 0.5 0.6\n")))


# ------------------------------------------------------- tester's probes: one kind of fault per test (F2-F10)
def _tiny(root, wnids="n01\n", words="n01\tgoldfish, Carassius auratus\n", val="val_0.JPEG\tn01\t0\t0\t63\t63\n"):
    _w(root / "wnids.txt", wnids)
    _w(root / "words.txt", words)
    _w(root / "val" / "val_annotations.txt", val)
    _w(root / "val" / "images" / "val_0.JPEG", b"")
    return root


@pytest.mark.parametrize("box", ["0\t0\t44\t99999999999999999999999", "44\t0\t0\t10", "0\t44\t10\t0", "-5\t0\t10\t10"])
def test_tiny_imagenet_box_out_of_the_image_names_file_and_line(tmp_path, capsys, box):
    root = _tiny(tmp_path / "tiny-imagenet-200", val=f"val_0.JPEG\tn01\t{box}\n")
    with pytest.raises(fm.DatasetFormatError, match=r"val_annotations.txt:1: expected a box .* 0 <= x0 <= x1"):
        fm.read_tiny_imagenet(root, "val")
    assert main(["inspect", "tiny-imagenet", str(tmp_path)]) == 1  # no OverflowError traceback
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    _w(root / "val" / "val_annotations.txt", "val_0.JPEG\tn01\t5\t0\t5\t63\n")  # a one-pixel box: in the real files
    assert fm.read_tiny_imagenet(root, "val").boxes.tolist() == [[5, 0, 5, 63]]


@pytest.mark.parametrize(
    "wnids, val, match",
    [
        ("n01\nn02\nn01\n", None, r"wnids.txt:3: 'n01' is listed twice \(also line 1\)"),
        ("../../tmp\n", None, r"wnids.txt:1: expected a WordNet id"),
        ("n01\n", "../../x.JPEG\tn01\t0\t0\t9\t9\n", r"val_annotations.txt:1: expected a file name inside"),
        (
            "n01\nn02\n",
            "v.JPEG\tn01\t0\t0\t9\t9\nw.JPEG\tn02\t0\t0\t9\t9\nv.JPEG\tn02\t0\t0\t9\t9\n",
            r"val_annotations.txt:3: val/images/v.JPEG is listed twice \(also .*val_annotations.txt:1\)",
        ),
    ],
)
def test_tiny_imagenet_classes_and_names_that_cannot_be_read(tmp_path, wnids, val, match):
    root = _tiny(tmp_path, wnids=wnids, **({"val": val} if val else {}))
    with pytest.raises(fm.DatasetFormatError, match=match):
        fm.read_tiny_imagenet(root, "val")


def test_tiny_imagenet_training_image_listed_twice_in_its_boxes_file(tmp_path):
    root = _tiny(tmp_path, wnids="n01\n")
    _w(root / "train" / "n01" / "n01_boxes.txt", "n01_0.JPEG\t0\t0\t9\t9\nn01_0.JPEG\t1\t1\t9\t9\n")
    with pytest.raises(fm.DatasetFormatError, match=r"n01_boxes.txt:2: train/n01/images/n01_0.JPEG is listed twice"):
        fm.read_tiny_imagenet(root, "train")


def test_tiny_imagenet_words_with_spaces_and_classes_without_names(tmp_path):
    words = "n01 goldfish, Carassius auratus\nn02\nn03  \t great white shark\n"
    root = _tiny(tmp_path / "tiny-imagenet-200", wnids="n01\nn02\nn03\n", words=words)
    data = fm.read_tiny_imagenet(root, "val")
    assert data.words == {"n01": ["goldfish", "Carassius auratus"], "n03": ["great white shark"]}
    _w(root / "train" / "n01" / "n01_boxes.txt", "n01_0.JPEG\t0\t0\t9\t9\n")
    _w(root / "train" / "n01" / "images" / "n01_0.JPEG", b"")
    summary = inspect("tiny-imagenet", tmp_path)
    assert summary["words"] == 2 and any("1 of 3 classes" in n and "n02" in n for n in summary["notes"])


def _coco(tmp_path, images, captions=("A dog.",)):
    doc = {
        "images": images,
        "annotations": [{"id": k + 1, "image_id": 1, "caption": c} for k, c in enumerate(captions)],
    }
    return _w(tmp_path / "captions_x.json", json.dumps(doc))


@pytest.mark.parametrize(
    "name", ["", ".", "sub/", "../../../../etc/passwd", "/etc/hostname", "a/../../b.jpg", "C:\\x.jpg"]
)
def test_coco_file_names_must_stay_inside_the_image_folder(tmp_path, capsys, name):
    (tmp_path / "imgs" / "sub").mkdir(parents=True)
    p = _coco(tmp_path, [{"id": 1, "file_name": name}])
    with pytest.raises(fm.DatasetFormatError, match=r"captions_x.json: at images\[0\].file_name: expected a file name"):
        fm.read_coco_captions(p)
    assert main(["inspect", "coco", str(p), "--images", str(tmp_path / "imgs")]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_missing_images_counts_only_regular_files(tmp_path):
    (tmp_path / "sub").mkdir()
    _w(tmp_path / "a.jpg", b"")
    data = fm.CaptionData(tmp_path, ["a.jpg", "sub", "", "../x.jpg"], [], [])
    assert fm.missing_images(data) == ["sub", "", "../x.jpg"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d: fm.read_karpathy_captions(_kp(d, "../a.jpg", "val2014"), "train"), r"at images\[0\].filename"),
        (lambda d: fm.read_karpathy_captions(_kp(d, "a.jpg", "/etc"), "train"), r"at images\[0\].filepath"),
        (lambda d: fm.read_flickr8k_tokens(_w(d / "t.txt", "../../x.jpg#0\tA dog.\n")), r"t.txt:1: expected a file"),
        (lambda d: fm.read_flickr8k_csv(_w(d / "c.txt", "image,caption\n/etc/x.jpg,A dog.\n")), r"c.txt:2: expected"),
        (lambda d: fm.read_image_list(_w(d / "l.txt", "a.jpg\n../b.jpg\n")), r"l.txt:2: expected a file name"),
    ],
)
def test_other_readers_refuse_names_outside_the_folder(tmp_path, make, match):
    with pytest.raises(fm.DatasetFormatError, match=match):
        make(tmp_path)


def _kp(folder, filename, filepath):
    doc = {"images": [{"filepath": filepath, "filename": filename, "split": "train", "sentences": [{"raw": "A dog."}]}]}
    return _w(folder / "dataset_coco.json", json.dumps(doc))


@pytest.mark.parametrize(
    "images, captions, match",
    [
        ([{"id": 1, "file_name": "a.jpg"}], ["", "  ", " . "], r"captions_x.json has no captions"),
        ([], [], r"captions_x.json: at images: no images"),
    ],
)
def test_coco_without_images_or_usable_captions_is_an_error(tmp_path, capsys, images, captions, match):
    p = _coco(tmp_path, images, captions)
    with pytest.raises(fm.DatasetFormatError, match=match):
        fm.read_coco_captions(p)
    assert main(["inspect", "coco", str(p)]) == 1 and re.search(match, capsys.readouterr().err)


@pytest.mark.parametrize(
    "scenes, match",
    [
        (["garbage"], r"at images\[0\].scene: expected a scene object"),
        ([{}], r"at images\[0\].scene: no 'background'"),
        ([{"background": "sky", "objects": [{"cls": "dog", "box": [1, 2]}]}], r"at images\[0\].scene.objects\[0\].box"),
        ([{"background": "sky", "objects": ["dog"]}], r"at images\[0\].scene.objects\[0\]: expected an object"),
        ([{"background": "sky", "objects": []}, None], r"at images\[1\]: no 'scene' key"),
    ],
)
def test_coco_scene_truth_of_the_wrong_shape_names_the_json_path(tmp_path, scenes, match):
    images = [
        {"id": i + 1, "file_name": f"{i}.jpg", **({} if s is None else {"scene": s})} for i, s in enumerate(scenes)
    ]
    with pytest.raises(fm.DatasetFormatError, match=r"captions_x.json: " + match):
        fm.read_coco_captions(_coco(tmp_path, images))


def test_json_with_a_number_too_long_to_read_names_file_and_line(tmp_path, capsys):
    p = _w(tmp_path / "captions_x.json", '{"images": [\n{"id": ' + "9" * 5000 + ', "file_name": "a.jpg"}]}')
    with pytest.raises(fm.DatasetFormatError, match=r"captions_x.json:2: a number too long to read"):
        fm.read_coco_captions(p)
    assert main(["inspect", "coco", str(p)]) == 1 and "captions_x.json:2" in capsys.readouterr().err


def test_seed000_empty_caption_after_the_tab_is_dropped_not_malformed(tmp_path):
    _w(tmp_path / "train" / "train_images_names.txt", "a.jpg\nb.jpg\n")
    np.zeros((2, 4), "<f4").tofile(tmp_path / "train" / "train_images_vectors.bin")
    _w(tmp_path / "train" / "train_captions.txt", "a.jpg\t\nb.jpg\tUn perro.\na.jpg\t.\n")
    data, _ = fm.read_seed000(tmp_path, "train", dim=4)
    assert data.captions == ["Un perro."] and data.dropped.tolist() == [2, 0]


def test_flickr8k_training_image_in_another_split_is_leakage(tmp_path, capsys):
    text = tmp_path / "Flickr8k_text"
    _w(text / "Flickr8k.token.txt", "".join(f"{n}.jpg#0\tA dog.\n" for n in "abc"))
    _w(text / "Flickr_8k.trainImages.txt", "a.jpg\nb.jpg\n")
    _w(text / "Flickr_8k.devImages.txt", "b.jpg\n")
    _w(text / "Flickr_8k.testImages.txt", "c.jpg\n")
    for n in "abc":
        _w(tmp_path / "Flicker8k_Dataset" / f"{n}.jpg", b"")
    with pytest.raises(fm.DatasetFormatError, match=r"trainImages.txt and .*devImages.txt both list b.jpg"):
        fm.read_flickr8k(text, None, "test")
    assert main(["inspect", "flickr8k", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "both list b.jpg" in err[0] and "leakage" in err[0]
    _w(text / "Flickr_8k.trainImages.txt", "a.jpg\n")  # val and test sharing an image: said, not an error
    _w(text / "Flickr_8k.testImages.txt", "b.jpg\nc.jpg\n")
    summary = inspect("flickr8k", tmp_path)
    assert any("1 image(s) in both" in n and "b.jpg" in n for n in summary["notes"])


def test_seed000_image_in_two_phases_is_said_by_inspect(tmp_path):
    from tests.test_formats import seed000_phase

    seed000_phase(tmp_path, "train", n=20)
    seed000_phase(tmp_path, "test_A", n=2)  # the same names as train's first two
    summary = inspect("coco-spanish", tmp_path)
    assert any("2 image(s) of phase test_A are also in phase train" in n for n in summary["notes"]), summary["notes"]
