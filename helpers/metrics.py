"""Retrieval metrics, vectorized.

Retrieval: a query (a caption's predicted image feature) ranks every image by distance; the rank of the
right image gives mean / median rank, Recall@k and mean reciprocal rank (MRR). Ties are broken the way seed
000's `sorted` loop breaks them (by image index), so both give identical ranks.

On top of ranks: `evaluate` (every split and distance at once), `top_k` (one query's nearest images),
DeViSE's flat hit@k (`flat_hits`, `chance_hits`) and `search_precision` (image search by word, scored).

BLEU-1..4 (`bleu`, inputs checked by `check_bleu_inputs`) is here too, the one BLEU of the book; the other
caption metrics (human ceiling, semantic scores, attention in a box) live in `caption_metrics.py`.
"""

from __future__ import annotations

import numpy as np
import torch

from . import scenes as sc
from ._checks import positive_int as _positive_int
from ._checks import require_finite as _require_finite
from ._checks import require_real as _require_real


def _check_matrices(q, x, qname: str = "queries", xname: str = "items") -> None:
    """ValueError unless `x` is (N, D) and `q` (Q, D) with the same D (no queries at all passes), both finite."""
    if x.ndim != 2 or (0 not in tuple(q.shape) and tuple(q.shape[1:]) != tuple(x.shape[1:])):
        raise ValueError(
            f"{qname} must be (Q, D) and {xname} (N, D) with the same D: got {qname} of shape "
            f"{tuple(q.shape)} and {xname} of shape {tuple(x.shape)}"
        )
    _require_finite(qname, q)
    _require_finite(xname, x)


# ------------------------------------------------------------------------------------------ retrieval
def distances(queries, items, metric: str = "l2") -> torch.Tensor:
    """(Q, N) float32 distances of queries (Q, D) to items (N, D): squared L2, or 1 - cosine similarity.
    ValueError for another `metric`, inputs that are not matrices of the same width (D), or NaN / infinite
    values in the inputs or the distances (overflow); TypeError for complex inputs or generators.
    Used in: notebooks/03_show_and_tell.ipynb § What about real photographs?"""
    _require_real("queries", queries), _require_real("items", items)
    q, x = torch.as_tensor(queries, dtype=torch.float32), torch.as_tensor(items, dtype=torch.float32)
    _check_matrices(q, x)
    if metric == "cosine":
        q = torch.nn.functional.normalize(q, dim=1)
        x = torch.nn.functional.normalize(x, dim=1)
        d = 1 - q @ x.T
    elif metric == "l2":
        d = (q * q).sum(1, keepdim=True) - 2 * q @ x.T + (x * x).sum(1)[None, :]
    else:
        raise ValueError(f"metric must be 'l2' or 'cosine', not {metric!r}")
    _require_finite("distances (overflow: values too large for float32?)", d)
    return d


def ranks_from_distances(d: torch.Tensor, targets) -> torch.Tensor:
    """1-based rank of `targets[i]` in row i of `d` (ties broken by item index, as a stable sort would).
    `d`: (Q, N) distances; `targets`: (Q,) int item indices. Returns a (Q,) int64 tensor."""
    t = torch.as_tensor(targets, dtype=torch.int64).view(-1, 1)
    dt = d.gather(1, t)
    r = (d < dt).sum(1) + 1
    tied = torch.nonzero((d == dt).sum(1) > 1).flatten()  # rare with real-valued distances: fix those rows only
    if len(tied):
        idx = torch.arange(d.shape[1]).view(1, -1)
        r[tied] += ((d[tied] == dt[tied]) & (idx < t[tied])).sum(1)
    return r


