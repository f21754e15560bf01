"""Tests of the helpers chapter 2 (DeViSE) teaches: label targets, the zero-shot split, flat hit@k, search scores,
nearest words, real photographs, image grids with multi-line titles."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import datasets, metrics, plots, realdata, text
from helpers.formats import ClassData
from helpers.text import UnknownWordError


class TinyKV:
    """A stand-in for gensim KeyedVectors: what label_vectors and nearest_words use."""

    def __init__(self, table: dict):
        self.index_to_key = list(table)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = np.array([table[w] for w in self.index_to_key], np.float32)
        self.vector_size = self.vectors.shape[1]

    def __getitem__(self, word):
        return self.vectors[self.key_to_index[word]]

    def __contains__(self, word):
        return word in self.key_to_index


KV = TinyKV(
    {
        "hot": [1, 0, 0],
        "dog": [0, 1, 0],
        "cat": [0, 0, 1],
        "kitten": [0, 0.2, 0.9],
        "egyptian": [1, 1, 0],
        "42": [0, 0, 1.0],
        "the": [0.5, 0.5, 0.5],
    }
)


def class_data(labels, classes=("a", "b", "c", "d")):
    return ClassData(
        image_dir=None,
        classes=list(classes),
        words={c: [c] for c in classes},
        files=[f"{i}.jpg" for i in range(len(labels))],
        labels=np.array(labels, np.int64),
    )


# ------------------------------------------------------------------------------------------- targets
def test_label_vectors_mean_over_words_of_a_label():
    vecs, texts, missing = text.label_vectors(KV, ["n1", "n2"], {"n1": ["hot dog"], "n2": ["Egyptian cat", "kitten"]})
    np.testing.assert_allclose(vecs[0], [0.5, 0.5, 0])
    np.testing.assert_allclose(vecs[1], [0.5, 0.5, 0.5])  # first name only: mean of egyptian and cat
    assert texts == ["hot dog", "Egyptian cat"] and missing == []


def test_label_vectors_all_names_averages_synonyms():
    vecs, texts, _ = text.label_vectors(KV, ["n2"], {"n2": ["cat", "kitten"]}, names="all")
    np.testing.assert_allclose(vecs[0], [0, 0.1, 0.95], rtol=1e-6)
    assert texts == ["cat, kitten"]


def test_label_vectors_unknown_words_are_reported_not_raised():
    vecs, _, missing = text.label_vectors(KV, ["x", "n1"], {"x": ["qwxz zzq"], "n1": ["dog"]})
    assert missing == ["x"]
    assert not vecs[0].any() and vecs[1].any()


def test_label_vectors_rejects_bad_mode():
    with pytest.raises(ValueError):
        text.label_vectors(KV, ["n1"], {"n1": ["dog"]}, names="some")


def test_normalize_unit_rows_and_zero_rows():
    x = text.normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(x, [[0.6, 0.8], [0, 0]])


# -------------------------------------------------------------------------------------- zero-shot split
def test_zero_shot_split_uses_held_out_classes_when_present():
    seen, unseen, keep = datasets.zero_shot_split(class_data([0, 0, 1, 2]))
    assert seen == ["a", "b", "c"] and unseen == ["d"]
    assert keep.all()


def test_zero_shot_split_holds_out_classes_deterministically_when_none_are():
    classes = [f"c{i:02d}" for i in range(20)]
    data = class_data(np.repeat(np.arange(20), 3), classes)
    s1, u1, k1 = datasets.zero_shot_split(data, fraction=0.2, seed=3)
    s2, u2, k2 = datasets.zero_shot_split(data, fraction=0.2, seed=3)
    assert (s1, u1) == (s2, u2) and (k1 == k2).all()
    assert len(u1) == 4 and set(s1).isdisjoint(u1) and set(s1) | set(u1) == set(classes)
    kept_classes = {classes[label] for label in data.labels[k1]}
    assert kept_classes == set(s1)
    assert k1.sum() == 3 * len(s1)
    assert datasets.zero_shot_split(data, fraction=0.2, seed=4)[1] != u1  # another seed, another split


# ---------------------------------------------------------------------------------------------- hit@k
def brute_force_hits(emb, labels, targets, k):
    e = text.normalize(emb)
    lab = text.normalize(labels)
    hits = []
    for row, t in zip(e @ lab.T, targets):
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        hits.append(t in order[:k])
    return float(np.mean(hits))


def test_flat_hits_match_brute_force():
    rng = np.random.default_rng(0)
    emb, labels = rng.normal(size=(200, 8)), rng.normal(size=(30, 8))
    targets = rng.integers(0, 30, 200)
    out = metrics.flat_hits(emb, labels, targets, ks=(1, 2, 5, 10))
    for k in (1, 2, 5, 10):
        assert out[f"hit@{k}"] == pytest.approx(brute_force_hits(emb, labels, targets, k))
    assert out["ranks"].shape == (200,) and out["ranks"].min() >= 1 and out["ranks"].max() <= 30


def test_flat_hits_perfect_embeddings_and_scale_invariance():
    labels = np.eye(5, dtype=np.float32)
    targets = np.array([0, 1, 2, 3, 4, 2])
    out = metrics.flat_hits(7.0 * labels[targets], labels, targets)
    assert out["hit@1"] == 1.0


def test_chance_hits():
    c = metrics.chance_hits(48)
    assert c["hit@5"] == pytest.approx(5 / 48) and c["hit@1"] == pytest.approx(1 / 48)
    assert metrics.chance_hits(3)["hit@10"] == 1.0


# --------------------------------------------------------------------------------------------- search
def test_search_precision():
    emb = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], np.float32)
    labels = np.array([0, 0, 1, 1])
    p = metrics.search_precision(emb, np.array([[1, 0], [0, 1]], np.float32), labels, np.array([0, 1]), k=2)
    np.testing.assert_allclose(p, [1.0, 1.0])
    p = metrics.search_precision(emb, np.array([[1, 0]], np.float32), labels, np.array([1]), k=2)
    np.testing.assert_allclose(p, [0.0])


def test_nearest_words_skips_excluded_and_non_alphabetic():
    words = text.nearest_words(KV, np.array([[0, 0, 1.0]]), topn=2)
    assert [w for w, _ in words[0]] == ["cat", "kitten"]  # "42" has the same vector as cat but is not a word
    words = text.nearest_words(KV, np.array([[0, 0, 1.0]]), topn=1, exclude={"cat"})
    assert words[0][0][0] == "kitten"
    assert text.nearest_words(KV, np.array([[0, 0, 1.0]]), topn=1, alphabetic=False)[0][0][0] in ("cat", "42")


def test_load_word_vectors_missing_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="glove-6b-50d"):
        realdata.load_word_vectors(str(tmp_path / "nope.vec"))


def test_load_word_vectors_reads_a_vec_file(tmp_path):
    path = tmp_path / "tiny.vec"
    path.write_text("3 2\nrhino 1 0\nelephant 0.9 0.1\nbridge 0 1\n", encoding="utf-8")
    kv = realdata.load_word_vectors(str(path))
    assert kv.vector_size == 2 and kv.index_to_key == ["rhino", "elephant", "bridge"]
    vecs, _, missing = text.label_vectors(kv, ["n"], {"n": ["Rhino"]})
    np.testing.assert_allclose(vecs[0], [1, 0])
    assert missing == []
    with pytest.raises(UnknownWordError):
        from helpers.text import lookup

        lookup(kv, "unicornz")


# ---------------------------------------------------------------------------------------------- photos
@pytest.mark.slow
def test_sample_photos_are_offline_rgb_images():
    photos = datasets.sample_photos()
    names = [n for n, _, _ in photos]
    assert {"astronaut", "chelsea", "coffee", "rocket", "china", "flower", "grace_hopper"} <= set(names)
    assert len(names) == len(set(names))
    for _, im, source in photos:
        assert im.mode == "RGB" and min(im.size) >= 128 and source


def test_show_images_keeps_line_breaks():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plots.show_images([np.zeros((4, 4, 3), np.uint8)] * 3, ["a\nb", "c", "d"], ncols=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["a\nb", "c", "d"]
    plt.close(fig)
    long = "a caption long enough to need wrapping"
    fig = plots.show_images([np.zeros((4, 4, 3), np.uint8)] * 2, [f"{long}\nES: corto", long], ncols=2, wrap=16)
    first, second = (ax.get_title() for ax in fig.axes[:2])
    assert first.split("\n")[-1] == "ES: corto" and all(len(line) <= 16 for line in first.split("\n"))
    assert second == "\n".join(__import__("textwrap").wrap(long, 16))
    assert plots.show_images([np.zeros((4, 4, 3), np.uint8)], [long], wrap=None).axes[0].get_title() == long
    plt.close("all")
