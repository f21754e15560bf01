"""Probe round 5: wrong inputs of the caption metrics, retrieval ranks and the vocabulary raise clear errors."""

import numpy as np
import pytest
import torch

from helpers import caption_metrics as C
from helpers import metrics as M
from helpers import text as T

X = np.eye(3)
CAPS = [["a red dog"], ["a blue cat"], ["a green bird"]]


# ----------------------------------------------------------------------------- nearest_neighbour_captions
@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"train_captions": ["a red dog", "b", "c"]}, TypeError, r"train_captions\[0\] must be a list of caption"),
        ({"train_captions": "abc"}, TypeError, "train_captions must be a list"),
        ({"k": -1}, ValueError, "k must be at least 1"),
        ({"k": 0}, ValueError, "k must be at least 1"),
        ({"k": 1.5}, TypeError, "k must be a positive int"),
        ({"chunk": 0}, ValueError, "chunk must be at least 1"),
        ({"train_captions": [[], ["b"], ["c"]]}, ValueError, r"query 0: its nearest training image\(s\) \[0\]"),
        ({"train_captions": CAPS[:2]}, ValueError, "3 training images but 2 caption lists"),
        ({"train_features": np.zeros((0, 3))}, ValueError, "0 training images"),
        ({"query_features": X + 1j}, TypeError, "query_features must be real numbers"),
    ],
)
def test_nearest_neighbour_captions_refuses_wrong_inputs(kwargs, error, message):
    args = {"query_features": X, "train_features": X, "train_captions": CAPS, **kwargs}
    with pytest.raises(error, match=message):
        C.nearest_neighbour_captions(**args)


def test_nearest_neighbour_captions_k_above_n_uses_all_images():
    out, idx = C.nearest_neighbour_captions(X, X, CAPS, k=5)
    assert idx.tolist() == [0, 1, 2] and len(out) == 3 and all(o in sum(CAPS, []) for o in out)
    out1, idx1 = C.nearest_neighbour_captions(X, X, CAPS, chunk=1)
    assert out1 == ["a red dog", "a blue cat", "a green bird"] and idx1.tolist() == [0, 1, 2]


# ----------------------------------------------------------------------------------------------- ranks
Q, ITEMS = np.random.default_rng(0).random((3, 4)), np.random.default_rng(1).random((5, 4))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: M.ranks(Q, ITEMS, np.zeros((3, 3), int)), ValueError, r"targets must be \(Q,\)"),
        (lambda: M.ranks(Q, ITEMS, [0, 1, 2], dtype=torch.int64), TypeError, "torch floating dtype"),
        (lambda: M.ranks(Q, ITEMS, [0, 1, 2], dtype=np.float32), TypeError, "torch floating dtype"),
        (lambda: M.ranks(Q + 1j, ITEMS, [0, 1, 2]), TypeError, "queries must be real numbers"),
        (lambda: M.ranks(Q, torch.tensor(ITEMS) * 1j, [0, 1, 2]), TypeError, "items must be real numbers"),
        (lambda: M.ranks((q for q in Q), ITEMS, [0, 1, 2]), TypeError, "queries must be an array.*generator"),
        (lambda: M.ranks(Q, ITEMS, (t for t in range(3))), TypeError, "targets must be an array.*generator"),
        (lambda: M.distances(Q + 1j, ITEMS), TypeError, "queries must be real numbers"),
        (lambda: M.retrieval_metrics([1.5, 2.2]), ValueError, "whole 1-based ranks"),
        (lambda: M.retrieval_metrics([[1, 2], [3, 4]]), ValueError, r"flat \(Q,\)"),
    ],
)
def test_ranks_and_retrieval_metrics_refuse_wrong_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_ranks_keeps_column_targets_and_whole_float_ranks():
    flat = M.ranks(Q, ITEMS, [0, 1, 2])
    assert np.array_equal(M.ranks(Q, ITEMS, np.array([[0], [1], [2]])), flat)
    assert M.retrieval_metrics([1.0, 2.0]) == M.retrieval_metrics([1, 2])


