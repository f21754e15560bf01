"""helpers.formats on files written by the tests in each dataset's exact on-disk format, messy as real ones.

Messy means: CRLF lines, a byte-order mark, trailing spaces, 6 captions for some images, a final line
without a newline, non-ASCII words, `</s>` markers, blank lines. Broken means: truncated, empty, missing,
a header that disagrees with the rows, a caption naming an unknown image, an image listed but absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.formats import (
    CaptionData,
    DatasetFormatError,
    check_images,
    clean_caption,
    read_coco_captions,
    read_flickr8k,
    read_flickr8k_tokens,
    read_karpathy_captions,
    read_seed000,
    read_tiny_imagenet,
    text_lines,
    write_coco_captions,
    write_tiny_imagenet_index,
)
from helpers.vectorfiles import read_text_vectors, scan_vectors


def write(path: Path, text: str, newline: str = "\n", bom: bool = False, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.replace("\n", newline).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def jpeg(path: Path, color=(200, 30, 30), size=(8, 8)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="JPEG")


# ---------------------------------------------------------------------------------------------- lines
def test_text_lines_accepts_messy_files(tmp_path):
    p = write(tmp_path / "a.txt", "uno  \n\n dos\u2028tres \ncuatro", newline="\r\n", bom=True)
    assert [ln for _, ln in text_lines(p)] == ["uno", "dos\u2028tres", "cuatro"]
    assert [i for i, _ in text_lines(p)] == [1, 3, 4]


def test_legacy_encoding_is_read_with_a_warning(tmp_path):
    p = write(tmp_path / "a.txt", "niño\tun niño pequeño\n", encoding="cp1252")
    with pytest.warns(UserWarning, match="not UTF-8"):
        assert text_lines(p)[0][1] == "niño\tun niño pequeño"


def test_clean_caption():
    assert clean_caption("  Un perro  junto al árbol . </s> ") == "Un perro junto al árbol ."
    assert clean_caption("<s> a cat</s>") == "a cat"


@pytest.mark.parametrize("content", ["", "\n\n  \r\n"])
def test_empty_files_are_errors(tmp_path, content):
    p = write(tmp_path / "empty.txt", content)
    with pytest.raises(DatasetFormatError, match="empty"):
        text_lines(p)


# ------------------------------------------------------------------------------------------- Flickr8k
TOKENS = (
    "1000268201_693b08cb0e.jpg#0\tA child in a pink dress is climbing up a set of stairs in an entry way .  \n"
    "1000268201_693b08cb0e.jpg#1\tA girl going into a wooden building .\n"
    "1001773457_577c3a7d70.jpg#0\tA black dog and a spotted dog are fighting\n"
    "1001773457_577c3a7d70.jpg#2\tTwo dogs on pavement moving toward each other . </s>\n"
    "1001773457_577c3a7d70.jpg#1\tA black dog and a tri-colored dog playing with each other on the road .\n"
    "\n"
    "1002674143_1b742ab4b8.jpg#0\tA little girl covered in paint sits in front of a painted rainbow .\n"
    "1002674143_1b742ab4b8.jpg#1\tUn café in München , naïve façade .\n"
    "1002674143_1b742ab4b8.jpg#2\tc3\n1002674143_1b742ab4b8.jpg#3\tc4\n1002674143_1b742ab4b8.jpg#4\tc5\n"
    "1002674143_1b742ab4b8.jpg#5\tsixth caption, no final newline"
)


def flickr_text(folder: Path, newline="\r\n") -> Path:
    write(folder / "Flickr8k.token.txt", TOKENS, newline=newline, bom=True)
    write(folder / "Flickr_8k.trainImages.txt", "1000268201_693b08cb0e.jpg\n1002674143_1b742ab4b8.jpg", newline)
    write(folder / "Flickr_8k.devImages.txt", "1001773457_577c3a7d70.jpg \n", newline)
    write(folder / "Flickr_8k.testImages.txt", "1001773457_577c3a7d70.jpg\n", newline)
    return folder


def test_flickr8k_tokens(tmp_path):
    caps = read_flickr8k_tokens(flickr_text(tmp_path) / "Flickr8k.token.txt")
    assert list(caps) == ["1000268201_693b08cb0e.jpg", "1001773457_577c3a7d70.jpg", "1002674143_1b742ab4b8.jpg"]
    assert caps["1000268201_693b08cb0e.jpg"][0].endswith("entry way .")  # trailing spaces gone
    assert caps["1001773457_577c3a7d70.jpg"][1].startswith("A black dog and a tri-colored")  # sorted by #k
    assert caps["1001773457_577c3a7d70.jpg"][2] == "Two dogs on pavement moving toward each other ."  # </s> gone
    assert len(caps["1002674143_1b742ab4b8.jpg"]) == 6  # six captions
    assert caps["1002674143_1b742ab4b8.jpg"][1] == "Un café in München , naïve façade ."
    assert caps["1002674143_1b742ab4b8.jpg"][5] == "sixth caption, no final newline"


def test_flickr8k_splits(tmp_path):
    folder = flickr_text(tmp_path)
    train = read_flickr8k(folder, tmp_path / "imgs", "train")
    assert isinstance(train, CaptionData) and train.files == ["1000268201_693b08cb0e.jpg", "1002674143_1b742ab4b8.jpg"]
    assert len(train.captions) == 8 and train.captions_of(1)[-1] == "sixth caption, no final newline"
    assert read_flickr8k(folder, None, "val").files == ["1001773457_577c3a7d70.jpg"]
    assert len(read_flickr8k(folder, None, "all").files) == 3
    with pytest.raises(ValueError, match="unknown Flickr8k split"):
        read_flickr8k(folder, None, "validation")


def test_flickr8k_bad_inputs(tmp_path):
    folder = flickr_text(tmp_path)
    write(folder / "Flickr_8k.testImages.txt", "9999_nocaption.jpg\n")
    with pytest.raises(DatasetFormatError, match="9999_nocaption.jpg, which has no caption"):
        read_flickr8k(folder, None, "test")
    (folder / "Flickr_8k.devImages.txt").unlink()
    with pytest.raises(DatasetFormatError, match="devImages.txt is missing"):
        read_flickr8k(folder, None, "val")
    write(folder / "Flickr8k.token.txt", "1000268201_693b08cb0e.jpg#0\tok\nthis line has no index\n")
    with pytest.raises(DatasetFormatError, match=r"Flickr8k.token.txt:2: expected"):
        read_flickr8k_tokens(folder / "Flickr8k.token.txt")
    (folder / "Flickr8k.token.txt").unlink()
    with pytest.raises(DatasetFormatError, match="missing"):
        read_flickr8k(folder, None, "train")


# ------------------------------------------------------------------------------------------- seed 000
def seed000_phase(folder: Path, phase: str, n: int = 4, dim: int = 2048, rng=None) -> np.ndarray:
    rng = rng or np.random.default_rng(0)
    names = [f"COCO_val2014_{i:012d}.jpg" for i in range(n)]
    write(folder / phase / f"{phase}_images_names.txt", "\n".join(names) + "\n")
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors.tofile(folder / phase / f"{phase}_images_vectors.bin")
    lines = []
    for i, name in enumerate(names):
        for k in range(6 if i == 0 else 5):
            lines.append(f"{name}\tUna niña con un vestido rosa número {k} </s>  ")
    write(folder / phase / f"{phase}_captions.txt", "\n".join(lines), newline="\r\n")
    return vectors


def test_seed000_reads_three_files(tmp_path):
    vectors = seed000_phase(tmp_path, "test_A")
    data, got = read_seed000(tmp_path, "test_A")
    assert got.dtype == np.float32 and got.shape == (4, 2048) and np.array_equal(got, vectors)
    assert data.lang == "es" and len(data.files) == 4 and len(data.captions) == 21
    assert data.captions[0] == "Una niña con un vestido rosa número 0"
    assert len(data.captions_of(0)) == 6


def test_seed000_bad_inputs(tmp_path):
    seed000_phase(tmp_path, "train")
    vec = tmp_path / "train" / "train_images_vectors.bin"
    full = vec.read_bytes()
    vec.write_bytes(full[:-10])
    with pytest.raises(DatasetFormatError, match="truncated"):
        read_seed000(tmp_path, "train")
    vec.write_bytes(full[: 3 * 2048 * 4])
    with pytest.raises(DatasetFormatError, match="holds 3 vectors .* lists 4 images"):
        read_seed000(tmp_path, "train")
    vec.write_bytes(full)
    cap = tmp_path / "train" / "train_captions.txt"
    write(cap, cap.read_text() + "\nCOCO_unknown.jpg\tuna foto")
    with pytest.raises(DatasetFormatError, match="COCO_unknown.jpg"):
        read_seed000(tmp_path, "train")
    cap.unlink()
    with pytest.raises(DatasetFormatError, match="train_captions.txt is missing"):
        read_seed000(tmp_path, "train")
    write(tmp_path / "train" / "train_images_names.txt", "")
    with pytest.raises(DatasetFormatError, match="empty|missing"):
        read_seed000(tmp_path, "train")


# ------------------------------------------------------------------------------------- COCO / Karpathy
def test_coco_captions_and_absent_images(tmp_path):
    files = ["COCO_train2014_000000000009.jpg", "COCO_train2014_000000000025.jpg"]
    caps = ["A plate of food  ", " a dish\twith broccoli ", "Giraffes   eating", "x", "y", "z", "w", "six"]
    write_coco_captions(tmp_path / "annotations" / "captions_train2014.json", files, caps, [0, 0, 1, 1, 1, 1, 1, 1])
    for f in files:
        jpeg(tmp_path / "train2014" / f)
    data = read_coco_captions(tmp_path / "annotations" / "captions_train2014.json", tmp_path / "train2014")
    assert data.captions[:3] == ["A plate of food", "a dish with broccoli", "Giraffes eating"]
    assert len(data.captions_of(1)) == 6
    check_images(data)
    (tmp_path / "train2014" / files[1]).unlink()
    with pytest.raises(DatasetFormatError, match="1 of 2 listed images are absent"):
        check_images(data)


@pytest.mark.parametrize("key", ["id", "file_name"])
def test_coco_two_images_with_one_id_or_one_file_are_refused(tmp_path, key):
    # one picture under two ids would be its own wrong answer in search (and one id for two pictures, ambiguous)
    p = tmp_path / "captions_val2014.json"
    write_coco_captions(p, ["a.jpg", "b.jpg"], ["a cat", "a dog"], [0, 1])
    doc = json.loads(p.read_text())
    doc["images"][1][key] = doc["images"][0][key]
    p.write_text(json.dumps(doc))
    shared = repr(doc["images"][0][key])
    with pytest.raises(DatasetFormatError, match=f"at images: two share the {key} {shared} \\(ids "):
        read_coco_captions(p)


def test_coco_truncated_json(tmp_path):
    p = tmp_path / "captions_val2014.json"
    write_coco_captions(p, ["a.jpg"], ["a cat"], [0])
    p.write_bytes(p.read_bytes()[:-7])
    with pytest.raises(DatasetFormatError, match="truncated"):
        read_coco_captions(p)


def karpathy_doc(n_per_split: dict) -> dict:
    images, sid = [], 0
    for split, n in n_per_split.items():
        for i in range(n):
            folder = "train2014" if split == "train" else "val2014"
            sents = [
                {"raw": f"A {split} picture number {i} . ", "tokens": ["a"], "sentid": sid + k}
                for k in range(6 if i == 0 else 5)
            ]
            sid += len(sents)
            images.append(
                {
                    "filepath": folder,
                    "filename": f"COCO_{folder}_{len(images):012d}.jpg",
                    "split": split,
                    "sentences": sents,
                    "cocoid": len(images),
                }
            )
    return {"dataset": "coco", "images": images}


def test_karpathy_splits(tmp_path):
    p = tmp_path / "dataset_coco.json"
    p.write_text(json.dumps(karpathy_doc({"train": 3, "restval": 2, "val": 2, "test": 4})))
    train = read_karpathy_captions(p, "train", tmp_path)
    assert len(train.files) == 5 and train.files[0] == "train2014/COCO_train2014_000000000000.jpg"
    assert train.captions[0] == "A train picture number 0 ." and len(train.captions_of(0)) == 6
    assert len(read_karpathy_captions(p, "test").files) == 4
    with pytest.raises(ValueError, match="no images in split 'dev'"):
        read_karpathy_captions(p, "dev")


# -------------------------------------------------------------------------------------- Tiny ImageNet
def tiny_imagenet(root: Path, classes=("n01443537", "n01629819"), per_class: int = 2) -> Path:
    words = {c: [f"word{c[-2:]}", "other name"] for c in classes}
    train = {c: [(f"{c}_{k}.JPEG", (0, 1, 60, 62)) for k in range(per_class)] for c in classes}
    val = [(f"val_{i}.JPEG", c, (2, 3, 50, 51)) for i, c in enumerate(classes)]
    write_tiny_imagenet_index(root, list(classes), words, train, val)
    # the real words.txt names all of WordNet (82,115 lines), with CRLF here for good measure
    write(
        root / "words.txt",
        "n00001740\tentity\n" + "".join(f"{c}\t{', '.join(w)}\n" for c, w in words.items()),
        newline="\r\n",
    )
    for c, items in train.items():
        for f, _ in items:
            jpeg(root / "train" / c / "images" / f)
    for f, _, _ in val:
        jpeg(root / "val" / "images" / f)
    return root


def test_tiny_imagenet_real_layout(tmp_path):
    root = tiny_imagenet(tmp_path / "tiny-imagenet-200")
    train = read_tiny_imagenet(root, "train")
    assert len(train.files) == 4 and train.words["n01443537"] == ["word37", "other name"]
    assert "n00001740" not in train.words
    check_images(train)
    val = read_tiny_imagenet(root, "val")
    (root / val.files[0]).unlink()
    with pytest.raises(DatasetFormatError, match="absent"):
        check_images(val)


# ---------------------------------------------------------------------------------------- word vectors
def vec_text(words, dim, header=True, sep="\n", trailing=" ") -> str:
    rng = np.random.default_rng(1)
    rows = [w + " " + " ".join(f"{x:.4f}" for x in rng.standard_normal(dim)) + trailing for w in words]
    return (f"{len(words)} {dim}{sep}" if header else "") + sep.join(rows)


WORDS = ["</s>", ",", "the", "niño", "café", "año"]


def test_scan_word2vec_and_glove(tmp_path):
    w2v = write(tmp_path / "a.vec", vec_text(WORDS, 5, header=True, sep="\r\n") + "\r\n")
    assert scan_vectors(w2v) == {"format": "word2vec", "vectors": 6, "dimension": 5, "header": [6, 5]}
    glove = write(tmp_path / "g.txt", vec_text(WORDS, 4, header=False, trailing=""))  # no final newline
    assert scan_vectors(glove, "glove") == {"format": "glove", "vectors": 6, "dimension": 4, "header": None}
    with pytest.raises(DatasetFormatError, match="no 'count dim' header"):
        scan_vectors(glove, "word2vec")
    with pytest.raises(DatasetFormatError, match="it is word2vec"):
        scan_vectors(w2v, "glove")


def test_scan_bad_vector_files(tmp_path):
    good = vec_text(WORDS, 5)
    truncated = write(tmp_path / "t.vec", good[: len(good) - 9])
    with pytest.raises(DatasetFormatError, match="truncated"):
        scan_vectors(truncated)
    more = write(tmp_path / "m.vec", "7 5\n" + good.split("\n", 1)[1])
    with pytest.raises(DatasetFormatError, match="header says 7 vectors .* 6 rows"):
        scan_vectors(more)
    wrong_dim = write(tmp_path / "d.vec", "6 300\n" + good.split("\n", 1)[1])
    with pytest.raises(DatasetFormatError, match=r"d.vec:2: expected a word and 300 numbers, got 6"):
        scan_vectors(wrong_dim)
    with pytest.raises(DatasetFormatError, match="empty"):
        scan_vectors(write(tmp_path / "e.vec", ""))
    with pytest.raises(DatasetFormatError, match="missing"):
        scan_vectors(tmp_path / "nope.vec")


def test_read_text_vectors_messy_but_valid(tmp_path):
    import gzip

    rng = np.random.default_rng(1)
    expected = rng.standard_normal((6, 5))
    text = vec_text(WORDS, 5, sep="\r\n", trailing="")  # CRLF, no trailing space, no final newline
    p = write(tmp_path / "a.vec", text)
    words, m, info = read_text_vectors(p)
    assert words == WORDS and m.dtype == np.float32 and np.allclose(m, expected, atol=1e-4)
    assert info == {"format": "word2vec", "vectors": 6, "dimension": 5, "header": [6, 5]}
    words, m, _ = read_text_vectors(p, limit=3)
    assert words == WORDS[:3] and m.shape == (3, 5)
    g = tmp_path / "g.txt.gz"
    g.write_bytes(gzip.compress(vec_text(WORDS, 5, header=False).encode()))  # fastText-style trailing spaces
    words, m, info = read_text_vectors(g)
    assert words == WORDS and info["format"] == "glove" and np.allclose(m, expected, atol=1e-4)
    dup = write(tmp_path / "d.txt", vec_text(["a", "b", "a"], 2, header=False))
    with pytest.warns(UserWarning, match="1 duplicate"):
        assert read_text_vectors(dup)[0] == ["a", "b"]


def test_read_text_vectors_bad_files(tmp_path):
    good = vec_text(WORDS, 5)
    with pytest.raises(DatasetFormatError, match="truncated"):
        read_text_vectors(write(tmp_path / "t.vec", good[: len(good) - 9]))
    body = good.split("\n", 1)[1]
    with pytest.raises(DatasetFormatError, match="header says 7 vectors .* 6 rows"):
        read_text_vectors(write(tmp_path / "m.vec", "7 5\n" + body))
    with pytest.raises(DatasetFormatError, match="header says 7 vectors .* 6 rows"):
        read_text_vectors(write(tmp_path / "m.vec", "7 5\n" + body), limit=2)  # the count is checked anyway
    with pytest.raises(DatasetFormatError, match="header says 5 vectors .* 6 rows"):
        read_text_vectors(write(tmp_path / "f.vec", "5 5\n" + body))
    with pytest.raises(DatasetFormatError, match=r"d.vec:2: expected a word and 300 numbers"):
        read_text_vectors(write(tmp_path / "d.vec", "6 300\n" + body))
    with pytest.raises(DatasetFormatError, match="empty"):
        read_text_vectors(write(tmp_path / "e.vec", ""))
    with pytest.raises(DatasetFormatError, match="no vectors"):
        read_text_vectors(write(tmp_path / "h.vec", "0 300\n"))


# -------------------------------------------------------------------------------------------- inspect
def run_inspect(capsys, *args):
    """(exit code, the JSON summary printed or None, stderr): `python -m helpers inspect ...` in-process."""
    from helpers.__main__ import main

    code = main(["inspect", *map(str, args)])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def test_inspect_every_format(tmp_path, capsys):
    # coco (our writer, COCO's layout: annotations/ next to train2014/)
    files = ["COCO_train2014_000000000009.jpg", "COCO_train2014_000000000025.jpg"]
    write_coco_captions(
        tmp_path / "coco" / "annotations" / "captions_train2014.json", files, ["a", "b", "c"], [0, 0, 1]
    )
    for f in files:
        jpeg(tmp_path / "coco" / "train2014" / f)
    code, s, _ = run_inspect(capsys, "coco", tmp_path / "coco" / "annotations" / "captions_train2014.json")
    assert code == 0 and s["images"] == 2 and s["captions"] == 3 and s["images_missing"] == 0
    kp = tmp_path / "dataset_coco.json"
    kp.write_text(json.dumps(karpathy_doc({"train": 2, "test": 1})))
    code, s, err = run_inspect(capsys, "coco", kp)  # the split file alone: counted, but its images are absent
    assert s["variant"] == "karpathy" and s["images"] == 3 and s["splits"]["train"]["captions"] == 11
    assert code == 1 and s["images_missing"] == 3 and "first missing file: train2014/COCO_train2014_" in err
    # flickr8k: the dataset folder as distributed (text folder + image folder)
    flickr_text(tmp_path / "flickr" / "Flickr8k_text")
    for name in ("1000268201_693b08cb0e.jpg", "1001773457_577c3a7d70.jpg", "1002674143_1b742ab4b8.jpg"):
        jpeg(tmp_path / "flickr" / "Flicker8k_Dataset" / name)
    code, s, _ = run_inspect(capsys, "flickr8k", tmp_path / "flickr")
    assert code == 0 and s["images"] == 3 and s["captions"] == 11 and s["captions_per_image"]["max"] == 6
    assert s["splits"]["train"]["images"] == 2 and s["images_missing"] == 0
    # tiny-imagenet
    tiny_imagenet(tmp_path / "tin" / "tiny-imagenet-200")
    code, s, _ = run_inspect(capsys, "tiny-imagenet", tmp_path / "tin" / "tiny-imagenet-200")
    assert code == 0 and s["classes"] == 2 and s["images"] == 6
    # coco-spanish
    seed000_phase(tmp_path / "es", "train", n=3)
    seed000_phase(tmp_path / "es", "test_A", n=2)
    code, s, _ = run_inspect(capsys, "coco-spanish", tmp_path / "es")
    assert code == 0 and s["vectors"] == 5 and s["dimension"] == 2048 and set(s["splits"]) == {"train", "test_A"}
    # word vectors
    code, s, _ = run_inspect(capsys, "word2vec", write(tmp_path / "a.vec", vec_text(WORDS, 5)))
    assert (s["vectors"], s["dimension"]) == (6, 5)
    code, s, _ = run_inspect(capsys, "glove", write(tmp_path / "g.txt", vec_text(WORDS, 3, header=False)))
    assert (s["vectors"], s["dimension"]) == (6, 3)


def test_inspect_reports_problems(tmp_path, capsys):
    flickr_text(tmp_path / "f")
    jpeg(tmp_path / "f" / "1000268201_693b08cb0e.jpg")  # the other two images are absent
    code, _, err = run_inspect(capsys, "flickr8k", tmp_path / "f")
    assert code == 1 and "absent" in err
    code, _, err = run_inspect(capsys, "word2vec", write(tmp_path / "t.vec", vec_text(WORDS, 5)[:-12]))
    assert code == 1 and "truncated" in err
    code, _, err = run_inspect(capsys, "tiny-imagenet", tmp_path)
    assert code == 1 and "wnids.txt" in err
    code, _, err = run_inspect(capsys, "imagenet", tmp_path)
    assert code == 1 and "unknown format" in err


def test_inspect_the_embedded_dataset(capsys):
    """`inspect` reads the book's own files (skipped until the embedded dataset is built)."""
    from helpers.embedded import dataset_root

    root = dataset_root()
    if not (root / "manifest.json").is_file():
        pytest.skip("the embedded dataset is not built (python -m helpers build)")
    code, s, _ = run_inspect(capsys, "coco", root / "scenes" / "annotations" / "captions_val.json")
    assert code == 0 and s["images"] > 0 and s["captions"] >= s["images"] and s["images_missing"] == 0
    n_en = s["captions"]
    code, s, _ = run_inspect(capsys, "coco", root / "scenes" / "annotations" / "captions_val_es.json")
    assert code == 0 and s["captions"] == n_en
    code, s, _ = run_inspect(capsys, "tiny-imagenet", root / "classes")
    assert code == 0 and s["classes"] > 100 and s["splits"]["val"]["images_missing"] == 0