def ranks(queries, items, targets, metric: str = "l2", chunk: int = 2048, dtype=torch.float32) -> np.ndarray:
    """Rank of the right item for every query, computed in chunks of queries to bound memory.

    For ranking, the query's own norm does not matter: with L2 we compare `|x|^2 / 2 - q.x`, with cosine `-q.x`
    on normalized vectors; either costs one matrix product and two passes over its result.

    queries: (Q, D) float; items: (N, D) float; targets: (Q,) int, the index of each query's right item.
    Returns (Q,) int64 ranks, 1 = best. Raises ValueError on a length mismatch, inputs that are not (Q, D) and
    (N, D) matrices of the same D, targets outside 0..N-1, an unknown metric, or NaN / infinite values in
    `queries` or `items` (NaN distances compare false, which would put every target first); TypeError for
    targets that are not whole numbers, complex inputs, generators, or a `dtype` that is not a torch floating
    dtype; ValueError for targets that are not (Q,); TypeError / ValueError for a `chunk` that is not an int >= 1.

    Taught in: notebooks/01_search_by_regression.ipynb § 4. Training
    """
    for name, v in (("queries", queries), ("items", items), ("targets", targets)):
        _require_real(name, v)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a torch floating dtype such as torch.float32, not {dtype!r}")
    targets = np.asarray(targets)
    if targets.ndim not in (1, 2) or targets.shape[1:] not in ((), (1,)):
        raise ValueError(f"targets must be (Q,) item indices, one per query, got shape {targets.shape}")
    if len(queries) != len(targets):
        raise ValueError(f"{len(queries)} queries but {len(targets)} targets")
    if targets.size and not np.issubdtype(targets.dtype, np.integer):
        whole = targets.dtype.kind == "f" and np.isfinite(targets).all() and (targets == np.round(targets)).all()
        if not whole:
            raise TypeError(f"targets must be integer item indices, not {targets.dtype}")
        targets = targets.astype(np.int64)
    if targets.size and (targets.min() < 0 or targets.max() >= len(items)):
        raise ValueError(
            f"targets must index the {len(items):,} items (0 to {len(items) - 1}), "
            f"got {int(targets.min())} to {int(targets.max())}"
        )
    if metric not in ("l2", "cosine"):
        raise ValueError(f"metric must be 'l2' or 'cosine', not {metric!r}")
    q, x = torch.as_tensor(queries, dtype=dtype), torch.as_tensor(items, dtype=dtype)
    _check_matrices(q, x)
    if metric == "cosine":
        q = torch.nn.functional.normalize(q, dim=1)
        x = torch.nn.functional.normalize(x, dim=1)
        half_sq = torch.zeros(1, x.shape[0], dtype=dtype)
    else:
        half_sq = 0.5 * (x * x).sum(1, keepdim=True).T
    out = []
    for s in range(0, len(q), _positive_int(chunk, "chunk")):
        d = torch.addmm(half_sq, q[s : s + chunk], x.T, alpha=-1)  # (chunk, N)
        _require_finite("distances (overflow: values too large for the dtype?)", d)
        out.append(ranks_from_distances(d, targets[s : s + chunk]))
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


def retrieval_metrics(r, ks=(1, 5, 10)) -> dict:
    """Mean and median rank, Recall@k and MRR from an array of 1-based ranks (Recall@k as in Karpathy & Fei-Fei 2015).

    Returns {'mean_rank', 'median_rank', 'mrr', 'recall@1', 'recall@5', 'recall@10'} (one recall per k of
    `ks`), floats. Raises TypeError for ranks that are not numbers, ValueError when there are none, when one
    is NaN or infinite, below 1, not a whole number, or when `r` is not flat (Q,); TypeError / ValueError for a k
    of `ks` that is not an int >= 1.

    Taught in: notebooks/01_search_by_regression.ipynb § 5. Evaluation on test_A, test_B and test_C
    """
    r = np.asarray(r)
    if r.dtype.kind not in "iuf":
        raise TypeError(f"ranks must be numbers (1-based), not {r.dtype}")
    r = r.astype(np.float64)
    if r.size == 0:
        raise ValueError("no ranks to summarize")
    _require_finite("ranks", r.reshape(-1))
    if (r < 1).any() or r.ndim != 1 or (r != np.round(r)).any():
        raise ValueError(
            f"ranks must be a flat (Q,) array of whole 1-based ranks, got shape {r.shape}, min {r.min():g}"
        )
    out = {"mean_rank": float(r.mean()), "median_rank": float(np.median(r)), "mrr": float((1 / r).mean())}
    out.update({f"recall@{k}": float((r <= _positive_int(k, "each k of ks")).mean()) for k in ks})
    return out


def chance_metrics(n_items: int, ks=(1, 5, 10)) -> dict:
    """What a random ranking of `n_items` scores on average (the keys of `retrieval_metrics`); a k above
    `n_items` gets recall 1. TypeError / ValueError unless `n_items` and every k of `ks` are ints >= 1.
    Taught in: notebooks/01_search_by_regression.ipynb § 5. Evaluation on test_A, test_B and test_C"""
    n_items = _positive_int(n_items, "n_items")
    mid, mrr = (n_items + 1) / 2, sum(1 / r for r in range(1, n_items + 1)) / n_items
    out = {"mean_rank": mid, "median_rank": mid, "mrr": mrr}
    out.update({f"recall@{k}": min(1.0, _positive_int(k, "each k of ks") / n_items) for k in ks})
    return out


