# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Where to look: soft attention for captioning

# %% [markdown]
# The Show-and-Tell decoder of the previous chapter squeezes the whole image into one vector and must
# remember it for the whole sentence. When it says "a cat to the left of a key", nothing tells it *where* the
# cat is. **Soft attention** {cite}`bahdanau2015neural,xu2015show` gives the decoder the grid of local image
# features instead, and before every word lets it decide which cells to look at: a probability map over the
# image, recomputed at each step. The map is part of the model, trained end to end by the captioning loss
# alone, and we can *see* it: if the decoder looks at the cat when it says "cat", the map lights up inside the
# cat's box. Our synthetic scenes come with the boxes, so we can count how often it does.
#
# This chapter is an exercise, rebuilt from a seminar written for Theano (there is a Theano edition of it
# too): you write the attention step yourself, one small function at a time, each followed by a check
# cell. Then the notebook puts your functions together into a decoder, trains it and looks at where it
# looks.

# %% [markdown]
# **Learning goals**
#
# - compute additive (Bahdanau) attention scores, normalize them over image positions with a softmax on the
#   right axis, and form the context vector;
# - write one step of an LSTM {cite}`hochreiter1997long` decoder fed with [image vector, previous word
#   embedding];
# - write the masked cross-entropy for padded caption batches, and sampling with a temperature;
# - initialize the decoder state from the image (one of the seminar's "tricks for further research");
# - read attention maps, and measure them against the scene truth (attention-in-box against chance).
#
# **Prerequisites**: chapter 3 (Show and Tell: vocabulary, teacher forcing, greedy and beam decoding, BLEU
# and the semantic score); PyTorch tensors and `nn.Module`s.
#
# **How to work**: in the exercise notebook, replace each `raise NotImplementedError(...)` by your code and
# run the check cell below it until it prints `OK`. The cells after the exercises (training, evaluation)
# use your functions: run them once every check passes. The book executes the exercise page with the stubs
# untouched, so there the checks show their errors and the training part is not run; the solution page
# shows its results.
#
# **Run time**: about three and a half minutes on 2 CPU cores, most of it training, as measured by
# `make bench` on the solution notebook (see {doc}`../book/performance`).

# %% tags=["remove-cell"]
# Google Colab only; anywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:  # Colab: fetch the book, run its set-up (Set-up page)
    import runpy
    import subprocess

    BOOK, URL = (
        "/content/seeing-and-saying",
        "https://github.com/seeing-and-saying/book",
    )
    subprocess.run(f"test -d {BOOK} || git clone -q {URL} {BOOK}", shell=True)
    runpy.run_path(f"{BOOK}/scripts/colab_setup.py", run_name="__main__")

# %% tags=["parameters"]
# the book's synthetic scenes; real datasets ("coco", "flickr8k"):
# see the "Real data and GPUs" page
DATASET = "embedded"
# a folder holding a copy of the dataset, read as it is (no download);
# None: the cache's copy
DATA_DIR = None
LANGUAGE = "en"  # "en" or "es": the captions to learn (coco and flickr8k: "en")
# the CNN of the feature maps; "resnet152" (7 x 7 grid) needs its weights once
BACKBONE = "efficientnet_lite0"
DEVICE = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
EPOCHS = 6  # passes over the training captions
SEED = 0
BATCH_SIZE = 128
HIDDEN_SIZE = 128  # LSTM state
ATTENTION_SIZE = 64  # the space where image cells and the decoder state are compared
EMBEDDING_SIZE = 64
# scheduled sampling: the share of input words replaced by the decoder's own
# previous guess, rising linearly from 0 (first epoch) to this (last epoch)
SCHEDULED_SAMPLING = 0.25
# CPU threads while a decoder trains: its small LSTM steps ran faster on one thread
# than on two, with the same losses (book/performance.md, "Threads on a 2-core machine")
LSTM_THREADS = 1
# your own photo to caption (section "Caption your own image"): a path;
# None: a photo that ships with matplotlib
MY_IMAGE = None

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn as nn

import helpers
from helpers import (
    batching,
    caption_metrics,
    checkpoints,
    decoding,
    grammar,
    plots,
    results,
    widgets,
)

helpers.seed_everything(SEED)
device = helpers.pick_device(DEVICE)

# %% [markdown]
# ## Data: a grid of local features per image, and captions
#
# Each image has been through a frozen, ImageNet-pretrained EfficientNet-Lite0 {cite}`tan2019efficientnet`
# (chapter 0). Chapter 3 used its pooled vector; here we take the feature map of an inner stage: at 128
# pixels it is a grid of 8 x 8 cells, each described by 112 numbers, and each cell "sees" mostly its own
# 16 x 16 pixel patch of the image. (The seminar used a 6 x 6 grid of 128 numbers from GoogLeNet.) The maps
# are cached as float16 to save disk; we compute in float32. On a real dataset (`DATASET = "coco"` or
# `"flickr8k"`, `DATA_DIR` a copy of it) every cell runs on its photos, except the parts that need the
# scenes' ground truth (truth boxes, object precision and recall, attention-in-box): they say in one line
# that they are skipped.

# %%
train = helpers.load_captions("train", LANGUAGE, DATASET, data_dir=DATA_DIR)
val = helpers.load_captions("val", LANGUAGE, DATASET, data_dir=DATA_DIR)
test = helpers.load_captions("test_A", LANGUAGE, DATASET, data_dir=DATA_DIR)
if DATASET != "embedded":
    layout = (
        helpers.detect_layout(DATASET, DATA_DIR).name
        if DATA_DIR is not None
        else "the cache's copy"
    )
    print(
        f"{DATASET} ({layout}): "
        + ", ".join(
            f"{name} {len(d.files)} images, {len(d.captions)} captions"
            for name, d in (("train", train), ("val", val), ("test_A", test))
        )
    )
cnn = {
    name: helpers.image_features(d, BACKBONE)
    for name, d in (("train", train), ("val", val), ("test", test))
}
if "map" not in cnn["train"]:
    raise ValueError(
        f"{DATASET} comes with pooled image vectors only, "
        "and attention needs feature maps: "
        f"use 'embedded', 'coco' or 'flickr8k'"
    )
maps = {name: f["map"] for name, f in cnn.items()}
for name, m in maps.items():
    print(f"{name:5s}: {m.shape[0]:5d} images, feature maps {m.shape[1:]} {m.dtype}")
print(f"train: {len(train.captions)} captions, e.g. {train.captions_of(0)}")


# %% [markdown]
# The attention step treats an image as a *set of L = 8 x 8 = 64 positions*, each a vector of C = 112
# features: the map of shape (N, C, H, W) must become (N, L, C). This is where the first axis bug hides:
# `m.reshape(N, H * W, C)` has the right shape and the wrong content (it cuts the channel axis into pieces).
# The channels must move to the end first (`permute`, the seminar's `dimshuffle([0, 2, 3, 1])`), then the two
# grid axes merge, row by row: position `p` is cell `(p // W, p % W)`.


# %%
def to_positions(feature_map) -> torch.Tensor:
    # (N, C, H, W) float16 array -> (N, H*W, C) float32 tensor:
    # one row of C features per image position.
    m = torch.as_tensor(np.asarray(feature_map), dtype=torch.float32)
    return m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, m.shape[1]).contiguous()


feats = {name: to_positions(m) for name, m in maps.items()}
GRID = maps["train"].shape[2:]
N, L, C = feats["train"].shape
assert torch.equal(
    feats["train"][3, 2 * GRID[1] + 5],
    torch.as_tensor(maps["train"][3, :, 2, 5], dtype=torch.float32),
)
# Standardize every channel with the training statistics
# (the maps' channels have very different scales).
mean, std = feats["train"].mean((0, 1)), feats["train"].std((0, 1)) + 1e-5
feats = {name: ((f - mean) / std) for name, f in feats.items()}
print(f"features per image: (L, C) = ({L}, {C}) on a {GRID[0]} x {GRID[1]} grid")

# %%
# What the decoder gets: the image, cut into the 8 x 8 cells whose features it can
# attend to.
import textwrap

from PIL import Image

if train.scenes is None:
    print(f"truth boxes skipped on {DATASET}: they are the scenes' ground truth")
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4))
for k, i in enumerate([0, 1, 2, 3]):
    image = Image.open(train.paths()[i])
    ax = axes[0, k]
    ax.imshow(image)
    for g in range(1, GRID[0]):
        ax.axhline(g * image.size[1] / GRID[0], color="white", lw=0.5, alpha=0.7)
        ax.axvline(g * image.size[0] / GRID[1], color="white", lw=0.5, alpha=0.7)
    if train.scenes is not None:
        plots.draw_scene_truth(ax, train.scenes[i], labels=False)
    ax.set_title("\n".join(textwrap.wrap(train.captions_of(i)[0], 34)), fontsize=8)
    ax.axis("off")
    energy = feats["train"][i].norm(dim=1).view(*GRID)
    axes[1, k].imshow(energy, cmap="viridis")
    axes[1, k].set_title("feature norm per cell", fontsize=8)
    axes[1, k].axis("off")
