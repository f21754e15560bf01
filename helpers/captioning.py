"""Reusable pieces for caption generation (chapters 03 Show and Tell and 04 attention).

The decoder *models* live in the notebooks (they are the lesson); this module holds what every captioning
chapter needs around them. The API is stable: chapter 04 imports it.

Data and batching
    ``encode_captions(captions, vocab, lang, max_len=None) -> list[list[int]]``
        ``<start> w1 ... wn <end>`` ids per caption (unknown words -> ``<unk>``, truncated to ``max_len``).
    ``BucketBatchSampler(lengths, batch_size, shuffle=True, seed=0, drop_last=False)``
        Length-bucketed batches of indices: one sort per epoch (random tie-break), batches cut from the
        sorted order, batch order shuffled. Every index appears exactly once per epoch; no scan of the data
        per batch. Deterministic from (seed, epoch); each ``iter()`` starts the next epoch (``set_epoch``).
        Usable as a DataLoader ``batch_sampler``.
    ``CaptionBatches(caption_image, token_ids, batch_size, shuffle=True, seed=0, pad_id=0, drop_last=False)``
        Iterates ``CaptionBatch(image_index (B,), tokens (B, T), lengths (B,))`` long tensors, ``tokens``
        padded with ``pad_id`` to the longest caption *of the batch* (sliced from one padded matrix built
        once). Teacher forcing: inputs ``tokens[:, :-1]``, targets ``tokens[:, 1:]``. ``batch.to(device)``.
    ``references_per_image(data, lang) -> list[list[list[str]]]``: tokenised reference captions per image.

Loss
    ``masked_cross_entropy(logits (B, T, V), targets (B, T), pad_id=0, reduction="mean"|"sum"|"none")``
        Cross-entropy that ignores ``pad_id`` targets ("mean" averages over real tokens only; 0 if none).

Decoding (generic over any decoder)
    A decoder is exposed as ``step(tokens (N,), state) -> (log_probs (N, V), new_state)``: feed one token per
    sequence, get log-probabilities of the next one. ``state`` is any nested tuple / list / dict of tensors
    whose first dimension is the batch (keep ``nn.LSTM`` states batch-first, e.g. use ``nn.LSTMCell``, or
    pass ``reorder_state``); non-tensor leaves are passed through unchanged.
    ``greedy_decode(step, state, batch_size, start_id=1, end_id=2, pad_id=0, max_len=20) -> Decoded``
    ``beam_search(step, state, batch_size, beam_size=3, start_id=1, end_id=2, pad_id=0, max_len=20,
    length_penalty=0.0, return_beams=False, reorder_state=None) -> Decoded``
        Batched beam search. Hypotheses are ranked by ``log P / length ** length_penalty`` (0: raw sum of
        log-probabilities, 1: mean per token), the same key for pruning and for the final choice.
        A finished hypothesis stays in its beam with a frozen score. ``beam_size=1`` is greedy decoding.
    Both decoders never generate ``pad_id`` or ``start_id`` (their log-probabilities are masked out).
    ``Decoded(tokens, log_prob, lengths, score)``: ``tokens`` are the generated ids *without* ``<start>``,
        ``<end>`` included, ``pad_id`` after it; ``lengths`` count tokens up to and including ``<end>``;
        ``score`` is the length-normalised log-probability. With ``return_beams=True`` every field has an
        extra beam dimension (B, K, ...), best first.
    ``sequence_log_prob(step, state, tokens, start_id=1, end_id=2, pad_id=0) -> (B,)``
        The model's log-probability of given sequences (teacher forced), e.g. to compare greedy and beam.
    ``ids_to_tokens(tokens, vocab) -> list[list[str]]`` (stops at ``<end>``).

Checkpoints (no pickle)
    ``save_checkpoint(directory, model, vocab, config, format="safetensors"|"torch") -> Path``
        ``model.safetensors`` (or ``model.pt`` from ``torch.save(state_dict)``) + ``vocab.json`` +
        ``config.json``; each file written atomically.
    ``load_checkpoint(directory, build=None, map_location="cpu") -> Checkpoint(state_dict, vocab, config,
    model)``: ``torch.load(..., weights_only=True)`` or safetensors; ``build(config, vocab) -> nn.Module``
        makes the model, which is then loaded strictly and put in eval mode.

Baselines and evaluation
    ``nearest_neighbour_captions(query_features, train_features, train_captions, k=1, metric="cosine",
    lang="en") -> (captions, neighbour_index)``: caption of the closest training image(s); among the
        captions of the ``k`` nearest images, the consensus one (highest mean n-gram similarity to the others).
    ``bleu_scores(references, hypotheses) -> {"bleu1".."bleu4"}``: helpers.metrics.bleu under the name
        chapter 03 uses (nltk corpus_bleu, smoothing method 1; the inputs' nesting is checked).
    ``human_ceiling(references) -> {"bleu1".."bleu4"}``: each reference scored against the other references
        of its image, averaged over which reference is held out (the model is scored against one more).
    ``evaluate_captions(hypotheses, data, lang) -> dict``: BLEU-1..4 (helpers.metrics.bleu) and, when
        ``data`` has scene truth, helpers.metrics.semantic_scores, from generated token lists (``references``
        may be passed to avoid re-tokenising).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .metrics import bleu
from .paths import new_file_mode
from .text import Vocabulary, tokenize

__all__ = [
    "encode_captions", "BucketBatchSampler", "CaptionBatch", "CaptionBatches", "references_per_image",
    "masked_cross_entropy", "Decoded", "greedy_decode", "beam_search", "sequence_log_prob", "ids_to_tokens",
    "map_state", "save_checkpoint", "load_checkpoint", "Checkpoint", "nearest_neighbour_captions",
    "bleu_scores", "human_ceiling", "evaluate_captions",
]


# ------------------------------------------------------------------------------------------ batching
def encode_captions(captions: list, vocab: Vocabulary, lang: str = "en", max_len: int | None = None) -> list:
    """Caption strings -> id lists ``[<start>, ..., <end>]``; ``max_len`` bounds the total length (``<end>`` kept)."""
    out = []
    for text in captions:
        ids = vocab.encode(tokenize(text, lang))
        if max_len is not None and len(ids) > max_len:
            ids = ids[:max_len - 1] + [vocab.end]
        out.append(ids)
    return out


class BucketBatchSampler:
    """Batches of indices grouped by length, every index once per epoch, reproducible from (seed, epoch)."""

    def __init__(self, lengths, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1:
            raise ValueError("lengths must be a 1-d sequence")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        self.batch_size, self.shuffle, self.seed, self.drop_last = int(batch_size), shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self, epoch: int | None = None) -> list:
        """The list of index arrays of one epoch (does not advance the epoch counter)."""
        epoch = self.epoch if epoch is None else epoch
        n = len(self.lengths)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            order = np.lexsort((rng.random(n), self.lengths))  # by length, random among equal lengths
        else:
            order = np.argsort(self.lengths, kind="stable")
        cuts = [order[s:s + self.batch_size] for s in range(0, n, self.batch_size)]
        if self.drop_last and cuts and len(cuts[-1]) < self.batch_size:
            cuts = cuts[:-1]
        if self.shuffle:
            cuts = [cuts[i] for i in rng.permutation(len(cuts))]
        return cuts

    def __iter__(self):
        cuts = self.batches()
        self.epoch += 1
        for c in cuts:
            yield c.tolist()

    def __len__(self):
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class CaptionBatch(NamedTuple):
    image_index: torch.Tensor  # (B,) long: row of the image feature matrix
    tokens: torch.Tensor  # (B, T) long: <start> ... <end> <pad>...
    lengths: torch.Tensor  # (B,) long: tokens before padding

    def to(self, device) -> "CaptionBatch":
        return CaptionBatch(*(t.to(device) for t in self))


class CaptionBatches:
    """Length-bucketed, padded batches of (image index, caption ids) for teacher-forced training."""

    def __init__(self, caption_image, token_ids: list, batch_size: int = 64, shuffle: bool = True, seed: int = 0,
                 pad_id: int = 0, drop_last: bool = False):
        if len(caption_image) != len(token_ids):
            raise ValueError(f"{len(caption_image)} image indices but {len(token_ids)} captions")
        self.lengths = torch.tensor([len(t) for t in token_ids], dtype=torch.int64)
        if len(token_ids) and int(self.lengths.min()) < 2:
            raise ValueError("every caption needs at least <start> and <end>")
        width = int(self.lengths.max()) if len(token_ids) else 0
        matrix = np.full((len(token_ids), width), pad_id, np.int64)
        for i, t in enumerate(token_ids):
            matrix[i, :len(t)] = t
        self.matrix = torch.from_numpy(matrix)
        self.image_index = torch.as_tensor(np.asarray(caption_image), dtype=torch.int64)
        self.sampler = BucketBatchSampler(self.lengths.numpy(), batch_size, shuffle, seed, drop_last)

    def __len__(self):
        return len(self.sampler)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        for idx in self.sampler:
            idx = torch.as_tensor(idx, dtype=torch.int64)
            lengths = self.lengths[idx]
            yield CaptionBatch(self.image_index[idx], self.matrix[idx, :int(lengths.max())], lengths)


def references_per_image(data, lang: str | None = None) -> list:
    """Tokenised reference captions grouped by image (one pass over the captions), for BLEU."""
    lang = lang or getattr(data, "lang", "en")
    refs = [[] for _ in range(len(data.files))]
    for text, i in zip(data.captions, np.asarray(data.caption_image).tolist()):
        refs[i].append(tokenize(text, lang))
    return refs


# ---------------------------------------------------------------------------------------------- loss
def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0,
                         reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of (B, T, V) logits against (B, T) targets, ignoring positions where the target is `pad_id`.

    "mean": average over the non-pad tokens (0 when there are none); "sum": their total; "none": a (B, T)
    tensor with zeros at the pads.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}")
    flat = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1),
                           ignore_index=pad_id, reduction="none").view(targets.shape)
    if reduction == "none":
        return flat
    total = flat.sum()
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / (targets != pad_id).sum().clamp(min=1)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


# ------------------------------------------------------------------------------------------ decoding
def map_state(fn: Callable, state):
    """Apply `fn` to every tensor of a nested tuple / list / dict state (other leaves unchanged)."""
    if torch.is_tensor(state):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # namedtuple
        return type(state)(*(map_state(fn, s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s) for s in state)
    if isinstance(state, dict):
        return {k: map_state(fn, v) for k, v in state.items()}
    return state


def _first_tensor(state):
    found = []
    map_state(lambda t: found.append(t) or t, state)
    return found[0] if found else None


def _select(state, index: torch.Tensor):
    return map_state(lambda t: t.index_select(0, index), state)


@dataclass
class Decoded:
    tokens: torch.Tensor  # (B, T) generated ids (no <start>), <end> included, then pads; (B, K, T) for beams
    log_prob: torch.Tensor  # (B,) sum of log-probabilities of the generated tokens
    lengths: torch.Tensor  # (B,) tokens up to and including <end> (max_len if it never ended)
    score: torch.Tensor  # (B,) log_prob / lengths ** length_penalty (the ranking key)


def _device(state, device):
    if device is not None:
        return torch.device(device)
    t = _first_tensor(state)
    return t.device if t is not None else torch.device("cpu")


@torch.no_grad()
def greedy_decode(step: Callable, state, batch_size: int, start_id: int = 1, end_id: int = 2, pad_id: int = 0,
                  max_len: int = 20, device=None) -> Decoded:
    """Pick the most probable next token at every step until `<end>` (or `max_len` tokens) for a batch."""
    dev = _device(state, device)
    tokens = torch.full((batch_size,), start_id, dtype=torch.int64, device=dev)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=dev)
    total = torch.zeros(batch_size, device=dev)
    lengths = torch.zeros(batch_size, dtype=torch.int64, device=dev)
    out = []
    for _ in range(max_len):
        logp, state = step(tokens, state)
        logp = logp.float()
        nxt = _forbid(logp, start_id, pad_id).argmax(-1)
        nxt = torch.where(finished, torch.full_like(nxt, pad_id), nxt)
        total += torch.where(finished, torch.zeros_like(total), logp.gather(1, nxt[:, None]).squeeze(1))
        lengths += (~finished).long()
        out.append(nxt)
        finished = finished | (nxt == end_id)
        tokens = nxt
        if bool(finished.all()):
            break
    seq = torch.stack(out, 1) if out else torch.zeros((batch_size, 0), dtype=torch.int64, device=dev)
    return Decoded(seq, total, lengths, total.clone())


def _forbid(logp: torch.Tensor, *ids: int) -> torch.Tensor:
    """Log-probabilities with the given token ids made impossible (a copy)."""
    logp = logp.clone()
    logp[:, list(ids)] = float("-inf")
    return logp


def _normalise(score: torch.Tensor, lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    if alpha == 0:
        return score
    return score / lengths.clamp(min=1).float() ** alpha


@torch.no_grad()
def beam_search(step: Callable, state, batch_size: int, beam_size: int = 3, start_id: int = 1, end_id: int = 2,
                pad_id: int = 0, max_len: int = 20, length_penalty: float = 0.0, return_beams: bool = False,
                reorder_state: Callable | None = None, device=None) -> Decoded:
    """Batched beam search over `step(tokens, state) -> (log_probs, state)`.

    The state of each of the `batch_size` sequences is repeated `beam_size` times (rows b*K ... b*K+K-1).
    At every step each live hypothesis is extended by every word; the `beam_size` best candidates per image
    survive, ranked by log P / length ** length_penalty. A hypothesis that produced `<end>` is carried along
    unchanged (its only continuation is `pad_id`, at no cost). Stops when every hypothesis has ended or after
    `max_len` tokens.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, not {beam_size}")
    reorder = reorder_state or _select
    dev = _device(state, device)
    B, K = batch_size, beam_size
    state = reorder(state, torch.arange(B, device=dev).repeat_interleave(K))
    tokens = torch.full((B * K,), start_id, dtype=torch.int64, device=dev)
    scores = torch.full((B, K), float("-inf"), device=dev)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive so the first step does not pick duplicates
    finished = torch.zeros((B, K), dtype=torch.bool, device=dev)
    lengths = torch.zeros((B, K), dtype=torch.int64, device=dev)
    history = torch.zeros((B, K, 0), dtype=torch.int64, device=dev)
    base = (torch.arange(B, device=dev) * K)[:, None]
    for t in range(max_len):
        logp, state = step(tokens, state)
        V = logp.shape[-1]
        logp = _forbid(logp.float(), start_id, pad_id).view(B, K, V)
        done_row = torch.full((V,), float("-inf"), device=dev)
        done_row[pad_id] = 0.0
        logp = torch.where(finished[..., None], done_row, logp)
        cand = scores[..., None] + logp  # (B, K, V)
        cand_len = (lengths + (~finished).long())[..., None].expand(B, K, V)
        key = _normalise(cand, cand_len, length_penalty).reshape(B, K * V)
        top = key.topk(K, dim=1).indices  # (B, K)
        beam, tok = top // V, top % V
        scores = cand.reshape(B, K * V).gather(1, top)
        lengths = cand_len.reshape(B, K * V).gather(1, top)
        finished = finished.gather(1, beam) | (tok == end_id)
        history = torch.cat([history.gather(1, beam[..., None].expand(B, K, t)), tok[..., None]], dim=2)
        state = reorder(state, (base + beam).reshape(-1))
        tokens = tok.reshape(-1)
        if bool(finished.all()):
            break
    final = _normalise(scores, lengths, length_penalty)
    order = final.argsort(dim=1, descending=True, stable=True)
    history = history.gather(1, order[..., None].expand_as(history))
    scores, lengths, final = scores.gather(1, order), lengths.gather(1, order), final.gather(1, order)
    if return_beams:
        return Decoded(history, scores, lengths, final)
    return Decoded(history[:, 0], scores[:, 0], lengths[:, 0], final[:, 0])


