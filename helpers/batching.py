"""Captions to batches: ids per caption, length-bucketed index batches, padded tensors, references per image,
and the loss over such padded batches.

``encode_captions(captions, vocab, lang, max_len=None) -> list[list[int]]``
    ``<start> w1 ... wn <end>`` ids per caption (unknown words -> ``<unk>``, truncated to ``max_len``).
``BucketBatchSampler(lengths, batch_size, shuffle=True, seed=0, drop_last=False)``
    Length-bucketed batches of indices: one sort per epoch (random tie-break), batches cut from the sorted
    order, batch order shuffled. Every index appears exactly once per epoch; no scan of the data per batch.
    Deterministic from (seed, epoch); each ``iter()`` starts the next epoch (``set_epoch``). Usable as a
    DataLoader ``batch_sampler``.
``CaptionBatches(caption_image, token_ids, batch_size, shuffle=True, seed=0, pad_id=0, drop_last=False)``
    Iterates ``CaptionBatch(image_index (B,), tokens (B, T), lengths (B,))`` long tensors, ``tokens`` padded
    with ``pad_id`` to the longest caption *of the batch* (sliced from one padded matrix built once).
    Teacher forcing: inputs ``tokens[:, :-1]``, targets ``tokens[:, 1:]``. ``batch.to(device)``.
``references_per_image(data, lang) -> list[list[list[str]]]``
    Tokenized reference captions per image.
``masked_cross_entropy(logits (B, T, V), targets (B, T), pad_id=0, reduction="mean"|"sum"|"none")``
    Cross-entropy that ignores ``pad_id`` targets ("mean" averages over real tokens only; 0 if none).

Taught in: notebooks/03_show_and_tell.ipynb § Batches of similar length
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .text import Vocabulary, tokenize

__all__ = [
    "encode_captions",
    "BucketBatchSampler",
    "CaptionBatch",
    "CaptionBatches",
    "captions_per_image",
    "references_per_image",
    "masked_cross_entropy",
]


def encode_captions(captions: list, vocab: Vocabulary, lang: str = "en", max_len: int | None = None) -> list:
    """Caption strings -> id lists ``[<start>, ..., <end>]``; ``max_len`` bounds the total length (``<end>`` kept).

    One list of ints per caption, words tokenized with ``helpers.tokenize(text, lang)`` (unknown words ->
    ``<unk>``). Raises TypeError for a caption that is not a string, ValueError for a language other than 'en' / 'es'.

    Taught in: notebooks/03_show_and_tell.ipynb § Words to numbers: a vocabulary with a minimum count
    """
    out = []
    for text in captions:
        ids = vocab.encode(tokenize(text, lang))
        if max_len is not None and len(ids) > max_len:
            ids = ids[: max_len - 1] + [vocab.end]
        out.append(ids)
    return out


class BucketBatchSampler:
    """Batches of indices grouped by length, every index once per epoch, reproducible from (seed, epoch).

    ``lengths``: (N,) ints (converted to int64); iterating yields lists of ``batch_size`` int indices (the last one
    shorter unless ``drop_last``). Raises ValueError when ``lengths`` is not 1-d or ``batch_size`` < 1.

    Taught in: notebooks/03_show_and_tell.ipynb § Batches of similar length
    """

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
        cuts = [order[s : s + self.batch_size] for s in range(0, n, self.batch_size)]
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
    """One padded batch: image rows, caption ids (`<start> ... <end> <pad>...`) and lengths; `.to(device)`.

    ``image_index`` (B,) int64, ``tokens`` (B, T) int64 with T the longest caption of the batch, ``lengths`` (B,) int64.

    Taught in: notebooks/03_show_and_tell.ipynb § Batches of similar length
    """

    image_index: torch.Tensor  # (B,) long: row of the image feature matrix
    tokens: torch.Tensor  # (B, T) long: <start> ... <end> <pad>...
    lengths: torch.Tensor  # (B,) long: tokens before padding

    def to(self, device) -> CaptionBatch:
        return CaptionBatch(*(t.to(device) for t in self))


class CaptionBatches:
    """Length-bucketed, padded batches of (image index, caption ids) for teacher-forced training.

    ``caption_image``: (C,) ints, the image row of each caption; ``token_ids``: C id lists (``encode_captions``).
    Iterating yields ``CaptionBatch`` (``image_index`` (B,), ``tokens`` (B, T), ``lengths`` (B,), all int64),
    ``tokens`` padded with ``pad_id``. Raises ValueError when the two differ in length or a caption has fewer than
    2 ids (``<start>`` and ``<end>``), and as ``BucketBatchSampler`` for ``batch_size`` < 1.

    Taught in: notebooks/03_show_and_tell.ipynb § Batches of similar length
    """

    def __init__(
        self,
        caption_image,
        token_ids: list,
        batch_size: int = 64,
        shuffle: bool = True,
        seed: int = 0,
        pad_id: int = 0,
        drop_last: bool = False,
    ):
        if len(caption_image) != len(token_ids):
            raise ValueError(f"{len(caption_image)} image indices but {len(token_ids)} captions")
        self.lengths = torch.tensor([len(t) for t in token_ids], dtype=torch.int64)
        if len(token_ids) and int(self.lengths.min()) < 2:
            raise ValueError("every caption needs at least <start> and <end>")
        width = int(self.lengths.max()) if len(token_ids) else 0
        matrix = np.full((len(token_ids), width), pad_id, np.int64)
        for i, t in enumerate(token_ids):
            matrix[i, : len(t)] = t
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
            yield CaptionBatch(self.image_index[idx], self.matrix[idx, : int(lengths.max())], lengths)


def captions_per_image(data) -> list:
    """The caption strings of a `CaptionData`, grouped by image in one pass: a list of `len(data.files)` lists
    (an image without captions gets an empty list).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    out = [[] for _ in range(len(data.files))]
    for text, i in zip(data.captions, np.asarray(data.caption_image).tolist()):
        out[i].append(text)
    return out


def references_per_image(data, lang: str | None = None) -> list:
    """Tokenized reference captions grouped by image (`captions_per_image`, tokenized), for BLEU.

    A list of `len(data.files)` lists of token lists; `lang` defaults to `data.lang` ('en' without one).

    Taught in: notebooks/03_show_and_tell.ipynb § How good is that? Baselines and a ceiling
    """
    lang = lang or getattr(data, "lang", "en")
    return [[tokenize(text, lang) for text in texts] for texts in captions_per_image(data)]


# ---------------------------------------------------------------------------------------------- loss
def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0, reduction: str = "mean"
) -> torch.Tensor:
    """Cross-entropy of (B, T, V) logits against (B, T) targets, ignoring positions where the target is `pad_id`.

    `targets` are int64 ids; the loss is computed in float32 whatever the logits' dtype. "mean": average over the
    non-pad tokens (0 when there are none); "sum": their total; "none": a (B, T) tensor with zeros at the pads.
    Raises ValueError when the shapes do not match or for another `reduction`.

    Taught in: notebooks/03_show_and_tell.ipynb § Training with teacher forcing
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match targets {tuple(targets.shape)}")
    flat = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1), ignore_index=pad_id, reduction="none"
    ).view(targets.shape)
    if reduction == "none":
        return flat
    total = flat.sum()
    if reduction == "sum":
        return total
    if reduction == "mean":
        return total / (targets != pad_id).sum().clamp(min=1)
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', not {reduction!r}")
