"""Caption metrics and baselines: BLEU, the human ceiling, semantic scores against the scene truth, whether
attention looked at the right object, and the nearest-neighbour caption baseline.

- BLEU-1..4 is :func:`helpers.metrics.bleu` (also reachable as `caption_metrics.bleu`).
- :func:`human_ceiling`: each reference scored against the other references of its image, averaged over
  which reference is held out (the model is scored against one more).
- :func:`semantic_scores`, a score only our scenes allow: parse a generated caption back into objects and a
  relation (:func:`helpers.grammar.parse_caption`) and compare with the scene truth.
- :func:`cider`: CIDEr-D (Vedantam et al. 2015), pycocoevalcap's implementation of the COCO caption server.
- :func:`evaluate_captions`: BLEU-1..4, CIDEr-D and, when the data has scene truth, the semantic scores.
- :func:`attention_in_box` / :func:`attention_in_boxes` / :func:`summarize_attention_in_box`: does the peak
  of the attention map of an object word lie in a box of that object, against the rate of a uniformly random
  peak (:func:`box_cell_fraction`).
- :func:`nearest_neighbour_captions`: the caption-retrieval baseline (consensus caption of the nearest
  training images).
"""

from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import torch

from ._checks import listed, positive_int, require_finite, require_real
from ._older_names import alias_module
from .batching import references_per_image
from .grammar import object_mentions, parse_caption

# BLEU lives in helpers.metrics (one home); kept reachable here as caption_metrics.bleu.
from .metrics import BLEU_WEIGHTS, bleu, check_bleu_inputs, distances  # noqa: F401
from .scenes import satisfies
from .text import tokenize

__all__ = [
    "cider",
    "human_ceiling",
    "semantic_scores",
    "evaluate_captions",
    "attention_in_box",
    "box_cell_fraction",
    "attention_in_boxes",
    "summarize_attention_in_box",
    "nearest_neighbour_captions",
]


def cider(references: list, hypotheses: list) -> float:
    """CIDEr-D of generated token lists: consensus with the references, n-grams weighted by tf-idf.

    Vedantam et al. 2015, with the COCO caption server's implementation (`pycocoevalcap`: n-grams 1-4, a
    Gaussian length penalty, clipped counts, the document frequencies taken from this set's references, and
    scaled by 10, so scores run from 0 to about 10 and are not bounded by 1 like BLEU). Inputs as for `bleu`:
    `references[i]` the reference token lists of image i, `hypotheses[i]` its tokens; tokens are joined with
    spaces (our tokenizer stands in for the server's PTB tokenizer, which needs Java). Returns a float.
    Raises TypeError / ValueError for inputs that are not nested as above (`check_bleu_inputs`), ValueError
    for fewer than 2 images (one image gives every n-gram the weight 0, so any caption would score 0).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    from pycocoevalcap.cider.cider import Cider

    check_bleu_inputs(references, hypotheses, metric="CIDEr")
    if len(references) < 2:  # idf = log(images / images with the n-gram) = 0 for every n-gram of one image
        raise ValueError(f"CIDEr needs at least 2 images (its n-gram weights come from the set), got {len(references)}")
    gts = {i: [" ".join(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [" ".join(h)] for i, h in enumerate(hypotheses)}
    return float(Cider().compute_score(gts, res)[0])


def human_ceiling(references: list) -> dict:
    """BLEU-1..4 and CIDEr-D of one human caption against the other captions of the same image.

    Averaged over which caption is held out. `references[i]` are the tokenized captions of image i (at least
    2). Note the model is usually scored against all references (one more than here), which favours it
    slightly. Returns {'bleu1', ..., 'bleu4', 'cider'}. Raises TypeError when `references` is not a list (of
    lists of token lists), ValueError when it is empty or an image has fewer than 2 references, TypeError as
    `bleu` for badly nested tokens.

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    if not isinstance(references, (list, tuple)):
        raise TypeError(
            f"human_ceiling takes a list with, per image, the list of its reference token lists, "
            f"not {type(references).__name__} ({references!r:.60})"
        )
    if not references:
        raise ValueError("no images: the human ceiling needs at least one image with two references or more")
    n = min(len(r) for r in references)
    if n < 2:
        raise ValueError("the ceiling needs at least two references per image")
    runs = []
    for j in range(n):
        others, held_out = [r[:j] + r[j + 1 :] for r in references], [r[j] for r in references]
        runs.append({**bleu(others, held_out), "cider": cider(others, held_out)})
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