@torch.no_grad()
def sequence_log_prob(step: Callable, state, tokens: torch.Tensor, start_id: int = 1, end_id: int = 2,
                      pad_id: int = 0) -> torch.Tensor:
    """Sum of log P(token_t | previous tokens) over each row of `tokens` (B, T), up to and including `<end>`.

    `tokens` are generated ids without `<start>` (what `greedy_decode` / `beam_search` return).
    """
    B, T = tokens.shape
    prev = torch.full((B,), start_id, dtype=torch.int64, device=tokens.device)
    alive = torch.ones(B, dtype=torch.bool, device=tokens.device)
    total = torch.zeros(B, device=tokens.device)
    for t in range(T):
        logp, state = step(prev, state)
        cur = tokens[:, t]
        live = alive & (cur != pad_id)
        total += torch.where(live, logp.float().gather(1, cur[:, None]).squeeze(1), torch.zeros_like(total))
        alive = live & (cur != end_id)
        prev = cur
    return total


def ids_to_tokens(tokens, vocab: Vocabulary) -> list:
    """Rows of generated ids -> word lists, stopping at `<end>` (pads and `<start>` dropped)."""
    rows = tokens.tolist() if torch.is_tensor(tokens) else tokens
    return [vocab.decode(r) for r in rows]


# --------------------------------------------------------------------------------------- checkpoints
@dataclass
class Checkpoint:
    state_dict: dict
    vocab: Vocabulary
    config: dict
    model: torch.nn.Module | None = None


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, new_file_mode())  # mkstemp's 0600 -> what open() would give
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_WEIGHTS = {"safetensors": "model.safetensors", "torch": "model.pt"}


