"""Chapter 2 (DeViSE, zero-shot search): the plumbing around the model the chapter teaches.

The head, the two losses and the training loop live in the notebook (they are the lesson). This module
holds what a reader should not have to re-read:

- `label_vectors`: the word-vector target of every class (the mean over the words of a multi-word label);
- `zero_shot_split`: seen and unseen classes, holding some out when a dataset (Tiny ImageNet) has none;
- `flat_hits`, `chance_hits`: DeViSE's "flat hit@k" (is the true label among the k nearest labels?);
- `sample_photos`: the few real photographs that ship inside scikit-image, scikit-learn and matplotlib;
- `embed_photos`: pooled backbone features of PIL images (the same network and resolution as the cache);
- `nearest_words`: the words of a vocabulary nearest to predicted embeddings;
- `search_precision`: image search by word, scored: the share of the top k images that show the word's class;
- `image_grid`: a grid of images with multi-line titles (line breaks kept);
- `load_word_vectors`: GloVe 50-d (default) or a `.vec` / word2vec file on the real-data path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .metrics import ranks
from .text import UnknownWordError, glove, phrase_vector

__all__ = ["label_vectors", "zero_shot_split", "flat_hits", "chance_hits", "sample_photos", "embed_photos",
           "nearest_words", "search_precision", "image_grid", "load_word_vectors", "normalize"]


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (rows of zeros stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def load_word_vectors(spec: str = "glove-6b-50d", limit: int | None = None):
    """Word vectors as gensim `KeyedVectors`.

    `"glove-6b-50d"` is the book's offline default (`helpers.glove()`). Anything else is a path to a text
    `.vec` file (fastText's `crawl-300d-2M.vec`, or GloVe converted with a header line) or a word2vec
    `.bin`; `limit` keeps only the first (most frequent) words, which saves minutes and gigabytes.
    """
    if spec == "glove-6b-50d":
        return glove()
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"word vectors {spec!r} not found: give 'glove-6b-50d' or the path of a .vec/.bin file "
            "(see the 'Real data and GPUs' page of the book for where to download fastText's vectors)")
    from .realdata import load_vectors  # the book's one reader (helpers/vectorfiles.py), .bin included
    return load_vectors(path, limit=limit)


def label_vectors(kv, classes: list, words: dict, names: str = "first", lang: str = "en") -> tuple:
    """The target vector of every class: ((C, dim) float32, [label text], [classes with no known word]).

    A label of several words ("ice cream", "Egyptian cat") gets the mean of its known words' vectors, as
    in DeViSE and seed 001. `names="first"` uses the class's first name only, so its other names
    (synonyms) stay words the model never saw as labels; `names="all"` averages every name, as seed 001
    did with Tiny ImageNet's `words.txt`. A class none of whose words is known gets a row of zeros and is
    listed in the third value (drop it before training).
    """
    if names not in ("first", "all"):
        raise ValueError(f"names must be 'first' or 'all', not {names!r}")
    dim = kv.vector_size
    out = np.zeros((len(classes), dim), np.float32)
    texts, missing = [], []
    for i, c in enumerate(classes):
        options = list(words.get(c) or [str(c)])
        chosen = options[:1] if names == "first" else options
        vecs = []
        for phrase in chosen:
            try:
                vecs.append(phrase_vector(kv, phrase, lang))
            except UnknownWordError:
                pass
        texts.append(", ".join(chosen))
        if vecs:
            out[i] = np.mean(vecs, axis=0)
        else:
            missing.append(c)
    return out, texts, missing


def zero_shot_split(train, fraction: float = 0.15, seed: int = 0) -> tuple:
    """(seen ids, unseen ids, mask of training images to keep).

    The embedded dataset already holds classes out of its training split (`helpers.seen_unseen`). A real
    dataset that trains on every class (Tiny ImageNet) gets a deterministic random `fraction` of its classes
    held out here, and their training images are masked away.
    """
    from .datasets import seen_unseen

    seen, unseen = seen_unseen(train)
    if not unseen:
        rng = np.random.default_rng([seed, 2013])
        order = rng.permutation(len(train.classes))
        k = max(1, int(round(fraction * len(train.classes))))
        held = {train.classes[i] for i in order[:k]}
        seen = [c for c in train.classes if c not in held]
        unseen = [c for c in train.classes if c in held]
    keep_ids = {train.classes.index(c) for c in seen}
    keep = np.array([int(l) in keep_ids for l in train.labels], dtype=bool)
    return seen, unseen, keep


def flat_hits(embeddings, label_vecs, targets, ks=(1, 2, 5, 10)) -> dict:
    """DeViSE's flat hit@k: the share of images whose true label is among the k labels nearest (cosine).

    `targets[i]` indexes the rows of `label_vecs` (the candidate labels). Ties count against the image, by
    label index, as `helpers.ranks` breaks them. Also returns the rank of every true label ('ranks').
    """
    r = ranks(np.asarray(embeddings, np.float32), np.asarray(label_vecs, np.float32), np.asarray(targets),
              metric="cosine")
    out = {f"hit@{k}": float((r <= k).mean()) for k in ks}
    out["ranks"] = r
    return out


def chance_hits(n_labels: int, ks=(1, 2, 5, 10)) -> dict:
    """What guessing k labels at random among `n_labels` scores: k / n_labels."""
    return {f"hit@{k}": min(1.0, k / n_labels) for k in ks}


def sample_photos() -> list:
    """The real photographs that ship inside scikit-image, scikit-learn and matplotlib (no download).

    Returns a list of (name, PIL RGB image, where it comes from). Grayscale ones are converted to RGB.
    """
    from PIL import Image

    photos = []

    def add(name, array_or_image, source):
        im = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(np.asarray(array_or_image))
        photos.append((name, im.convert("RGB"), source))

    from skimage import data as skd
    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "clock", "hubble_deep_field"):
        add(name, getattr(skd, name)(), f"skimage.data.{name}()")
    add("motorcycle", skd.stereo_motorcycle()[0], "skimage.data.stereo_motorcycle()[0]")
    from sklearn.datasets import load_sample_images
    sk = load_sample_images()
    for fname, im in zip(sk.filenames, sk.images):
        stem = Path(fname).stem
        add(stem, im, f"sklearn load_sample_images: {Path(fname).name}")
    from matplotlib import cbook
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        add("grace_hopper", Image.open(f).copy(), "matplotlib cbook.get_sample_data('grace_hopper.jpg')")
    return photos


def embed_photos(images: list, backbone: str = "efficientnet_lite0", size: int | None = None, model=None,
                 device="cpu") -> np.ndarray:
    """Pooled features (N, D) float32 of PIL images: centre square crop, resize to `size`, the frozen backbone.

    Use the resolution the training features were computed at (128 px for the embedded data), so the
    head sees features from the same distribution.
    """
    from .features import BACKBONES, Backbone, preprocess

    default, mean, std = BACKBONES[backbone]
    model = (model or Backbone(backbone)).to(device)
    x = preprocess(list(images), size or default, mean, std).to(device)
    with torch.inference_mode():
        pooled, _ = model(x)
    return pooled.float().cpu().numpy()


def nearest_words(kv, vectors, topn: int = 5, restrict: int = 30000, exclude=(), alphabetic: bool = True) -> list:
    """For each row of `vectors`, the `topn` words (cosine) among the `restrict` most frequent words of `kv`.

    Words in `exclude` are skipped, and with `alphabetic` so is any token that is not made of letters only
    (numbers, punctuation, phone numbers: GloVe has them all). Returns one [(word, similarity), ...] per row.
    """
    words = kv.index_to_key[:restrict]
    table = normalize(kv.vectors[:restrict])
    q = normalize(np.atleast_2d(np.asarray(vectors, np.float32)))
    sims = q @ table.T
    skip = set(exclude)
    out = []
    for row in sims:
        picked = []
        for j in np.argsort(-row, kind="stable"):
            if words[j] in skip or (alphabetic and not words[j].isalpha()):
                continue
            picked.append((words[j], float(row[j])))
            if len(picked) == topn:
                break
        out.append(picked)
    return out


def search_precision(image_emb, query_vecs, image_labels, query_labels, k: int = 10) -> np.ndarray:
    """Image search by word, scored: for query i, the share of its `k` nearest images (cosine) whose label is
    `query_labels[i]`. Chance is the share of images of that class in the collection."""
    from .metrics import _require_finite

    _require_finite("image embeddings", np.asarray(image_emb, np.float64))
    _require_finite("query vectors", np.asarray(query_vecs, np.float64))
    e = normalize(image_emb)
    q = normalize(query_vecs)
    top = np.argsort(-(q @ e.T), axis=1, kind="stable")[:, :k]
    return (np.asarray(image_labels)[top] == np.asarray(query_labels)[:, None]).mean(1)


def image_grid(images, titles=None, ncols: int = 6, size: float = 2.0, fontsize: float = 7.5, suptitle=None):
    """A grid of images (PIL images, arrays or paths) whose titles keep their line breaks; returns the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    images = list(images)
    nrows = max(1, -(-len(images) // ncols))
    lines = max((str(t).count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.16 * lines) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, im) in enumerate(zip(axes.flat, images)):
        if not isinstance(im, (Image.Image, np.ndarray)):
            with Image.open(im) as f:
                im = f.convert("RGB")
        ax.imshow(im)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=fontsize)
    fig.tight_layout()
    if suptitle:  # after tight_layout, above the axes' titles (figures are saved with bbox_inches="tight")
        fig.suptitle(suptitle, y=1.0 + 0.25 / fig.get_figheight())
    return fig