# ------------------------------------------------------------------------- meaning vs scene truth
def semantic_scores(captions: list, scenes: list, lang: str = "en") -> dict:
    """Compare generated captions with the scene truth.

    `captions`: caption strings, one per `Scene` of `scenes` (read back with `grammar.parse_caption`).
    object_precision: of the objects a caption names, the share that are in the image; object_recall: of
    the image's object classes, the share the caption names; count_accuracy: named classes whose stated
    count (1 unless "two ...") is right; relation_accuracy: of the relations stated between objects that
    are present, the share that hold (NaN when none is stated); relations_stated: how many there were.
    Raises ValueError for a language other than 'en' / 'es' or when there are not as many captions as scenes;
    TypeError when `captions` is a string, not a list of caption strings.

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    captions, scenes = list(listed(captions, "captions", "caption strings")), list(listed(scenes, "scenes", "scenes"))
    if len(captions) != len(scenes):
        raise ValueError(f"{len(captions)} captions but {len(scenes)} scenes: give one caption per scene")
    tp = named = present = counts_ok = rel_ok = rel_n = 0
    for text, scene in zip(captions, scenes):
        p = parse_caption(text, lang)
        truth = scene.counts()
        named += len(p["objects"])
        present += len(truth)
        hits = [c for c in p["objects"] if c in truth]
        tp += len(hits)
        counts_ok += sum(1 for c in hits if p["objects"][c] == truth[c])
        if p["relation"]:
            a, rel, b = p["relation"]
            if a in truth and b in truth:
                rel_n += 1
                meaning = {
                    "kind": "relation",
                    "objects": {a: 1, b: 1},
                    "sizes": {},
                    "relation": [a, rel, b],
                    "background": None,
                }
                rel_ok += satisfies(scene, meaning)
    return {
        "object_precision": tp / named if named else 0.0,
        "object_recall": tp / present if present else 0.0,
        "count_accuracy": counts_ok / tp if tp else 0.0,
        "relation_accuracy": rel_ok / rel_n if rel_n else float("nan"),
        "relations_stated": rel_n,
    }


def evaluate_captions(hypotheses: list, data, lang: str | None = None, references: list | None = None) -> dict:
    """BLEU-1..4 and CIDEr-D of token lists (one per image of `data`) and, with scene truth, the semantic scores.

    `references` default to `references_per_image(data, lang)`; `lang` to `data.lang`. Returns {'bleu1', ...,
    'bleu4', 'cider'} plus the keys of `semantic_scores` when `data.scenes` is there. Raises TypeError / ValueError as
    `bleu` (`check_bleu_inputs`) for inputs that are not nested token lists of matching length.

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    lang = lang or getattr(data, "lang", "en")
    references = references if references is not None else references_per_image(data, lang)
    out = {**bleu(references, hypotheses), "cider": cider(references, hypotheses)}
    if getattr(data, "scenes", None) is not None:
        out.update(semantic_scores([" ".join(h) for h in hypotheses], data.scenes, lang))
    return out


# ----------------------------------------------------------------------------------- attention in a box
def attention_in_box(attention: np.ndarray, box, image_size: int = 128) -> bool:
    """True when the peak of an (H, W) attention map falls inside `box` (x0, y0, x1, y1 in pixels).

    The peak is the centre of the most attended cell, mapped onto an `image_size` x `image_size` pixel image.
    Raises ValueError for a map that is not 2-D or empty, or holds NaN or infinite weights (a diverged model:
    `argmax` would pick the first NaN, a "peak" that can land in the box), a box that is not 4 finite numbers,
    or an `image_size` that is not a number > 0; TypeError for a box of strings or other non-numbers.

    Taught in: notebooks/04_attention_solution.ipynb § Evaluation
    """
    attention, image_size = _check_map(attention), _check_size(image_size)
    _check_boxes(box, single=True)
    h, w = attention.shape
    r, c = np.unravel_index(int(np.argmax(attention)), attention.shape)
    cx, cy = (c + 0.5) * image_size / w, (r + 0.5) * image_size / h
    x0, y0, x1, y1 = box
    return bool(x0 <= cx < x1 and y0 <= cy < y1)


def _check_map(attention) -> np.ndarray:
    """`attention` as a float array: ValueError unless it is a non-empty (H, W) map of finite weights."""
    att = np.asarray(attention, dtype=np.float64)
    if att.ndim != 2 or not att.size:
        raise ValueError(f"an attention map must be a non-empty (H, W) array, got shape {att.shape}")
    require_finite("attention weights", att)  # rows of the map
    return att


def _check_size(image_size):
    """`image_size` unchanged: ValueError unless it is a finite real number > 0."""
    real = isinstance(image_size, (int, float, np.integer, np.floating)) and not isinstance(image_size, bool)
    if not real or not np.isfinite(image_size) or image_size <= 0:
        raise ValueError(f"image_size must be a number of pixels > 0, got {image_size!r:.40}")
    return image_size