def save_checkpoint(directory, model, vocab: Vocabulary, config: dict, format: str = "safetensors") -> Path:
    """Save `model`'s state_dict (or a state_dict itself), the vocabulary and a JSON config in `directory`.

    Each file is written atomically; config.json comes last and records the weights format, and a weights
    file of an earlier save in the other format is removed, so the folder always loads what was saved last.
    Raises ValueError for an unknown `format`.
    """
    if format not in ("safetensors", "torch"):
        raise ValueError(f"format must be 'safetensors' or 'torch', not {format!r}")
    directory = Path(directory)
    state = model.state_dict() if isinstance(model, torch.nn.Module) else dict(model)
    # Own, contiguous CPU copies: safetensors refuses shared memory (e.g. tied embeddings).
    state = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    text = json.dumps({**config, "weights_format": format, "vocab_size": len(vocab)}, indent=1, sort_keys=True)
    if format == "safetensors":
        from safetensors.torch import save_file
        _atomic(directory / _WEIGHTS[format], lambda p: save_file(state, p))
    else:
        _atomic(directory / _WEIGHTS[format], lambda p: torch.save(state, p))
    _atomic(directory / "vocab.json", vocab.save)
    # config.json is written last and names the weights file: it is what makes the new save the current one
    _atomic(directory / "config.json", lambda p: Path(p).write_text(text, encoding="utf-8"))
    for other, name in _WEIGHTS.items():  # a weights file of an earlier save in the other format is stale
        if other != format:
            (directory / name).unlink(missing_ok=True)
    return directory