boxes = " and truth boxes" if train.scenes is not None else ""
fig.suptitle(
    f"Training images with their {GRID[0]} x {GRID[1]} grid{boxes} (top); "
    "how strongly each cell responds (bottom)"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# Captions become word ids framed by `<start>` and `<end>` (chapter 3), words seen fewer than 3 times become
# `<unk>`. A batch of captions of different lengths is a matrix padded at the end: the seminar pads with
# `-1`, our `Vocabulary` with the id of `<pad>` (0). The loss must ignore the padding, whatever its value:
# that is {ref}`att-ex-loss-exercise`.

# %%
tokens = [helpers.tokenize(c, LANGUAGE) for c in train.captions]
vocab = helpers.Vocabulary.build(tokens, min_count=3)
# <start> + words + <end>; longer captions are cut (there are none in the embedded data)
MAX_LEN = 24
train_ids = batching.encode_captions(train.captions, vocab, LANGUAGE, max_len=MAX_LEN)
val_ids = batching.encode_captions(val.captions, vocab, LANGUAGE, max_len=MAX_LEN)
lengths = np.array([len(t) for t in train_ids])
print(
    f"{len(vocab)} words (with <pad> <start> <end> <unk>); "
    f"captions of {lengths.min()}-{lengths.max()} ids, "
    f"mean {lengths.mean():.1f}"
)
example = vocab.pad_batch(train_ids[:3], pad_value=-1)
print("three captions padded with -1, as in the seminar:\n", example)
print([" ".join(vocab.decode(row[row >= 0])) for row in example])


# %% [markdown]
# ## The attention decoder, step by step
#
# Write $a_1, \dots, a_L$ for the image's feature vectors (one per cell, $a_i \in \mathbb{R}^C$), $\bar a$ for
# their mean (the pooled image), $y_{t-1}$ for the previous word and $h_t$ for the decoder's LSTM state after
# step $t$. One step of the decoder is:
#
# $$
# \begin{aligned}
# h_t, c_t &= \operatorname{LSTM}\left([\bar a; E\, y_{t-1}],\ (h_{t-1}, c_{t-1})\right) && \text{read the previous word (and the pooled image)} \\
# e_{t,i} &= v^\top \tanh\left(W_a a_i + W_h h_t + b\right) && \text{additive score of position } i \\
# \alpha_{t,i} &= \frac{\exp e_{t,i}}{\sum_{j=1}^{L} \exp e_{t,j}} && \text{attention: a distribution over positions} \\
# z_t &= \sum_{i=1}^{L} \alpha_{t,i}\, a_i && \text{context vector} \\
# p(y_t \mid y_{<t}, a) &= \operatorname{softmax}(W_o [h_t; z_t] + b_o) && \text{next word, from state and context}
# \end{aligned}
# $$
#
# (att-query-order-exercise)=
# **Which state chooses where to look.** Show, Attend and Tell {cite}`xu2015show`, the model this chapter
# rebuilds, scores the cells with the state *before* the step, $h_{t-1}$, and feeds the context into the
# LSTM, $h_t, c_t = \operatorname{LSTM}([z_t; E\, y_{t-1}], (h_{t-1}, c_{t-1}))$. We use the later order of Lu
# et al.'s spatial attention {cite}`lu2017knowing`: the LSTM first reads the previous word, with the pooled
# image where the context was, and the map is computed from the *new* state $h_t$, which has already read the
# word just written (Luong et al. {cite}`luong2015effective` also score with the new state in translation,
# though they pass the attended vector on to the next step). With the chapter's cross-entropy the context
# then serves one purpose only, the word of this step: a map that does not help to write that word earns
# nothing. In Xu et al.'s order the same map also feeds the LSTM's memory of the sentence, so the loss can
# also reward a map that looks at the object the *next* words will need; that is a likely reason for what we
# saw, not one we measured. We trained both orders with four seeds: BLEU-4 stayed about the same, but with
# Xu et al.'s order one seed's decoder looked at the object it named far less often than the others, and with
# this order all four stayed close (the numbers are on the performance page, {doc}`../book/performance`).
# The Theano edition keeps Xu et al.'s order, with other sizes and training, and its three seeds stayed close
# too: the order is not the whole story. A further exercise below compares the two orders.
#
# The score is *additive* {cite}`bahdanau2015neural`: image cell and decoder state are projected into a
# common space of size $A$ (`ATTENTION_SIZE`), added, squashed and read out by the vector $v$. The projection
# $W_a a_i$ does not depend on $t$: the model computes it once per image, and the exercise receives it
# ready-made. Shapes, with a batch of $B$ images: features `(B, L, C)`, projected features `(B, L, A)`,
# projected state `(B, A)`, scores and weights `(B, L)`, context `(B, C)`. The last line is the "deep
# output" of Show, Attend and Tell {cite}`xu2015show`: the next-word layer reads the context $z_t$ as well as
# the LSTM output $h_t$ (see {ref}`deep output <att-deep-output-exercise>`).
#
# The seven exercises below are the pieces of this step, plus the loss, the sampling and the initial state.
# Each check cell runs your function on small fixed inputs and compares shapes, normalization and numbers
# with reference values.


# %%
def expect_close(what, got, expected, atol=1e-3):
    # Compare a tensor with reference values; explain the difference if there is one.
    expected = torch.as_tensor(expected, dtype=torch.float32)
    assert torch.is_tensor(got), f"{what}: expected a tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(expected.shape), (
        f"{what}: shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    )
    assert torch.allclose(got.detach().float(), expected, atol=atol), (
        f"{what}: values differ from the reference\n"
        f" got:      {got.detach().numpy().round(4).tolist()}"
        f"\n expected: {expected.numpy().round(4).tolist()}"
    )


# %% [markdown]
# ### Exercise 1: additive attention scores
#
# Compute $e_{i} = v^\top \tanh(W_a a_i + W_h h)$ for every image of the batch and every position, from the
# projections `features_proj` $= W_a a_i + b$ of shape `(B, L, A)` and `hidden_proj` $= W_h h$ of shape
# `(B, A)`. The state must be added to *every* position of *its own* image: give it a position axis of size 1
# and let broadcasting do the rest. The result has shape `(B, L)`.


# %% tags=["raises-exception"]
def additive_scores(
    features_proj: torch.Tensor, hidden_proj: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    # features_proj (B, L, A), hidden_proj (B, A), v (A,) -> scores (B, L)
    # YOUR CODE HERE
    raise NotImplementedError(
        "compute tanh(features_proj + hidden_proj) . v, shape (B, L)"
    )


# %% tags=["check", "raises-exception"]
fp = torch.sin(torch.arange(24.0)).reshape(2, 3, 4)  # 2 images, 3 positions, A = 4
hp = torch.cos(torch.arange(8.0)).reshape(2, 4)
v = torch.tensor([0.5, -1.0, 2.0, 0.25])
scores = additive_scores(fp, hp, v)
expect_close(
    "additive_scores", scores, [[0.2403, -0.7684, -1.9888], [1.1202, 0.8140, 0.7769]]
)
# Each image is scored with its own decoder state: changing image 1's state leaves
# image 0's scores alone.
other = additive_scores(fp, torch.stack([hp[0], hp[1] + 1.0]), v)
assert torch.allclose(other[0], scores[0]) and not torch.allclose(
    other[1], scores[1]
), "image b's scores must use hidden_proj[b] only"
print("additive_scores: OK")


# %% [markdown]
# ### Exercise 2: a softmax over positions, on the right axis
#
# Turn the scores `(B, L)` into attention weights: for each image, non-negative numbers over its $L$
# positions that sum to 1. A softmax over the wrong axis (the batch) also gives numbers between 0 and 1,
# without error, and a model that trains, badly. Make it numerically safe: scores of 1000 must not give
# `nan` (subtract the maximum first, or use `torch.softmax`, which does).


# %% tags=["raises-exception"]
def attention_weights(scores: torch.Tensor) -> torch.Tensor:
    # scores (B, L) -> weights (B, L), each row a probability distribution over the
    # L positions
    # YOUR CODE HERE
    raise NotImplementedError("a softmax over the positions (the last axis)")


# %% tags=["check", "raises-exception"]
s = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]])
alpha = attention_weights(s)
assert torch.allclose(alpha.sum(dim=1), torch.ones(2), atol=1e-5), (
    "each image's weights must sum to 1 over its positions; "
    f"row sums: {alpha.sum(dim=1).tolist()}"
)
expect_close(
    "attention_weights", alpha, [[0.0900, 0.2447, 0.6652], [0.4498, 0.4498, 0.1004]]
)
big = attention_weights(torch.tensor([[1000.0, 999.0, 0.0]]))
assert torch.isfinite(big).all(), (
    "scores of 1000 give nan or inf: subtract the maximum score before exp"
)
expect_close("attention_weights (large scores)", big, [[0.7311, 0.2689, 0.0]])
print("attention_weights: OK")


# %% [markdown]
# ### Exercise 3: the context vector
#
# The context is the attention-weighted average of the position features: $z = \sum_i \alpha_i a_i$, for
# weights `(B, L)` and features `(B, L, C)`, giving `(B, C)`. One line: a batched matrix product
# (`torch.bmm`, `@`) or a broadcast product summed over the right axis.


# %% tags=["raises-exception"]
def context_vector(weights: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    # weights (B, L), features (B, L, C) -> context (B, C)
    # YOUR CODE HERE
    raise NotImplementedError("the weighted sum of the features over the positions")


# %% tags=["check", "raises-exception"]
w = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
f = torch.cos(torch.arange(30.0)).reshape(2, 3, 5)  # 2 images, 3 positions, C = 5
z = context_vector(w, f)
expect_close(
    "context_vector",
    z,
    [
        [-0.1344, 0.3983, 0.5649, 0.2121, -0.3357],
        [-0.7597, -0.9577, -0.2752, 0.6603, 0.9887],
    ],
)
assert torch.allclose(z[1], f[1, 0]), (
    "all the weight on position 0 must give position 0's features"
)
uniform = context_vector(torch.full((2, 3), 1 / 3), f)
assert torch.allclose(uniform, f.mean(dim=1), atol=1e-6), (
    "uniform weights must give the mean feature vector"
)
print("context_vector: OK")


# %% [markdown]
# ### Exercise 4: one LSTM step fed with [image vector, previous word]
#
# The LSTM cell's input at step $t$ is the concatenation of an image vector and the embedding of the previous
# word, the image vector *first* (the seminar's `concat([attn, prev_word_emb])`, there with the context; the
# order matters because the cell's weights were created for it). This chapter's decoder reads
# $[\bar a; E\,y_{t-1}]$, with the pooled image; in Show, Attend and Tell's order
# ({ref}`see above <att-query-order-exercise>`) it reads $[z_t; E\,y_{t-1}]$, with the context. `cell` is a `torch.nn.LSTMCell(C + E, H)`; `state` is the
# pair `(h, c)`, each `(B, H)`. Return the new pair. (If you want to write the gates yourself:
# `cell.weight_ih`, `cell.weight_hh`, `cell.bias_ih`, `cell.bias_hh` hold them in the order input, forget,
# cell, output gate.)


# %% tags=["raises-exception"]
def lstm_step(
    image_vector: torch.Tensor,
    word_embedding: torch.Tensor,
    state: tuple,
    cell: nn.LSTMCell,
) -> tuple:
    # image_vector (B, C), word_embedding (B, E), state = (h, c) each (B, H)
    # -> new (h, c)
    # YOUR CODE HERE
    raise NotImplementedError(
        "concatenate [image_vector, word_embedding], one step of the cell"
    )


# %% tags=["check", "raises-exception"]
def fixed_weights(module, scale=0.3):
    # Deterministic weights (no random numbers), so the reference values hold on every
    # machine.
    with torch.no_grad():
        for k, p in enumerate(module.parameters()):
            p.copy_(
                scale
                * torch.sin(
                    0.37 * torch.arange(p.numel(), dtype=torch.float32) + k
                ).reshape(p.shape)
            )
    return module


test_cell = fixed_weights(nn.LSTMCell(3 + 2, 4))  # C = 3, E = 2, H = 4
ctx = torch.tensor([[0.5, -0.2, 0.1], [1.0, 0.0, -1.0]])
emb = torch.tensor([[0.3, 0.7], [-0.4, 0.2]])
h0 = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.0, -0.1, 0.0, 0.1]])
h1, c1 = lstm_step(ctx, emb, (h0, -h0), test_cell)
swapped = test_cell(torch.cat([emb, ctx], dim=-1), (h0, -h0))[0]
assert not torch.allclose(h1, swapped, atol=1e-3), (
    "the cell input must be [image vector, word embedding], in this order"
)
expect_close(
    "lstm_step h",
    h1,
    [[-0.0993, -0.1711, -0.0661, -0.0569], [-0.0639, -0.0147, -0.0915, 0.0243]],
)
expect_close(
    "lstm_step c",
    c1,
    [[-0.1848, -0.2650, -0.0986, -0.1090], [-0.1001, -0.0257, -0.1579, 0.0358]],
)
print("lstm_step: OK")