def test_vector_files_are_recognised_by_their_bytes_not_only_their_name(tmp_path):
    import bz2
    import gzip
    import lzma
    import zipfile

    rng = np.random.default_rng(1)
    expected = rng.standard_normal((6, 5))
    text = vec_text(WORDS, 5).encode()
    for name, pack in (("gz.vec", gzip.compress), ("bz.vec", bz2.compress), ("xz.txt", lzma.compress)):
        p = tmp_path / name  # compressed, but the name does not say so (a download saved without .gz)
        p.write_bytes(pack(text))
        words, m, info = read_text_vectors(p)
        assert words == WORDS and np.allclose(m, expected, atol=1e-4) and info["header"] == [6, 5]
        assert scan_vectors(p)["vectors"] == 6
    z = tmp_path / "crawl.vec"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("crawl.vec", text)
    with pytest.raises(DatasetFormatError, match="zip archive: unzip it"):
        read_text_vectors(z)


def test_vector_header_with_a_tab_and_numbers_that_numpy_rejects(tmp_path):
    body = vec_text(WORDS, 5).split("\n", 1)[1]
    words, m, info = read_text_vectors(write(tmp_path / "t.vec", "6\t5\n" + body))  # gensim reads it too
    assert words == WORDS and info["header"] == [6, 5]
    # Python's float() takes '1_0'; NumPy's parser does not: the row is named, not "a row does not parse"
    bad = write(tmp_path / "u.vec", "2 3\na 1 2 3\nb 1_0 5 6\n")
    with pytest.raises(DatasetFormatError, match=r"u.vec:3: b'1_0' is not a number"):
        read_text_vectors(bad)