def _check_boxes(boxes, single: bool = False) -> np.ndarray:
    """`boxes` (one box, or with not `single` a list of them) as an (n, 4) float array: TypeError unless
    numbers, ValueError unless each is 4 finite numbers (x0, y0, x1, y1)."""
    with warnings.catch_warnings():  # numpy < 1.24 warns about ragged lists, later ones raise ValueError
        warnings.simplefilter("error", getattr(np, "VisibleDeprecationWarning", DeprecationWarning))
        try:
            b = np.asarray(boxes)
        except (ValueError, Warning):  # ragged
            b = np.zeros(5)
    if b.size and b.dtype.kind not in "iuf":
        raise TypeError(f"boxes must be numbers (x0, y0, x1, y1) in pixels, got {boxes!r:.60}")
    one, b = b.ndim == 1, b.astype(np.float64)
    b = b[None] if one and (b.size or single) else b.reshape(0, 4) if b.ndim == 1 else b
    if b.ndim != 2 or b.shape[1] != 4 or (single and not one) or not np.isfinite(b).all():
        raise ValueError(f"a box must be 4 finite numbers (x0, y0, x1, y1) in pixels, got {boxes!r:.60}")
    return b


def box_cell_fraction(boxes, grid: tuple, image_size: int = 128) -> float:
    """Share of grid cells whose centre lies in a box: what a uniformly random attention peak would score.

    `boxes` is one box (x0, y0, x1, y1 in pixels) or a list of boxes (the cells inside any of them count);
    `grid` is (H, W), the attention map's shape, over an `image_size`-pixel image. Returns a float in [0, 1].
    Raises TypeError for boxes that are not numbers; ValueError for a box that is not 4 finite numbers, an
    `image_size` that is not > 0, or a `grid` that is not two ints >= 1 (TypeError for non-ints).

    Taught in: notebooks/04_attention_solution.ipynb § Evaluation
    """
    boxes, image_size = _check_boxes(boxes), _check_size(image_size)
    if np.shape(grid) != (2,):
        raise ValueError(f"grid must be (H, W), the attention map's shape, got {grid!r:.40}")
    h, w = positive_int(grid[0], "grid H"), positive_int(grid[1], "grid W")
    cx = (np.arange(w) + 0.5) * image_size / w
    cy = (np.arange(h) + 0.5) * image_size / h
    inside = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        inside |= ((cx[None, :] >= x0) & (cx[None, :] < x1)) & ((cy[:, None] >= y0) & (cy[:, None] < y1))
    return float(inside.mean())


def attention_in_boxes(tokens: list, attention, scene, lang: str = "en", image_size: int | None = None) -> list:
    """One record per object word of `tokens` whose class is in `scene`.

    `attention[t]` is the (H, W) map used to emit `tokens[t]` (a (T, H, W) array or a list of maps);
    `image_size` defaults to `scene.canvas` (pixels). A record is {"position", "word", "cls",
    "hit" (the peak lies in a box of that class), "uniform" (share of cells inside those boxes)}. Words naming
    an object that is not in the image (a wrong word) are left out: there is no box to look at. Raises
    TypeError when `tokens` is a string, ValueError as `attention_in_box` for a map of an object word that is
    not (H, W) or holds NaN / infinite weights.

    Taught in: notebooks/04_attention_solution.ipynb § Evaluation
    """
    listed(tokens, "tokens", "tokens (words)")  # a string would be read letter by letter
    attention = np.asarray(attention)
    image_size = image_size or scene.canvas
    boxes_of = {}
    for o in scene.objects:
        boxes_of.setdefault(o.cls, []).append(o.box)
    out = []
    for t, cls in object_mentions(list(tokens), lang):
        if cls not in boxes_of or t >= len(attention):
            continue
        boxes = boxes_of[cls]
        att = attention[t]
        out.append(
            {
                "position": t,
                "word": tokens[t],
                "cls": cls,
                "hit": any(attention_in_box(att, b, image_size) for b in boxes),
                "uniform": box_cell_fraction(boxes, att.shape, image_size),
            }
        )
    return out