def load_checkpoint(directory, build: Callable | None = None, map_location="cpu") -> Checkpoint:
    """Load what `save_checkpoint` wrote (no pickle: safetensors or `torch.load(weights_only=True)`).

    With `build(config, vocab) -> nn.Module`, the model is created, loaded strictly and set to eval mode.
    """
    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    vocab = Vocabulary.load(directory / "vocab.json")
    if config.get("vocab_size", len(vocab)) != len(vocab):
        raise ValueError(f"{directory}: config says {config['vocab_size']} words, vocab.json has {len(vocab)}")
    fmt = config.get("weights_format")
    if fmt is None:  # a folder from before config.json named its weights: the newest file is the last save
        present = [f for f, name in _WEIGHTS.items() if (directory / name).is_file()]
        fmt = max(present, key=lambda f: (directory / _WEIGHTS[f]).stat().st_mtime_ns) if present else "safetensors"
    if fmt not in _WEIGHTS:
        raise ValueError(f"{directory}/config.json: unknown weights_format {fmt!r}; expected {sorted(_WEIGHTS)}")
    path = directory / _WEIGHTS[fmt]
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: config.json says the weights are in {path.name}, which is missing; "
                                f"save the checkpoint again")
    if fmt == "safetensors":
        from safetensors.torch import load_file
        device = str(map_location) if map_location is not None else "cpu"
        state = load_file(str(path), device=device)
    else:
        state = torch.load(path, map_location=map_location, weights_only=True)
    model = None
    if build is not None:
        model = build(config, vocab)
        model.load_state_dict(state, strict=True)
        model.eval()
    return Checkpoint(state, vocab, config, model)


