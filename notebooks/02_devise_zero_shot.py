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
# # Zero-shot image search with DeViSE
#
# An image classifier knows only the names it was trained on: show it a rhinoceros when it has never seen one and
# it will confidently call it something else, and it cannot answer the question "show me the rhinos". DeViSE
# {cite}`frome2013devise` changes what the network predicts. Instead of one of $C$ class scores it predicts a
# *point in a word-vector space*, the space where GloVe {cite}`pennington2014glove` or fastText
# {cite}`bojanowski2017fasttext` put "rhinoceros" near "rhino", "elephant" and "hippo". Trained on images of
# elephants, pigs and horses landing next to their own names, the network puts a picture of a rhinoceros
# somewhere in that neighbourhood too, and every word of the vocabulary (400,000 here, most of them never a
# label) becomes a search query. Seed 001 of this book did it with a frozen VGG16 on Tiny ImageNet
# {cite}`le2015tiny` and searched the test images for "bridge", a word it had never been trained on. We rebuild
# it on the book's emoji data, test it properly on classes held out of training, and then try it on a few real
# photographs.
#
# **You will learn to**
# - turn a frozen ImageNet CNN into a *visual-semantic embedding* by training a small head that regresses onto
#   the word vector of each image's label;
# - write and check the two losses that do it: the cosine loss of seed 001 and DeViSE's hinge rank loss;
# - measure zero-shot recognition with DeViSE's *flat hit@k* protocol, against chance and a softmax classifier;
# - search images with any word, including synonyms and words that were never labels, pick a demo word the
#   scenes can answer by a stated rule (and see why seed 001's "bridge" cannot be one), and read the failures.
#
# **Prerequisites**: chapter 0 (the data and the frozen features) and chapter 1 (regressing between text and image
# spaces). PyTorch basics (`nn.Module`, an optimizer step).
#
# **Run time**: about a minute on 2 CPU cores once the feature cache of chapter 0 exists, as measured by
# `make bench` (see {doc}`../book/performance`); no GPU needed: only a small head is trained on cached features.

# %% [markdown]
# ## Parameters
#
# `DATASET = "embedded"` uses the book's emoji images and GloVe 50-d vectors, all offline. The real path of seed 001
# is `DATASET = "tiny-imagenet"` with `DATA_DIR` the folder of your unzipped `tiny-imagenet-200` (read as it is, no
# download); it keeps EfficientNet-Lite0 and the offline GloVe 50-d vectors, and `BACKBONE = "resnet152"` or
# `WORD_VECTORS` pointing at fastText's `crawl-300d-2M.vec` are opt-in (the page *Real data and GPUs* says where to
# get them). Every Tiny ImageNet class has training images, so on that path `HOLDOUT_FRACTION` of the classes are
# held out of training here, only the first `VAL_PER_CLASS` validation images of each class are used (feature
# extraction is the slow part), and the quality floors of section 9, made for the emoji data, give way to checks
# that hold for any correct run.

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
DATASET = "embedded"  # "tiny-imagenet" on the real path
# a folder holding a copy of the dataset (tiny-imagenet-200), read as-is, no download
DATA_DIR = None
LANGUAGE = "en"  # label words and word vectors are English in this chapter
DEVICE = "auto"  # "auto", "cpu", "cuda" or "cuda:N"
EPOCHS = 30
SEED = 0
# the frozen CNN, any DATASET; "resnet152" is opt-in (its weights need a download)
BACKBONE = "efficientnet_lite0"
# offline, any DATASET; opt-in: the path of a .vec file (fastText crawl-300d-2M.vec)
WORD_VECTORS = "glove-6b-50d"
WORD_VECTORS_LIMIT = 500_000  # read only the most frequent words of a .vec file
# "first": a class's first name is its label; "all": average every name (seed 001)
LABEL_NAMES = "first"
HIDDEN = (512, 256)  # widths of the head's hidden layers
DROPOUT = 0.5
MARGIN = 0.1  # DeViSE's hinge rank margin
CONSE_T = 10  # ConSE: the T most probable seen classes (the paper's best T)
BATCH_SIZE = 128
LR = 1e-3
HOLDOUT_FRACTION = 0.15  # classes held out when a dataset has none (Tiny ImageNet)
VAL_PER_CLASS = (
    10  # real data: the first N validation images of each class (None: all of them)
)
# section 6: None = the demo word chosen by the rule printed there, or any word
DEMO_WORD = None
DEMO_NEIGHBOURS = 5  # the rule: a word whose nearest labels all share one category

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

import helpers
from helpers import datasets, features, metrics, plots, realdata, scenes, text, widgets

if LANGUAGE != "en":
    raise ValueError(
        f"LANGUAGE={LANGUAGE!r}: this chapter's label words and word vectors "
        "are English; "
        "use LANGUAGE='en' (chapter 1 searches with Spanish captions)"
    )
from threadpoolctl import threadpool_limits

# The head is tiny: one thread is as fast as two, and thread pools that fight other
# processes (or each other: torch, OpenBLAS, scikit-learn's t-SNE) on a 2-core machine
# cost far more than they give.
torch.set_num_threads(1)
threadpool_limits(1)
helpers.seed_everything(SEED)
device = helpers.pick_device(DEVICE)
pd.set_option("display.precision", 3)


# %% [markdown]
# ## 1. The data: seen and unseen classes
#
# The classification view of the book's data follows the Tiny ImageNet layout: one object per image, a folder per
# class. The `train` split holds only the *seen* classes; a share of the classes, chosen per category
# (`unseen_fraction = 0.15` in `helpers.embedded.Config`; `HOLDOUT_FRACTION` on Tiny ImageNet), are
# *unseen*: they have images in `val` but none in any training set. Those are the ones DeViSE must recognize
# without ever having been shown one.


# %%
def load_split(split):
    """The classification view of DATASET, through the data front door (DATA_DIR: a copy
    read as it is)."""
    return helpers.load_classes(split, DATASET, data_dir=DATA_DIR)


train_data, val_data = load_split("train"), load_split("val")
assert train_data.classes == val_data.classes, "train and val must share one class list"
classes = train_data.classes
if DATASET != "embedded":
    found = (
        f"{DATASET} from {DATA_DIR} "
        f"({helpers.detect_layout(DATASET, DATA_DIR).name} layout)"
        if DATA_DIR is not None
        else f"{DATASET} from the cache"
    )
    found += (
        f": {len(classes)} classes, train {len(train_data):,} images, "
        f"val {len(val_data):,} images"
    )
    if (
        VAL_PER_CLASS is not None
    ):  # deterministic: the first images of each class, in the split's file order
        rows = np.sort(
            np.concatenate(
                [
                    np.flatnonzero(val_data.labels == c)[:VAL_PER_CLASS]
                    for c in range(len(classes))
                ]
            )
        )
        val_data = helpers.subset(val_data, rows)
        found += (
            f"; val subsampled to the first {VAL_PER_CLASS} images of each class "
            f"({len(val_data):,} images)"
        )
    print(found)
seen, unseen, keep_train = datasets.zero_shot_split(train_data, HOLDOUT_FRACTION, SEED)
n_val_unseen = int(np.isin(val_data.labels, [classes.index(c) for c in unseen]).sum())
pd.DataFrame(
    {
        "classes": [len(seen), len(unseen)],
        "train images": [int(keep_train.sum()), 0],
        "val images": [len(val_data) - n_val_unseen, n_val_unseen],
    },
    index=["seen", "unseen"],
)

# %%
rng = np.random.default_rng(SEED)
unseen_set = set(unseen)
val_unseen_rows = [
    i for i, label in enumerate(val_data.labels) if classes[label] in unseen_set
]
show_train = rng.choice(np.flatnonzero(keep_train), 8, replace=False)
show_unseen = rng.choice(val_unseen_rows, 8, replace=False)
paths = [train_data.paths()[i] for i in show_train] + [
    val_data.paths()[i] for i in show_unseen
]
titles = [
    f"seen: {train_data.words[classes[train_data.labels[i]]][0]}" for i in show_train
] + [f"UNSEEN: {val_data.words[classes[val_data.labels[i]]][0]}" for i in show_unseen]
fig = plots.show_images(paths, titles, ncols=8, size=1.6)
fig.suptitle(
    "top: training images (seen classes); bottom: held-out classes, never in training",
    y=1.02,
)
plt.show()

# %% [markdown]
# The network never looks at pixels during training here: as in chapter 0, a frozen ImageNet-pretrained
# EfficientNet-Lite0 {cite}`tan2019efficientnet` turned every 128-pixel image into one pooled 1280-d vector,
# computed once and cached. Seed 001 instead ran its frozen VGG16 on every batch, on images augmented afresh each
# time (random horizontal flips, rotations of up to 15 degrees, random grayscale). Caching gives that
# augmentation up: the head sees the same feature vector of an image in every epoch, so it trains on fewer
# distinct inputs and can overfit sooner. What caching buys is speed: the CNN runs once per image, not once per
# image and epoch.