def evaluate(predicted: dict, image_feats: dict, targets: dict, metrics=("l2", "cosine")) -> tuple:
    """Rank the images of each split for every predicted caption feature.

    `predicted[split]` is (n_captions, D), `image_feats[split]` (n_images, D), `targets[split]` the image index
    of each caption. Returns (rows, ranks): rows are dicts {split, distance, mean_rank, median_rank, mrr,
    recall@1/5/10}; `ranks[(split, distance)]` the 1-based rank of every caption's own image, (n_captions,)
    int64. Raises as `ranks` (ValueError for NaN / infinite features or mismatched lengths).

    Taught in: notebooks/01_search_by_regression.ipynb § 5. Evaluation on test_A, test_B and test_C
    """
    rows, all_ranks = [], {}
    for split, pred in predicted.items():
        for metric in metrics:
            all_ranks[(split, metric)] = r = ranks(pred, image_feats[split], targets[split], metric=metric)
            rows.append({"split": split, "distance": metric, **retrieval_metrics(r)})
    return rows, all_ranks


def top_k(query: np.ndarray, items: np.ndarray, k: int = 5, metric: str = "cosine") -> tuple:
    """(indices, distances) of the `k` items nearest to one query vector (ties by index).

    `query`: (D,); `items`: (N, D); returns (k,) int64 indices and (k,) float32 distances, nearest first
    (all N items when `k` > N). Raises TypeError / ValueError unless `k` is an int >= 1; ValueError for a query
    that is not (D,), no items, a width other than D, NaN or infinite values, or another `metric` (`distances`).

    Taught in: notebooks/01_search_by_regression.ipynb § 6. What a bag of words cannot say
    """
    k, query = _positive_int(k, "k"), np.asarray(query, np.float32)
    if query.ndim != 1 or not len(items):
        raise ValueError(f"top_k needs one query (D,) and items (N, D): got {query.shape} and {len(items)} items")
    d = distances(query[None, :], items, metric)[0].numpy()
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


def flat_hits(embeddings, label_vecs, targets, ks=(1, 2, 5, 10)) -> dict:
    """DeViSE's flat hit@k (Frome et al. 2013): the share of images whose true label is among the k labels nearest.

    `embeddings`: (N, D); `label_vecs`: (L, D), the candidate labels; `targets[i]` indexes the rows of
    `label_vecs`. Nearest by cosine. Ties count against the image, by label index, as `ranks` breaks them.
    Returns {'hit@k': float for each k, 'ranks': (N,) int64 rank of every true label}. Raises as `ranks`, and
    ValueError when there is no embedding to score; TypeError / ValueError for a k that is not an int >= 1.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 5. Evaluation: zero-shot hit@k
    """
    r = ranks(np.asarray(embeddings, np.float32), np.asarray(label_vecs, np.float32), targets, metric="cosine")
    if not len(r):
        raise ValueError("no embeddings to score: flat hit@k needs at least one image")
    out = {f"hit@{k}": float((r <= _positive_int(k, "each k of ks")).mean()) for k in ks}
    out["ranks"] = r
    return out


def chance_hits(n_labels: int, ks=(1, 2, 5, 10)) -> dict:
    """What guessing k labels at random among `n_labels` scores: {'hit@k': min(1, k / n_labels)}.
    TypeError / ValueError unless `n_labels` and every k of `ks` are ints >= 1.
    Taught in: notebooks/02_devise_zero_shot.ipynb § 5. Evaluation: zero-shot hit@k"""
    n_labels = _positive_int(n_labels, "n_labels")
    return {f"hit@{k}": min(1.0, _positive_int(k, "each k of ks") / n_labels) for k in ks}