# --------------------------------------------------------------------------------- baselines, metrics
def _ngrams(tokens: list, n_max: int = 2) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


def _consensus(candidates: list) -> int:
    """Index of the token list with the highest mean n-gram cosine similarity to the other candidates."""
    if len(candidates) == 1:
        return 0
    grams = [_ngrams(c) for c in candidates]
    norms = [np.sqrt(sum(v * v for v in g.values())) or 1.0 for g in grams]
    best, best_score = 0, -1.0
    for i, gi in enumerate(grams):
        s = sum(sum(v * gj[k] for k, v in gi.items() if k in gj) / (norms[i] * norms[j])
                for j, gj in enumerate(grams) if j != i) / (len(grams) - 1)
        if s > best_score + 1e-12:
            best, best_score = i, s
    return best


def nearest_neighbour_captions(query_features, train_features, train_captions: list, k: int = 1,
                               metric: str = "cosine", lang: str = "en", chunk: int = 1024) -> tuple:
    """The caption-retrieval baseline: describe an image with a caption of its nearest training image(s).

    `train_captions[j]` is the list of caption strings of training image j. Among the captions of the `k`
    nearest images the consensus caption is returned. Returns (captions, nearest image index per query).
    """
    from .metrics import distances

    x = torch.as_tensor(np.asarray(train_features), dtype=torch.float32)
    q_all = torch.as_tensor(np.asarray(query_features), dtype=torch.float32)
    neighbours = []
    for s in range(0, len(q_all), chunk):
        d = distances(q_all[s:s + chunk], x, metric)
        neighbours.append(d.topk(k, dim=1, largest=False).indices)
    nn_idx = torch.cat(neighbours).numpy() if neighbours else np.zeros((0, k), np.int64)
    out = []
    for row in nn_idx:
        cands = [c for j in row for c in train_captions[int(j)]]
        out.append(cands[_consensus([tokenize(c, lang) for c in cands])])
    return out, nn_idx[:, 0]