# %% [markdown]
# (att-ex-loss-exercise)=
# ### Exercise 5: the masked cross-entropy
#
# For logits `(B, T, V)` (one distribution over the vocabulary per position) and target ids `(B, T)`, return
# the mean of $-\log p(\text{target})$ over the **real** tokens only: positions whose target is `pad_id` count
# neither in the sum nor in the number of tokens. With the seminar's `pad_id = -1` an index of -1 cannot be
# used to pick a log-probability (`gather` refuses it): replace the pads by any valid id before picking, and
# mask them out after. (`F.cross_entropy(..., ignore_index=pad_id)` does all of this; write it once by hand.)


# %% tags=["raises-exception"]
def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, pad_id: int = -1
) -> torch.Tensor:
    # logits (B, T, V), targets (B, T) -> mean negative log-likelihood of the non-pad
    # targets (a scalar)
    # YOUR CODE HERE
    raise NotImplementedError(
        "log-softmax, targets' log-probabilities, mean over non-pad"
    )


# %% tags=["check", "raises-exception"]
logits = torch.tensor(
    [
        [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, 1.0, 1.0]],
        [[-0.5, 0.0, 3.0], [5.0, -5.0, 0.0], [0.0, 0.0, 0.0]],
    ]
)
targets = torch.tensor([[0, 2, -1], [2, -1, -1]])  # padded with -1, as in the seminar
loss = masked_cross_entropy(logits, targets, pad_id=-1)
expect_close("masked_cross_entropy (pad -1)", loss, 0.4401)
# The pads are ignored: changing the logits at padded positions does not change the
# loss.
noisy = logits.clone()
noisy[0, 2] += 10.0
noisy[1, 1:] -= 7.0
expect_close(
    "masked_cross_entropy, other logits at the pads",
    masked_cross_entropy(noisy, targets, pad_id=-1),
    0.4401,
)
# With our Vocabulary's padding (<pad> = 0) it is the same function.
expect_close(
    "masked_cross_entropy (pad 0)",
    masked_cross_entropy(logits, torch.tensor([[1, 2, 0], [2, 0, 0]]), pad_id=0),
    0.9401,
)
print("masked_cross_entropy: OK")


# %% [markdown]
# (att-ex-sampling-exercise)=
# ### Exercise 6: sampling with a temperature
#
# Greedy decoding always takes the most probable word; *sampling* draws the next word from the model's
# distribution, and a **temperature** $\tau$ reshapes it first: $p_\tau(w) \propto \exp(\text{logit}_w / \tau)$.
# $\tau < 1$ sharpens the distribution (towards greedy), $\tau > 1$ flattens it (more varied, more
# mistakes); take $\tau = 0$ to mean greedy (the `argmax`). Return one sampled id per row, `(B,)` of dtype
# `torch.long`, and draw with `generator` (e.g. `torch.multinomial(..., generator=generator)`) so that a
# seeded generator repeats the samples. (The seminar raised probabilities to the power `temperature`:
# $p^\tau$ renormalised is $\operatorname{softmax}(\tau \cdot \text{logits})$, so its `temperature` is the
# *inverse* of ours; its value 10 is nearly greedy.)


# %% tags=["raises-exception"]
def sample_with_temperature(
    logits: torch.Tensor, temperature: float = 1.0, generator=None
) -> torch.Tensor:
    # logits (B, V) -> sampled ids (B,) long; temperature 0 means the argmax
    # YOUR CODE HERE
    raise NotImplementedError(
        "softmax(logits / temperature), a draw per row (argmax at 0)"
    )


# %% tags=["check", "raises-exception"]
row = torch.tensor([2.0, 1.0, 0.0, -1.0, 0.5])
many = row.repeat(20000, 1)
ids = sample_with_temperature(many, 1.0, torch.Generator().manual_seed(0))
assert ids.shape == (20000,) and ids.dtype == torch.long, (
    f"expected (20000,) long ids, got {tuple(ids.shape)} {ids.dtype}"
)
for tau in (1.0, 0.5, 2.0):
    freq = (
        torch.bincount(
            sample_with_temperature(many, tau, torch.Generator().manual_seed(1)),
            minlength=5,
        )
        / 20000
    )
    expected = torch.softmax(row / tau, dim=0)
    assert torch.allclose(freq, expected, atol=0.015), (
        f"temperature {tau}: frequencies {freq.numpy().round(3)} "
        f"but softmax(logits / {tau}) is {expected.numpy().round(3)}"
    )
assert torch.equal(
    sample_with_temperature(many[:5], 0), torch.zeros(5, dtype=torch.long)
), "temperature 0 is the argmax"
a = sample_with_temperature(many[:50], 1.0, torch.Generator().manual_seed(7))
b = sample_with_temperature(many[:50], 1.0, torch.Generator().manual_seed(7))
assert torch.equal(a, b), (
    "draw with the generator you are given, "
    "so that a seeded generator repeats the samples"
)
print("sample_with_temperature: OK")


# %% [markdown]
# (att-ex-init-state-exercise)=
# ### Exercise 7 (further research): start from the image
#
# The seminar's first "trick for further research": instead of starting every caption from a zero LSTM
# state, which carries no information about the image, initialize it from the image. Show, Attend and Tell
# {cite}`xu2015show` uses the mean of the position features through two linear layers and a `tanh`:
# $h_0 = \tanh(W_{h} \bar a)$, $c_0 = \tanh(W_{c} \bar a)$ with $\bar a = \frac{1}{L}\sum_i a_i$. Return
# `(h0, c0)`, each `(B, H)`. (Now the state the first step starts from depends on the image too.)


# %% tags=["raises-exception"]
def init_state(features: torch.Tensor, init_h: nn.Linear, init_c: nn.Linear) -> tuple:
    # features (B, L, C) -> (h0, c0), each (B, H): tanh of a linear map of the mean
    # position feature
    # YOUR CODE HERE
    raise NotImplementedError(
        "mean over positions, then tanh(init_h(.)), tanh(init_c(.))"
    )


# %% tags=["check", "raises-exception"]
lin_h, lin_c = fixed_weights(nn.Linear(3, 4)), fixed_weights(nn.Linear(3, 4), scale=0.5)
f = torch.sin(torch.arange(30.0)).reshape(2, 5, 3)  # 2 images, 5 positions, C = 3
h0, c0 = init_state(f, lin_h, lin_c)
expect_close(
    "init_state h0",
    h0,
    [[0.2945, 0.3544, 0.3029, 0.1936], [0.2166, 0.2820, 0.3135, 0.2795]],
)
expect_close(
    "init_state c0",
    c0,
    [[0.4667, 0.5493, 0.4786, 0.3156], [0.3512, 0.4487, 0.4935, 0.4450]],
)
shuffled = init_state(f[:, torch.tensor([4, 2, 0, 1, 3])], lin_h, lin_c)[0]
assert torch.allclose(shuffled, h0, atol=1e-6), (
    "the initial state must not depend on the order of the positions"
)
print("init_state: OK")


# %% [markdown]
# ## Putting it together
#
# The decoder below is made of your seven functions. From here on every cell uses them: in the exercise
# notebook run these cells once all the checks pass (the book does not execute them on the exercise page;
# the solution page shows their output).
#
# `start` computes what does not change during a caption: the projected features $W_a a_i + b$, the pooled
# image $\bar a$ and the initial state ({ref}`att-ex-init-state-exercise`). `step` is one word: the LSTM step (4) on
# the pooled image and the previous word, then, from the new state, the scores (1), weights (2) and context
# (3), then the logits of the next word. `forward` runs `step` over a batch of teacher-forced captions and
# also returns the attention weights of every step, shape `(B, T, L)`.
#
# (att-deep-output-exercise)=
# **Deep output.** The next-word layer `out` reads $[h_t; z_t]$, the LSTM output *and* the context computed
# from it, not $h_t$ alone: Show, Attend and Tell {cite}`xu2015show` predicts the word from the state,
# the context and the previous word (its "deep output layer"); we keep the first two and one linear layer, as
# the Theano edition of this chapter does. In this chapter's order ({ref}`see above <att-query-order-exercise>`) it is
# the context's only way to the words: the LSTM reads the pooled image, not $z_t$. It costs $C \cdot V$
# weights more.
#
# **A decoder without attention, for comparison.** With `uniform_attention=True` the same class skips the
# scores and gives every position the weight $1/L$: the context is then the mean of the grid, the same
# vector at every step, i.e. the *pooled* image. That decoder is the Show-and-Tell idea of chapter 3 (one
# image vector; here it starts the LSTM state, as chapter 3's "image as initial state" variant, and is also
# fed at every step and to the output layer), and it is trained and decoded below exactly like the
# attention decoder: same features, captions, epochs, optimizer and decoding. So the only difference between
# the two rows of the evaluation table is *where* the decoder may look.


# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
class AttentionDecoder(nn.Module):
    def __init__(
        self,
        vocab_size,
        feature_size,
        embedding_size=64,
        hidden_size=256,
        attention_size=128,
        dropout=0.2,
        uniform_attention=False,
    ):
        super().__init__()
        # True: no attention, each position weighs 1/L (the context is the pooled image)
        self.uniform_attention = uniform_attention
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.feature_proj = nn.Linear(feature_size, attention_size)  # W_a (and b)
        self.hidden_proj = nn.Linear(hidden_size, attention_size, bias=False)  # W_h
        self.v = nn.Parameter(torch.randn(attention_size) / attention_size**0.5)
        self.init_h = nn.Linear(feature_size, hidden_size)
        self.init_c = nn.Linear(feature_size, hidden_size)
        self.cell = nn.LSTMCell(feature_size + embedding_size, hidden_size)
        self.dropout = nn.Dropout(dropout)
        # deep output: the next word is read from [h_t; z_t] (LSTM output and context)
        self.out = nn.Linear(hidden_size + feature_size, vocab_size)

    def start(self, features):
        # features (B, L, C) -> decoder state: what a step changes, (h, c), and what
        # stays the same for the whole caption (features, projection, pooled image)
        h, c = init_state(features, self.init_h, self.init_c)  # (B, H), (B, H)
        features_proj = self.feature_proj(features)  # (B, L, A)
        pooled = features.mean(dim=1)  # (B, C), the mean of the grid
        return h, c, features, features_proj, pooled

    def step(self, tokens, state):
        # previous words (B,) -> logits of the next word (B, V), new state,
        # attention weights (B, L); the new state h_t chooses where to look (Lu et al.)
        # h, c (B, H); features (B, L, C), features_proj (B, L, A), pooled (B, C)
        h, c, features, features_proj, pooled = state
        h, c = lstm_step(pooled, self.embed(tokens), (h, c), self.cell)  # (B, H) x 2
        if self.uniform_attention:  # no attention: the same 1/L weight everywhere
            alpha = features.new_full(features.shape[:2], 1 / features.shape[1])
        else:
            alpha = attention_weights(
                additive_scores(features_proj, self.hidden_proj(h), self.v)  # (B, L)
            )  # (B, L), rows sum to 1
        context = context_vector(alpha, features)  # (B, C)
        logits = self.out(self.dropout(torch.cat([h, context], dim=-1)))  # (B, V)
        return logits, (h, c, features, features_proj, pooled), alpha

    def forward(self, features, inputs, own_words=0.0):
        # teacher forcing: inputs (B, T) = <start> w1 ... -> logits (B, T, V),
        # attention (B, T, L); with own_words > 0 (scheduled sampling), each input
        # word after <start> is, with that probability, the decoder's own previous
        # guess (the argmax of its last logits) instead of the reference word
        state = self.start(features)
        logits, alphas = [], []
        for t in range(inputs.shape[1]):
            tokens = inputs[:, t]  # (B,)
            if own_words > 0 and t > 0:
                guess = logits[-1].detach().argmax(dim=-1)  # (B,)
                swap = torch.rand(len(tokens), device=tokens.device) < own_words
                tokens = torch.where(swap, guess, tokens)
            step_logits, state, alpha = self.step(tokens, state)  # (B, V), (B, L)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)  # (B, T, V), (B, T, L)


helpers.seed_everything(SEED)
model = AttentionDecoder(len(vocab), C, EMBEDDING_SIZE, HIDDEN_SIZE, ATTENTION_SIZE).to(
    device
)
print(model)
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# ### Training
#
# Teacher forcing as in chapter 3: the decoder reads `<start> w1 ... wn` and is trained to predict
# `w1 ... wn <end>`, with your masked cross-entropy over the padded batches (padded with `<pad>` = 0 by the
# length-bucketed batches of `helpers.batching`). Adam {cite}`kingma2015adam` with a one-cycle learning rate; the gradient norm
# is clipped, as usual for recurrent networks. After each epoch the teacher-forced loss on the validation
# images tells whether the model still generalizes. It reads one caption per validation image (the first
# of its five): every image, a fifth of the work, and training does not depend on it.
#
# Teacher forcing has a blind spot: in training the decoder always reads the *reference* previous word, at
# test time it reads its *own*, mistakes included, and it has never learned to recover from them (the
# "exposure bias"; the repeated "a car a car ..." of greedy captions below is one symptom). **Scheduled
# sampling** {cite}`bengio2015scheduled` closes the gap gradually: each input word after `<start>` is
# replaced, with a probability that rises over the epochs (from 0 to `SCHEDULED_SAMPLING` in the last
# epoch), by the decoder's own most probable word at the previous step. The loss still targets the
# reference words. The replaced words make the training loss higher than the validation loss (which is
# always teacher-forced), and the greedy captions rely less on perfect inputs. What it changes here you can
# measure yourself: run the notebook again with `SCHEDULED_SAMPLING = 0` and compare the Evaluation tables,
# for the attention decoder and for the decoder without attention.

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# the validation loss reads the first caption of each validation image
first_caption = np.unique(val.caption_image, return_index=True)[1]
val_batches = batching.CaptionBatches(
    val.caption_image[first_caption],
    [val_ids[i] for i in first_caption],
    batch_size=256,
    shuffle=False,
    pad_id=vocab.pad,
)
train_feats, val_feats = feats["train"].to(device), feats["val"].to(device)


def batch_loss(decoder, batch, features, own_words=0.0):
    batch = batch.to(device)
    logits, _ = decoder(features[batch.image_index], batch.tokens[:, :-1], own_words)
    return masked_cross_entropy(logits, batch.tokens[:, 1:], pad_id=vocab.pad)


def train_decoder(decoder, name):
    # The whole training protocol, so that both decoders get exactly the same one:
    # returns the history of the losses and the training time in seconds.
    train_batches = batching.CaptionBatches(
        train.caption_image,
        train_ids,
        batch_size=BATCH_SIZE,
        seed=SEED,
        pad_id=vocab.pad,
    )
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=4e-3, total_steps=EPOCHS * len(train_batches), pct_start=0.15
    )
    history = {"train loss": [], "validation loss": []}
    # one thread while training, restored after the block (also on an error)
    with helpers.torch_threads(LSTM_THREADS):
        started = time.perf_counter()
        for epoch in range(EPOCHS):
            decoder.train()
            total = 0.0
            # scheduled sampling: 0 in the first epoch, SCHEDULED_SAMPLING in the last
            own_words = SCHEDULED_SAMPLING * epoch / max(1, EPOCHS - 1)
            for batch in widgets.progress(
                train_batches, desc=f"{name}: epoch {epoch + 1}/{EPOCHS}", leave=False
            ):
                loss = batch_loss(decoder, batch, train_feats, own_words)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(decoder.parameters(), 5.0)
                optimizer.step()
                schedule.step()
                total += loss.item()
            decoder.eval()
            with torch.no_grad():
                val_loss = np.mean(
                    [batch_loss(decoder, b, val_feats).item() for b in val_batches]
                )
            history["train loss"].append(total / len(train_batches))
            history["validation loss"].append(float(val_loss))
            print(
                f"{name}, epoch {epoch + 1}: "
                f"train loss {history['train loss'][-1]:.3f}, "
                f"validation loss {val_loss:.3f}"
            )
    return history, time.perf_counter() - started


history, train_seconds = train_decoder(model, "attention")
print(f"trained in {train_seconds:.0f} s")

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
ax = plots.loss_curves(history, title="masked cross-entropy per word")
ax.set_ylabel("nats per word")
plt.show()

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# Save the trained decoder (safetensors + vocabulary + config, no pickle) and load it
# back.
config = {
    "feature_size": C,
    "embedding_size": EMBEDDING_SIZE,
    "hidden_size": HIDDEN_SIZE,
    "attention_size": ATTENTION_SIZE,
    "language": LANGUAGE,
    "grid": list(GRID),
    "feature_mean": mean.tolist(),
    "feature_std": std.tolist(),
}
folder = checkpoints.save_checkpoint(
    helpers.cache_dir("checkpoints", f"04_attention_{LANGUAGE}"), model, vocab, config
)
restored = checkpoints.load_checkpoint(
    folder,
    build=lambda cfg, voc: AttentionDecoder(
        len(voc),
        cfg["feature_size"],
        cfg["embedding_size"],
        cfg["hidden_size"],
        cfg["attention_size"],
    ),
)
assert all(
    torch.equal(a.cpu(), b)
    for a, b in zip(model.state_dict().values(), restored.model.state_dict().values())
)
print(f"checkpoint: {sorted(p.name for p in folder.iterdir())}")


# %% [markdown]
# ## Captions, and where the decoder looked
#
# Greedy decoding with `helpers.decoding.greedy_decode`: it calls a `step(tokens, state)` function that
# returns log-probabilities; ours also keeps the attention weights of every step, so each generated word
# comes with the 8 x 8 map that produced it. Beam search (width 3) is there too, for the scores table.


# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
@torch.no_grad()
def caption_with_attention(features, batch_size=500, max_len=20, decoder=None):
    # Greedy captions for (N, L, C) features: (word lists, attention maps (N, T, H, W));
    # decoder: the trained attention decoder unless another is given
    decoder = model if decoder is None else decoder
    decoder.eval()
    words, maps = [], []
    for s in range(0, len(features), batch_size):
        x = features[s : s + batch_size].to(device)
        alphas = []

        def step(tokens, state):
            logits, state, alpha = decoder.step(tokens, state)
            alphas.append(alpha)  # noqa: B023 (used within this iteration)
            return torch.log_softmax(logits, dim=-1), state

        out = decoding.greedy_decode(
            step, decoder.start(x), len(x), vocab.start, vocab.end, vocab.pad, max_len
        )
        words += decoding.ids_to_tokens(out.tokens, vocab)
        maps.append(torch.stack(alphas, 1).view(len(x), -1, *GRID).cpu().numpy())
    width = max(m.shape[1] for m in maps)
    maps = np.concatenate(
        [np.pad(m, ((0, 0), (0, width - m.shape[1]), (0, 0), (0, 0))) for m in maps]
    )
    return words, maps


@torch.no_grad()
def caption_beam(features, beam_size=3, batch_size=500, max_len=20, decoder=None):
    decoder = model if decoder is None else decoder
    decoder.eval()

    def step(tokens, state):
        logits, state, _ = decoder.step(tokens, state)
        return torch.log_softmax(logits, dim=-1), state

    words = []
    for s in range(0, len(features), batch_size):
        x = features[s : s + batch_size].to(device)
        out = decoding.beam_search(
            step,
            decoder.start(x),
            len(x),
            beam_size,
            vocab.start,
            vocab.end,
            vocab.pad,
            max_len,
        )
        words += decoding.ids_to_tokens(out.tokens, vocab)
    return words


started = time.perf_counter()
test_words, test_maps = caption_with_attention(feats["test"])
beam_words = caption_beam(feats["test"])
print(
    f"captioned {len(test_words)} test images twice in "
    f"{time.perf_counter() - started:.1f} s; "
    f"attention maps {test_maps.shape}"
)
for i in range(4):
    print(
        f"{test.files[i]}: {' '.join(test_words[i])!r}  "
        f"(a reference: {test.captions_of(i)[0]!r})"
    )

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# The static view of the attention: each generated word with the map it was produced
# from.
from PIL import Image