# %%
train_feats = helpers.image_features(train_data, backbone=BACKBONE)["pooled"][
    keep_train
]
val_feats = helpers.image_features(val_data, backbone=BACKBONE)["pooled"]
train_labels = train_data.labels[keep_train]
val_labels = val_data.labels
print(
    f"train features {train_feats.shape} {train_feats.dtype}, "
    f"labels {train_labels.shape}"
)
print(f"val features   {val_feats.shape}, labels {val_labels.shape}")

# %% [markdown]
# ## 2. The targets: a word vector per label
#
# Each class gets the word vector of its name; a name of several words ("hot dog", "Egyptian cat") gets the mean of
# its words' vectors. (Seed 001 joined such words with hyphens instead, `egyptian-cat`, and kept a name only if
# fastText had that token.) Seed 001 also averaged the vectors of every name Tiny ImageNet lists for a class (those
# fastText knew); with `LABEL_NAMES = "first"` we use the first name only, so the other names ("rhino" for
# *rhinoceros*, "bunny" for *rabbit*) remain words the model has never seen as labels, and searching with them
# is a fair test.

# %%
t0 = time.perf_counter()
kv = realdata.load_word_vectors(WORD_VECTORS, limit=WORD_VECTORS_LIMIT)
label_raw, label_text, missing = text.label_vectors(
    kv, classes, train_data.words, LABEL_NAMES
)
print(
    f"{len(kv.key_to_index):,} words of {kv.vector_size} dimensions "
    f"({time.perf_counter() - t0:.1f} s)"
)
no_vector = [(train_data.words.get(c) or [c])[0] for c in missing]
print(
    f"{len(classes) - len(missing)} of {len(classes)} class names have a word vector; "
    f"{len(missing)} have none"
    + (f" and are dropped everywhere: {no_vector[:10]}" if missing else "")
)
if missing:
    # (real data) a class none of whose words is known cannot be a target:
    # drop it everywhere
    seen = [c for c in seen if c not in missing]
    unseen = [c for c in unseen if c not in missing]
label_vecs = text.normalize(label_raw)  # unit length: no label wins by being long
cls_index = {c: i for i, c in enumerate(classes)}
seen_idx = np.array([cls_index[c] for c in seen])
unseen_idx = np.array([cls_index[c] for c in unseen])
seen_pos = {
    int(c): k for k, c in enumerate(seen_idx)
}  # class index -> position among seen labels
unseen_pos = {
    int(c): k for k, c in enumerate(unseen_idx)
}  # class index -> position among unseen labels
train_ok = np.isin(train_labels, seen_idx)
val_ok = np.isin(val_labels, np.concatenate([seen_idx, unseen_idx]))
train_feats, train_labels = train_feats[train_ok], train_labels[train_ok]
val_feats, val_labels = val_feats[val_ok], val_labels[val_ok]
val_paths = [p for p, ok in zip(val_data.paths(), val_ok) if ok]
is_unseen = np.isin(val_labels, unseen_idx)
print(
    f"targets: {label_vecs.shape} (one unit vector per class); "
    f"seen {len(seen_idx)}, unseen {len(unseen_idx)}"
)


# %% [markdown]
# Zero-shot recognition is a bet on the word space: an unseen class can only be found if its word vector lies near
# the vectors of seen classes that *look* alike. Here are the seen labels nearest to a few unseen ones.


# %%
def nearest_seen(c, k=4):
    sims = label_vecs[seen_idx] @ label_vecs[c]
    return ", ".join(
        f"{label_text[seen_idx[j]]} ({sims[j]:.2f})" for j in np.argsort(-sims)[:k]
    )


pd.DataFrame(
    {
        "unseen label": [label_text[c] for c in unseen_idx[:12]],
        "nearest seen labels (cosine)": [nearest_seen(c) for c in unseen_idx[:12]],
    }
)


# %% [markdown]
# ## 3. The model
#
# The backbone is frozen, so the model is a head $f$ from the image feature $x \in \mathbb{R}^{1280}$ to the word
# space $\mathbb{R}^{d}$ ($d = 50$ for GloVe 6B, 300 for fastText): the stack of seed 001, Linear-ReLU-Dropout
# layers narrowing down to $d$, then a last linear layer. We first standardize the features (mean 0 and standard
# deviation 1 per dimension, with the training set's statistics kept inside the model), which lets Adam use one
# learning rate for every input. Seed 001 used widths $2d$ and $d$; with $d = 50$ that bottleneck is narrow for
# 269 classes, so the widths are a parameter (`HIDDEN`, see the exercises).
#
# Seed 001 ended its `forward` with `x / x.max()`: the largest value *of the whole batch* rescales every prediction,
# so an image's embedding depends on the other images in its batch. The losses below ignore the length of a
# prediction anyway, so we leave it out.
#
# Two losses teach $f$ where to land, for an image of label $y$ with target vector $t_y$ (unit length):
#
# - **cosine embedding loss** (seed 001): pull $f(x)$ towards the direction of $t_y$,
#   $\;\ell_{\cos} = 1 - \dfrac{f(x)\cdot t_y}{\lVert f(x)\rVert}$. It never looks at the other labels.
# - **hinge rank loss** (DeViSE {cite}`frome2013devise`): the true label must score higher than every wrong label
#   by a margin $m$ (`MARGIN`),
#   $$\ell_{\text{rank}} = \sum_{j \neq y} \max\bigl(0,\; m - t_y \cdot f(x) + t_j \cdot f(x)\bigr).$$
#   It is a ranking loss: what matters is the order of the labels around the prediction, which is exactly what
#   search and hit@k measure.
#
# The baseline is a **softmax classifier** with the same stack but a last layer of one score per seen class and
# cross-entropy: the best a closed-vocabulary model can do on seen classes, and useless for unseen ones.