def search_precision(image_emb, query_vecs, image_labels, query_labels, k: int = 10) -> np.ndarray:
    """Image search by word, scored: for query i, the share of its `k` nearest images (cosine) whose label is
    `query_labels[i]`. Chance is the share of images of that class in the collection.

    `image_emb`: (N, D); `query_vecs`: (Q, D); `image_labels`: (N,); `query_labels`: (Q,). Returns (Q,)
    float64; a `k` above N takes all N images. Raises TypeError / ValueError unless `k` is an int >= 1;
    ValueError for other shapes (one label per image and per query), no image or no query, or when the
    embeddings or query vectors hold NaN or infinite values.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 6. Search with any word
    """
    from .text import normalize

    k, e, q = _positive_int(k, "k"), np.asarray(image_emb, np.float64), np.asarray(query_vecs, np.float64)
    il, ql = np.asarray(image_labels), np.asarray(query_labels)
    _check_matrices(q, e, "query vectors", "image embeddings")
    if not len(e) or not len(q) or il.shape != e.shape[:1] or ql.shape != q.shape[:1]:
        raise ValueError(
            f"search_precision needs at least one image and one query, and one label each: got "
            f"{len(e)} images, {len(q)} queries, image_labels {il.shape}, query_labels {ql.shape}"
        )
    top = np.argsort(-(normalize(q) @ normalize(e).T), axis=1, kind="stable")[:, :k]
    return (il[top] == ql[:, None]).mean(1)


# ------------------------------------------------------------------------------------- oracle ceiling
def matching_images(data) -> list:
    """For every caption with a known meaning, the sorted indices of the images of `data` that satisfy it.
    ValueError for data without scene truth and caption meanings (only the embedded data has them).
    Used in: notebooks/00_data_features_devices.ipynb § Exercises"""
    if data.meanings is None or data.scenes is None:
        raise ValueError("oracle ceilings need the scene truth and caption meanings (embedded data only)")
    by_class = {}
    for i, s in enumerate(data.scenes):
        for cls in s.counts():
            by_class.setdefault(cls, set()).add(i)
    out = []
    for m in data.meanings:
        cands = set.intersection(*(by_class.get(c, set()) for c in m["objects"])) if m["objects"] else set()
        out.append(sorted(i for i in cands if sc.satisfies(data.scenes[i], m)))
    return out


def oracle_metrics(data, ks=(1, 5, 10)) -> dict:
    """The best any ranking can expect when it cannot tell apart the images a caption fits equally well.

    A caption that fits m images (its own among them) puts its image, in expectation, at a uniformly random
    place among the first m: Recall@k = min(1, k/m), MRR = H_m / m, mean rank (m + 1) / 2. Returns the keys of
    `retrieval_metrics` plus 'mean_matches'. Raises ValueError for data without scene truth (`matching_images`),
    AssertionError for a caption that does not fit its own image.

    Taught in: notebooks/00_data_features_devices.ipynb § How well could search possibly do? Oracle ceilings
    """
    matches = matching_images(data)
    for k_, (owner, m) in enumerate(zip(data.caption_image, matches)):
        if owner not in m:
            raise AssertionError(f"caption {k_} ({data.captions[k_]!r}) does not fit its own image")
    m = np.array([len(x) for x in matches], dtype=np.float64)
    harmonic = np.array([sum(1 / r for r in range(1, int(n) + 1)) for n in m])
    out = {
        "mean_rank": float(((m + 1) / 2).mean()),
        "median_rank": float(np.median((m + 1) / 2)),
        "mrr": float((harmonic / m).mean()),
        "mean_matches": float(m.mean()),
    }
    out.update({f"recall@{k}": float(np.minimum(1.0, k / m).mean()) for k in ks})
    return out


# ------------------------------------------------------------------------------------------------ BLEU
BLEU_WEIGHTS = [(1, 0, 0, 0), (0.5, 0.5, 0, 0), (1 / 3, 1 / 3, 1 / 3, 0), (0.25, 0.25, 0.25, 0.25)]


def _is_tokens(x) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(t, str) for t in x)