def summarize_attention_in_box(records: list) -> dict:
    """{"attention_in_box", "attention_in_box_uniform", "object_words"} over records from many captions.

    The two rates are means of the records' "hit" and "uniform"; no records: NaN, NaN and 0. Raises ValueError
    for a record whose "hit" or "uniform" is not a finite number (records of `attention_in_boxes` always are);
    TypeError for a string or a record that is not a dict. Any iterable of records (a generator too) is read once.

    Taught in: notebooks/04_attention_solution.ipynb § Evaluation
    """
    numbers, records = (bool, int, float, np.number, np.bool_), list(listed(records, "records", "record dicts"))
    for i, r in enumerate(records):
        if not isinstance(r, dict) or not {"hit", "uniform"} <= r.keys():
            raise TypeError(f"records[{i}] must be a dict with 'hit' and 'uniform' (attention_in_boxes), got {r!r:.80}")
        if not all(isinstance(r[k], numbers) and np.isfinite(r[k]) for k in ("hit", "uniform")):
            raise ValueError(f"records[{i}] has a non-finite or non-numeric 'hit' / 'uniform': {r!r:.120}")
    if not records:
        return {"attention_in_box": float("nan"), "attention_in_box_uniform": float("nan"), "object_words": 0}
    return {
        "attention_in_box": float(np.mean([r["hit"] for r in records])),
        "attention_in_box_uniform": float(np.mean([r["uniform"] for r in records])),
        "object_words": len(records),
    }


# ------------------------------------------------------------------------------------------- baselines
def _ngrams(tokens: list, n_max: int = 2) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


def _consensus(candidates: list) -> int:
    """Index of the token list with the highest mean n-gram cosine similarity to the other candidates."""
    if len(candidates) == 1:
        return 0
    grams = [_ngrams(c) for c in candidates]
    norms = [np.sqrt(sum(v * v for v in g.values())) or 1.0 for g in grams]
    best, best_score = 0, -1.0
    for i, gi in enumerate(grams):
        s = sum(
            sum(v * gj[k] for k, v in gi.items() if k in gj) / (norms[i] * norms[j])
            for j, gj in enumerate(grams)
            if j != i
        ) / (len(grams) - 1)
        if s > best_score + 1e-12:
            best, best_score = i, s
    return best


def nearest_neighbour_captions(
    query_features,
    train_features,
    train_captions: list,
    k: int = 1,
    metric: str = "cosine",
    lang: str = "en",
    chunk: int = 1024,
) -> tuple:
    """The caption-retrieval baseline: describe an image with a caption of its nearest training image(s).

    The idea of Devlin et al. 2015 (nearest-neighbour captioning). `query_features` (Q, D) and `train_features`
    (N, D) float; `train_captions[j]` is the list of caption strings of training image j. Among the captions of
    the `k` nearest images (`metric` 'cosine' or 'l2') the consensus caption (most word and word-pair overlap
    with the others) is returned. Returns (Q caption strings, (Q,) int64 index of each query's nearest image).
    Raises ValueError for another metric or NaN / infinite features (`metrics.distances`), no training image,
    not one caption list per training image, or a query whose nearest image(s) have no caption; TypeError when
    `train_captions` or one of its entries is a string (a list of caption strings per image belongs there) or
    for complex features; TypeError / ValueError unless `k` and `chunk` are ints >= 1. A `k` above the number
    of training images N uses all N.

    The default `k` is the book's one nearest-neighbour baseline (chapters 03 and 04, both editions, call it
    without `k`). It was chosen once, on the validation split of the embedded scenes (pooled
    EfficientNet-Lite0 features, cosine, English), as the k of 1, 2, 3, 5, 7, 10, 15 with the best BLEU-4:
    k = 1 (0.348, against 0.324 to 0.331 for k = 2 to 7 and less beyond).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    require_real("query_features", query_features), require_real("train_features", train_features)
    x = torch.as_tensor(np.asarray(train_features), dtype=torch.float32)
    q_all = torch.as_tensor(np.asarray(query_features), dtype=torch.float32)
    caps = listed(train_captions, "train_captions", "caption lists (one list of strings per training image)")
    caps = [listed(c, f"train_captions[{j}]", "caption strings") for j, c in enumerate(caps)]
    if not len(x) or len(caps) != len(x):
        raise ValueError(f"{len(x)} training images but {len(caps)} caption lists: give one list per image (>= 1)")
    k, chunk, neighbours = min(positive_int(k, "k"), len(x)), positive_int(chunk, "chunk"), []
    for s in range(0, len(q_all), chunk):
        d = distances(q_all[s : s + chunk], x, metric)
        neighbours.append(d.topk(k, dim=1, largest=False).indices)
    nn_idx = torch.cat(neighbours).numpy() if neighbours else np.zeros((0, k), np.int64)
    out = []
    for i, row in enumerate(nn_idx):
        cands = [c for j in row for c in caps[int(j)]]
        if not cands:
            raise ValueError(f"query {i}: its nearest training image(s) {row.tolist()} have no captions: drop those")
        out.append(cands[_consensus([tokenize(c, lang) for c in cands])])
    return out, nn_idx[:, 0]


# One English spelling in the code (issue 15): the name of before answers, with a DeprecationWarning.
__getattr__ = alias_module(
    "caption_metrics", {"summarise_attention_in_box": "caption_metrics.summarize_attention_in_box"}, older_module=False
)
