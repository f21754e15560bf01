"""Figures the chapters share: image grids, scene truth boxes, rank histograms, loss curves, attention maps."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

RELATION_COLORS = plt.get_cmap("tab10").colors


def show_images(
    images,
    titles=None,
    ncols: int = 5,
    size: float = 2.4,
    wrap: int | None = 28,
    fontsize: float = 8,
    suptitle: str | None = None,
):
    """A grid of images (PIL images, arrays or file paths) with optional titles; returns the figure.

    Each line of a title is wrapped at `wrap` characters (None: not wrapped); its own line breaks are kept, and
    each row of the grid is as tall as its longest title needs.

    Taught in: notebooks/00_data_features_devices.ipynb § The sprite atlas
    """
    images = list(images)
    if titles is not None:
        titles = ["\n".join(textwrap.fill(line, wrap) if wrap else line for line in str(t).split("\n")) for t in titles]
    nrows = max(1, -(-len(images) // ncols))
    lines = max((t.count("\n") + 1 for t in titles), default=0) if titles is not None else 0
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, (size + 0.16 * lines) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, im) in enumerate(zip(axes.flat, images)):
        if not isinstance(im, (Image.Image, np.ndarray)):
            with Image.open(im) as f:  # grey or palette files as RGB; transparency kept
                im = f.copy() if f.mode == "RGBA" else f.convert("RGB")
        ax.imshow(im)
        if titles is not None:
            ax.set_title(titles[i], fontsize=fontsize)
    fig.tight_layout()
    if suptitle:  # after tight_layout, above the axes' titles (figures are saved with bbox_inches="tight")
        fig.suptitle(suptitle, y=1.0 + 0.25 / fig.get_figheight())
    return fig


def draw_scene_truth(ax, scene, labels: bool = True):
    """Draw the scene truth's boxes (and class names) on an axis that already shows the image.

    Boxes are the objects' (x0, y0, x1, y1) in pixels, one colour per object; labels read '<class> (<size>)'.

    Used in: notebooks/00_data_features_devices.ipynb § A scene and its truth
    """
    for k, o in enumerate(scene.objects):
        x0, y0, x1, y1 = o.box
        color = RELATION_COLORS[k % 10]
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, color=color))
        if labels:
            ax.text(
                x0,
                y0 - 1,
                f"{o.cls} ({o.size})",
                color="white",
                fontsize=6,
                bbox=dict(facecolor=color, alpha=0.8, pad=0.5, lw=0),
            )


def caption_grid(
    images,
    texts,
    ncols: int = 4,
    width: float = 3.3,
    text_height: float = 1.1,
    scenes=None,
    fontsize: float = 7.5,
):
    """Images with a block of text under each (captions, generated or reference); returns the figure.

    images: PIL images or arrays; texts: one list of strings per image, each wrapped at 44 characters;
    scenes: optional scene truths (one per image), drawn as boxes. width and text_height are inches per
    image and per text block.

    Taught in: notebooks/03_show_and_tell.ipynb § The data: images, features and five captions each
    """
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, (width + text_height) * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (ax, im, lines) in enumerate(zip(axes.flat, images, texts)):
        ax.imshow(im)
        if scenes is not None:
            draw_scene_truth(ax, scenes[k], labels=False)
        block = "\n".join(textwrap.fill(t, 44, subsequent_indent="   ") for t in lines)
        ax.text(0, -0.03, block, transform=ax.transAxes, va="top", ha="left", fontsize=fontsize, family="DejaVu Sans")
    fig.subplots_adjust(hspace=text_height / width + 0.05, wspace=0.05, left=0.01, right=0.99, top=0.99, bottom=0.01)
    return fig


def rank_histogram(ranks_by_name: dict, n_items: int, ax=None, bins: int = 50):
    """Overlaid histograms of ranks (log-spaced bins) for several models, with chance for reference.

    `ranks_by_name`: {name: 1-based ranks}, ranks among `n_items`; returns the axis (a new one if `ax` is None).

    Used in: notebooks/01_search_by_regression.ipynb § Where the ranks fall
    """
    import seaborn as sns

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    edges = np.unique(np.geomspace(1, n_items + 1, bins).astype(int))
    for name, r in ranks_by_name.items():
        sns.histplot(np.asarray(r), bins=edges, ax=ax, label=name, element="step", fill=False, stat="probability")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel(f"rank of the right image among {n_items} (log scale, 1 is best)")
    ax.set_ylabel("share of queries")
    ax.legend(fontsize=8)
    return ax


def loss_curves(history: dict, ax=None, title: str = "training"):
    """Plot {name: list of values per epoch} curves (epochs from 1); returns the axis (a new one if `ax` is None).

    Used in: notebooks/01_search_by_regression.ipynb § Watching training in TensorBoard
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.2))
    for name, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker="o", ms=3, label=name)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def attention_overlay(ax, image, attention: np.ndarray, title: str | None = None, alpha: float = 0.55):
    """Show `image` with an (H, W) attention map upsampled over it (bilinear, to the image's pixels); returns `ax`."""
    im = np.asarray(image)
    ax.imshow(im)
    ax.imshow(attention, cmap="magma", alpha=alpha, extent=(0, im.shape[1], im.shape[0], 0), interpolation="bilinear")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_attention_steps(
    image, words: list, attention, scene=None, ncols: int = 6, size: float = 1.7, title: str | None = None
):
    """The image, then one panel per word with the attention map that emitted it; returns the figure.

    `attention`: (T, H, W), one map per word of `words`. With `scene`, the first panel also shows the scene
    truth's boxes.

    Taught in: notebooks/04_attention_solution.ipynb § Captions, and where the decoder looked
    """
    attention = np.asarray(attention)
    n = len(words) + 1
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(np.asarray(image))
    if scene is not None:
        draw_scene_truth(axes.flat[0], scene, labels=False)
    axes.flat[0].set_title("image", fontsize=9)
    for ax, word, att in zip(axes.flat[1:], words, attention):
        attention_overlay(ax, image, att, title=word)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