examples = [1, 5, 0]
for i in examples:
    fig = plots.plot_attention_steps(
        Image.open(test.paths()[i]),
        test_words[i],
        test_maps[i],
        scene=test.scenes[i] if test.scenes is not None else None,
        ncols=8,
        title=" ".join(test_words[i]),
    )
    plt.show()


# %% [markdown]
# Read the maps from left to right: the bright cells are where the decoder looked before emitting the word
# above the panel. Object words usually come with a sharp peak on the object; function words ("a", "of",
# "and") often look at the object that is about to be named, or nowhere in particular. Watch for the
# classic failure of greedy decoding in list captions ("a car a car a car ..."): after "a car" the state is
# much like it was before, so the most probable next words are "a car" again. Beam search, which scores
# whole sentences, repeats itself less (see the table below).

# %% [markdown]
# ### Sampling with a temperature
#
# Greedy decoding gives one caption per image; sampling ({ref}`att-ex-sampling-exercise`) gives as many as we like. A low
# temperature stays close to the greedy caption, a high one wanders off: more varied words, and more words
# that do not fit the image.


# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
@torch.no_grad()
def sample_captions(features, temperature, n=3, max_len=20, seed=SEED):
    # n captions for one image (features (1, L, C)), drawn word by word with
    # sample_with_temperature
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    state = model.start(features.to(device).expand(n, -1, -1))
    tokens = torch.full((n,), vocab.start, dtype=torch.long, device=device)
    out = []
    for _ in range(max_len):
        logits, state, _ = model.step(tokens, state)
        tokens = sample_with_temperature(logits.cpu(), temperature, generator).to(
            device
        )
        out.append(tokens)
    return decoding.ids_to_tokens(torch.stack(out, 1), vocab)


i = 1
print("references:", *test.captions_of(i), sep="\n  ")
for k, tau in enumerate((0, 0.5, 1.0, 2.0)):
    for words in sample_captions(
        feats["test"][i : i + 1], tau, n=1 if tau == 0 else 3, seed=SEED + k
    ):
        print(f"temperature {tau:3}: {' '.join(words)}")

# %% [markdown]
# ## Evaluation
#
# **Caption quality**, computed exactly as in chapter 3: corpus BLEU-1..4 {cite}`papineni2002bleu` (nltk,
# smoothing method 1) of the generated words against the 5 tokenized references of each of the 1000
# `test_A` images; and the semantic score, which parses the generated caption back into objects and compares
# them with the scene truth (object precision and recall, counts, relations). Three references frame the
# numbers:
#
# - **the decoder without attention** ({ref}`described with the decoder <att-deep-output-exercise>`): the same class with every position weighted
#   $1/L$, so that its context is the mean of the grid, the pooled image, at every step. It is trained next,
#   with the same features, captions, epochs, optimizer, schedule and scheduled sampling as the attention
#   decoder (the function `train_decoder` above), and decoded the same way. It is *not* chapter 3's
#   `ShowAndTell` class: that one reads the final pooled vector of the CNN (1280 numbers) through one linear
#   layer into the initial state only, and predicts each word from the LSTM output alone; this one reads the
#   mean of the inner 8 x 8 map (112 numbers), starts its state from it as in {ref}`att-ex-init-state-exercise`, and
#   also feeds it to every step and to the output layer. It is the fair comparison for this chapter: the only
#   thing it lacks is the choice of *where* to look.
# - **the nearest training image**, the book's one nearest-neighbour baseline, defined as in chapter 3
#   (`caption_metrics.nearest_neighbour_captions` with its default `k`: pooled features, cosine, the
#   consensus caption of the captions of the `k` nearest training images; `k` was chosen once for the whole
#   book, as the value with the best BLEU-4 on the validation images);
# - **the human ceiling**: one reference scored against the other four.
#
# Relation accuracy is a share: of the relations a caption states between two objects that are both in the
# image, how many hold. A system that rarely states one is judged on very few, so the table also counts
# them (`relations_stated`) and the ones that hold (`relations_correct`).

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# The decoder without attention: the same class, training and decoding, with every
# position weighted 1/L (its context is the mean of the grid: the pooled image).
helpers.seed_everything(SEED)
pooled_model = AttentionDecoder(
    len(vocab),
    C,
    EMBEDDING_SIZE,
    HIDDEN_SIZE,
    ATTENTION_SIZE,
    uniform_attention=True,
).to(device)
pooled_history, pooled_seconds = train_decoder(pooled_model, "no attention")
pooled_words, _ = caption_with_attention(feats["test"], decoder=pooled_model)
pooled_beam_words = caption_beam(feats["test"], decoder=pooled_model)
print(f"trained in {pooled_seconds:.0f} s; e.g. {' '.join(pooled_words[1])!r}")

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
references = batching.references_per_image(test, LANGUAGE)
train_captions = [train.captions_of(i) for i in range(len(train.files))]
# the book's one nearest-neighbour baseline: the helper's default k (chapter 3)
nn_captions, _ = caption_metrics.nearest_neighbour_captions(
    cnn["test"]["pooled"], cnn["train"]["pooled"], train_captions, lang=LANGUAGE
)
systems = {
    "attention, greedy": test_words,
    "attention, beam 3": beam_words,
    "no attention (mean of the grid), greedy": pooled_words,
    "no attention (mean of the grid), beam 3": pooled_beam_words,
    "nearest training image": [helpers.tokenize(c, LANGUAGE) for c in nn_captions],
}
rows = {
    name: caption_metrics.evaluate_captions(words, test, LANGUAGE, references)
    for name, words in systems.items()
}
rows["human ceiling"] = caption_metrics.human_ceiling(references)
columns = [
    "bleu1",
    "bleu2",
    "bleu4",
    "object_precision",
    "object_recall",
    "count_accuracy",
    "relation_accuracy",
    "relations_stated",
]
if test.scenes is None:
    print(
        "object precision and recall, counts and relations skipped on "
        f"{DATASET}: they need the scenes' "
        f"ground truth"
    )
    columns = columns[:3]
for row in rows.values():  # how many stated relations hold (share x number stated)
    if "relations_stated" in row:
        row["relations_correct"] = round(
            row["relation_accuracy"] * row["relations_stated"]
        )
if test.scenes is not None:
    columns.append("relations_correct")
table = pd.DataFrame(rows).T[columns]
scores = rows["attention, greedy"]
table.round(3)

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# What attention adds, greedy decoding (the recorded model), read from the table above
if test.scenes is not None:
    att, flat, near = (
        rows[name]
        for name in (
            "attention, greedy",
            "no attention (mean of the grid), greedy",
            "nearest training image",
        )
    )
    for key in (
        "bleu4",
        "object_recall",
        "relation_accuracy",
        "relations_stated",
        "relations_correct",
    ):
        beats = [
            other
            for other, row in (("no attention", flat), ("nearest neighbour", near))
            if att[key] > row[key]
        ]
        print(
            f"{key:18s} attention {att[key]:7.3f}, no attention {flat[key]:7.3f}, "
            f"nearest neighbour {near[key]:7.3f}: attention beats "
            f"{' and '.join(beats) if beats else 'neither'}"
        )

# %% [markdown]
# **What attention adds.** Against the decoder without attention, trained on the same budget, attention
# raises BLEU-4 (greedy and beam) and, above all, the object columns: it names far more of the objects that
# are in the image and fewer that are not, and gets their counts right more often. That is what a map over
# the grid can do that the mean of the grid cannot: a small object is a few cells, and averaged with the
# other cells it all but disappears from the pooled vector.
#
# **Relations: attention beats the nearest neighbour, not the decoder without attention.** On relation
# accuracy the attention decoder is above the nearest-neighbour caption, which states a relation between
# two present objects in far fewer test images. It is *below* the decoder without attention: of the
# relations each decoder states, a larger share holds for the one without attention. The counts say how
# far to trust the share. Only relations between two objects that are both in the image are judged, and
# the decoder without attention names the present objects much less often (its object recall), so it is
# judged on fewer relations, plausibly in the simpler scenes; the attention decoder states more relations
# between present objects, and more of them hold in total (`relations_correct`). Still, the plain answer is
# that attention does not make this decoder better at the relation itself (left of, above, near): the
# relation words come from the LSTM state, between the two object words, and the additive score looks at
# one map at a time; nothing in it compares where the two objects are. The share of a few hundred stated
# relations is a noisy number: re-run with `SCHEDULED_SAMPLING = 0` (the same notebook) and see whether the
# order of the two decoders on relations holds. Beam search, which prefers the most common phrasings,
# states more relations still and gets a smaller share right.
# The floors cell below asserts each of these comparisons on the run this page shows (`SEED = 0`), so the
# text cannot silently go stale; the performance page says on how many other seeds each one holds.

# %% [markdown]
# **Where it looked.** For every word of a generated caption that names an object of the scene ("cat" in
# "a cat to the left of a key"), take the attention map that produced the word and ask whether its peak, the
# most attended cell, lies inside that object's box in the scene truth (`helpers.caption_metrics.attention_in_box`;
# several objects of the class: any of their boxes). A decoder that ignored the image, or attended
# uniformly, would put its peak in a random cell: it would hit the box as often as the box covers cells
# (`helpers.caption_metrics.box_cell_fraction`), the **uniform-attention rate**. Nothing in training asked the
# decoder to look at the objects: only the words were supervised. The decoder without attention has no row
# here: its map is the same $1/L$ everywhere, so it has no peak, and the uniform rate is what a random pick
# among its tied cells would score.
#
# This rate depends on the training run more than BLEU-4 does: trained with another `SEED`, the same decoder
# on the same data looks at the named object more or less often ({doc}`../book/performance`, "How far the seed
# alone moves the metrics"). With Show, Attend and Tell's order
# ({ref}`see the decoder's step <att-query-order-exercise>`) one of the seeds we tried fell far below the others. Where
# a decoder looks is a by-product of learning to predict words: nothing in the loss pins the map to the object
# the word names.

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
records = []
for i, (words, maps_i) in enumerate(zip(test_words, test_maps)):
    if test.scenes is None:  # a real dataset: no boxes to compare with
        break
    for r in caption_metrics.attention_in_boxes(
        words, maps_i, test.scenes[i], LANGUAGE
    ):
        size = next(o.size for o in test.scenes[i].objects if o.cls == r["cls"])
        records.append({**r, "image": i, "size": size})
