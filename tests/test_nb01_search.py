"""Tests of the helpers chapter 1 (search by regression) teaches: caption centroids, the word table, evaluation,
top-k search, array and word-vector caches, run logs. Small synthetic inputs; no dataset needed."""

from pathlib import Path

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from helpers import datasets, features, metrics, results, text
from helpers.formats import CaptionData
from tests.reference import ranks_loop


@pytest.fixture
def kv():
    words = ["a", "cat", "dog", "left", "of"]
    vectors = np.arange(len(words) * 3, dtype=np.float32).reshape(len(words), 3)
    k = KeyedVectors(vector_size=3, count=len(words))
    k.add_vectors(words, vectors)
    return k


def test_centroids_mean_known_words_and_mask(kv):
    toks = [["a", "cat"], ["zebra"], [], ["cat", "zebra", "cat"]]
    x, known = text.centroids(toks, kv)
    assert x.shape == (4, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], (kv["a"] + kv["cat"]) / 2)
    assert known.tolist() == [True, False, False, True]
    np.testing.assert_array_equal(x[1], 0)
    np.testing.assert_allclose(x[3], kv["cat"])


def test_centroids_ignore_word_order(kv):
    x, _ = text.centroids([["a", "cat", "left", "of", "a", "dog"], ["a", "dog", "left", "of", "a", "cat"]], kv)
    np.testing.assert_array_equal(x[0], x[1])


def test_word_table_encodes_padded_sequences(kv):
    table = text.WordTable(kv)
    ids, lengths = table.encode([["a", "cat"], ["dog", "zebra", "of", "a"], []])
    assert ids.shape == (3, 3) and ids.dtype == np.int64
    assert lengths.tolist() == [2, 3, 0]
    assert table.dropped == 1  # zebra
    v = table.vectors
    assert v.shape == (len(table), 3)
    np.testing.assert_array_equal(v[0].numpy(), 0)  # padding row
    np.testing.assert_allclose(v[ids[1, 0]].numpy(), kv["dog"])
    assert ids[1, :3].tolist() == [table.index["dog"], table.index["of"], table.index["a"]]
    assert ids[0, 2] == 0 and (ids[2] == 0).all()
    # new words extend the table, old rows keep their numbers
    before = dict(table.index)
    table.encode([["left"]])
    assert all(table.index[w] == i for w, i in before.items())
    assert table.vectors.shape[0] == len(table) == len(before) + 1


def _toy_captions(n_images=4, per=2):
    files = [f"im{i}.jpg" for i in range(n_images)]
    owner = np.repeat(np.arange(n_images), per)
    caps = [f"caption {k} of image {i}" for k, i in enumerate(owner)]
    meanings = [{"k": k} for k in range(len(caps))]
    return CaptionData(
        Path("/nowhere"), files, caps, owner, meanings, [f"scene{i}" for i in range(n_images)], "en", "toy/train"
    )


def test_subset_keeps_captions_and_renumbers():
    d = _toy_captions()
    sub = datasets.subset(d, [3, 1])
    assert sub.files == ["im3.jpg", "im1.jpg"]
    assert sub.scenes == ["scene3", "scene1"]
    assert len(sub.captions) == 4
    for cap, owner, m in zip(sub.captions, sub.caption_image, sub.meanings):
        original = d.captions.index(cap)
        assert sub.files[owner] == d.files[d.caption_image[original]]
        assert m == d.meanings[original]
    assert d.files == [f"im{i}.jpg" for i in range(4)]  # the original is untouched


def test_evaluate_perfect_and_matches_seed_loop():
    rng = np.random.default_rng(0)
    items = rng.normal(size=(20, 8)).astype(np.float32)
    targets = np.repeat(np.arange(20), 2)
    rows, r = metrics.evaluate({"test_A": items[targets]}, {"test_A": items}, {"test_A": targets})
    assert {(x["split"], x["distance"]) for x in rows} == {("test_A", "l2"), ("test_A", "cosine")}
    for x in rows:
        assert x["recall@1"] == 1.0 and x["mean_rank"] == 1.0
    noisy = items[targets] + rng.normal(scale=2.0, size=(40, 8)).astype(np.float32)
    _, r = metrics.evaluate({"s": noisy}, {"s": items}, {"s": targets}, metrics=("l2",))
    d = ((noisy[:, None, :] - items[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(r[("s", "l2")], ranks_loop(d, targets))


def test_top_k_orders_by_distance():
    items = np.array([[0, 1], [1, 0], [1, 1], [0.9, 0.1]], np.float32)
    idx, dist = metrics.top_k(np.array([1, 0], np.float32), items, k=2, metric="cosine")
    assert idx.tolist() == [1, 3]
    assert dist[0] <= dist[1]
    idx, _ = metrics.top_k(np.array([1, 1], np.float32), items, k=1, metric="l2")
    assert idx.tolist() == [2]


def test_cached_arrays_computes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(5, dtype=np.float32)}

    a = features.cached_arrays("toy", ["v1", 3], compute)
    b = features.cached_arrays("toy", ["v1", 3], compute)
    c = features.cached_arrays("toy", ["v1", 4], compute)
    assert len(calls) == 2
    np.testing.assert_array_equal(a["x"], b["x"])
    np.testing.assert_array_equal(a["x"], c["x"])


def test_cached_fasttext_roundtrip(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path))
    sents = [["un", "gato", "a", "la", "izquierda", "de", "un", "oso"], ["una", "foto", "de", "un", "gato"]] * 20
    kv1 = text.cached_fasttext(sents, "toy/es", dim=8, epochs=2)
    files = sorted(p.name for p in (tmp_path / "wordvectors").iterdir())
    assert any(f.endswith(".words.json") for f in files) and any(f.endswith(".vectors_ngrams.npy") for f in files)
    assert not any(f.endswith((".kv", ".tmp")) for f in files), files  # no gensim pickle, no temporary file
    kv2 = text.cached_fasttext(sents, "toy/es", dim=8, epochs=2)
    np.testing.assert_allclose(kv1["gato"], kv2["gato"])
    np.testing.assert_allclose(kv1["gatos"], kv2["gatos"])  # out-of-vocabulary words from character n-grams


def test_run_log_disabled_is_silent_and_enabled_writes(tmp_path):
    off = results.RunLog("x", enabled=False)
    off.scalar("a", 1.0, 0)
    off.histogram("h", [1, 2, 3], 0)
    off.close()
    assert off.log_dir is None
    pytest.importorskip("tensorboard")
    on = results.RunLog("tfidf-mlp", enabled=True, log_root=tmp_path)
    on.scalar("loss/train", torch.tensor(0.5), 0)
    on.histogram("val/ranks", np.array([1, 5, 9]), 0)
    on.close()
    assert on.log_dir.parent == tmp_path and on.log_dir.name.startswith("tfidf-mlp-")
    assert any(p.name.startswith("events.out.tfevents") for p in on.log_dir.iterdir())
