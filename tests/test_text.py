"""Tokenizers, the Vocabulary and word vectors."""

import json

import numpy as np
import pytest

import helpers
from helpers.text import Vocabulary, tokenize


def test_tokenize_keeps_accents_and_drops_punctuation():
    assert tokenize("Un perro, junto al ÁRBOL.", "es") == ["un", "perro", "junto", "al", "árbol"]
    assert tokenize("A dog's ball!", "en") == ["a", "dog", "s", "ball"]
    with pytest.raises(ValueError):
        tokenize("hola", "fr")


def test_vocabulary_round_trip(tmp_path):
    v = Vocabulary.build([["a", "dog"], ["a", "cat"], ["a", "dog"]], min_count=2)
    assert v.itos[:4] == ["<pad>", "<start>", "<end>", "<unk>"] and v.itos[4:] == ["a", "dog"]
    ids = v.encode(["a", "cat"])
    assert ids == [1, 4, 3, 2]
    assert v.decode(ids) == ["a", "<unk>"]
    m = v.pad_batch([[1, 2], [1, 4, 5, 2]], pad_value=-1)
    assert m.tolist() == [[1, 2, -1, -1], [1, 4, 5, 2]]
    v.save(tmp_path / "v.json")
    assert json.loads((tmp_path / "v.json").read_text())["itos"] == v.itos
    assert Vocabulary.load(tmp_path / "v.json").itos == v.itos


def test_glove_is_real_and_offline():
    kv = helpers.glove()
    assert len(kv.key_to_index) == 400000 and kv.vector_size == 50
    sim = kv.similarity
    assert sim("dog", "cat") > sim("dog", "car")


def test_unknown_and_empty_words_get_clear_errors():
    kv = helpers.glove()
    with pytest.raises(helpers.UnknownWordError, match="Did you mean"):
        helpers.lookup(kv, "elephnt")
    with pytest.raises(ValueError, match="empty"):
        helpers.lookup(kv, "  ")
    assert np.allclose(helpers.lookup(kv, "Dog"), kv["dog"])


def test_fasttext_is_deterministic():
    sents = [["un", "perro", "grande"], ["una", "manzana", "roja"], ["dos", "perros"]] * 20
    a = helpers.train_fasttext(sents, dim=8, epochs=2)
    b = helpers.train_fasttext(sents, dim=8, epochs=2)
    assert np.array_equal(a["perro"], b["perro"])
    assert a["perrito"].shape == (8,)  # subword vectors cover unseen words


# --------------------------------------------------- a string where a list belongs (read as characters)
def _letters():
    from helpers.vectorcache import keyed_vectors

    return keyed_vectors(["a", "d", "o", "g", "dog"], np.eye(5, dtype=np.float32))


@pytest.mark.parametrize("bad", ["a dog", b"a dog", None, 3])
def test_tokenize_all_wants_a_list_of_strings(bad):
    with pytest.raises(TypeError, match="captions must be a list of strings"):
        helpers.text.tokenize_all(bad)


def test_tokenize_all_still_takes_lists_tuples_and_arrays():
    want = [["a", "dog"], ["a", "cat"]]
    for texts in (["a dog", "A cat."], ("a dog", "A cat."), np.array(["a dog", "A cat."])):
        assert helpers.text.tokenize_all(texts) == want
    assert helpers.text.tokenize_all([]) == []


@pytest.mark.parametrize("bad", [["a dog"], "a dog", [["a"], "dog"], [None]])
def test_functions_of_token_lists_refuse_strings_in_place_of_lists(bad):
    T, kv = helpers.text, _letters()
    calls = [
        lambda: T.centroids(bad, kv),
        lambda: T.Vocabulary.build(bad),
        lambda: T.WordTable(kv).encode(bad),
        lambda: T.train_fasttext(bad, dim=4, epochs=1),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=r"must be a list of (tokens|token lists)"):
            call()


def test_centroids_of_valid_token_lists_are_unchanged():
    vecs, known = helpers.text.centroids([["a", "dog"], [], ("zzz",)], _letters())
    assert known.tolist() == [True, False, False]
    assert vecs[0].tolist() == [0.5, 0, 0, 0, 0.5] and not vecs[1:].any()


@pytest.mark.parametrize("bad", [None, "a dog", 3])
def test_encode_and_word_table_ids_refuse_what_is_not_a_token_list(bad):
    vocab = Vocabulary.build([["a", "dog"]])
    with pytest.raises(TypeError, match="tokenize"):
        vocab.encode(bad)
    with pytest.raises(TypeError, match="must be a list of tokens"):
        helpers.text.WordTable(_letters()).ids(bad)
    assert vocab.encode(np.array(["a", "cat"])) == [1, 4, 3, 2]


def test_label_vectors_and_exclude_refuse_a_string():
    kv = _letters()
    with pytest.raises(TypeError, match="classes must be a list"):
        helpers.text.label_vectors(kv, "dog", {})
    with pytest.raises(TypeError, match="exclude must be a list"):
        helpers.text.nearest_words(kv, np.ones(5), exclude="dog")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nearest_words_refuse_non_finite_queries(bad):
    q = np.ones((2, 5))
    q[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        helpers.text.nearest_words(_letters(), q)
    with pytest.raises(ValueError, match="NaN or infinite"):
        helpers.text.nearest_words(_letters(), np.full(5, bad))


def test_nearest_words_check_topn_restrict_and_width():
    kv = _letters()
    for topn in (0, -2):
        with pytest.raises(ValueError, match="topn must be at least 1"):
            helpers.text.nearest_words(kv, np.ones(5), topn=topn)
    with pytest.raises(TypeError, match="topn must be a positive int"):
        helpers.text.nearest_words(kv, np.ones(5), topn=1.5)
    with pytest.raises(ValueError, match="restrict must be at least 1"):
        helpers.text.nearest_words(kv, np.ones(5), restrict=0)
    with pytest.raises(ValueError, match=r"dim = 5, got shape \(1, 4\)"):
        helpers.text.nearest_words(kv, np.ones(4))


def test_nearest_words_results_are_as_before():
    kv = _letters()
    got = helpers.text.nearest_words(kv, np.eye(5)[[4, 0]], topn=2, exclude=["a"], restrict=None)
    assert got == [[("dog", 1.0), ("d", 0.0)], [("d", 0.0), ("o", 0.0)]]
    assert len(helpers.text.nearest_words(kv, np.ones(5), topn=np.int64(9))[0]) == 5  # topn above the words: all