inbox = caption_metrics.summarize_attention_in_box(records)
frame = pd.DataFrame(
    records, columns=["position", "word", "cls", "hit", "uniform", "image", "size"]
)
by_size = (
    frame.groupby("size")[["hit", "uniform"]].mean().reindex(["small", "medium", "big"])
)
by_size["object words"] = frame.groupby("size").size()
by_size.columns = ["attention in box", "uniform attention", "object words"]
if test.scenes is None:
    print(
        f"attention-in-box skipped on {DATASET}: it needs the objects' boxes "
        "from the scenes' ground truth"
    )
else:
    print(
        f"{inbox['object_words']} object words in {len(test_words)} captions: "
        "the attention peak is in the "
        f"object's box for {inbox['attention_in_box']:.1%} of them; uniform attention: "
        f"{inbox['attention_in_box_uniform']:.1%}"
    )
by_size.round(3) if test.scenes is not None else None

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
if test.scenes is None:
    print(f"the attention-in-box chart is skipped on {DATASET}: no scene truth")
else:
    fig, ax = plt.subplots(figsize=(6, 3))
    x = np.arange(len(by_size))
    ax.bar(x - 0.2, by_size["attention in box"], 0.4, label="attention peak")
    ax.bar(
        x + 0.2,
        by_size["uniform attention"],
        0.4,
        label="uniform attention",
        color="0.7",
    )
    ax.set_xticks(
        x,
        [
            f"{s} objects\n({n} words)"
            for s, n in zip(by_size.index, by_size["object words"])
        ],
    )
    ax.set_ylabel("peak inside the object's box")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Does the decoder look at the object it names?")
    plt.show()

# %% [markdown]
# ## Exploration: step through the words
#
# Pick a test image and move through its generated caption word by word (in JupyterLab, `make lab`: drag the
# sliders, or click a handle and use the arrow keys); the right panel shows where the decoder looked to produce
# the highlighted word. The viewer opens on image 1 at its first object word. (In the HTML book the widget
# cannot run: the figures of the previous section are its static twin.)

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
from PIL import Image

shown = list(range(40))
stepper, show_word = widgets.word_stepper(
    [Image.open(test.paths()[i]) for i in shown],
    [test_words[i] for i in shown],
    [test_maps[i] for i in shown],
    None if test.scenes is None else [test.scenes[i] for i in shown],
)
widgets.show(stepper, "word-by-word attention viewer")
# The static runs draw one view (image 1 at its first object word), so the code
# behind the widget is exercised.
show_word(1, next((t for t, _ in grammar.object_mentions(test_words[1], LANGUAGE)), 0))

# %% [markdown]
# ## Caption your own image
#
# Set `MY_IMAGE` in the Parameters cell to the path of a photo (absolute, or relative to the `notebooks`
# folder) and run this section's cells again; with `MY_IMAGE = None` they caption a photo that ships with
# matplotlib, of the computer scientist Grace Hopper in uniform. The photo takes the road the training
# images took: its centre square, resized to the backbone's input size, through the same frozen CNN to the
# same grid of local features, standardized with the training statistics (the code checks the road: a test
# scene sent down it comes out with its cached features). Then the trained decoder writes its greedy and
# beam captions, and each word comes with the attention map it was produced from. Chapter 3 does the same
# with one pooled vector per photo, in its section "What about real photographs?".
#
# Expect little. The decoder has only ever read captions of emoji scenes: its words are the emoji classes
# and its grammar that of the scene captions, so whatever the photo, it describes emoji-like things. A test
# scene captioned beside it shows the model in the world it learned. The cosine distance from each image's
# pooled CNN vector to the nearest training image, printed with the captions, tells the two apart: a cheap
# warning sign, as in chapter 3.

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
from pathlib import Path

from matplotlib import cbook
from PIL import ImageOps

if MY_IMAGE is None:
    photo_path = Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
elif not Path(MY_IMAGE).expanduser().is_file():
    raise FileNotFoundError(
        f"MY_IMAGE = {str(MY_IMAGE)!r} is not a file: set it to the path of a photo "
        "(JPEG, PNG, ...), or to None for the sample photo"
    )
else:
    photo_path = Path(MY_IMAGE).expanduser()
try:
    with Image.open(photo_path) as opened:
        # upright as the camera meant it (phone photos store the rotation as a tag)
        photo = ImageOps.exif_transpose(opened).convert("RGB")
except OSError as error:  # not an image, or a damaged one
    raise ValueError(
        f"MY_IMAGE = {str(photo_path)!r} is not an image Pillow can read "
        f"({type(error).__name__}): pass a JPEG or PNG file"
    ) from None
print(f"{photo_path.name}: {photo.size[0]} x {photo.size[1]} pixels")

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
# (imported here: the Quality floors cell below names a dictionary `metrics`)
from helpers import features, metrics

backbone = features.Backbone(BACKBONE).to(device)  # the frozen CNN of the cached maps
image_size, rgb_mean, rgb_std = features.BACKBONES[BACKBONE]


def image_positions(images):
    # PIL images -> (pooled vectors (N, D), positions (N, L, C)), the road the training
    # images took: centre square at the backbone's size, frozen CNN, the map stored as
    # the cache stores it (float16; ResNet-152: the same projection), standardized with
    # the training statistics
    x = features.preprocess(images, image_size, rgb_mean, rgb_std).to(device)
    pooled, fmap = backbone(x)
    # (N, C, H, W) float16, as in the cache
    stored = features.reduce_map(fmap, cnn["train"].get("projection"))
    return pooled.float().cpu(), (to_positions(stored) - mean) / std


def names_and_finds(i):
    # Test image i's greedy caption names two kinds of objects or more, all of them in
    # the scene, and the attention peak of each object word lies in its box.
    named = grammar.object_mentions(test_words[i], LANGUAGE)
    found = caption_metrics.attention_in_boxes(
        test_words[i], test_maps[i], test.scenes[i], LANGUAGE
    )
    kinds = {cls for _, cls in named}
    return len(kinds) >= 2 and len(found) == len(named) and all(r["hit"] for r in found)


# For the contrast, a test scene the decoder gets right (the first such one not shown
# above); on a real dataset (no scene truth), the first test image not shown above.
not_shown = [i for i in range(len(test_words)) if i not in examples]
SCENE = next(
    (i for i in not_shown if test.scenes is None or names_and_finds(i)), not_shown[0]
)  # the fallback: a short run (few epochs) may get no test scene right
if test.scenes is not None and not names_and_finds(SCENE):
    print(f"no test scene passes the rule; test scene {SCENE} is shown instead")
with Image.open(test.paths()[SCENE]) as opened:
    scene_image = opened.convert("RGB")
pooled, positions = image_positions([photo, scene_image])
gap = (positions[1] - feats["test"][SCENE]).abs().max().item()
print(
    f"test scene {SCENE} through this road: its features differ from the cached ones "
    f"by at most {gap:.3f} (standardized units)"
)
if DATASET == "embedded":  # the same image file, the same road: the same features
    assert gap < 0.05, f"the photo's road differs from the cache's: {gap:.3f}"
started = time.perf_counter()
own_words, own_maps = caption_with_attention(positions)
own_beam = caption_beam(positions)
nearest = metrics.distances(pooled, cnn["train"]["pooled"], "cosine").min(1).values
test_nearest = (
    metrics.distances(cnn["test"]["pooled"], cnn["train"]["pooled"], "cosine")
    .min(1)
    .values
)
for name, k in ((photo_path.name, 0), (f"test scene {SCENE}", 1)):
    print(
        f"{name}:\n  greedy: {' '.join(own_words[k])}"
        f"\n  beam 3: {' '.join(own_beam[k])}"
        f"\n  cosine distance to the nearest training image: {nearest[k]:.2f}"
    )
print(
    f"test scenes' distance to their nearest training image: median "
    f"{test_nearest.median():.2f}, largest {test_nearest.max():.2f}"
)
print(f"captioned in {time.perf_counter() - started:.2f} s")
if (
    MY_IMAGE is None and DATASET == "embedded"
):  # what the prose below says of the sample photo
    assert nearest[0] > test_nearest.max(), "the sample photo is not the farthest image"

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
for image, k, title in (
    (
        features.square_resize(photo, 256),
        0,
        "your image (the centre square the CNN sees)",
    ),
    (scene_image, 1, f"test scene {SCENE}"),
):
    fig = plots.plot_attention_steps(
        image,
        own_words[k],
        own_maps[k],
        scene=test.scenes[SCENE] if k == 1 and test.scenes is not None else None,
        ncols=8,
        title=f"{title}: {' '.join(own_words[k])}",
    )
    plt.show()

# %% [markdown]
# **Reading the two figures.** On the test scene the decoder does what the Evaluation section measured: it
# names objects of the scene and looks at each one as it names it. (The code picks the scene: the first test
# image not shown above whose greedy caption names two kinds of object or more, all of them in the scene,
# each with its attention peak inside its box. It is a case where the model works, not a typical one: the
# rates of the Evaluation section are the typical case.) On the photo the decoder still writes a fluent
# caption in the scenes' grammar, about emoji classes, and the maps do not justify those words: they show
# where the decoder looked, not that there was anything of that class to see. The distances say the same without looking: the sample photo lies
# farther from every training image than any test scene does. A caption's fluency is no evidence that the
# model understood the image; to caption photos, train on photos (`DATASET = "coco"` or `"flickr8k"`, see
# the "Real data and GPUs" page).

# %% [markdown]
# ## Quality floors and recorded results
#
# The headline numbers go to `results/04_attention_solution.json` first, so that a run that fails a check
# still leaves them. The run fails here if learning broke: BLEU-4 and attention-in-box must clear floors well
# below what this configuration reaches with any of the seeds we tried (and attention-in-box must beat
# the uniform rate by a wide margin). Attention-in-box depends on the seed more than BLEU-4 does
# ({doc}`../book/performance`, "How far the seed alone moves the metrics"). On the scenes, on the CPU (where
# the fixed seeds make the run repeat exactly), with `SEED = 0`, the run the prose describes, it also asserts
# each comparison the evaluation's prose makes between the attention decoder, the decoder without attention
# and the nearest neighbour: if a change of the notebook turns one around, the run stops here and the prose
# must change with it. With another seed it prints which comparisons hold. On real data, where one epoch on
# a sample says little about quality, it checks what holds for any correct run: finite losses, a validation
# loss below the untrained decoder's, BLEU within [0, 1].