# %%
class Head(nn.Module):
    """Standardize the frozen features, then Linear-ReLU-Dropout layers and a last
    Linear layer to `out_dim`."""

    def __init__(self, feats: np.ndarray, out_dim: int, hidden=HIDDEN, dropout=DROPOUT):
        super().__init__()
        self.register_buffer("mean", torch.tensor(feats.mean(0)))
        self.register_buffer("std", torch.tensor(feats.std(0) + 1e-6))
        layers, width = [], feats.shape[1]
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        layers.append(nn.Linear(width, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x):  # x: (B, D) frozen image features
        return self.net((x - self.mean) / self.std)  # (B, out_dim)


print(Head(train_feats, label_vecs.shape[1]))


# %%
def cosine_loss(pred, y, labels):
    """Seed 001's loss: nn.CosineEmbeddingLoss with target +1 (pull each prediction
    towards its label)."""
    # pred (B, d), labels (K, d), y (B,) int64 -> a scalar
    return nn.functional.cosine_embedding_loss(
        pred, labels[y], torch.ones(len(y), device=pred.device)
    )


def hinge_rank_loss(pred, y, labels, margin=MARGIN):
    """DeViSE: sum over wrong labels j of max(0, margin - t_y.f(x) + t_j.f(x)), averaged
    over the batch."""
    scores = pred @ labels.T  # (B, C): t_j . f(x) for every label j
    true = scores.gather(1, y[:, None])  # (B, 1): t_y . f(x)
    violation = (margin - true + scores).clamp(min=0)  # (B, C)
    # the true label is not a wrong label
    violation = violation.scatter(1, y[:, None], 0.0)  # (B, C)
    return violation.sum(1).mean()  # a scalar


def softmax_loss(pred, y, labels=None):
    return F.cross_entropy(pred, y)  # pred (B, K) logits, y (B,) -> a scalar


# Check the vectorized hinge rank loss against the formula written as loops.
g = torch.Generator().manual_seed(SEED)
p, t, yy = (
    torch.randn(4, 6, generator=g),
    F.normalize(torch.randn(5, 6, generator=g), dim=1),
    torch.tensor([0, 3, 4, 3]),
)
loops = np.mean(
    [
        sum(
            max(0.0, MARGIN - float(t[yy[i]] @ p[i]) + float(t[j] @ p[i]))
            for j in range(5)
            if j != yy[i]
        )
        for i in range(4)
    ]
)
assert abs(hinge_rank_loss(p, yy, t).item() - loops) < 1e-5
print(
    f"hinge rank loss, vectorized {hinge_rank_loss(p, yy, t).item():.5f} "
    f"= loops {loops:.5f}"
)

# %% [markdown]
# ## 4. Training
#
# The three heads train on the same features, batches and seeds; only the output and the loss differ. The DeViSE
# heads score the seen labels only (the unseen ones are unknown during training). Each epoch we also measure the
# loss on the validation images of seen classes and, to watch zero-shot ability grow, hit@5 on the unseen ones;
# that curve is only watched, never used to choose anything.

# %%
X_train = torch.tensor(train_feats, device=device)
X_val = torch.tensor(val_feats, device=device)
y_train_seen = torch.tensor(
    [seen_pos[int(label)] for label in train_labels], device=device
)
L_seen = torch.tensor(label_vecs[seen_idx], device=device)
val_seen_rows = np.flatnonzero(~is_unseen)
y_val_seen = torch.tensor(
    [seen_pos[int(label)] for label in val_labels[~is_unseen]], device=device
)
y_val_unseen = np.array([unseen_pos[int(label)] for label in val_labels[is_unseen]])


@torch.no_grad()
def predict(model, X):
    model.eval()
    return model(X).cpu().numpy()


def train_head(name, loss_fn, out_dim, epochs=EPOCHS):
    """Adam on mini-batches of the cached features; returns the model and its per-epoch
    history."""
    helpers.seed_everything(SEED)
    model = Head(train_feats, out_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    order = torch.Generator().manual_seed(SEED)
    history = {"train loss": [], "val loss (seen)": [], "zero-shot hit@5": []}
    for _epoch in widgets.progress(range(epochs), desc=name, leave=False):
        model.train()
        perm = torch.randperm(len(X_train), generator=order).to(device)
        total = 0.0
        for start in range(0, len(perm), BATCH_SIZE):
            batch = perm[start : start + BATCH_SIZE]
            opt.zero_grad()
            loss = loss_fn(model(X_train[batch]), y_train_seen[batch], L_seen)
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        history["train loss"].append(total / len(perm))
        out = predict(model, X_val)
        with torch.no_grad():
            history["val loss (seen)"].append(
                loss_fn(
                    torch.tensor(out[val_seen_rows], device=device), y_val_seen, L_seen
                ).item()
            )
        if out_dim == label_vecs.shape[1]:
            history["zero-shot hit@5"].append(
                metrics.flat_hits(
                    out[is_unseen], label_vecs[unseen_idx], y_val_unseen, ks=(5,)
                )["hit@5"]
            )
    return model, history


runs = {}
for name, loss_fn, out_dim in [
    ("DeViSE, cosine loss", cosine_loss, label_vecs.shape[1]),
    ("DeViSE, hinge rank loss", hinge_rank_loss, label_vecs.shape[1]),
    ("softmax classifier", softmax_loss, len(seen_idx)),
]:
    t0 = time.perf_counter()
    model, history = train_head(name, loss_fn, out_dim)
    runs[name] = {
        "model": model,
        "history": history,
        "seconds": time.perf_counter() - t0,
    }
    print(
        f"{name:26s} {EPOCHS} epochs in {runs[name]['seconds']:5.1f} s, "
        "final train loss "
        f"{history['train loss'][-1]:.4f}"
    )

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.3))
for ax, (name, run) in zip(axes, runs.items()):
    plots.loss_curves(
        {k: v for k, v in run["history"].items() if k != "zero-shot hit@5"},
        ax=ax,
        title=name,
    )
for name in ("DeViSE, cosine loss", "DeViSE, hinge rank loss"):
    axes[3].plot(
        np.arange(1, EPOCHS + 1),
        runs[name]["history"]["zero-shot hit@5"],
        marker="o",
        ms=3,
        label=name,
    )
axes[3].axhline(min(1.0, 5 / len(unseen_idx)), color="gray", ls="--", label="chance")
axes[3].set(
    title=f"hit@5 on the {len(unseen_idx)} unseen classes", xlabel="epoch", ylim=(0, 1)
)
axes[3].legend(fontsize=8)
axes[3].grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 5. Evaluation: zero-shot hit@k
#
# DeViSE's *flat hit@k* is the share of test images whose true label is among the $k$ labels nearest to the
# predicted embedding (cosine). Two candidate sets, as in the paper:
#
# - **unseen labels only**: the test image is known to belong to a held-out class, and the model ranks only those
#   (chance: $k / n_\text{unseen}$);
# - **all labels**: seen and unseen labels compete (chance: $k / n_\text{all}$). This is harder than it looks,
#   because the head was trained to land *on* the seen labels, so they attract everything.
#
# On seen classes the question is plain accuracy: the nearest seen label (DeViSE) or the highest score (softmax).

# %%
KS = (1, 2, 5, 10)
emb = {
    name: predict(runs[name]["model"], X_val)
    for name in ("DeViSE, cosine loss", "DeViSE, hinge rank loss")
}
y_val_seen_np = y_val_seen.cpu().numpy()


def devise_scores(E):
    """Zero-shot hit@k (unseen labels, all labels) on unseen images; accuracy on seen
    images (seen labels)."""
    unseen_only = metrics.flat_hits(
        E[is_unseen], label_vecs[unseen_idx], y_val_unseen, KS
    )
    all_labels = metrics.flat_hits(E[is_unseen], label_vecs, val_labels[is_unseen], KS)
    seen_acc = metrics.flat_hits(
        E[~is_unseen], label_vecs[seen_idx], y_val_seen_np, (1,)
    )["hit@1"]
    row = {f"unseen labels hit@{k}": unseen_only[f"hit@{k}"] for k in KS}
    row.update({f"all labels hit@{k}": all_labels[f"hit@{k}"] for k in KS})
    row["seen accuracy"] = seen_acc
    return row, unseen_only["ranks"]


table, zs_ranks = {}, {}
for name, E in emb.items():
    table[name], zs_ranks[name] = devise_scores(E)
logits = predict(runs["softmax classifier"]["model"], X_val)
softmax_acc = float((logits[~is_unseen].argmax(1) == y_val_seen_np).mean())
table["softmax classifier"] = {"seen accuracy": softmax_acc}
chance_u, chance_a = (
    metrics.chance_hits(len(unseen_idx), KS),
    metrics.chance_hits(len(classes) - len(missing), KS),
)
table["chance"] = {
    **{f"unseen labels hit@{k}": chance_u[f"hit@{k}"] for k in KS},
    **{f"all labels hit@{k}": chance_a[f"hit@{k}"] for k in KS},
    "seen accuracy": 1 / len(seen_idx),
}
results = pd.DataFrame(table).T
print(
    f"{is_unseen.sum()} images of {len(unseen_idx)} unseen classes; "
    f"{(~is_unseen).sum()} images of "
    f"{len(seen_idx)} seen classes; all labels = {len(classes) - len(missing)}"
)
results

# %% [markdown]
# The softmax classifier has no row for unseen classes: it has no output for them, so its zero-shot hit@k is zero
# by construction. The curve below is the whole ranking: for every $k$, the share of unseen-class images whose true
# label is among the $k$ nearest unseen labels.

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
ks = np.arange(1, len(unseen_idx) + 1)
for name, r in zs_ranks.items():
    ax.plot(ks, [(r <= k).mean() for k in ks], label=name)
ax.plot(ks, ks / len(unseen_idx), "--", color="gray", label="chance")
ax.set(
    xlabel="k",
    ylabel="hit@k",
    title=f"zero-shot hit@k over the {len(unseen_idx)} unseen labels",
    ylim=(0, 1.01),
)
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# Which unseen classes does the hinge head find? Per class, the share of its images whose label is among the five
# nearest unseen labels, with the seen label its word vector is closest to: a class is found when its word has a
# close seen neighbour that also *looks* like it.

