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


def test_bleu_equals_nltk_corpus_bleu_and_reuses_the_references():
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    rng = np.random.default_rng(0)
    words = ["a", "red", "dog", "cat", "two", "cats", "on", "the", "grass", "tree", "by"]

    def sentence(low=1):
        return [str(w) for w in rng.choice(words, size=rng.integers(low, 10))]

    refs = [[sentence() for _ in range(int(rng.integers(1, 6)))] for _ in range(50)]
    for trial in range(4):  # later calls reuse the prepared references
        hyps = [sentence() for _ in refs]
        if trial == 1:
            hyps[0], hyps[1] = [], ["a"]  # an empty hypothesis, one shorter than every n-gram order
        if trial == 2:
            hyps = [["zebra"] for _ in refs]  # no unigram matches: all four scores are 0
        expected = corpus_bleu(refs, hyps, weights=M.BLEU_WEIGHTS, smoothing_function=SmoothingFunction().method1)
        assert list(M.bleu(refs, hyps).values()) == [float(x) for x in expected]
    for k in range(M._BLEU_CACHE_SIZE + 2):  # other reference sets push the oldest out
        M.bleu([r + [["extra", str(k)]] for r in refs], hyps)
    assert len(M._BLEU_REFERENCES) == M._BLEU_CACHE_SIZE
