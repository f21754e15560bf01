"""Caption generation helpers: batching, the masked loss, greedy and beam decoding, checkpoints, caption metrics
and baselines (helpers/batching.py, decoding.py, checkpoints.py, caption_metrics.py)."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch

from helpers import batching, caption_metrics, checkpoints, decoding
from helpers.text import Vocabulary

PAD, START, END = 0, 1, 2


# ------------------------------------------------------------------------------------------ helpers
def markov_step(log_table: torch.Tensor):
    """A decoder whose next-token distribution depends only on the previous token (state: a step counter)."""

    def step(tokens, state):
        (counter,) = state
        return log_table[tokens], (counter + 1,)

    return step


class TinyDecoder(torch.nn.Module):
    """A small GRU language model conditioned on a random initial state (batch-first state)."""

    def __init__(self, vocab_size=9, dim=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.emb = torch.nn.Embedding(vocab_size, dim, padding_idx=PAD)
        self.cell = torch.nn.GRUCell(dim, dim)
        self.out = torch.nn.Linear(dim, vocab_size)
        self.out.weight = torch.nn.Parameter(self.emb.weight)  # tied weights (safetensors must cope)
        with torch.no_grad():
            self.out.bias[END] += 0.5  # make sequences end reasonably soon

    def step(self, tokens, state):
        h = self.cell(self.emb(tokens), state["h"])
        return torch.log_softmax(self.out(h) * 3, -1), {"h": h, "tag": "kept"}


def brute_force_best(log_table, max_len, alpha=0.0):
    """Exhaustive search over all sequences of a Markov decoder (small vocabularies only)."""
    V = log_table.shape[0]
    words = [v for v in range(V) if v not in (PAD, START)]
    best, best_seq = -math.inf, None
    for L in range(1, max_len + 1):
        for seq in itertools.product(words, repeat=L):
            if END in seq[:-1]:
                continue
            prev, total = START, 0.0
            for s in seq:
                total += float(log_table[prev, s])
                prev = s
            if seq[-1] != END and L < max_len:
                continue  # unfinished sequences only count when they hit max_len
            score = total / L**alpha
            if score > best + 1e-9:
                best, best_seq = score, seq
    return best, best_seq


# ------------------------------------------------------------------------------------------ batching
def test_bucketing_covers_every_caption_once_per_epoch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 15, size=1003)
    sampler = batching.BucketBatchSampler(lengths, batch_size=32, seed=1)
    seen_orders = []
    for _ in range(3):
        batches = list(sampler)
        assert len(batches) == len(sampler) == math.ceil(1003 / 32)
        flat = np.concatenate(batches)
        assert np.array_equal(np.sort(flat), np.arange(1003))
        # batches are cut from the length-sorted order: lengths inside a batch differ by at most one here
        assert max(lengths[b].max() - lengths[b].min() for b in batches) <= 1
        seen_orders.append(flat)
    assert not np.array_equal(seen_orders[0], seen_orders[1])  # a new shuffle every epoch
    again = batching.BucketBatchSampler(lengths, batch_size=32, seed=1)
    assert np.array_equal(np.concatenate(list(again)), seen_orders[0])  # reproducible
    again.set_epoch(2)
    assert np.array_equal(np.concatenate(list(again)), seen_orders[2])


def test_bucketing_drop_last_and_no_shuffle():
    lengths = [5, 3, 4, 3, 9, 2, 7]
    s = batching.BucketBatchSampler(lengths, batch_size=3, shuffle=False, drop_last=True)
    assert list(s) == [[5, 1, 3], [2, 0, 6]] and len(s) == 2


def test_bucket_sampler_works_with_dataloader():
    data = torch.arange(50)
    loader = torch.utils.data.DataLoader(data, batch_sampler=batching.BucketBatchSampler(np.arange(50) % 7, 8))
    got = torch.cat(list(loader))
    assert sorted(got.tolist()) == list(range(50))


def test_caption_batches_pad_to_batch_max():
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "a", "dog", "cat", "red"])
    ids = batching.encode_captions(["a dog", "a red cat", "dog", "a red red dog cat"], vocab)
    assert ids[0] == [1, 4, 5, 2] and ids[2] == [1, 5, 2]
    assert batching.encode_captions(["a red red dog cat"], vocab, max_len=4) == [[1, 4, 7, 2]]
    batches = batching.CaptionBatches([0, 0, 1, 2], ids, batch_size=2, shuffle=False)
    out = list(batches)
    assert len(out) == 2
    b0 = out[0]
    assert b0.tokens.shape == (2, 4) and b0.tokens.dtype == torch.int64
    assert b0.tokens.tolist() == [[1, 5, 2, 0], [1, 4, 5, 2]] and b0.lengths.tolist() == [3, 4]
    assert b0.image_index.tolist() == [1, 0]
    assert out[1].tokens.shape == (2, 7)
    seen = torch.cat([b.image_index for b in batching.CaptionBatches([0, 0, 1, 2], ids, batch_size=3, seed=4)])
    assert sorted(seen.tolist()) == [0, 0, 1, 2]


# ---------------------------------------------------------------------------------------------- loss
def test_masked_cross_entropy_ignores_pads():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11, requires_grad=True)
    targets = torch.tensor([[4, 5, 2, 0, 0], [7, 2, 0, 0, 0], [3, 3, 3, 3, 2]])
    loss = batching.masked_cross_entropy(logits, targets)
    mask = targets != 0
    manual = torch.nn.functional.cross_entropy(logits[mask], targets[mask])
    assert torch.allclose(loss, manual)
    loss.backward()
    assert torch.all(logits.grad[~mask] == 0)  # no gradient reaches the padded positions
    changed = logits.detach().clone()
    changed[~mask] = 100.0
    assert torch.allclose(batching.masked_cross_entropy(changed, targets), loss.detach())
    total = batching.masked_cross_entropy(logits.detach(), targets, reduction="sum")
    assert torch.allclose(total / mask.sum(), loss.detach())
    per = batching.masked_cross_entropy(logits.detach(), targets, reduction="none")
    assert per.shape == targets.shape and torch.all(per[~mask] == 0)
    assert batching.masked_cross_entropy(logits.detach(), torch.zeros_like(targets)).item() == 0.0


# ------------------------------------------------------------------------------------------ decoding
def test_beam_size_one_equals_greedy():
    model = TinyDecoder()
    h0 = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    g = decoding.greedy_decode(model.step, {"h": h0, "tag": "x"}, 6, max_len=12)
    for alpha in (0.0, 0.7, 1.0):
        b = decoding.beam_search(model.step, {"h": h0, "tag": "x"}, 6, beam_size=1, max_len=12, length_penalty=alpha)
        width = max(g.tokens.shape[1], b.tokens.shape[1])
        pad = lambda t, width=width: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
        assert torch.equal(pad(g.tokens), pad(b.tokens))
        assert torch.allclose(g.log_prob, b.log_prob, atol=1e-5)
        assert torch.equal(g.lengths, b.lengths)


def test_beam_finds_higher_scoring_sequence_than_greedy():
    # vocabulary: pad, start, end, a(3), b(4). Greedy takes "a" (0.6) but then every continuation is weak;
    # "b" (0.4) is followed by <end> with probability 0.9: P(b end) = 0.36 > P(a end) = 0.204.
    p = torch.full((5, 5), 1e-9)
    p[START, 3], p[START, 4] = 0.6, 0.4
    p[3, END], p[3, 3], p[3, 4] = 0.34, 0.33, 0.33
    p[4, END], p[4, 3], p[4, 4] = 0.9, 0.05, 0.05
    p[END, PAD] = p[PAD, PAD] = 1.0
    table = (p / p.sum(1, keepdim=True)).log()
    state = (torch.zeros(2),)
    g = decoding.greedy_decode(markov_step(table), state, 2, max_len=5)
    b = decoding.beam_search(markov_step(table), state, 2, beam_size=2, max_len=5)
    assert g.tokens[0].tolist()[:2] == [3, END]
    assert b.tokens[0].tolist()[:2] == [4, END]
    assert torch.all(b.log_prob > g.log_prob + 0.5)
    assert torch.allclose(b.log_prob, torch.log(torch.tensor(0.36)), atol=1e-4)
    # the scores returned agree with re-scoring the sequences
    assert torch.allclose(decoding.sequence_log_prob(markov_step(table), state, b.tokens), b.log_prob, atol=1e-5)
    assert torch.allclose(decoding.sequence_log_prob(markov_step(table), state, g.tokens), g.log_prob, atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_wide_beam_matches_exhaustive_search(alpha):
    gen = torch.Generator().manual_seed(3)
    V, max_len = 5, 4
    table = torch.log_softmax(torch.randn(V, V, generator=gen) * 2, -1)
    best, seq = brute_force_best(table, max_len, alpha)
    b = decoding.beam_search(
        markov_step(table), (torch.zeros(1),), 1, beam_size=V**max_len, max_len=max_len, length_penalty=alpha
    )
    got = [t for t in b.tokens[0].tolist() if t != PAD]
    assert got == list(seq)
    assert b.score[0].item() == pytest.approx(best, abs=1e-5)


def test_beam_search_batched_equals_one_by_one_and_returns_sorted_beams():
    model = TinyDecoder(seed=2)
    h0 = torch.randn(5, 8, generator=torch.Generator().manual_seed(4))
    full = decoding.beam_search(
        model.step, {"h": h0, "tag": "x"}, 5, beam_size=3, max_len=10, length_penalty=0.7, return_beams=True
    )
    assert full.tokens.shape[:2] == (5, 3) and full.score.shape == (5, 3)
    assert torch.all(full.score[:, :-1] >= full.score[:, 1:])  # best first
    for i in range(5):
        one = decoding.beam_search(
            model.step, {"h": h0[i : i + 1], "tag": "x"}, 1, beam_size=3, max_len=10, length_penalty=0.7
        )
        toks = one.tokens[0].tolist()
        assert full.tokens[i, 0, : len(toks)].tolist() == toks
        assert one.score[0].item() == pytest.approx(full.score[i, 0].item(), abs=1e-5)
    # the reported log-probability is the model's own
    best = full.tokens[:, 0]
    assert torch.allclose(
        decoding.sequence_log_prob(model.step, {"h": h0, "tag": "x"}, best), full.log_prob[:, 0], atol=1e-4
    )
    # after <end> only pads follow, and lengths count up to <end>
    for row, n in zip(best.tolist(), full.lengths[:, 0].tolist()):
        if END in row:
            assert row.index(END) + 1 == n and all(t == PAD for t in row[n:])


def test_beam_never_worse_than_greedy_in_model_score():
    model = TinyDecoder(seed=5)
    h0 = torch.randn(16, 8, generator=torch.Generator().manual_seed(6))
    g = decoding.greedy_decode(model.step, {"h": h0}, 16, max_len=8)
    b = decoding.beam_search(model.step, {"h": h0}, 16, beam_size=5, max_len=8)
    assert torch.all(b.log_prob >= g.log_prob - 1e-5)


def test_reorder_state_hook_for_layer_first_states():
    model = TinyDecoder(seed=1)
    h0 = torch.randn(3, 8, generator=torch.Generator().manual_seed(7))

    def step_layer_first(tokens, state):  # an nn.LSTM-style (layers, batch, dim) state
        lp, s = model.step(tokens, {"h": state[0]})
        return lp, s["h"][None]

    a = decoding.beam_search(model.step, {"h": h0}, 3, beam_size=3, max_len=9)
    b = decoding.beam_search(
        step_layer_first, h0[None], 3, beam_size=3, max_len=9, reorder_state=lambda s, idx: s.index_select(1, idx)
    )
    assert torch.equal(a.tokens, b.tokens)


def test_ids_to_tokens():
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "a", "dog"])
    assert decoding.ids_to_tokens(torch.tensor([[4, 5, 2, 0], [5, 5, 5, 5]]), vocab) == [["a", "dog"], ["dog"] * 4]


# --------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("fmt", ["safetensors", "torch"])
def test_checkpoint_round_trip(tmp_path, fmt):
    model = TinyDecoder(seed=3)
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "a", "dog", "cat", "red", "big"])
    config = {"dim": 8, "vocab_size": 9, "note": "tiny", "lang": "es"}
    checkpoints.save_checkpoint(tmp_path / "ck", model, vocab, config, format=fmt)
    names = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert names == sorted(["config.json", "vocab.json", "model.safetensors" if fmt == "safetensors" else "model.pt"])
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["note"] == "tiny"

    def build(cfg, voc):
        return TinyDecoder(vocab_size=len(voc), dim=cfg["dim"], seed=99)  # other weights until loaded

    ck = checkpoints.load_checkpoint(tmp_path / "ck", build)
    assert ck.vocab.itos == vocab.itos and ck.config["lang"] == "es" and not ck.model.training
    for k, v in model.state_dict().items():
        assert torch.equal(ck.model.state_dict()[k], v)
    h0 = torch.randn(2, 8)
    assert torch.equal(
        decoding.greedy_decode(model.step, {"h": h0}, 2).tokens,
        decoding.greedy_decode(ck.model.step, {"h": h0}, 2).tokens,
    )
    if fmt == "torch":  # plain tensors only: loadable with weights_only=True
        torch.load(tmp_path / "ck" / "model.pt", weights_only=True)


def test_checkpoint_vocab_mismatch_is_refused(tmp_path):
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "<unk>", "a"])
    checkpoints.save_checkpoint(tmp_path, {"w": torch.zeros(2)}, vocab, {})
    Vocabulary(["<pad>", "<start>", "<end>", "<unk>"]).save(tmp_path / "vocab.json")
    with pytest.raises(ValueError, match="vocab"):
        checkpoints.load_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------- baselines, metrics
def test_nearest_neighbour_captions_picks_consensus_of_nearest_image():
    train = np.eye(3, dtype=np.float32)
    caps = [["a red dog", "a dog", "a red dog on grass"], ["two cats"], ["a tree", "the tree"]]
    query = np.array([[0.9, 0.1, 0.0], [0.0, 0.2, 1.0]], np.float32)
    out, idx = caption_metrics.nearest_neighbour_captions(query, train, caps)
    assert idx.tolist() == [0, 2]
    assert out[0] == "a red dog"  # shares the most n-grams with the other two captions
    assert out[1] in caps[2]


def test_human_ceiling_and_evaluate():
    refs = [[["a", "dog"], ["a", "dog"], ["a", "dog"]], [["two", "red", "cats", "here"]] * 3]
    ceiling = caption_metrics.human_ceiling(refs)
    assert ceiling["bleu1"] == pytest.approx(1.0) and set(ceiling) == {"bleu1", "bleu2", "bleu3", "bleu4", "cider"}
    with pytest.raises(ValueError):
        caption_metrics.human_ceiling([[["a"]]])

    class Data:  # the fields evaluate_captions reads from CaptionData
        files = ["x", "y"]
        captions = ["a dog", "two red cats here", "a dog"]
        caption_image = np.array([0, 1, 0])
        scenes = None
        lang = "en"

    got = caption_metrics.evaluate_captions([["a", "dog"], ["two", "red", "cats", "here"]], Data())
    assert got["bleu1"] == pytest.approx(1.0)
    assert got["cider"] == pytest.approx(
        caption_metrics.cider(batching.references_per_image(Data()), [["a", "dog"], ["two", "red", "cats", "here"]])
    )
    assert batching.references_per_image(Data()) == [[["a", "dog"], ["a", "dog"]], [["two", "red", "cats", "here"]]]
    assert batching.captions_per_image(Data()) == [["a dog", "a dog"], ["two red cats here"]]


def test_cider_rewards_consensus_and_refuses_strings():
    refs = [
        [["a", "red", "dog", "on", "grass"], ["a", "red", "dog", "runs"], ["a", "dog", "on", "the", "grass"]],
        [["two", "cats", "and", "a", "tree"], ["two", "cats", "by", "a", "tree"], ["a", "tree", "and", "two", "cats"]],
        [["a", "blue", "car"], ["the", "blue", "car", "parked"], ["a", "car", "that", "is", "blue"]],
    ]
    good = [["a", "red", "dog", "on", "grass"], ["two", "cats", "by", "a", "tree"], ["a", "blue", "car"]]
    vague = [["a", "dog"], ["a", "tree"], ["a", "car"]]
    unrelated = [["xylophone"], ["zebra", "crossing"], ["quiet", "moon"]]
    scores = [caption_metrics.cider(refs, h) for h in (good, vague, unrelated)]
    assert scores[0] > scores[1] > scores[2] == 0.0  # no shared n-gram scores exactly 0
    assert scores[0] > 1.0  # scaled by 10: a caption equal to a reference is well above 1
    with pytest.raises(TypeError):
        caption_metrics.cider(refs, ["a red dog", "two cats", "a car"])
    with pytest.raises(ValueError):
        caption_metrics.cider(refs, good[:2])


def test_cider_equals_pycocoevalcap_and_reuses_the_references():
    from pycocoevalcap.cider.cider import Cider

    rng = np.random.default_rng(0)
    words = ["a", "red", "dog", "cat", "two", "cats", "on", "the", "grass", "tree", "by", "blue", "car"]

    def sentence():
        return [str(w) for w in rng.choice(words, size=rng.integers(1, 9))]

    refs = [[sentence() for _ in range(int(rng.integers(2, 6)))] for _ in range(40)]
    for _ in range(3):  # the second and third calls reuse the prepared references
        hyps = [sentence() for _ in refs]
        gts = {i: [" ".join(r) for r in rr] for i, rr in enumerate(refs)}
        res = {i: [" ".join(h)] for i, h in enumerate(hyps)}
        assert caption_metrics.cider(refs, hyps) == float(Cider().compute_score(gts, res)[0])
    assert len(caption_metrics._CIDER_REFERENCES) <= caption_metrics._CIDER_CACHE_SIZE
    for k in range(caption_metrics._CIDER_CACHE_SIZE + 2):  # other reference sets push the oldest out
        caption_metrics.cider([r + [["extra", str(k)]] for r in refs], hyps)
    assert len(caption_metrics._CIDER_REFERENCES) == caption_metrics._CIDER_CACHE_SIZE


def test_caption_grid_puts_each_text_under_its_image():
    import matplotlib

    matplotlib.use("Agg")
    from helpers import plots

    images = [np.zeros((8, 8, 3), np.uint8)] * 3
    fig = plots.caption_grid(images, [["first"], ["second", "x" * 60], ["third"]], ncols=2)
    assert len(fig.axes) == 4  # 2 x 2, the last one empty
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert texts[0] == ["first"] and texts[2] == ["third"] and texts[3] == []
    assert texts[1][0].startswith("second\n") and "\n   " in texts[1][0]  # wrapped at 44, continuation indented