# ---------------------------------------------------------------------------------------- boxes
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: C.box_cell_fraction([np.nan, 0, 64, 64], (7, 7)), ValueError, "4 finite numbers"),
        (lambda: C.attention_in_box(np.ones((7, 7)), [np.nan, 0, 128, 128]), ValueError, "4 finite numbers"),
        (lambda: C.box_cell_fraction([0, 0, 64, 64], (7, 7), image_size=0), ValueError, "image_size must be"),
        (lambda: C.attention_in_box(np.ones((7, 7)), [0, 0, 64, 64], image_size=-1), ValueError, "image_size"),
        (lambda: C.box_cell_fraction([0, 0, 64, 64], (0, 0)), ValueError, "grid H must be at least 1"),
        (lambda: C.box_cell_fraction([0, 0, 64, 64], (7,)), ValueError, r"grid must be \(H, W\)"),
        (lambda: C.box_cell_fraction(["0", "0", "64", "64"], (7, 7)), TypeError, "boxes must be numbers"),
        (lambda: C.attention_in_box(np.ones((7, 7)), ["a", "b", "c", "d"]), TypeError, "boxes must be numbers"),
        (lambda: C.attention_in_box(np.ones((7, 7)), [[0, 0, 9, 9]]), ValueError, "4 finite numbers"),
        (lambda: C.box_cell_fraction([[0, 0, 64, 64], [1, 2, 3]], (7, 7)), ValueError, "4 finite numbers"),
        (lambda: C.summarize_attention_in_box("hit"), TypeError, "records must be a list"),
        (lambda: C.summarize_attention_in_box([1]), TypeError, r"records\[0\] must be a dict"),
    ],
)
def test_boxes_refuse_wrong_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_boxes_keep_their_results_and_summary_reads_a_generator_once():
    assert C.box_cell_fraction([], (7, 7)) == 0.0
    assert C.box_cell_fraction([[0, 0, 64, 64], (10, 10, 100, 100)], (7, 7)) == pytest.approx(21 / 49)
    assert C.box_cell_fraction((0, 0, 64, 64), (4, 4)) == 0.25
    assert C.attention_in_box(np.eye(4), (0, 0, 32, 32)) is True
    records = [{"hit": True, "uniform": 0.5}, {"hit": False, "uniform": 0.25}]
    summary = C.summarize_attention_in_box(r for r in records)
    assert summary == {"attention_in_box": 0.5, "attention_in_box_uniform": 0.375, "object_words": 2}


# ---------------------------------------------------------------------------------------- Vocabulary
V = T.Vocabulary.build([["a", "b"], ["a"]])


@pytest.mark.parametrize(
    "ids, error, message",
    [
        ([-1], ValueError, r"ids must be in 0\.\.5"),
        ([99], ValueError, r"ids must be in 0\.\.5, got 99"),
        ([4.7], TypeError, "ids must be ints, not float64"),
        ("45", TypeError, "ids must be a list of ints, not str"),
        ([True], TypeError, "ids must be ints, not bool"),
        ([[4, 5]], ValueError, "flat sequence of ints"),
    ],
)
def test_decode_refuses_wrong_ids(ids, error, message):
    with pytest.raises(error, match=message):
        V.decode(ids)


def test_decode_keeps_lists_arrays_and_tensors():
    for ids in ([1, 4, 5, 2, 0], np.array([1, 4, 5, 2, 0], np.int32), torch.tensor([1, 4, 5, 2, 0])):
        assert V.decode(ids) == ["a", "b"]
    assert V.decode([1, 4, 2], strip=False) == ["<start>", "a", "<end>"] and V.decode([]) == []


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: T.Vocabulary.build([["a"]], min_count=float("nan")), TypeError, "min_count must be a positive int"),
        (lambda: T.Vocabulary.build([["a"]], min_count="1"), TypeError, "min_count must be a positive int"),
        (lambda: T.Vocabulary.build([["a"]], min_count=0), ValueError, "min_count must be at least 1"),
        (lambda: T.Vocabulary.build([["a", None]]), TypeError, "tokens must be str, got NoneType"),
        (lambda: V.pad_batch([[4]], max_len=0), ValueError, "max_len must be at least 1"),
        (lambda: V.pad_batch([[4]], max_len=2.5), TypeError, "max_len must be a positive int"),
        (lambda: T.label_vectors(None, ["n1"], None), TypeError, "words must be a dict"),
    ],
)
def test_vocabulary_and_label_vectors_refuse_wrong_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_pad_batch_of_no_sequences_is_empty():
    assert V.pad_batch([]).shape == (0, 0) and V.pad_batch([], max_len=3).shape == (0, 3)
    assert V.pad_batch([[4, 5], [4]]).tolist() == [[4, 5], [4, 0]]
