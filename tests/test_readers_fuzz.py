"""Property-based tests (Hypothesis): random and mutated bytes of valid dataset files never make a reader
raise anything but `DatasetFormatError`, and never write anything (issue "inputs made by others", kind 5).

Every reader that takes a file made by others is here: COCO captions JSON, Karpathy's split JSON, Flickr8k's
token file and Kaggle's captions.txt, Tiny ImageNet's index files, seed 000's files, and word-vector text
(word2vec/fastText and GloVe). Each example starts from a small valid file and mutates it (flip, insert,
delete or truncate bytes) or replaces it with random bytes.
"""

import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import formats as fm
from helpers import vectorfiles as vf

SETTINGS = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 60)),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

COCO = json.dumps(
    {
        "images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
        "annotations": [
            {"id": 1, "image_id": 1, "caption": "A dog runs."},
            {"id": 2, "image_id": 2, "caption": "Two cats, sleeping"},
        ],
    }
).encode()
KARPATHY = json.dumps(
    {
        "images": [
            {
                "filepath": "val2014",
                "filename": "a.jpg",
                "split": "train",
                "sentences": [{"raw": "A dog.", "tokens": ["a", "dog"]}],
            },
            {"filepath": "val2014", "filename": "b.jpg", "split": "test", "sentences": [{"tokens": ["a", "cat"]}]},
        ]
    }
).encode()
TOKENS = b"a.jpg#0\tA dog runs .\na.jpg#1\tA brown dog .\nb.jpg#0\tTwo cats sleep .\n"
KAGGLE = b'image,caption\na.jpg,"A dog, running ."\nb.jpg,Two cats sleep .\n'
WNIDS = b"n01\nn02\n"
VAL = b"val_0.JPEG\tn01\t0\t0\t10\t10\nval_1.JPEG\tn02\t1\t2\t3\t4\n"
BOXES = b"n01_0.JPEG\t0\t0\t10\t10\n"
VEC = b"3 4\nthe 0.1 0.2 0.3 0.4\nnew\xc2\xa0york 0.5 0.6 0.7 0.8\ndog 0.9 1.0 1.1 1.2\n"
GLOVE = b"the 0.1 0.2 0.3\n. . . 0.4 0.5 0.6\ndog 0.7 0.8 0.9\n"


@st.composite
def mutated(draw, valid: bytes):
    """`valid` with a few byte flips, insertions, deletions or a truncation; or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        else:
            del data[i:]
    return bytes(data)


def _listing(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


def _only_format_errors(folder, fn):
    """Run `fn`; anything but success or DatasetFormatError fails the test; nothing may be written."""
    before = _listing(folder)
    cwd = os.getcwd()
    os.chdir(folder)  # a reader writing a relative path would land here and be seen
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fm.DatasetWarning)
            fn()
    except fm.DatasetFormatError:
        pass
    finally:
        os.chdir(cwd)
    assert _listing(folder) == before, "a reader wrote into the folder it read"


def _write(folder, name, data):
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


@SETTINGS
@given(data=mutated(COCO))
def test_coco_captions(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("coco")
    p = _write(d, "captions_val2014.json", data)
    _only_format_errors(d, lambda: fm.read_coco_captions(p))


@SETTINGS
@given(data=mutated(KARPATHY), split=st.sampled_from(["train", "test", "val"]))
def test_karpathy(tmp_path_factory, data, split):
    d = tmp_path_factory.mktemp("karpathy")
    p = _write(d, "dataset_coco.json", data)
    _only_format_errors(d, lambda: fm.read_karpathy_captions(p, split))


@SETTINGS
@given(data=mutated(TOKENS))
def test_flickr8k_tokens(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("flickr")
    p = _write(d, "Flickr8k.token.txt", data)
    _only_format_errors(d, lambda: fm.read_flickr8k_tokens(p, {}, {}))


@SETTINGS
@given(data=mutated(KAGGLE))
def test_flickr8k_kaggle_csv(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("kaggle")
    p = _write(d, "captions.txt", data)
    _only_format_errors(d, lambda: fm.read_flickr8k_csv(p, {}, {}))


@SETTINGS
@given(wnids=mutated(WNIDS), val=mutated(VAL), boxes=mutated(BOXES), split=st.sampled_from(["train", "val"]))
def test_tiny_imagenet(tmp_path_factory, wnids, val, boxes, split):
    d = tmp_path_factory.mktemp("tiny")
    _write(d, "wnids.txt", wnids)
    _write(d, "val/val_annotations.txt", val)
    for wnid in ("n01", "n02"):
        _write(d, f"train/{wnid}/{wnid}_boxes.txt", boxes)
    _only_format_errors(d, lambda: fm.read_tiny_imagenet(d, split))


@SETTINGS
@given(
    names=mutated(b"a.jpg\nb.jpg\n"),
    caps=mutated(b"a.jpg\tUn perro.\nb.jpg\tDos gatos.\n"),
    n_vectors=st.integers(0, 3),
)
def test_seed000(tmp_path_factory, names, caps, n_vectors):
    d = tmp_path_factory.mktemp("seed000")
    _write(d, "test_A/test_A_images_names.txt", names)
    _write(d, "test_A/test_A_captions.txt", caps)
    _write(d, "test_A/test_A_images_vectors.bin", np.ones((n_vectors, 8), "<f4").tobytes())
    _only_format_errors(d, lambda: fm.read_seed000(d, "test_A", dim=8))


@SETTINGS
@given(data=mutated(VEC), suffix=st.sampled_from([".vec", ".txt"]))
def test_word2vec_text(tmp_path_factory, data, suffix):
    d = tmp_path_factory.mktemp("vec")
    p = _write(d, "v" + suffix, data)
    _only_format_errors(d, lambda: vf.read_text_vectors(p))
    _only_format_errors(d, lambda: vf.scan_vectors(p))


@SETTINGS
@given(data=mutated(GLOVE))
def test_glove_text_and_compressed(tmp_path_factory, data):
    import gzip

    d = tmp_path_factory.mktemp("glove")
    p = _write(d, "g.txt", data)
    _only_format_errors(d, lambda: vf.read_text_vectors(p))
    z = _write(d, "g.txt.gz", gzip.compress(GLOVE)[: max(1, len(data) % 60)])  # truncated gzip streams
    _only_format_errors(d, lambda: vf.read_text_vectors(z))


def test_inspect_and_loader_agree_on_the_vector_cases():
    """`inspect` (scan_vectors) and the loader (read_text_vectors) count the same words for every file."""
    from pathlib import Path

    cases = Path(__file__).resolve().parents[2] / "shared" / "cases" / "vectors"
    if not cases.is_dir():
        pytest.skip("../shared/cases is not beside the repository")
    for f in sorted(cases.iterdir()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fm.DatasetWarning)
                words, m, info = vf.read_text_vectors(f)
        except fm.DatasetFormatError as e:
            with pytest.raises(fm.DatasetFormatError) as again:
                vf.scan_vectors(f)
            assert str(again.value) == str(e)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fm.DatasetWarning)
            assert vf.scan_vectors(f) == info and len(words) == m.shape[0] == info["vectors"]
