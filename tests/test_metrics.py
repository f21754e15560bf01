"""Retrieval and captioning metrics: vectorized ranks agree with seed 000's loop, and the summaries are right."""

import numpy as np
import pytest
import torch

from helpers import metrics as M
from tests.reference import ranks_loop


def test_ranks_match_the_sorted_loop_including_ties():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(300, 16)).astype(np.float32)
    x = rng.normal(size=(50, 16)).astype(np.float32)
    x[7] = x[3]  # an exact tie between two items
    t = rng.integers(0, 50, size=300)
    t[:10] = 7
    for metric in ("l2", "cosine"):
        d = M.distances(q, x, metric).numpy()
        loop = ranks_loop(d, t)
        fast = M.ranks_from_distances(torch.from_numpy(d), t).numpy()
        assert np.array_equal(loop, fast)
        assert np.array_equal(M.ranks(q, x, t, metric, chunk=64), fast)


def test_perfect_and_worst_rankings():
    x = np.eye(10, dtype=np.float32)
    assert np.all(M.ranks(x, x, np.arange(10)) == 1)
    # query equal to another item: the target is never first
    r = M.ranks(x[[1]], x, [0])
    assert r[0] == 2  # item 1 at distance 0, then item 0 before items 2..9 by index (all at distance 2)


def test_retrieval_metrics_values():
    m = M.retrieval_metrics([1, 2, 10, 100])
    assert m["recall@1"] == 0.25 and m["recall@5"] == 0.5 and m["recall@10"] == 0.75
    assert m["median_rank"] == 6 and m["mean_rank"] == pytest.approx(28.25)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.1 + 0.01) / 4)
    with pytest.raises(ValueError):
        M.retrieval_metrics([])


def test_chance_metrics_match_random_rankings():
    rng = np.random.default_rng(1)
    r = np.array([rng.permutation(100).tolist().index(0) + 1 for _ in range(20000)])
    emp, ch = M.retrieval_metrics(r), M.chance_metrics(100)
    assert emp["recall@5"] == pytest.approx(ch["recall@5"], abs=0.01)
    assert emp["mrr"] == pytest.approx(ch["mrr"], abs=0.01)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="queries"):
        M.ranks(np.zeros((3, 2)), np.zeros((4, 2)), [0, 1])
    with pytest.raises(ValueError, match="metric"):
        M.distances(np.zeros((1, 2)), np.zeros((1, 2)), "manhattan")


# ------------------------------------------------------------- inputs a tester found (lengths, k, shapes)
def test_search_precision_refuses_mismatched_labels_empty_inputs_and_bad_k():
    e = np.eye(3)
    with pytest.raises(ValueError, match=r"query_labels \(1,\)"):
        M.search_precision(e, e, [0, 1, 2], [0])  # one label broadcast over three queries
    with pytest.raises(ValueError, match=r"image_labels \(2,\)"):
        M.search_precision(e, e, [0, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="0 images"):
        M.search_precision(np.zeros((0, 3)), e, [], [0, 1, 2])
    with pytest.raises(ValueError, match="0 queries"):
        M.search_precision(e, np.zeros((0, 3)), [0, 1, 2], [])
    with pytest.raises(ValueError, match="same D"):
        M.search_precision(e, np.eye(4), [0, 1, 2], [0, 1, 2, 3])
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be at least 1"):
            M.search_precision(e, e, [0, 1, 2], [0, 1, 2], k=k)
    with pytest.raises(TypeError, match="k must be a positive int"):
        M.search_precision(e, e, [0, 1, 2], [0, 1, 2], k=2.5)
    # valid uses keep working: numpy integer k and labels, k above the number of images takes them all
    assert M.search_precision(e, e, np.arange(3), np.arange(3), k=np.int64(1)).tolist() == [1.0, 1.0, 1.0]
    assert M.search_precision(e, e, [0, 1, 2], [0, 1, 2], k=50) == pytest.approx([1 / 3] * 3)


def test_flat_hits_refuse_empty_input_and_bad_k():
    with pytest.raises(ValueError, match="at least one image"):
        M.flat_hits(np.zeros((0, 3)), np.eye(3), [])
    with pytest.raises(ValueError, match="at least 1"):
        M.flat_hits(np.eye(3), np.eye(3), [0, 1, 2], ks=(0,))
    assert M.flat_hits(np.eye(3), np.eye(3), np.array([0, 1, 2]), ks=(1,))["hit@1"] == 1.0


def test_top_k_needs_a_positive_k_and_one_query():
    x = np.eye(3)
    for k in (0, -1):
        with pytest.raises(ValueError, match="k must be at least 1"):
            M.top_k(np.ones(3), x, k=k)
    with pytest.raises(TypeError, match="positive int"):
        M.top_k(np.ones(3), x, k=1.5)
    with pytest.raises(ValueError, match="one query"):
        M.top_k(np.ones((1, 3)), x)
    with pytest.raises(ValueError, match="0 items"):
        M.top_k(np.ones(3), np.zeros((0, 3)))
    idx, d = M.top_k(np.array([1.0, 0, 0]), x, k=10)  # k above N: all N items, as documented
    assert idx.tolist() == [0, 1, 2] and len(d) == 3
    assert M.top_k(np.ones(3), x, k=np.int64(2))[0].tolist() == [0, 1]


@pytest.mark.parametrize("n", [0, -1])
def test_chance_values_need_at_least_one_item(n):
    with pytest.raises(ValueError, match="n_items must be at least 1"):
        M.chance_metrics(n)
    with pytest.raises(ValueError, match="n_labels must be at least 1"):
        M.chance_hits(n)


def test_chance_values_check_k_and_accept_numpy_ints():
    with pytest.raises(ValueError, match="each k of ks"):
        M.chance_metrics(10, ks=(0,))
    with pytest.raises(TypeError, match="positive int"):
        M.chance_hits(10, ks=(1.5,))
    with pytest.raises(TypeError, match="positive int"):
        M.chance_metrics(10.0)
    with pytest.raises(ValueError, match="each k of ks"):
        M.retrieval_metrics([1, 2], ks=(-1,))
    assert M.chance_metrics(np.int64(4))["recall@5"] == 1.0  # k above n: recall 1
    assert M.chance_hits(4, (1, 8)) == {"hit@1": 0.25, "hit@8": 1.0}


@pytest.mark.parametrize(
    "q, x", [((3, 2), (4, 3)), ((3, 2, 2), (4, 2)), ((3, 2), (4, 2, 1)), ((3,), (4, 3)), ((3, 2), (4,))]
)
def test_ranks_and_distances_name_both_shapes(q, x):
    match = rf"queries of shape \({q[0]}.*items of shape \({x[0]}"
    with pytest.raises(ValueError, match=match):
        M.ranks(np.zeros(q), np.zeros(x), [0, 1, 2])
    with pytest.raises(ValueError, match=match):
        M.distances(np.zeros(q), np.zeros(x))


def test_ranks_of_no_queries_are_empty():
    assert M.ranks(np.zeros((0, 2)), np.eye(2), []).shape == (0,)
    assert M.ranks([], np.eye(2), []).shape == (0,)