# %%
E_main = emb["DeViSE, hinge rank loss"]
r = zs_ranks["DeViSE, hinge rank loss"]
per_class = pd.Series(
    {
        unseen_idx[k]: float((r[y_val_unseen == k] <= 5).mean())
        for k in range(len(unseen_idx))
    }
)
per_class = per_class.sort_values(ascending=False)
fig, ax = plt.subplots(figsize=(13, 3.4))
ax.bar(range(len(per_class)), per_class.values, color="tab:orange")
ax.axhline(chance_u["hit@5"], color="gray", ls="--", label="chance")
ax.set_xticks(range(len(per_class)))
ax.set_xticklabels(
    [
        f"{label_text[c]} "
        f"({label_text[seen_idx[np.argmax(label_vecs[seen_idx] @ label_vecs[c])]]})"
        for c in per_class.index
    ],
    rotation=90,
    fontsize=7,
)
ax.set(
    ylabel="hit@5",
    title=(
        "zero-shot hit@5 per unseen class "
        "(in brackets: the nearest seen label in word space)"
    ),
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# And a few unseen-class images with the five nearest unseen labels (the true one in capitals when it is among them):

# %%
rows = np.flatnonzero(is_unseen)
pick = rows[np.random.default_rng(SEED + 1).choice(len(rows), 10, replace=False)]
titles = []
for i in pick:
    sims = text.normalize(E_main[i]) @ label_vecs[unseen_idx].T
    top = unseen_idx[np.argsort(-sims)[:5]]
    titles.append(
        "\n".join(
            label_text[c].upper() if c == val_labels[i] else label_text[c] for c in top
        )
    )
fig = plots.show_images(
    [val_paths[i] for i in pick], titles, ncols=10, size=1.5, fontsize=7.5, wrap=None
)
plt.show()

# %% [markdown]
# ### A second route to zero-shot: ConSE
#
# The softmax classifier cannot name an unseen class, but its probabilities over the seen classes say what an
# image looks like. ConSE {cite}`norouzi2014conse`, from the same group as DeViSE, turns them into a point of the
# word space without training anything new: take the $T$ most probable seen labels $y_1 \ldots y_T$ of an image,
# with probabilities $p(y_i \mid x)$, and embed the image as their *convex combination*
#
# $$f_\text{ConSE}(x) = \frac{1}{Z} \sum_{i=1}^{T} p(y_i \mid x)\, t_{y_i}, \qquad
# Z = \sum_{i=1}^{T} p(y_i \mid x),$$
#
# then rank the unseen labels by cosine, exactly as for DeViSE. An image that the classifier finds half *horse*,
# half *ox* lands between the two words, where a word like "cow" may be waiting. `CONSE_T = 10` is the paper's best
# $T$ (it compared 1, 10 and 1000 on ImageNet), fixed before looking at our unseen classes; $T = 1$, the single
# most probable label, is shown for comparison.

# %%
probs = torch.softmax(torch.tensor(logits), dim=1).numpy()  # (N, seen) probabilities


def conse_embed(probs, T):
    """ConSE: the probability-weighted mean of the word vectors of the T most probable
    seen labels, (N, seen) -> (N, d)."""
    top = np.argsort(-probs, axis=1, kind="stable")[:, :T]  # (N, T) seen positions
    w = np.take_along_axis(probs, top, axis=1)  # (N, T) their probabilities
    return (w[:, :, None] * label_vecs[seen_idx][top]).sum(1) / w.sum(1, keepdims=True)


conse_rows = {}
for T in dict.fromkeys((1, CONSE_T)):
    conse_rows[f"ConSE, T = {T}"] = devise_scores(conse_embed(probs, T))[0]
conse_main = conse_rows[f"ConSE, T = {CONSE_T}"]
zs_cols = [f"unseen labels hit@{k}" for k in KS] + ["all labels hit@5"]
compare = pd.DataFrame(
    {
        **{n: table[n] for n in ("DeViSE, hinge rank loss", "DeViSE, cosine loss")},
        **conse_rows,
        "chance": table["chance"],
    }
).T[zs_cols]
top_prob = probs[is_unseen].max(1)
print(
    "softmax on unseen-class images: the most probable seen label takes "
    f"{top_prob.mean():.2f} of the probability on average "
    f"(median {np.median(top_prob):.2f})"
)
compare

# %% [markdown]
# On this data ConSE stays well above chance but below both DeViSE heads (the table above). The printed share of
# probability on the top label explains much of it: trained on a handful of images per class, the softmax
# classifier is sure of itself even on images of classes it never saw, so the convex combination sits close to the
# word vector of one seen label, and ConSE gains only a little over its $T = 1$ row ("the nearest seen label's word
# vector"). DeViSE's head is trained to place an image *between* labels, which is what a zero-shot guess needs.
# ConSE's appeal is elsewhere: it needs no training beyond an ordinary classifier, so any classifier becomes a
# zero-shot one (the exercise {ref}`devise-ex-conse` softens its probabilities). Neither route gets most unseen
# classes into the top five: with a 50-dimensional GloVe space, the word vectors of many unseen classes simply do
# not sit near the seen classes that look like them (the per-class chart above), and no head can fix the target
# space.

# %% [markdown]
# ## 6. Search with any word
#
# Now the payoff of seed 001: embed every validation image once, then rank the images by cosine similarity to the
# word vector of *any* word, including words that were never labels. For that the predicted embeddings must lie
# in the word space itself, not only score the 269 training labels in the right order. The two losses differ
# exactly here: the cosine loss pulls each image onto its label's direction, while the hinge rank loss only
# constrains the dot products with the seen labels and leaves every other direction of the space free. Two
# checks that use no unseen class: how close seen-class validation images land to their own label, and which
# words of the whole vocabulary (the 30,000 most frequent GloVe words) lie nearest to a few predictions.

# %%
seen_rows = np.flatnonzero(~is_unseen)
landing = {
    name: float(
        (text.normalize(E[seen_rows]) * label_vecs[val_labels[seen_rows]]).sum(1).mean()
    )
    for name, E in emb.items()
}
search_name = max(landing, key=landing.get)  # chosen on seen classes only
print(
    "mean cosine between a seen-class image's embedding and its own label:",
    ", ".join(f"{n}: {v:.2f}" for n, v in landing.items()),
)
print(
    "mean cosine between two different labels: "
    f"{(label_vecs @ label_vecs.T)[~np.eye(len(label_vecs), dtype=bool)].mean():.2f}"
)
print(f"search uses: {search_name}")

pick = seen_rows[
    np.random.default_rng(SEED + 2).choice(len(seen_rows), 8, replace=False)
]
nearest = {
    name: text.nearest_words(kv, emb[name][pick], topn=3, restrict=30000)
    for name in emb
}
titles = [
    f"{label_text[val_labels[i]].upper()}\n"
    + "\n".join(
        f"{name.split(', ')[1].split()[0]}: "
        + ", ".join(w for w, _ in nearest[name][j])
        for name in emb
    )
    for j, i in enumerate(pick)
]
fig = plots.show_images(
    [val_paths[i] for i in pick],
    titles,
    ncols=8,
    size=2.0,
    fontsize=7,
    wrap=None,
    suptitle=(
        "the 3 nearest words of 30,000 to each prediction, "
        "for the cosine and the hinge head"
    ),
)
plt.show()

# %% [markdown]
# Search quality can be measured too. Each unseen class's own label word is a query that no training image ever
# answered; precision@10 is the share of its 10 nearest images that show that class, among all validation images
# (seen classes included, so they compete) and among the unseen-class images only.

# %%
query_vecs = label_vecs[unseen_idx]
search_table = {}
for name, E in emb.items():
    p_all = metrics.search_precision(E, query_vecs, val_labels, unseen_idx, k=10)
    p_new = metrics.search_precision(
        E[is_unseen], query_vecs, val_labels[is_unseen], unseen_idx, k=10
    )
    search_table[name] = {
        "precision@10, all images": p_all.mean(),
        "precision@10, unseen-class images": p_new.mean(),
    }
n_per_class = np.bincount(val_labels[is_unseen])[unseen_idx]
search_table["chance"] = {
    "precision@10, all images": float((n_per_class / len(val_labels)).mean()),
    "precision@10, unseen-class images": float((n_per_class / is_unseen.sum()).mean()),
}
pd.DataFrame(search_table).T

# %% [markdown]
# The search function below takes any word (or a few words, averaged) and draws the nearest images. The queries
# of the figure include synonyms that were never labels ("rhino", "donut", "serpent", "phone", "bunny"), category
# words ("fruit", "bird", "vehicle") and a word with no class at all ("bridge", seed 001's example). An unknown
# word gets a clear message with close spellings, from `helpers.lookup`.

# %%
search_emb = text.normalize(emb[search_name])


def query_vector(query):
    """A word's vector (or a phrase's mean vector); raises helpers.UnknownWordError with
    suggestions."""
    if len(query.split()) > 1:
        return helpers.phrase_vector(kv, query)
    return helpers.lookup(kv, query)


def nearest_labels(q, k=3):
    """The k class labels nearest to the unit query vector `q` (cosine), * marking
    classes never seen in training."""
    sims = label_vecs @ q
    return ", ".join(
        f"{label_text[c]}{'*' if classes[c] in unseen_set else ''} {sims[c]:.2f}"
        for c in np.argsort(-sims, kind="stable")[:k]
    )


def search(query, k=6, draw=True, among=None):
    """The k validation images (or those of the row indices `among`) nearest to the word
    vector of `query`.

    Drawing, it first prints the labels nearest to the query in the word space: the
    images come back from around them."""
    try:
        q = text.normalize(query_vector(query))
    except (helpers.UnknownWordError, ValueError) as err:
        print(err)
        return []
    among = np.arange(len(search_emb)) if among is None else np.asarray(among)
    sims = search_emb[among] @ q
    top = among[np.argsort(-sims, kind="stable")[:k]]
    if draw:
        print(
            f"{query!r} in the word space: nearest labels {nearest_labels(q)}  "
            "(* = class never seen in training)"
        )
        titles = [
            f"{label_text[val_labels[i]]}{'*' if is_unseen[i] else ''}\n"
            f"{search_emb[i] @ q:.2f}"
            for i in top
        ]
        plots.show_images(
            [val_paths[i] for i in top],
            titles,
            ncols=k,
            size=1.6,
            fontsize=7.5,
            wrap=None,
            suptitle=f"search: {query!r}  (* = class never seen in training)",
        )
        plt.show()
    return list(top)


def search_figure(queries, k=6, among=None, title=""):
    """One row per query: the top-k images with their true labels (* marks classes never
    seen in training)."""
    fig, axes = plt.subplots(
        len(queries), k, figsize=(1.5 * k + 1.2, 1.7 * len(queries)), squeeze=False
    )
    for row, query in zip(axes, queries):
        q = text.normalize(query_vector(query))
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
        for ax, i in zip(row, search(query, k, draw=False, among=among)):
            ax.imshow(plt.imread(val_paths[i]))
            ax.set_title(
                f"{label_text[val_labels[i]]}{'*' if is_unseen[i] else ''} "
                f"{search_emb[i] @ q:.2f}",
                fontsize=7,
            )
        row[0].set_ylabel(query, fontsize=11, rotation=0, ha="right", va="center")
    fig.suptitle(title, y=1.0)
    fig.tight_layout()
    return fig


queries = [
    "rhino",
    "donut",
    "serpent",
    "phone",
    "bunny",
    "fruit",
    "bird",
    "vehicle",
    "bridge",
]
if DATASET != "embedded":
    queries = ["bridge", "dog", "car", "fruit", "bird", "building"]
search_figure(
    queries,
    title=f"search among all {len(val_labels)} validation images (* = unseen class)",
)
plt.show()

# %% [markdown]
# Seen-class images crowd the top of many lists: they sit right on their labels, so a query near a seen label
# ("bunny" near *rabbit*) finds them easily, and they also win queries that belong to an unseen class: the same
# bias that made hit@k over all labels low above. Restricted to the images of unseen classes (the "unseen labels
# only" setting of the table), the word space alone has to do the work; some queries find their class, others show
# where GloVe's idea of similarity (built from how words are used in text) differs from what things look like.

# %%
new_rows = np.flatnonzero(is_unseen)
new_queries = [
    "rhino",
    "donut",
    "serpent",
    "phone",
    "flame",
    "fir",
    "vegetable",
    "instrument",
]
search_figure(
    new_queries if DATASET == "embedded" else queries,
    among=new_rows,
    title=f"search among the {len(new_rows)} images of classes never seen in training",
)
plt.show()

# %%
from IPython.display import Markdown, display


def explain_query(word):
    """Why `word` returns what it returns (this run's numbers): its nearest labels, and
    where the images of the class it names rank among all images and among the images
    of unseen classes only."""
    q = text.normalize(query_vector(word))
    owner = next(
        c
        for c in range(len(classes))
        if word in train_data.words.get(classes[c], [])[1:]
    )
    kind = (
        "a class held out of training"
        if classes[owner] in unseen_set
        else "a class seen in training"
    )
    lines = [
        f"**Reading the *{word}* rows.** *{word}* was never a label: "
        "it is another name of "
        f"*{label_text[owner]}*, {kind}. In the word space its nearest labels are "
        f"{nearest_labels(q)} "
        "(* = never seen in training)."
    ]
    for rows_, where in (
        (np.arange(len(val_labels)), f"all {len(val_labels)} images"),
        (new_rows, f"the {len(new_rows)} images of unseen classes"),
    ):
        order = rows_[np.argsort(-(search_emb[rows_] @ q), kind="stable")]
        first = int(np.flatnonzero(val_labels[order] == owner)[0])
        before = list(
            dict.fromkeys(
                f"{label_text[val_labels[i]]}{'*' if is_unseen[i] else ''}"
                for i in order[:first]
            )
        )
        lines.append(
            f"Among {where} the first *{label_text[owner]}* image comes at rank "
            f"{first + 1}"
            + (f", after images of {', '.join(before[:6])}." if before else ".")
        )
    lines.append(
        "The images that come first are those the head placed nearer to the word "
        "than any image of its class: images of seen classes whose labels lie near "
        "the word (the pull of the seen labels again), and images of other "
        "never-seen classes that the head, which never saw them either, maps close "
        "to it."
    )
    display(Markdown(" ".join(lines)))


if DATASET == "embedded":
    explain_query("donut")

# %% [markdown]
# ### A demo word the scenes can answer
#
# Seed 001's moment was a word with no training images at all, "bridge", answered with pictures of bridges. It
# cannot happen here, and the first figure shows why: the atlas has no bridge, nor anything built to span a gap, so
# the nearest labels of "bridge" in the word space (printed below) are the buildings and vehicles it is *used
# with* in text, and the search returns images of those classes (towers and churches, in the figure below).
# "Bridge" would need images of bridges among the searched scenes, or at least a class that looks like one (a
# viaduct, an arch) with a word vector near "bridge"; a zero-shot search finds an unseen *class* of images, it
# does not invent images that are not there.
#
# A fair demo word is one whose answer the reader can judge on these scenes: a word that names no class (not a
# label, not another name of one, not a plural of one) but whose nearest labels in the word space are a coherent
# group of classes the scenes do have. The rule: among the 30,000 most frequent
# GloVe words, keep those whose `DEMO_NEIGHBOURS` nearest labels all belong to one atlas category (animal, food,
# music...), and take the one closest to the farthest of them (the largest cosine to its last neighbour), so that
# the word sits inside the group rather than next to one member. It uses the word vectors and the atlas's
# categories only, neither the images nor the trained heads. The payoff is then measured, not judged by eye: the
# share of the word's ten nearest images that belong to that category, against the category's share of all images
# (what a random order gives).

# %%
if DATASET == "embedded":
    category = {s.id: s.category for s in scenes.load_atlas()[0]}
else:  # no categories on the real path: seen and unseen classes stand in for them
    category = {c: ("unseen" if c in unseen_set else "seen") for c in classes}
named = np.array([c for c in range(len(classes)) if classes[c] not in missing])
name_words = {
    w
    for c in classes
    for name in (train_data.words.get(c) or [c])
    for w in (name.lower(), *name.lower().split())
}


name_prefixes = {n[:k] for n in name_words for k in range(3, len(n) + 1)}


def names_a_class(word):
    """True if `word` is a class name or a word of one, or one of them starts with the
    other (a plural, a short form)."""
    return (
        word in name_words
        or word in name_prefixes
        or any(word[:k] in name_words for k in range(3, len(word)))
    )


vocab = kv.index_to_key[:30000]
cand = [j for j, w in enumerate(vocab) if w.isalpha() and not names_a_class(w)]
sims = text.normalize(kv.vectors[cand]) @ label_vecs[named].T  # (words, labels)
near = np.argsort(-sims, axis=1, kind="stable")[:, :DEMO_NEIGHBOURS]
one_cat = np.array(
    [len({category[classes[named[j]]] for j in row}) == 1 for row in near]
)
score = np.where(one_cat, np.take_along_axis(sims, near[:, -1:], 1)[:, 0], -np.inf)
ranked = np.argsort(-score, kind="stable")
demo_word = DEMO_WORD or vocab[cand[ranked[0]]]
print(
    f"rule: {int(one_cat.sum())} of {len(cand)} candidate words have their "
    f"{DEMO_NEIGHBOURS} nearest labels in one category; the best five:"
)
for r in ranked[:5]:
    labs = [named[j] for j in near[r]]
    print(
        f"  {vocab[cand[r]]:12s} {category[classes[labs[0]]]:8s} "
        f"cosine to the farthest of them {score[r]:.2f}: "
        + ", ".join(
            f"{label_text[c]}{'*' if classes[c] in unseen_set else ''}" for c in labs
        )
    )
print(
    "'bridge': nearest labels",
    nearest_labels(text.normalize(query_vector("bridge")), 5),
)

# %%
q = text.normalize(query_vector(demo_word))
demo_labels = named[
    np.argsort(-(label_vecs[named] @ q), kind="stable")[:DEMO_NEIGHBOURS]
]
demo_cat = category[classes[demo_labels[0]]]
in_cat = np.array([category[classes[c]] == demo_cat for c in val_labels])
demo_top = search(demo_word, k=10, draw=False)
demo_precision = float(in_cat[demo_top].mean())
demo_chance = float(in_cat.mean())
print(
    f"demo word {demo_word!r}: {int(in_cat[demo_top].sum())} of its 10 nearest images "
    f"are of category {demo_cat!r}, precision {demo_precision:.2f} "
    f"(chance {demo_chance:.3f}); "
    f"{int(is_unseen[demo_top].sum())} of them of classes never seen in training"
)
search_figure(
    [demo_word, "bridge"],
    k=10,
    title=f"the demo word {demo_word!r} against seed 001's 'bridge' (* = unseen class)",
)
plt.show()

# %% [markdown]
# The demo word's row is made of images of the category its neighbours share (the printed count, far above its
# chance level): the word was never a label and no image was ever trained towards it, yet
# its answer is one a reader can check at a glance. The images come from the seen classes around it, the same pull
# of the seen labels as above, and the printed count of never-seen classes among them says whether its unseen
# neighbour made it in. The "bridge" row shows what the nearest labels of that word look like, not bridges. Both
# rows come from the same head and the same kind of query: what differs is whether the scenes hold images that
# answer the word. Set `DEMO_WORD` in the Parameters cell to try your own.

# %%
search("zebrra")  # a typo: the message suggests close spellings
top = search("rhinoceros", k=8)  # among all images: the pull of the seen classes again

# %% [markdown]
# `helpers.lookup` raises `helpers.UnknownWordError` (a `KeyError`) for a word outside the vocabulary; `search`
# above catches it and prints the message. Uncaught it looks like this:

# %% tags=["raises-exception"]
helpers.lookup(kv, "qwxzv")


# %% [markdown]
# The search box below runs the same `search` in JupyterLab (`make lab`): type a word and press Enter. It opens
# on *bunny*, a word that was never a label (the class is named *rabbit*); every image is titled with its true
# class, so you can judge each answer. Then try *donut* or *rhino*, whose classes were never seen, a category
# such as *fruit*, or a word with no class at all. In the HTML book the figures above stand in for it.


# %%
def on_query(query):
    search(query, k=8)


box, run_query = widgets.text_search(
    on_query, placeholder="any English word, e.g. rhino", description="Word"
)
# The first query, answered before the box is shown (as in chapters 00, 01, 04): the
# box opens with its answer in place (headless runs draw it into the cell instead)
run_query("bunny")
widgets.show(box, "word search box")

# %% [markdown]
# ## 7. Beyond emoji: a few real photographs
#
# scikit-image, scikit-learn and matplotlib ship a handful of real photographs for their examples. We push them
# through the same frozen backbone at the same 128-pixel resolution as the training images (centre square crop),
# then through the search head. For each photo: what the backbone's own ImageNet classifier says, then the three
# nearest of our labels (seen and unseen) and the three nearest words of the vocabulary.

# %%
photos = datasets.sample_photos()
photo_names = [name for name, _, _ in photos]
photo_images = [im for _, im, _ in photos]
backbone = features.Backbone(BACKBONE)
size, mean, std = features.BACKBONES[BACKBONE]
photo_feats = features.embed_photos(photo_images, BACKBONE, size=size, model=backbone)
imagenet = features.imagenet_categories()
with torch.inference_mode():
    imagenet_top = (
        backbone.classify(features.preprocess(photo_images, size, mean, std))
        .argmax(1)
        .tolist()
    )
photo_emb = text.normalize(
    predict(runs[search_name]["model"], torch.tensor(photo_feats, device=device))
)
all_labels = np.array([c for c in range(len(classes)) if classes[c] not in missing])
label_sims = photo_emb @ label_vecs[all_labels].T
photo_words = text.nearest_words(kv, photo_emb, topn=3, restrict=30000)
titles = [
    f"{name}\nImageNet: {imagenet[imagenet_top[i]]}\n"
    "labels: "
    f"{', '.join(label_text[all_labels[j]] for j in np.argsort(-label_sims[i])[:3])}\n"
    f"words: {', '.join(w for w, _ in photo_words[i])}"
    for i, name in enumerate(photo_names)
]
fig = plots.show_images(
    photo_images, titles, ncols=6, size=2.4, fontsize=7.5, wrap=None
)
plt.show()

# %% [markdown]
# And the search the other way round: each query ranks the photos. For queries with one obvious answer we report
# that photo's rank (1 is best; a random ranking puts it at $(n+1)/2$ on average).

# %%
photo_queries = {
    "cat": "chelsea",
    "coffee": "coffee",
    "rocket": "rocket",
    "flower": "flower",
    "clock": "clock",
    "motorcycle": "motorcycle",
    "camera": "camera",
    "temple": "china",
    "astronaut": "astronaut",
    "woman": "grace_hopper",
    "galaxy": "hubble_deep_field",
}
rows_out = []
for word, answer in photo_queries.items():
    order = np.argsort(-(photo_emb @ text.normalize(query_vector(word))), kind="stable")
    rows_out.append(
        {
            "query": word,
            "expected photo": answer,
            "rank of expected": int(
                np.flatnonzero(order == photo_names.index(answer))[0]
            )
            + 1,
            "top 3 photos": ", ".join(photo_names[j] for j in order[:3]),
        }
    )
photo_table = pd.DataFrame(rows_out)
photo_mean_rank = float(photo_table["rank of expected"].mean())
print(
    f"{len(photos)} photos; mean rank of the expected photo {photo_mean_rank:.1f} "
    f"(chance {(len(photos) + 1) / 2:.1f})"
)
photo_table

# %% [markdown]
# Read these results with the data in mind. The frozen backbone still recognizes most photos (its ImageNet guesses
# above), but the head learned its map from *emoji drawings* on flat backgrounds, and photographs give features
# unlike any it was trained on. Most labels it gives the photos are wrong, a few are near misses, and the photo
# search beats a random order (the mean rank above against chance) without being reliable; classes the atlas does
# not have at all (astronaut, woman, galaxy) can only be reached through what the word space says they are near.
# This is the domain gap in miniature: seed 001 trained and searched on the same kind of images. On the real path
# (Tiny ImageNet photographs) the same cells search photographs with a head trained on photographs.

# %% [markdown]
# ## 8. A map of the shared space
#
# Images and labels now live in one space. t-SNE squeezes it to two dimensions (it keeps neighbours together, not
# distances): predicted embeddings of the validation images as dots, label vectors as crosses, coloured by the
# atlas category; unseen labels are named. The two heads make the difference of section 6 visible: cosine-loss
# images gather around their labels, hinge-loss images form their own clusters away from the word vectors.

# %%
from sklearn.manifold import TSNE

cats = sorted(set(category[c] for c in classes))
colors = dict(zip(cats, plt.get_cmap("tab10").colors))
img_cat = np.array([category[classes[label]] for label in val_labels])
lab_cat = np.array([category[classes[c]] for c in all_labels])
fig, axes = plt.subplots(1, 2, figsize=(16, 7.5))
t0 = time.perf_counter()
for ax, (name, E) in zip(
    axes, widgets.progress(emb.items(), total=len(emb), desc="t-SNE maps", leave=False)
):
    points = np.concatenate([text.normalize(E), label_vecs[all_labels]])
    xy = TSNE(
        n_components=2, init="pca", random_state=SEED, perplexity=30
    ).fit_transform(points)
    img_xy, lab_xy = xy[: len(E)], xy[len(E) :]
    for cat in cats:
        ax.scatter(*img_xy[img_cat == cat].T, s=5, alpha=0.35, color=colors[cat])
        ax.scatter(
            *lab_xy[lab_cat == cat].T, s=28, marker="x", color=colors[cat], label=cat
        )
    for j, c in enumerate(all_labels):
        if classes[c] in unseen_set:
            ax.annotate(
                label_text[c],
                lab_xy[j],
                fontsize=6,
                xytext=(2, 2),
                textcoords="offset points",
            )
    ax.set(xticks=[], yticks=[], title=f"{name}: images (dots), labels (x)")
axes[0].legend(fontsize=8, markerscale=1.5, loc="best")
fig.tight_layout()
print(f"two t-SNE maps of {len(points)} points in {time.perf_counter() - t0:.1f} s")
plt.show()

# %% [markdown]
# ## 9. Quality floors and the results file
#
# The cell below fails the notebook (and the tests) if learning breaks: zero-shot hit@5 must stay far above
# chance with either candidate set (ConSE's too), and the DeViSE head must still recognize seen classes (with
# the chapter's widths, most of them; a narrower head, as in the first exercise, far more than chance). The
# hinge rank head is the chapter's DeViSE model (chosen before looking at unseen classes, because it is the
# paper's loss); its numbers go into `results/02_devise_zero_shot.json`, with the search scores of section 6
# (the head chosen there) and the photo test of section 7 (recorded, not asserted: it measures the domain gap).

# %%
main = table["DeViSE, hinge rank loss"]
cosine = table["DeViSE, cosine loss"]
headline = {
    "zeroshot_hit@1_unseen": main["unseen labels hit@1"],
    "zeroshot_hit@2_unseen": main["unseen labels hit@2"],
    "zeroshot_hit@5_unseen": main["unseen labels hit@5"],
    "zeroshot_hit@10_unseen": main["unseen labels hit@10"],
    "zeroshot_hit@5_all": main["all labels hit@5"],
    "zeroshot_hit@10_all": main["all labels hit@10"],
    "chance_hit@5_unseen": chance_u["hit@5"],
    "chance_hit@5_all": chance_a["hit@5"],
    "seen_accuracy": main["seen accuracy"],
    "softmax_seen_accuracy": softmax_acc,
    "cosine_zeroshot_hit@5_unseen": cosine["unseen labels hit@5"],
    "cosine_zeroshot_hit@5_all": cosine["all labels hit@5"],
    "cosine_seen_accuracy": cosine["seen accuracy"],
    **{
        f"conse_zeroshot_hit@{k}_unseen": conse_main[f"unseen labels hit@{k}"]
        for k in KS
    },
    "conse_zeroshot_hit@5_all": conse_main["all labels hit@5"],
    "conse_T": CONSE_T,
    "search_precision@10_all_images": search_table[search_name][
        "precision@10, all images"
    ],
    "search_precision@10_unseen_images": search_table[search_name][
        "precision@10, unseen-class images"
    ],
    "chance_search_precision@10_all_images": search_table["chance"][
        "precision@10, all images"
    ],
    "search_uses_cosine_head": int(search_name == "DeViSE, cosine loss"),
    "demo_word_category_precision@10": demo_precision,
    "chance_demo_word_category_precision@10": demo_chance,
    "photo_query_mean_rank": photo_mean_rank,
    "n_photos": len(photos),
    "n_unseen_classes": len(unseen_idx),
    "n_seen_classes": len(seen_idx),
}
print(helpers.record("02_devise_zero_shot", headline))

# Quality floors (nbval fails here if learning breaks)
if DATASET == "embedded":
    assert headline["zeroshot_hit@5_unseen"] >= 3 * headline["chance_hit@5_unseen"], (
        headline
    )
    assert headline["zeroshot_hit@5_all"] >= 4 * headline["chance_hit@5_all"], headline
    assert (
        headline["cosine_zeroshot_hit@5_unseen"] >= 2 * headline["chance_hit@5_unseen"]
    ), headline
    assert (
        headline["conse_zeroshot_hit@5_unseen"] >= 2 * headline["chance_hit@5_unseen"]
    ), headline
    # the chapter's head; a narrower one, such as the seed's `HIDDEN = (100, 50)` of the
    # exercises, recognizes fewer seen classes: it only has to stay far above chance
    seen_floor = 0.8 if tuple(HIDDEN) == (512, 256) else 20 / len(seen_idx)
    assert headline["seen_accuracy"] >= seen_floor, headline
    if DEMO_WORD is None:  # the rule's word: most of its images are of its category
        assert headline["demo_word_category_precision@10"] >= 0.6, headline
        assert (
            headline["demo_word_category_precision@10"]
            >= 5 * headline["chance_demo_word_category_precision@10"]
        ), headline
    assert headline["softmax_seen_accuracy"] >= 0.9, headline
    assert (
        headline["search_precision@10_all_images"]
        >= 3 * headline["chance_search_precision@10_all_images"]
    ), headline
else:
    # Real data, any EPOCHS (the floors above were set on the emoji data): only what
    # every correct run satisfies.
    # Each head's loss on the training images, before training (the same seeded
    # initialization as train_head) and after it, with dropout off: it must be finite
    # and lower at the end.
    for name, loss_fn, out_dim in [
        ("DeViSE, cosine loss", cosine_loss, label_vecs.shape[1]),
        ("DeViSE, hinge rank loss", hinge_rank_loss, label_vecs.shape[1]),
        ("softmax classifier", softmax_loss, len(seen_idx)),
    ]:
        helpers.seed_everything(SEED)
        start = Head(train_feats, out_dim).to(device)
        with torch.no_grad():
            before, after = (
                loss_fn(
                    torch.tensor(predict(m, X_train), device=device),
                    y_train_seen,
                    L_seen,
                ).item()
                for m in (start, runs[name]["model"])
            )
        assert np.isfinite(runs[name]["history"]["train loss"]).all(), (
            name,
            runs[name]["history"],
        )
        assert np.isfinite([before, after]).all() and after < before, (
            name,
            before,
            after,
        )
        print(
            f"{name:26s} training-set loss {before:.4f} before training, "
            f"{after:.4f} after"
        )
    rates = {
        k: v
        for k, v in headline.items()
        if any(s in k for s in ("hit@", "accuracy", "precision@"))
    }
    assert all(np.isfinite(v) and 0 <= v <= 1 for v in rates.values()), rates
    assert np.isfinite(photo_mean_rank) and 1 <= photo_mean_rank <= len(photos), (
        photo_mean_rank
    )
print(
    f"zero-shot hit@5: {headline['zeroshot_hit@5_unseen']:.3f} over unseen labels "
    f"({headline['zeroshot_hit@5_unseen'] / headline['chance_hit@5_unseen']:.1f}x "
    "chance), "
    f"{headline['zeroshot_hit@5_all']:.3f} over all labels "
    f"({headline['zeroshot_hit@5_all'] / headline['chance_hit@5_all']:.1f}x chance)"
)

# %% [markdown]
# ## Exercises
#
# Three of the exercises ask for code. Each of those is followed by a collapsed solution cell (open it only once
# you have tried), a **check** cell that tests the function on tiny made-up inputs in well under a second, and a
# cell that uses it on this chapter's data. To work on them yourself, generate a student copy of this notebook, in
# which every solution is replaced by a stub that raises `NotImplementedError`, and open it in Jupyter:
#
# ```bash
# python scripts/make_exercises.py --student notebooks/02_devise_zero_shot.ipynb --output ~/02_devise_student.ipynb
# ```
#
# Any path outside `notebooks/` will do (the copy is yours, not part of the book). In the copy, fill each stub
# and run the check cell below it until it prints `OK`; the check fails on the untouched stub, and the cells after
# it that use your function run once it passes.
#
# ````{exercise} The seed's head and label names
# :label: devise-ex-seed
#
# Rerun with the seed's widths, `HIDDEN = (100, 50)` ($2d$ and $d$ for $d = 50$), and then with
# `LABEL_NAMES = "all"` (every name of a class averaged into its target, as seed 001 averaged the names fastText
# knew). Which numbers of the table move, and why? With `"all"`, is the search for "rhino" still a zero-shot
# query?
# ````
#
# ````{solution} devise-ex-seed
# :class: dropdown
#
# The narrow head has to squeeze 269 classes through 50 dropout-thinned units: seen accuracy falls clearly (more
# with the cosine loss, which never pushes labels apart), while zero-shot hit@k moves much less, because it depends
# mostly on how well the word space mirrors visual similarity. With `LABEL_NAMES = "all"` the synonyms become part
# of the targets: "rhino" is then (half of) a training label's vector, so searching with it no longer tests
# generalization to new words, only to new images.
# ````
#
# ````{exercise} A softer ConSE
# :label: devise-ex-conse
#
# ConSE above is dominated by its most probable label. Write `soft_probs(logits, tau)`, the softmax of the logits
# divided by a temperature $\tau$ (a NumPy array of the same shape, each row summing to one). The cell after the
# check recomputes `devise_scores(conse_embed(soft_probs(logits, tau), T))` for $\tau$ in `(1, 2, 4, 8)`, with
# `T = CONSE_T` and with every seen label, `T = len(seen_idx)`. What happens, and why must $T$ stay small when
# the probabilities are soft? How would you choose $\tau$ without looking at the unseen classes?
# ````


# %% tags=["hide-input"]
def soft_probs(logits, tau):
    """Softmax of `logits / tau` over each row: (N, K) array -> (N, K) float32 array."""
    ### BEGIN SOLUTION: the softmax of logits / tau, row by row
    return torch.softmax(torch.as_tensor(logits) / tau, dim=1).numpy()
    ### END SOLUTION


# %% tags=["check"]
toy_logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]], dtype=np.float32)
p1, p4 = np.asarray(soft_probs(toy_logits, 1)), np.asarray(soft_probs(toy_logits, 4))
assert p1.shape == toy_logits.shape, p1.shape
assert np.allclose(p1.sum(1), 1, atol=1e-6), "each row must sum to one"
softmax = np.exp(toy_logits) / np.exp(toy_logits).sum(1, keepdims=True)
assert np.allclose(p1, softmax, atol=1e-6), "tau = 1 is the plain softmax"
assert (p4.argmax(1) == p1.argmax(1)).all(), "a temperature keeps the order"
assert (p4.max(1) < p1.max(1)).all(), "a higher temperature makes the rows flatter"
print("soft_probs: OK")

