"""Decoding (generic over any decoder): greedy search, beam search, the log-probability of given sequences.

A decoder is exposed as ``step(tokens (N,), state) -> (log_probs (N, V), new_state)``: feed one token per
sequence, get log-probabilities of the next one. ``state`` is any nested tuple / list / dict of tensors whose
first dimension is the batch (keep ``nn.LSTM`` states batch-first, e.g. use ``nn.LSTMCell``, or pass
``reorder_state``); non-tensor leaves are passed through unchanged.

``greedy_decode(step, state, batch_size, start_id=1, end_id=2, pad_id=0, max_len=20) -> Decoded``
    Greedy search: the most likely next token at every step.
``beam_search(step, state, batch_size, beam_size=3, ..., length_penalty=0.0, return_beams=False) -> Decoded``
    Batched beam search (more keywords: ``start_id``, ``end_id``, ``pad_id``, ``max_len``, ``reorder_state``).
    Hypotheses are ranked by ``log P / length ** length_penalty`` (0: raw sum of log-probabilities, 1: mean
    per token), the same key for pruning and for the final choice. A finished
    hypothesis stays in its beam with a frozen score. ``beam_size=1`` is greedy decoding.

Both decoders never generate ``pad_id`` or ``start_id`` (their log-probabilities are masked out).

``Decoded(tokens, log_prob, lengths, score)``
    ``tokens`` are the generated ids *without* ``<start>``, ``<end>`` included, ``pad_id`` after it;
    ``lengths`` count tokens up to and including ``<end>``; ``score`` is the length-normalized
    log-probability. With ``return_beams=True`` every field has an extra beam
    dimension (B, K, ...), best first.
``sequence_log_prob(step, state, tokens, start_id=1, end_id=2, pad_id=0) -> (B,)``
    The model's log-probability of given sequences (teacher forced), e.g. to compare greedy and beam.
``ids_to_tokens(tokens, vocab) -> list[list[str]]``
    Token strings per sequence, stopping at ``<end>``.

Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .text import Vocabulary

__all__ = ["Decoded", "greedy_decode", "beam_search", "sequence_log_prob", "ids_to_tokens", "map_state"]


def map_state(fn: Callable, state):
    """Apply `fn` to every tensor of a nested tuple / list / dict state (other leaves unchanged).

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
    """
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
    """What the decoders return: generated ids, their log-probability, lengths and the ranking score.

    ``tokens`` int64, ``lengths`` int64, ``log_prob`` and ``score`` float32; shapes as in the field comments
    ((B, K, ...) with ``return_beams=True``, best beam first).

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
    """

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
def greedy_decode(
    step: Callable,
    state,
    batch_size: int,
    start_id: int = 1,
    end_id: int = 2,
    pad_id: int = 0,
    max_len: int = 20,
    device=None,
) -> Decoded:
    """Pick the most probable next token at every step until `<end>` (or `max_len` tokens) for a batch.

    ``step(tokens (B,) int64, state) -> (log_probs (B, V), state)``. Returns ``Decoded`` with ``tokens`` (B, T)
    int64, T <= ``max_len``; its ``score`` is ``log_prob`` (no length normalization). ``start_id`` and
    ``pad_id`` are never chosen (``pad_id`` only fills a row after its ``<end>``).

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
    """
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


def _normalize(score: torch.Tensor, lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    if alpha == 0:
        return score
    return score / lengths.clamp(min=1).float() ** alpha


@torch.no_grad()
def beam_search(
    step: Callable,
    state,
    batch_size: int,
    beam_size: int = 3,
    start_id: int = 1,
    end_id: int = 2,
    pad_id: int = 0,
    max_len: int = 20,
    length_penalty: float = 0.0,
    return_beams: bool = False,
    reorder_state: Callable | None = None,
    device=None,
) -> Decoded:
    """Batched beam search over `step(tokens, state) -> (log_probs, state)`, as in Show and Tell (Vinyals et al. 2015).

    The state of each of the `batch_size` sequences is repeated `beam_size` times (rows b*K ... b*K+K-1).
    At every step each live hypothesis is extended by every word; the `beam_size` best candidates per image
    survive, ranked by log P / length ** length_penalty. A hypothesis that produced `<end>` is carried along
    unchanged (its only continuation is `pad_id`, at no cost). Stops when every hypothesis has ended or after
    `max_len` tokens. Returns ``Decoded``: ``tokens`` (B, T) int64 and (B,) fields, or (B, K, T) and (B, K)
    with `return_beams`. Raises ValueError when `beam_size` < 1.

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
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
        key = _normalize(cand, cand_len, length_penalty).reshape(B, K * V)
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
    final = _normalize(scores, lengths, length_penalty)
    order = final.argsort(dim=1, descending=True, stable=True)
    history = history.gather(1, order[..., None].expand_as(history))
    scores, lengths, final = scores.gather(1, order), lengths.gather(1, order), final.gather(1, order)
    if return_beams:
        return Decoded(history, scores, lengths, final)
    return Decoded(history[:, 0], scores[:, 0], lengths[:, 0], final[:, 0])


@torch.no_grad()
def sequence_log_prob(
    step: Callable, state, tokens: torch.Tensor, start_id: int = 1, end_id: int = 2, pad_id: int = 0
) -> torch.Tensor:
    """Sum of log P(token_t | previous tokens) over each row of `tokens` (B, T), up to and including `<end>`.

    `tokens` are generated int64 ids without `<start>` (what `greedy_decode` / `beam_search` return).
    Returns a (B,) float32 tensor (pads after `<end>` add nothing).

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
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
    """Rows of generated ids -> word lists, stopping at `<end>` (pads and `<start>` dropped).

    `tokens`: a (B, T) int tensor or a list of id lists; returns B lists of str (`Vocabulary.decode`).

    Taught in: notebooks/03_show_and_tell.ipynb § Writing captions: greedy search and beam search
    """
    rows = tokens.tolist() if torch.is_tensor(tokens) else tokens
    return [vocab.decode(r) for r in rows]
