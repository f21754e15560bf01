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