# %% tags=["uses-exercises"]
soft_rows = {
    (tau, T): devise_scores(conse_embed(soft_probs(logits, tau), T))[0][
        "unseen labels hit@5"
    ]
    for tau in (1, 2, 4, 8)
    for T in dict.fromkeys((CONSE_T, len(seen_idx)))
}
pd.Series(soft_rows).unstack().rename_axis(
    index="tau", columns="T: zero-shot hit@5 over unseen labels"
)

# %% [markdown]
# ````{solution} devise-ex-conse
# :class: dropdown
#
# A moderate temperature lets the second and third labels count, and zero-shot hit@5 rises a little with
# `T = CONSE_T` (the table's first column). With every seen label and soft probabilities (second column), the
# combination drifts towards the mean of all label vectors, the same point for every image, and hit@5 falls as
# $\tau$ grows: the small $T$ is what keeps ConSE's embedding specific to the image. The honest way to choose
# $\tau$ (or $T$) is a zero-shot split *of the seen classes*: hold some seen classes out of the classifier's
# training, tune on them, and only then look at the unseen classes once.
# ````
#
# ````{exercise} The hinge's margin and DeViSE's shortcut
# :label: devise-ex-margin
#
# The paper, to save time with 1,000 labels, stopped the sum at the first wrong label that violated the margin.
# Write that version of `hinge_rank_loss`, `hinge_first_violation(pred, y, labels, margin)`: per image, the
# violation $\max(0, m - t_y \cdot f(x) + t_j \cdot f(x))$ of *one* wrong label $j$ picked at random among those
# that violate the margin (zero for an image with none), averaged over the batch. Then train a head with it,
# `train_head("first violation", hinge_first_violation, label_vecs.shape[1])`, and try `MARGIN` in
# `(0.05, 0.1, 0.5)` (each run takes as long as a head of section 4). Why does a very large margin not help, given
# that label vectors have unit length?
# ````