# %% tags=["uses-exercises", "skip-execution", "nbval-skip"]
metrics = {
    "bleu4": scores["bleu4"],
    "object_recall": scores.get("object_recall", np.nan),
    "attention_in_box": inbox["attention_in_box"],
    "attention_in_box_uniform": inbox["attention_in_box_uniform"],
    "bleu1": scores["bleu1"],
    "object_precision": scores.get("object_precision", np.nan),
    "beam_bleu4": rows["attention, beam 3"]["bleu4"],
    "relation_accuracy": scores.get("relation_accuracy", np.nan),
    "nearest_relation_accuracy": rows["nearest training image"].get(
        "relation_accuracy", np.nan
    ),
    "nearest_bleu4": rows["nearest training image"]["bleu4"],
    "no_attention_bleu4": rows["no attention (mean of the grid), greedy"]["bleu4"],
    "no_attention_beam_bleu4": rows["no attention (mean of the grid), beam 3"]["bleu4"],
    "no_attention_object_recall": rows["no attention (mean of the grid), greedy"].get(
        "object_recall", np.nan
    ),
    "no_attention_relation_accuracy": rows[
        "no attention (mean of the grid), greedy"
    ].get("relation_accuracy", np.nan),
    "object_words": inbox["object_words"],
    "final_train_loss": history["train loss"][-1],
    "final_val_loss": history["validation loss"][-1],
    "train_seconds": train_seconds,
}
metrics = {
    k: v for k, v in metrics.items() if np.isfinite(v)
}  # no scene truth (real data): no attention-in-box
print({k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items()})
# recorded first, so that a run that fails a check below still leaves its numbers
print("written to", results.record("04_attention_solution", metrics))
# a margin below what this configuration reaches with seeds 0 to 3 (performance page,
# "Which state chooses where to look"); attention-in-box moves with the seed more
# than BLEU-4
BLEU4_FLOOR, IN_BOX_FLOOR = 0.33, 0.55
if DATASET == "embedded" and EPOCHS >= 6:  # the floors hold at this schedule
    assert metrics["bleu4"] >= BLEU4_FLOOR, (
        f"BLEU-4 {metrics['bleu4']:.3f} is below the floor {BLEU4_FLOOR}"
    )
    assert metrics["attention_in_box"] >= IN_BOX_FLOOR, (
        f"attention-in-box {metrics['attention_in_box']:.3f} is below the floor "
        f"{IN_BOX_FLOOR}"
    )
    assert metrics["attention_in_box"] >= 2 * metrics["attention_in_box_uniform"], (
        "attention is no better than uniform"
    )
if DATASET == "embedded" and EPOCHS >= 6 and device.type == "cpu":
    # the claims of "What attention adds" and "Relations" in the evaluation
    flat_beam = rows["no attention (mean of the grid), beam 3"]
    beam = rows["attention, beam 3"]
    claims = {
        "attention beats no attention on BLEU-4, greedy and beam": (
            att["bleu4"] > flat["bleu4"] and beam["bleu4"] > flat_beam["bleu4"]
        ),
        "... and on object recall, precision and counts": all(
            att[k] > flat[k]
            for k in ("object_recall", "object_precision", "count_accuracy")
        ),
        "attention beats the nearest neighbour on relation accuracy": (
            att["relation_accuracy"] > near["relation_accuracy"]
        ),
        "the nearest neighbour states fewer relations": (
            near["relations_stated"] < att["relations_stated"]
        ),
        "no attention has the higher relation accuracy": (
            flat["relation_accuracy"] > att["relation_accuracy"]
        ),
        "attention states more relations, and more correct ones": (
            att["relations_stated"] > flat["relations_stated"]
            and att["relations_correct"] > flat["relations_correct"]
        ),
        "beam states more relations than greedy, a smaller share right": (
            beam["relations_stated"] > att["relations_stated"]
            and beam["relation_accuracy"] < att["relation_accuracy"]
        ),
    }
    wrong = [claim for claim, holds in claims.items() if not holds]
    # the prose describes the run with SEED = 0; another seed may turn a close one
    # around (the performance page's seeds table), so there it is only reported
    if SEED == 0:
        assert not wrong, f"the evaluation's prose no longer holds: {wrong}"
    print(
        f"{len(claims) - len(wrong)} of the {len(claims)} comparisons of the "
        f"evaluation's prose hold with SEED = {SEED}"
        + (f"; not: {wrong}" if wrong else "")
    )
if (
    DATASET != "embedded"
):  # real data, even one epoch of a sample: what holds for any correct run
    helpers.seed_everything(
        SEED
    )  # as in the model cell: the decoder's weights before training
    untrained = (
        AttentionDecoder(len(vocab), C, EMBEDDING_SIZE, HIDDEN_SIZE, ATTENTION_SIZE)
        .to(device)
        .eval()
    )
    losses = []
    with torch.no_grad():
        for batch in val_batches:
            batch = batch.to(device)
            untrained_logits, _ = untrained(
                val_feats[batch.image_index], batch.tokens[:, :-1]
            )
            losses.append(
                masked_cross_entropy(
                    untrained_logits, batch.tokens[:, 1:], pad_id=vocab.pad
                ).item()
            )
    untrained_val_loss = float(np.mean(losses))
    print(
        f"validation loss: {untrained_val_loss:.3f} untrained, "
        f"{history['validation loss'][-1]:.3f} trained"
    )
    assert np.isfinite(history["train loss"] + history["validation loss"]).all(), (
        "a training loss is not finite"
    )
    assert history["validation loss"][-1] < untrained_val_loss, (
        "training did not lower the validation loss"
    )
    bleus = [scores["bleu1"], scores["bleu4"], rows["attention, beam 3"]["bleu4"]]
    assert all(0 <= b <= 1 for b in bleus), f"BLEU outside [0, 1]: {bleus}"

# %% [markdown]
# ## Further exercises
#
# ```{exercise}
# :label: att-doubly-stochastic-exercise
#
# **Doubly stochastic attention.** Show, Attend and Tell {cite}`xu2015show` adds
# $\lambda \sum_i \left(1 - \sum_t \alpha_{t,i}\right)^2$ to the loss, so that over a caption every position
# receives about as much attention in total. Write it for the `(B, T, L)` weights returned by `model(...)`
# (mind the padded steps) and train with it. What does it do here, where captions have about 8 words and
# images 64 positions? What target would make more sense than 1?
# ```
#
# ```{solution} att-doubly-stochastic-exercise
# :class: dropdown
#
# With `alphas` of shape `(B, T, L)` and `mask = (targets != vocab.pad)` of shape `(B, T)`:
# `total = (alphas * mask[..., None]).sum(1)` is the attention each position received, and the penalty is
# `lam * ((1 - total) ** 2).sum(1).mean()`. The weights of one step sum to 1, so over a caption of $T$ words
# the totals sum to $T$: with $T \approx 8 < L = 64$ positions most totals cannot reach 1, and the penalty is
# smallest when the attention is spread evenly, which blurs the maps and lowers attention-in-box. In the
# paper $L = 196$ and captions are longer, and the term mostly stops the decoder from ignoring regions.
# A target of $T / L$ per position (or a penalty only on positions above some total) keeps the intent without
# fighting the caption length.
# ```
#
# ```{exercise}
# :label: att-look-ahead-exercise
#
# **Does it look before it speaks?** Compute the attention-in-box rate with the map of the step *before* each
# object word (the step that produced "a" in "a cat"), and with the step after. Which is highest, and why
# could the decoder know where to look one word early?
# ```
#
# ```{solution} att-look-ahead-exercise
# :class: dropdown
#
# Shift the position: for a record `r` of `caption_metrics.attention_in_boxes(...)` use `test_maps[i][r["position"] - 1]`
# and check it with `helpers.caption_metrics.attention_in_box` against the boxes of `r["cls"]`. The map that emits the
# word itself is usually the best. The step before is often well above chance too: the LSTM state already
# "knows" which object it is about to name (it chose "a" rather than "an" or "two"), and the attention is
# computed from that state.
# ```
#
# ```{exercise}
# :label: att-xu-order-exercise
#
# **Show, Attend and Tell's order.** Change `AttentionDecoder.step` so that the scores use the state
# *before* the step and the LSTM reads the context, $[z_t; E\,y_{t-1}]$ ({ref}`see the decoder's step
# <att-query-order-exercise>`; the Theano edition's order). Train it with `SEED = 0`, `1` and `2` (`papermill -p SEED 1
# ...`) and compare attention-in-box and BLEU-4 with this chapter's order. Which changes more from seed to
# seed, and why might it? (A run may stop at the attention-in-box floor of the last section: the notebook
# prints and records its numbers before it checks them.)
# ```
#
# ```{solution} att-xu-order-exercise
# :class: dropdown
#
# In `step`, compute `alpha` from `self.hidden_proj(h)` with the incoming `h`, then the context, then
# `h, c = lstm_step(context, self.embed(tokens), (h, c), self.cell)`. The decoder without attention is the
# same in both orders (its context is the pooled image). On the performance page's runs BLEU-4 hardly moved,
# while attention-in-box fell far for seed 1 with Xu et al.'s order. A likely reason: there the map of step
# $t$ reaches the loss twice, through the word of step $t$ (the deep output) and through the LSTM, which
# carries the context into every later word, so a map that looks at the object of the *next* words (the
# other object of "a cat left of a key") can also lower the loss, and which of the two a run learns depends
# on its start. In this chapter's order, with the chapter's cross-entropy, the map reaches the loss only
# through the word it helps to write. The Theano edition, in Xu et al.'s order with other sizes, did not
# show such a seed: the order is one factor among several.
# ```
#
# ```{exercise}
# :label: att-bottleneck-exercise
#
# **A bottleneck before the vocabulary** (the seminar's third trick). The deep output `self.out` maps the LSTM
# state and the context, $[h_t; z_t]$ of size $H + C$, straight to the $V$ words of the vocabulary. Replace it by
# `nn.Sequential(nn.Linear(H + C, 64), nn.Linear(64, V))`. How many parameters does it save here, and for a
# COCO-sized decoder (a vocabulary of 10,000 words, $H = 1024$ and the $C = 512$ channels of Show, Attend and
# Tell's VGG features)?
# ```
#
# ```{solution-start} att-bottleneck-exercise
# :class: dropdown
# ```
#
# A direct layer has $(H + C) V + V$ parameters (weights and biases), the bottleneck
# $(H + C) b + b + b V + V$, with $H$ the LSTM state size (`HIDDEN_SIZE`), $C$ the channels of a grid cell,
# $V$ the vocabulary size (`len(vocab)`) and $b$ the bottleneck width (`BOTTLENECK = 64`). In the solution
# notebook ({doc}`04_attention_solution`) the cell that follows reads both from the trained layer's own weights
# and computes the COCO-sized case. The softmax layer dominates the size of large captioning models, and the
# bottleneck also speeds up the largest matrix product of every step. With no nonlinearity between them, the
# two layers are one linear map of rank at most $b$: the bottleneck is a low-rank output layer.

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise}
# :label: att-scores-exercise
#
# **Other attention functions.** The additive score of Exercise 1 is one way to compare an image cell with
# the decoder state; there are cheaper ones. Write three more, each returning scores of shape `(B, L)`:
#
# - the **dot product** of the two projections, $e_i = (W_a a_i)^\top (W_h h)$, from `features_proj` and
#   `hidden_proj` as in Exercise 1 (here $a_i$ and $h$ cannot be multiplied directly: $C \neq H$);
# - the **scaled dot product** of the transformer {cite}`vaswani2017attention`: the same, divided by
#   $\sqrt{A}$;
# - the **bilinear** ("general") score of Luong et al. {cite}`luong2015effective`, $e_i = a_i^\top W h$
#   with one matrix $W$ of shape `(C, H)` and no projections.
#
# Put one of them in `AttentionDecoder.step` in place of `additive_scores` and train. How many parameters
# does each score need with this notebook's sizes, which one costs least per step, and why does the dot
# product need the scaling?
# ```
#
# ```{solution-start} att-scores-exercise
# :class: dropdown
# ```
#
# Each is one line; in the solution notebook ({doc}`04_attention_solution`) the cell that follows defines
# them, checks on random inputs of this notebook's sizes that each gives `(B, L)` scores whose softmax (your
# `attention_weights`) sums to 1 over the positions, counts their parameters, and measures the effect of the
# scaling. What it shows:
#
# - The dot product of two projections *is* a bilinear score, with the matrix $W = W_a W_h^\top$ of rank at
#   most $A$. (The bias $b$ of $W_a$ adds $b^\top W_h h$, the same for every position: the softmax ignores
#   it.) The two projections have fewer parameters than a full $W$ only when $A (C + H) < C H$, which is not
#   the case with this notebook's sizes: the printed counts show it.
# - With entries of unit variance, a dot product over $A$ dimensions has variance $A$: the unscaled scores
#   grow with the size of the space, the softmax saturates (nearly all the weight on one cell) and the other
#   cells get almost no gradient. Dividing by $\sqrt{A}$ brings the variance back to 1
#   {cite}`vaswani2017attention`.
# - Per step, the additive score applies a `tanh` to a `(B, L, A)` tensor (and its derivative in training);
#   the dot product only multiplies and sums; the bilinear score computes $W h$, of shape `(B, C)`, then one
#   product with the features.
#
# In `step`, the change is one line: `scores = scaled_dot_scores(features_proj, self.hidden_proj(h))` (then
# `self.v` is unused), or, with a parameter `self.W = nn.Parameter(torch.randn(C, H) / (C * H) ** 0.5)`
# created in `__init__`, `scores = bilinear_scores(features, h, self.W)`. Train each with the same schedule
# and compare the Evaluation section's BLEU-4 and attention-in-box rates: which score is best here is an
# experiment, not a given (the additive score is the only one with a nonlinearity).


# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise}
# :label: att-adaptive-softmax-exercise
#
# **A cheaper softmax for a large vocabulary** (the seminar's last trick: a hierarchical softmax or byte
# pair encodings). Every training position of the decoder computes a score for each of the $V$ words, and
# the deep output `self.out` holds $(H + C) V$ weights. Replace `self.out` and `masked_cross_entropy` by
# torch's `nn.AdaptiveLogSoftmaxWithLoss(H + C, V, cutoffs)`, the adaptive softmax of Grave et al.
# {cite}`grave2017efficient`. In what order must the word ids be, what becomes of the padding, and how do
# greedy decoding and beam search get their log-probabilities? Then measure, for this notebook's vocabulary
# and for a COCO-sized one of 10,000 words with Zipf-like frequencies (cutoffs `[1000, 4000]`), the
# parameters of the output layer and the time of its forward and backward pass on one batch of $B \times T$
# positions, with the full softmax and with the adaptive one.
# ```
#
# ```{solution-start} att-adaptive-softmax-exercise
# :class: dropdown
# ```
#
# The adaptive softmax splits the vocabulary, **sorted by frequency**, at the cutoffs: the head (the most
# frequent words, plus one entry per tail cluster) is a full softmax over the whole input; each tail cluster
# has its own small softmax, computed from a projection of the input to $d / 4$, $d / 16$, ... dimensions
# (`div_value = 4`), and only for the positions whose target falls in it. A word's probability is that of
# its cluster in the head times its probability inside the cluster. Since most tokens are frequent words,
# most positions stop at the head. It is a two-level version of the hierarchical softmax of Morin and
# Bengio {cite}`morin2005hierarchical`, whose binary tree over the words needs about $\log_2 V$ decisions
# per word, shaped for fast matrix products rather than for the fewest operations.
#
# - **Order.** `helpers.Vocabulary.build` already sorts the words by count, after the four specials
#   `<pad> <start> <end> <unk>`; `<end>` ends every caption and `<start>` and `<pad>` are never targets, so
#   with a head of more than four words this order works as it is.
# - **Padding.** The layer has no `ignore_index`: keep the real positions, `keep = targets != vocab.pad`,
#   and call `self.out(x[keep], targets[keep]).loss`, with `x` the `(B, T, H + C)` inputs of the old output
#   layer (`step` returns them instead of logits). That loss is the mean of $-\log p$ over the real tokens,
#   as `masked_cross_entropy` computes it.
# - **Decoding.** `self.out.log_prob(x)` gives the `(B, V)` log-probabilities of all the words (the greedy
#   and beam decoders can take them in place of logits: a log-softmax leaves them unchanged), and
#   `self.out.predict(x)` the most probable word, without the full `(B, V)` matrix when the head decides.
#
# In the solution notebook ({doc}`04_attention_solution`) the cell that follows checks that the adaptive
# log-probabilities sum to one over the vocabulary, counts the parameters and the multiply-adds per position
# (the head for every position, a tail cluster for the positions whose target is in it), and times a
# training step of the output layer alone on the CPU, for as many positions as a typical training batch
# (the batches group captions of similar length), with the notebook's real targets for its own vocabulary
# and with targets drawn from a Zipf law ($p(r) \propto 1 / r$ for the word of rank $r$) for the
# COCO-sized one.
# What it shows:
#
# - On the COCO-sized vocabulary most targets fall in the head, the tail clusters are small matrices, and
#   the adaptive layer has several times fewer parameters and multiply-adds: its training step is several
#   times faster, which is the point of the method {cite}`grave2017efficient`.
# - On the scenes' small vocabulary the counts fall too, and on a CPU the layer's step is usually faster
#   as well, but the layer is small to begin with: the time it saves is a small part of what one training
#   batch of the decoder took above (the cell prints both when the training ran on the CPU; the times are
#   noisy on a shared machine). The adaptive softmax buys little here, and it has a price: the tail words,
#   whose clusters see a projection of the input to a quarter or a sixteenth of its dimensions, are
#   predicted from less.
#
# The other route is to change the units rather than the softmax: **subword units** such as byte pair
# encoding {cite}`sennrich2016neural` build the vocabulary from frequent pieces of words, so a few
# thousand reusable units cover every word, rare and unseen ones included, and no word becomes `<unk>`
# (the price is longer sequences: a word may take several steps of the decoder).

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ## Summary
#
# - Soft attention replaces the one image vector of Show and Tell by a grid of local features and, before
#   each word, a probability map over the grid: additive scores $v^\top\tanh(W_a a_i + W_h h)$, a softmax
#   over the **positions** (the axis that is easy to get wrong), and the weighted average of the features.
# - The decoder step is an LSTM fed with [pooled image, previous word] whose new state then chooses where to
#   look (the order of Lu et al.; Show, Attend and Tell and the Theano edition look first and feed the
#   context to the LSTM), and the next word is read from the LSTM output and the context together (the deep
#   output of Show, Attend and Tell, as in the Theano edition);
#   training is teacher forcing with a cross-entropy that must ignore the padding; sampling with a
#   temperature trades accuracy for variety.
# - Scheduled sampling {cite}`bengio2015scheduled` feeds the decoder some of its own previous guesses in
#   training, so that greedy decoding, which only ever reads its own words, is less of a surprise.
# - Starting the LSTM state from the image ({ref}`att-ex-init-state-exercise`) is the first of the seminar's "tricks
#   for further research"; a bottleneck before the softmax is a further exercise above
#   ({ref}`the bottleneck exercise <att-bottleneck-exercise>`), and so are other attention functions, the dot product,
#   scaled {cite}`vaswani2017attention` or not, and the bilinear score {cite}`luong2015effective`
#   ({ref}`the attention functions exercise <att-scores-exercise>`; the Theano edition has the bilinear score too,
#   {ref}`the cheaper score exercise <theano-att-dot>`). For a large vocabulary, an adaptive softmax
#   {cite}`grave2017efficient` or subword units {cite}`sennrich2016neural` make the output layer cheaper
#   ({ref}`the adaptive softmax exercise <att-adaptive-softmax-exercise>`, with its measured times).
# - The maps are not decoration: without any supervision of *where*, the attention peak of an object word
#   falls in that object's box far more often than uniform attention would (the rates printed in the
#   evaluation, and per object size in its table).
# - What attention adds, measured against the same decoder with the context fixed to the mean of the grid
#   (trained and decoded the same way) and against the book's nearest-neighbour baseline: better BLEU and
#   many more of the present objects named. On relations it beats the nearest neighbour but not the
#   decoder without attention, whose fewer stated relations hold more often: attending to one object at a
#   time does not by itself teach "left of".

# %% [markdown]
# ## References
#
# - Bahdanau, Cho and Bengio: neural machine translation by jointly learning to align and translate, where
#   additive attention comes from {cite}`bahdanau2015neural`.
# - Xu et al.: Show, Attend and Tell, soft (and hard) attention for captioning, the doubly stochastic
#   regularization and the initial state from the image {cite}`xu2015show`.
# - Lu, Xiong, Parikh and Socher: the order of the step used here, attention from the new state
#   {cite}`lu2017knowing`.
# - Luong, Pham and Manning: the dot-product and bilinear ("general") scores {cite}`luong2015effective`;
#   Vaswani et al.: the scaled dot product of the transformer {cite}`vaswani2017attention`.
# - Vinyals et al.: Show and Tell, the decoder without attention of chapter 3 {cite}`vinyals2015show`.
# - Papineni et al.: BLEU {cite}`papineni2002bleu`; Tan and Le: EfficientNet {cite}`tan2019efficientnet`.
# - The seminar this chapter is rebuilt from: "Attention mechanism @ Image Captioning" by Arseniy Ashuha,
#   based on Eben Olson's PyData 2015 captioning tutorial (see the Attributions page).