def check_bleu_inputs(references: list, hypotheses: list, metric: str = "BLEU") -> None:
    """Raise a clear error unless the inputs are nested as nltk's `corpus_bleu` expects.

    references: N images x R references x tokens (str); hypotheses: N x tokens. nltk accepts a string where a
    token list belongs and silently scores characters, and a missing level scores every word as a reference
    of characters (nltk/nltk#1285); both give numbers that look plausible, so they are refused here.
    Raises TypeError for wrong types or nesting, ValueError for mismatched lengths, an image without
    references or a reference without tokens; the messages name `metric` (e.g. "CIDEr" when `cider` checks
    its inputs).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    if not isinstance(references, (list, tuple)) or not isinstance(hypotheses, (list, tuple)):  # a str too
        raise TypeError(
            f"{metric.lower()}(references, hypotheses) takes lists: references[i] = list of reference token lists "
            "of image i, hypotheses[i] = the generated token list of image i"
        )
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} reference sets but {len(hypotheses)} hypotheses")
    if not hypotheses:
        raise ValueError(f"no hypotheses to score: {metric} needs at least one image")
    for i, h in enumerate(hypotheses):
        if isinstance(h, (list, tuple)) and any(isinstance(t, str) and not t.strip() for t in h):
            raise TypeError(
                f"hypotheses[{i}] has an empty or blank token: characters instead of words? "
                f"use helpers.tokenize(caption)"
            )
        if isinstance(h, str):
            raise TypeError(
                f"hypotheses[{i}] is a string ({h[:40]!r}); {metric} needs token lists: use helpers.tokenize(caption)"
            )
        if _is_tokens(h) and any(any(ch.isspace() for ch in t.strip()) for t in h):
            raise TypeError(
                f"hypotheses[{i}] holds a string with spaces; BLEU needs one token per item: "
                f"use helpers.tokenize(caption)"
            )
        if not _is_tokens(h):
            raise TypeError(
                f"hypotheses[{i}] must be a list of tokens (str), not {type(h).__name__} of "
                f"{sorted({type(t).__name__ for t in h}) if isinstance(h, (list, tuple)) else '?'}"
            )
    for i, refs in enumerate(references):
        if isinstance(refs, str):
            raise TypeError(
                f"references[{i}] is a string; give a list of reference token lists, "
                f"e.g. [helpers.tokenize(c) for c in captions]"
            )
        if not isinstance(refs, (list, tuple)) or not refs:
            raise ValueError(f"references[{i}] must be a non-empty list of reference token lists")
        if _is_tokens(refs) and any(any(ch.isspace() for ch in t.strip()) for t in refs):
            j = next(j for j, t in enumerate(refs) if any(ch.isspace() for ch in t.strip()))
            raise TypeError(
                f"references[{i}][{j}] is a string with spaces ({refs[j][:40]!r}); {metric} needs token "
                f"lists: use helpers.tokenize(caption)"
            )
        if _is_tokens(refs):
            raise TypeError(
                f"references[{i}] is one token list, but each image needs a list of them: "
                f"wrap it, references = [[tokens], ...] (a missing level scores characters)"
            )
        for j, r in enumerate(refs):
            if isinstance(r, (list, tuple)) and any(isinstance(t, str) and not t.strip() for t in r):
                raise TypeError(
                    f"references[{i}][{j}] has an empty or blank token: characters instead of words? "
                    f"use helpers.tokenize(caption)"
                )
            if isinstance(r, str):
                raise TypeError(
                    f"references[{i}][{j}] is a string ({r[:40]!r}); {metric} needs token lists: "
                    f"use helpers.tokenize(caption)"
                )
            if not _is_tokens(r):
                raise TypeError(f"references[{i}][{j}] must be a list of tokens (str)")
            if not r:  # an empty hypothesis is a model's answer; an empty reference is broken data
                raise ValueError(f"references[{i}][{j}] has no tokens: drop reference captions without words")


def bleu(references: list, hypotheses: list) -> dict:
    """BLEU-1..4 (nltk `corpus_bleu`, smoothing method 1; Papineni et al. 2002) for token lists.

    `references[i]` is the list of reference token lists of image i, `hypotheses[i]` its generated tokens.
    One `corpus_bleu` call with the four weight vectors counts the n-grams once for all four scores.
    Returns {'bleu1': float, ..., 'bleu4': float} in [0, 1]. Raises TypeError / ValueError for inputs that
    are not nested as above (`check_bleu_inputs`).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    from nltk.translate.bleu_score import SmoothingFunction, corpus_bleu

    check_bleu_inputs(references, hypotheses)
    scores = corpus_bleu(references, hypotheses, weights=BLEU_WEIGHTS, smoothing_function=SmoothingFunction().method1)
    return {f"bleu{n}": float(v) for n, v in enumerate(scores, start=1)}


__all__ = ["distances", "ranks", "ranks_from_distances", "retrieval_metrics", "chance_metrics", "evaluate", "top_k"]
__all__ += ["flat_hits", "chance_hits", "search_precision", "matching_images", "oracle_metrics", "BLEU_WEIGHTS"]
__all__ += ["check_bleu_inputs", "bleu"]