# %% tags=["hide-input"]
def hinge_first_violation(pred, y, labels, margin=MARGIN):
    """DeViSE's shortcut: one random violating wrong label per image instead of the sum.

    pred (B, d) float, y (B,) int64, labels (K, d) float -> a scalar tensor."""
    ### BEGIN SOLUTION: one violating wrong label per image, at random
    scores = pred @ labels.T  # (B, K)
    viol = (margin - scores.gather(1, y[:, None]) + scores).clamp(min=0)
    viol = viol.scatter(1, y[:, None], 0.0)  # the true label is not a wrong label
    pick = torch.multinomial((viol > 0).float() + 1e-12, 1)  # (B, 1): a violator
    return viol.gather(1, pick).mean()
    ### END SOLUTION


# %% tags=["check"]
toy_labels = torch.eye(4)  # four orthogonal unit label vectors
toy_pred = torch.tensor(
    [[1.0, 0.95, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]], requires_grad=True
)
toy_y = torch.tensor([0, 2])
# image 0: only label 1 violates (by 0.1 - 1 + 0.95 = 0.05); image 1: no violation
loss = hinge_first_violation(toy_pred, toy_y, toy_labels, margin=0.1)
assert loss.shape == (), f"a scalar, not {tuple(loss.shape)}"
assert abs(loss.item() - 0.05 / 2) < 1e-6, loss.item()
loss.backward()
assert toy_pred.grad.abs().sum() > 0, "the loss must pass gradients to the predictions"
several = torch.tensor([[0.5, 0.5, 0.45, 0.0]])  # labels 1 and 2 both violate
picked = {
    round(hinge_first_violation(several, toy_y[:1], toy_labels, 0.1).item(), 4)
    for _ in range(50)
}
assert picked == {0.1, 0.05}, f"one violating label at a time, at random: {picked}"
print("hinge_first_violation: OK")

