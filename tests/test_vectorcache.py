"""No pickle anywhere in the cache: word vectors are cached as `.npy` + a JSON word list (helpers.vectorcache).

The case from the issue "Inputs made by others" (cases/cache/kv_pickle_payload.py): gensim's `.kv` cache files
are pickles, and a crafted `glove-6b-50d.kv` in the cache's `wordvectors/` folder ran code when
`helpers.glove()` loaded it. Here the payload creates a marker file; it must never exist.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import stat
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from helpers import paths, realdata, text
from helpers.text import glove

WORDS = [
    "the",
    ". . .",
    "\u00a0",
    "a\u00a0b",
    "niño",
    "Ωμέγα",
    "東京",
    "🧤",
    "</s>",
    "tab\there",
    "x" * 300,
    "line\nbreak",
    "",
]


class Payload:
    """Unpickling this creates `marker` (what a crafted cache file could do, without a shell)."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_kv(path: Path, marker: Path, rows: int = 1, dim: int = 50) -> None:
    """A crafted gensim-style cache: `<path>` (a pickle that runs the payload) and its `.vectors.npy`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Payload(marker)))
    np.save(str(path) + ".vectors.npy", np.zeros((rows, dim), np.float32))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEING_SAYING_CACHE", str(tmp_path / "cache"))
    glove.cache_clear()
    yield tmp_path / "cache"
    glove.cache_clear()


def no_unpickling(monkeypatch):
    """Make every unpickling entry point fail loudly for the rest of the test."""
    import gensim.utils

    def refuse(*a, **k):
        raise AssertionError("something was unpickled")

    for mod, name in ((pickle, "load"), (pickle, "loads"), (gensim.utils, "unpickle")):
        monkeypatch.setattr(mod, name, refuse)


def test_crafted_glove_kv_never_runs_and_glove_loads_from_npy(cache, monkeypatch, capsys):
    marker = cache / "EXECUTED"
    plant_kv(cache / "wordvectors" / "glove-6b-50d.kv", marker)
    kv = glove()
    assert not marker.exists(), "the crafted pickle ran"
    assert len(kv.key_to_index) == 400000 and kv.vector_size == 50 and kv.similarity("dog", "cat") > 0.5
    files = sorted(p.name for p in (cache / "wordvectors").iterdir())
    assert files == ["glove-6b-50d.vectors.npy", "glove-6b-50d.words.json"], files  # the old pickle is gone
    assert "removed glove-6b-50d.kv" in capsys.readouterr().err
    # the second load reads the cache, unpickling nothing and not touching the package's parquet
    import pandas as pd

    glove.cache_clear()
    no_unpickling(monkeypatch)
    monkeypatch.setattr(pd, "read_parquet", lambda *a, **k: pytest.fail("GloVe was converted again"))
    again = glove()
    assert again.index_to_key == kv.index_to_key and np.array_equal(again.vectors, kv.vectors)
    assert not marker.exists()


def test_crafted_kv_beside_a_vector_file_never_runs(cache, tmp_path, monkeypatch):
    src = tmp_path / "small.vec"
    src.write_text(
        "3 4\n" + "".join(f"{w} {i} 0.5 -1 2\n" for i, w in enumerate(["niño", "\u00a0", "x"])), encoding="utf-8"
    )
    marker = cache / "EXECUTED"
    native = realdata.native_vectors_path(src, None, "word2vec")
    plant_kv(native.with_name(native.name.removesuffix(".kv") + ".kv"), marker, rows=3, dim=4)
    kv = realdata.load_vectors(src, progress=False)
    assert not marker.exists(), "the crafted pickle ran"
    assert kv.index_to_key == ["niño", "\u00a0", "x"] and kv["\u00a0"].tolist() == [1, 0.5, -1, 2]
    no_unpickling(monkeypatch)
    monkeypatch.setattr(realdata, "read_text_vectors", lambda *a, **k: pytest.fail("parsed again"))
    again = realdata.load_vectors(src, progress=False)
    assert again.index_to_key == kv.index_to_key and np.array_equal(again.vectors, kv.vectors)


def test_crafted_fasttext_kv_never_runs(cache, monkeypatch):
    sents = [["un", "gato", "a", "la", "izquierda", "de", "un", "oso"], ["una", "foto", "de", "un", "gato"]] * 20
    key = paths.stable_key(["toy/es", 8, 2, 0, version("gensim"), sents])
    marker = cache / "EXECUTED"
    plant_kv(cache / "wordvectors" / f"fasttext-toy_es-{key}.kv", marker, dim=8)
    kv1 = text.cached_fasttext(sents, "toy/es", dim=8, epochs=2)
    assert not marker.exists(), "the crafted pickle ran"
    assert not list((cache / "wordvectors").glob("*.kv*"))
    no_unpickling(monkeypatch)
    monkeypatch.setattr("helpers.text.train_fasttext", lambda *a, **k: pytest.fail("trained again"))
    kv2 = text.cached_fasttext(sents, "toy/es", dim=8, epochs=2)
    assert type(kv2) is type(kv1) and kv2.index_to_key == kv1.index_to_key
    for word in ("gato", "gatos", "perro"):  # in the vocabulary, and two from character n-grams only
        np.testing.assert_array_equal(kv1[word], kv2[word])


def test_fasttext_cache_is_keyed_by_the_whole_corpus(cache):
    """Same length, same first and last 50 captions, another middle: another corpus, so other vectors."""
    head, tail = [["a", "cat", "sits"]] * 50, [["a", "dog", "runs"]] * 50
    kv_a = text.cached_fasttext(head + [["zebra", "giraffe"]] * 20 + tail, "probe", dim=8, epochs=1)
    kv_b = text.cached_fasttext(head + [["volcano", "eruption"]] * 20 + tail, "probe", dim=8, epochs=1)
    assert "zebra" in kv_a.key_to_index and "volcano" in kv_b.key_to_index and "zebra" not in kv_b.key_to_index


def test_cached_arrays_refuse_python_objects_instead_of_pickling_them(cache):
    from helpers.array_cache import cached_arrays

    with pytest.raises(TypeError, match="'x' holds Python objects"):
        cached_arrays("objects", ["k"], lambda: {"x": np.array([{"a": 1}, None], dtype=object)})
    assert not list((cache / "arrays").glob("*.npz"))
    assert cached_arrays("numbers", ["k"], lambda: {"x": np.arange(3)})["x"].tolist() == [0, 1, 2]


def test_words_round_trip_exactly(cache):
    from helpers import vectorcache

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((len(WORDS), 7)).astype(np.float32)
    kv = vectorcache.keyed_vectors(WORDS, vectors)
    stem = cache / "wordvectors" / "odd words"
    vectorcache.save_keyed_vectors(stem, kv)
    back = vectorcache.load_keyed_vectors(stem)
    assert back.index_to_key == WORDS and np.array_equal(back.vectors, vectors)
    assert np.array_equal(back["a\u00a0b"], vectors[3]) and np.array_equal(back[". . ."], vectors[1])
    doc = json.loads(vectorcache.index_path(stem).read_text(encoding="ascii"))
    assert doc["words"] == WORDS and doc["shapes"] == {"vectors": [len(WORDS), 7]}
    assert np.load(Path(f"{stem}.vectors.npy"), allow_pickle=False).dtype == np.float32
    with pytest.raises(TypeError, match="strings"):
        vectorcache.save(stem, ["a", None], {"vectors": vectors[:2]})


def test_pickled_or_damaged_arrays_are_rebuilt_not_loaded(cache, capsys):
    from helpers import vectorcache

    stem = cache / "wordvectors" / "v"
    vectorcache.save(stem, ["a", "b"], {"vectors": np.eye(2, dtype=np.float32)})
    marker = cache / "EXECUTED"
    npy = Path(f"{stem}.vectors.npy")
    np.save(npy, np.array([Payload(marker), 1], dtype=object), allow_pickle=True)  # an object array = a pickle
    assert vectorcache.load(stem) is None and not marker.exists()
    np.save(npy, np.eye(3, dtype=np.float32))  # more rows than words
    assert vectorcache.load(stem) is None
    np.save(npy, np.ones((2, 5), dtype=np.float32))  # not the shape the word list records
    assert vectorcache.load(stem) is None
    npy.write_bytes(npy.read_bytes()[:100])  # truncated
    assert vectorcache.load(stem) is None
    vectorcache.index_path(stem).write_text('{"format": "something else"}')
    assert vectorcache.load(stem) is None
    assert capsys.readouterr().err.count("rebuilding") == 5


@pytest.mark.parametrize("fault", ["a word twice", "NaN", "inf"])
def test_a_cache_from_elsewhere_with_a_repeated_word_or_nan_is_rebuilt(cache, capsys, fault):
    # a cache folder copied from someone else, or edited: gensim would keep the last row of a repeated word
    # and a NaN would flow silently into every centroid and score
    from helpers import vectorcache

    stem = cache / "wordvectors" / "v"
    vectors = np.eye(3, dtype=np.float32)
    words = ["a", "b", "a"] if fault == "a word twice" else ["a", "b", "c"]
    if fault != "a word twice":
        vectors[1, 2] = np.nan if fault == "NaN" else np.inf
    vectorcache.save(stem, ["a", "b", "c"], {"vectors": vectors})
    doc = json.loads(vectorcache.index_path(stem).read_text(encoding="ascii"))
    vectorcache.index_path(stem).write_text(json.dumps(dict(doc, words=words)), encoding="ascii")
    assert vectorcache.load(stem) is None and vectorcache.load_keyed_vectors(stem) is None
    err = capsys.readouterr().err
    assert err.count("rebuilding") == 2 and ("listed twice" if fault == "a word twice" else "NaN or infinite") in err
    vectorcache.save(stem, ["a", "b", "c"], {"vectors": np.eye(3, dtype=np.float32)})  # a sound cache loads
    assert vectorcache.load_keyed_vectors(stem).index_to_key == ["a", "b", "c"]


def test_writes_are_atomic_and_group_readable(cache, monkeypatch):
    from helpers import vectorcache
    from helpers.formats import write_text_atomic

    folder = cache / "wordvectors"
    folder.mkdir(parents=True)
    old = os.umask(0o022)
    try:
        vectorcache.save(folder / "v", ["a"], {"vectors": np.ones((1, 3), np.float32)})
        write_text_atomic(folder / "t.json", "{}")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
        assert modes == {"v.vectors.npy": 0o644, "v.words.json": 0o644, "t.json": 0o644}, modes
    finally:
        os.umask(old)
    real_save = np.save

    def full_disk(f, a, *args, **kwargs):
        real_save(f, a[: len(a) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        vectorcache.save(folder / "w", ["a", "b"], {"vectors": np.ones((2, 3), np.float32)})
    assert sorted(p.name for p in folder.iterdir()) == ["t.json", "v.vectors.npy", "v.words.json"]
    assert vectorcache.load(folder / "w") is None


@pytest.mark.parametrize("writer", ["write_text_atomic", "save_npz_atomic", "results.record", "save_checkpoint"])
def test_every_atomic_writer_gives_group_readable_files(tmp_path, monkeypatch, writer):
    """mkstemp makes 0600 files; what the book writes gets the mode open() gives (0666 less the umask)."""
    import torch

    from helpers import checkpoints, features, formats, results
    from helpers.text import Vocabulary

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "out"))
    write = {
        "write_text_atomic": lambda: formats.write_text_atomic(tmp_path / "out" / "a.txt", "a"),
        "save_npz_atomic": lambda: features.save_npz_atomic(tmp_path / "out" / "a.npz", x=np.ones(2)),
        "results.record": lambda: results.record("nb", {"v": 1}),
        "save_checkpoint": lambda: checkpoints.save_checkpoint(
            tmp_path / "out", {"w": torch.zeros(2)}, Vocabulary(["<pad>", "<start>", "<end>", "<unk>"]), {}
        ),
    }[writer]
    for mask, mode in ((0o022, 0o644), (0o002, 0o664), (0o077, 0o600)):
        old = os.umask(mask)
        try:
            write()
        finally:
            os.umask(old)
        modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "out").iterdir()}
        assert set(modes.values()) == {oct(mode)}, (oct(mask), modes)