def test_vector_files_in_utf16_or_with_cr_only_line_ends_say_what_to_do(tmp_path):
    text = vec_text(WORDS, 5)
    for name, data in (("le.vec", text.encode("utf-16")), ("be.txt", text.encode("utf-16-be"))):
        with pytest.raises(DatasetFormatError, match="UTF-16 text; save it as UTF-8"):
            read_text_vectors(write_bytes(tmp_path / name, data))
    cr = write_bytes(tmp_path / "mac.vec", text.replace("\n", "\r").encode())
    with pytest.raises(DatasetFormatError, match=r"mac.vec:1: lines end in a carriage return only"):
        scan_vectors(cr)  # it was read as one GloVe row whose word held the whole file


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_symlink_loop_in_an_image_folder_hides_no_other_image(tmp_path):
    import os

    from helpers.formats_core import missing_images

    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    os.symlink("loop", tmp_path / "loop")  # ELOOP when followed
    os.symlink("loop", tmp_path / "c.jpg")

    class Data:
        image_dir, files = tmp_path, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]

    assert missing_images(Data()) == ["c.jpg", "d.jpg"]


@pytest.mark.parametrize("limit, error", [(-1, ValueError), (0, ValueError), ("2", TypeError), (2.5, TypeError)])
def test_vector_limit_must_be_a_positive_int(tmp_path, limit, error):
    p = write(tmp_path / "a.vec", vec_text(WORDS, 5))
    with pytest.raises(error, match="limit"):
        read_text_vectors(p, limit=limit)  # -1 said "has no vectors", "2" gave a raw comparison error
    assert read_text_vectors(p, limit=np.int64(2))[0] == WORDS[:2]
