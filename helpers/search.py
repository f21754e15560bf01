"""Chapter 1 (search by regression): text descriptors, evaluation over test splits, top-k search, logging.

The models the chapter teaches (the MLP and GRU regressors, the losses, the training loop) live in the
notebook. This module holds the plumbing around them, so the notebook stays readable:

- `tokenize_all`, `centroids`: captions -> token lists -> the mean of their word vectors (seed 000's
  "centroid" descriptor), with a mask of captions that had no known word;
- `WordTable`: captions -> padded rows of a word-vector table, the input of a recurrent encoder;
- `cached_arrays`, `cached_fasttext`: descriptors and word vectors computed once, then read from the cache;
- `evaluate`: ranks and retrieval metrics of predicted image features on several splits and distances;
- `top_k`: the images nearest to one predicted feature vector;
- `RunLog`: optional TensorBoard logging (scalars and rank histograms, as seed 000 did with tensorboardX).
"""
from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from .metrics import distances, ranks, retrieval_metrics
from .paths import cache_dir
from .text import tokenize


# --------------------------------------------------------------------------------------- descriptors
def tokenize_all(captions: list, lang: str = "en") -> list:
    """Token lists of many captions (`helpers.tokenize` on each)."""
    return [tokenize(c, lang) for c in captions]


def centroids(token_lists: list, kv) -> tuple:
    """The mean word vector of each caption: ((N, dim) float32, (N,) bool "had at least one known word").

    A word counts as known when `kv` can give it a vector (`word in kv`: for GloVe, a word of its vocabulary;
    for FastText, any word, built from its character n-grams). A caption with no known word gets zeros.
    """
    out = np.zeros((len(token_lists), kv.vector_size), np.float32)
    known = np.zeros(len(token_lists), bool)
    cache = {}
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
    encoder reads `table.vectors[ids]`: the word vectors stay fixed, as in seed 000.
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
        for t in tokens:
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
        seqs = [self.ids(t)[:max_len] if max_len else self.ids(t) for t in token_lists]
        width = max(1, max((len(s) for s in seqs), default=1))
        ids = np.zeros((len(seqs), width), np.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = s
        return ids, np.array([len(s) for s in seqs], np.int64)

    @property
    def vectors(self) -> torch.Tensor:
        """The (rows, dim) float32 table as a tensor (rebuilt only when words were added)."""
        if self._tensor is None or len(self._tensor) != len(self._rows):
            self._tensor = torch.from_numpy(np.stack(self._rows))
        return self._tensor


def take_images(data, image_indices) -> "CaptionData":
    """A CaptionData with only the given images (in that order) and their captions (e.g. to hold out a
    validation set from a dataset that has none): `helpers.subset`, named '<name>[<n> images]'."""
    from .layouts import subset

    image_indices = np.asarray(image_indices, np.int64)
    return subset(data, image_indices, f"{data.name}[{len(image_indices)} images]")


# --------------------------------------------------------------------------------------------- cache
def _key(parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_arrays(name: str, key_parts, compute) -> dict:
    """`compute()` -> {name: array}, stored as `cache_dir('search')/<name>-<hash of key_parts>.npz` and read back
    on later calls. Put everything the arrays depend on (dataset, split, language, settings) in `key_parts`."""
    from .features import save_npz_atomic

    path = cache_dir("search") / f"{name}-{_key(key_parts)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception as e:  # unreadable: recompute
            print(f"{path.name} is unreadable ({type(e).__name__}): recomputing")
    out = {k: np.asarray(v) for k, v in compute().items()}
    save_npz_atomic(path, **out)
    return out


def cached_fasttext(token_lists: list, name: str, dim: int = 50, epochs: int = 10, seed: int = 0):
    """`helpers.train_fasttext` on `token_lists`, saved once in `cache_dir('wordvectors')` as `.npy` + a word list.

    No pickle (`helpers.vectorcache`): gensim's own `.kv` files of earlier versions are removed, never loaded.
    """
    from . import vectorcache
    from .text import train_fasttext

    key = _key([name, dim, epochs, seed, len(token_lists), token_lists[:50], token_lists[-50:]])
    stem = cache_dir("wordvectors") / f"fasttext-{name.replace('/', '_')}-{key}"
    kv = vectorcache.load_fasttext(stem)
    if kv is not None:
        return kv
    kv = train_fasttext(token_lists, dim=dim, epochs=epochs, seed=seed)
    vectorcache.save_fasttext(stem, kv)
    return kv


# ---------------------------------------------------------------------------------------- evaluation
def evaluate(predicted: dict, image_feats: dict, targets: dict, metrics=("l2", "cosine")) -> tuple:
    """Rank the images of each split for every predicted caption feature.

    `predicted[split]` is (n_captions, D), `image_feats[split]` (n_images, D), `targets[split]` the image index
    of each caption. Returns (rows, ranks): rows are dicts {split, distance, mean_rank, median_rank, mrr,
    recall@1/5/10}; `ranks[(split, distance)]` the 1-based rank of every caption's own image.
    """
    rows, all_ranks = [], {}
    for split, pred in predicted.items():
        for metric in metrics:
            r = ranks(pred, image_feats[split], targets[split], metric=metric)
            all_ranks[(split, metric)] = r
            rows.append({"split": split, "distance": metric, **retrieval_metrics(r)})
    return rows, all_ranks


def top_k(query: np.ndarray, items: np.ndarray, k: int = 5, metric: str = "cosine") -> tuple:
    """(indices, distances) of the `k` items nearest to one query vector (ties by index).

    Raises ValueError when the query or the items hold NaN or infinite values (`helpers.metrics.distances`).
    """
    d = distances(np.asarray(query, np.float32)[None, :], items, metric)[0].numpy()
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


# ------------------------------------------------------------------------------------------- logging
class RunLog:
    """TensorBoard logging for one training run, or nothing at all when `enabled` is False.

    Runs go to `<log_root>/<name>-<YYYYmmddHHMMSS>` (seed 000's naming), so each experiment is one run in
    TensorBoard: `tensorboard --logdir <log_root>`.
    """

    def __init__(self, name: str, enabled: bool = False, log_root: str | Path | None = None):
        self.writer = None
        self.log_dir = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            root = Path(log_root) if log_root else cache_dir("runs")
            stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
            self.log_dir = root / f"{name}-{stamp}"
            self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, float(value), step)

    def histogram(self, tag: str, values, step: int) -> None:
        if self.writer is not None:
            self.writer.add_histogram(tag, np.asarray(values), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


__all__ = ["tokenize_all", "centroids", "WordTable", "take_images", "cached_arrays", "cached_fasttext", "evaluate", "top_k",
           "RunLog"]