# %% [markdown]
# ````{solution} devise-ex-margin
# :class: dropdown
#
# The scores are dot products of a free-length prediction with unit vectors, and the loss is positively
# homogeneous: $\ell_m(f) = m\,\ell_1(f/m)$. A head whose last layer is linear can therefore meet any margin by
# scaling its output, so the margin mostly sets the length of the predictions (check
# `np.linalg.norm(E, axis=1).mean()` for each margin); what changes the results is how that scale interacts with
# the learning rate and the initialization, not the geometry of the solution. Only the shortcut (one violating
# label instead of all) changes what is optimized.
# ````
#
# ````{exercise} Batch-dependent predictions
# :label: devise-ex-max
#
# Seed 001's `forward` ended with `x = x / x.max()`. Write `SeedScaled`, a module that wraps a head and divides
# its output by that batch maximum. The cell after the check predicts one validation image alone and inside a
# batch of 64 with the hinge head wrapped that way. Are the embeddings equal? Does the cosine similarity used for
# search change?
# ````


# %% tags=["hide-input"]
class SeedScaled(nn.Module):
    """Seed 001's forward: the wrapped head's output divided by its largest value in
    the whole batch, (B, D) -> (B, d)."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x):
        ### BEGIN SOLUTION: the head's output, divided by the batch maximum
        out = self.head(x)
        return out / out.max()
        ### END SOLUTION


# %% tags=["check"]
toy_head = nn.Linear(3, 2, bias=False)
with torch.no_grad():
    toy_head.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
toy_x = torch.tensor([[1.0, 2.0, 0.0], [4.0, 1.0, 0.0]])
with torch.no_grad():
    batch, alone = SeedScaled(toy_head)(toy_x), SeedScaled(toy_head)(toy_x[:1])
assert torch.allclose(batch, toy_x[:, :2] / 4), "divide by the maximum of the batch"
assert torch.allclose(alone, toy_x[:1, :2] / 2), "alone, the image is its own batch"
print("SeedScaled: OK")

# %% tags=["uses-exercises"]
seed_head = SeedScaled(runs["DeViSE, hinge rank loss"]["model"])
alone, in_batch = predict(seed_head, X_val[:1])[0], predict(seed_head, X_val[:64])[0]
print(
    f"image 0 alone and in a batch of 64: equal {np.allclose(alone, in_batch)}, "
    f"length ratio {np.linalg.norm(alone) / np.linalg.norm(in_batch):.2f}, "
    f"cosine {text.normalize(alone) @ text.normalize(in_batch):.4f}"
)

# %% [markdown]
# ````{solution} devise-ex-max
# :class: dropdown
#
# `x.max()` is the largest value of the whole batch, so the same image gets a differently scaled embedding in
# different batches (and a negative scale if the batch maximum is negative). Cosine similarity ignores positive
# scale, so rankings survive, but any length-sensitive use (the hinge loss's dot products, L2 distances) changes
# with the batch. A per-row normalization, `F.normalize(x, dim=1)`, is the well-behaved version.
# ````

# %% [markdown]
# ## Summary
#
# - DeViSE replaces a classifier's last layer by a regression into a word-vector space; the frozen CNN and the
#   word vectors do most of the work, and only a small head is trained.
# - Two losses, two strengths: the hinge rank loss orders the labels around each prediction and is (slightly, here) the better
#   recognizer (zero-shot hit@k, seen accuracy); the cosine loss puts each image *in* the word space, on its label's
#   direction, and is the better open-vocabulary searcher. The softmax classifier stays the reference on seen
#   classes and cannot name an unseen one by itself; ConSE makes it a zero-shot model by averaging the word vectors
#   of its most probable labels, which needs no training but, with an over-confident classifier, trails DeViSE.
# - Zero-shot hit@k is far above chance when only unseen labels compete, and drops when seen labels compete too:
#   the head is biased towards the labels it was trained on, and search inherits that bias.
# - Any word of the vocabulary is a query, synonyms and category words included; the results are only as good as
#   the word space's idea of what looks alike, and as the match between training images and searched images (the
#   real photographs show the gap).
#
# ## References
#
# - DeViSE, the model and the flat hit@k protocol: {cite}`frome2013devise`.
# - Word vectors: GloVe {cite}`pennington2014glove`, fastText {cite}`bojanowski2017fasttext`.
# - The backbone: EfficientNet {cite}`tan2019efficientnet`; seed 001's data: Tiny ImageNet {cite}`le2015tiny`.
# - ConSE, zero-shot from a softmax classifier's probabilities: {cite}`norouzi2014conse`.