def bleu_scores(references: list, hypotheses: list) -> dict:
    """BLEU-1..4: the same function as `helpers.metrics.bleu` (kept under this name for chapter 03)."""
    return bleu(references, hypotheses)


def human_ceiling(references: list) -> dict:
    """BLEU-1..4 of one human caption against the other captions of the same image, averaged over the hold-out.

    `references[i]` are the tokenised captions of image i (at least 2). Note the model is usually scored
    against all references (one more than here), which favours it slightly.
    """
    n = min(len(r) for r in references)
    if n < 2:
        raise ValueError("the ceiling needs at least two references per image")
    runs = [bleu_scores([r[:j] + r[j + 1:] for r in references], [r[j] for r in references]) for j in range(n)]
    return {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}


def evaluate_captions(hypotheses: list, data, lang: str | None = None, references: list | None = None) -> dict:
    """BLEU-1..4 of generated token lists (one per image of `data`) and, with scene truth, the semantic scores."""
    from .metrics import semantic_scores

    lang = lang or getattr(data, "lang", "en")
    references = references if references is not None else references_per_image(data, lang)
    out = bleu_scores(references, hypotheses)
    if getattr(data, "scenes", None) is not None:
        out.update(semantic_scores([" ".join(h) for h in hypotheses], data.scenes, lang))
    return out
