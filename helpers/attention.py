"""Reading and showing soft-attention maps (chapter 04): which word looked where, and was it the right place.

The attention *model* is the chapter's exercise and lives in the notebooks; this module holds what is
around it and reusable by every attention chapter (the PyTorch and the Theano editions):

- :func:`object_mentions`: where a caption names an object class ("a big dog" -> position of "dog").
- :func:`attention_in_boxes`: for each object word of a generated caption, does the peak of its attention map
  lie in a box of that object in the scene truth (:func:`helpers.metrics.attention_in_box`), and how often
  would a uniformly random peak land there (the share of grid cells inside those boxes,
  :func:`helpers.metrics.box_cell_fraction` extended to several boxes of the same class).
- :func:`summarise_attention_in_box`: the rate over many captions, against the uniform-attention rate.
- :func:`plot_attention_steps`: one small image per generated word with its attention map over it.
- :func:`word_stepper`: a widget to step through the words of generated captions (with the static figure
  above as its twin, see :mod:`helpers.widgets`).
"""
from __future__ import annotations

from functools import lru_cache

import matplotlib.pyplot as plt
import numpy as np

from . import scenes as sc
from .metrics import attention_in_box, box_cell_fraction
from .plots import attention_overlay, draw_scene_truth
from .widgets import drawing_into

__all__ = ["object_lexicon", "object_mentions", "cells_in_boxes", "attention_in_boxes",
           "summarise_attention_in_box", "plot_attention_steps", "word_stepper"]


@lru_cache(maxsize=4)
def object_lexicon(lang: str = "en") -> dict:
    """{word form (singular, plural, synonyms; possibly several words): class id} of the emoji atlas."""
    if lang not in ("en", "es"):
        raise ValueError(f"language must be 'en' or 'es', not {lang!r}")
    lex = {}
    for s in sc.sprites_by_id().values():
        forms = [s.en, s.en_plural, *s.syn_en] if lang == "en" else \
            [s.es, s.es_plural, *(w.partition(":")[0] for w in s.syn_es)]
        for form in forms:
            lex.setdefault(form, s.id)
    return lex


def object_mentions(tokens: list, lang: str = "en") -> list:
    """[(position, class id)] of the object nouns in a token list, longest phrase first.

    The position is the head noun's: the last word of a multi-word name in English ("ice cream" -> "cream"),
    the first in Spanish ("pavo real" -> "pavo").
    """
    lex = object_lexicon(lang)
    out, i = [], 0
    while i < len(tokens):
        for span in (3, 2, 1):
            phrase = " ".join(tokens[i:i + span])
            if len(tokens[i:i + span]) == span and phrase in lex:
                out.append((i + span - 1 if lang == "en" else i, lex[phrase]))
                i += span
                break
        else:
            i += 1
    return out


def cells_in_boxes(boxes: list, grid: tuple, image_size: int = 128) -> float:
    """Share of the grid cells whose centre lies in any of `boxes`: the hit rate of a uniformly random peak."""
    if len(boxes) == 1:
        return box_cell_fraction(boxes[0], grid, image_size)
    h, w = grid
    cx = (np.arange(w) + 0.5) * image_size / w
    cy = (np.arange(h) + 0.5) * image_size / h
    inside = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        inside |= ((cx[None, :] >= x0) & (cx[None, :] < x1)) & ((cy[:, None] >= y0) & (cy[:, None] < y1))
    return float(inside.mean())


def attention_in_boxes(tokens: list, attention, scene, lang: str = "en", image_size: int | None = None) -> list:
    """One record per object word of `tokens` whose class is in `scene`.

    `attention[t]` is the (H, W) map used to emit `tokens[t]`. A record is {"position", "word", "cls",
    "hit" (the peak lies in a box of that class), "uniform" (share of cells inside those boxes)}. Words naming
    an object that is not in the image (a wrong word) are left out: there is no box to look at.
    """
    attention = np.asarray(attention)
    image_size = image_size or scene.size
    boxes_of = {}
    for o in scene.objects:
        boxes_of.setdefault(o.cls, []).append(o.box)
    out = []
    for t, cls in object_mentions(list(tokens), lang):
        if cls not in boxes_of or t >= len(attention):
            continue
        boxes = boxes_of[cls]
        att = attention[t]
        out.append({"position": t, "word": tokens[t], "cls": cls,
                    "hit": any(attention_in_box(att, b, image_size) for b in boxes),
                    "uniform": cells_in_boxes(boxes, att.shape, image_size)})
    return out


def summarise_attention_in_box(records: list) -> dict:
    """{"attention_in_box", "attention_in_box_uniform", "object_words"} over records from many captions."""
    if not records:
        return {"attention_in_box": float("nan"), "attention_in_box_uniform": float("nan"), "object_words": 0}
    return {"attention_in_box": float(np.mean([r["hit"] for r in records])),
            "attention_in_box_uniform": float(np.mean([r["uniform"] for r in records])),
            "object_words": len(records)}


def plot_attention_steps(image, words: list, attention, scene=None, ncols: int = 6, size: float = 1.7,
                         title: str | None = None):
    """The image, then one panel per word with the attention map that emitted it; returns the figure.

    With `scene`, the first panel also shows the scene truth's boxes.
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


def word_stepper(images: list, words: list, attention: list, scenes: list | None = None):
    """A widget: pick an image, step through its generated words, see each word's attention map.

    `words[i]` is the generated word list of image i and `attention[i]` its (T, H, W) maps. Returns
    (widget, run) where `run(i, t)` shows image i at word t and moves both sliders there, so the widget opens in
    step with the view a notebook chose (in static mode it draws into the cell's output instead of the widget's).
    Above the picture, one line of text names the image and marks the current word (``<mark>``).
    """
    import html

    import ipywidgets as w

    image = w.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    step = w.IntSlider(value=0, min=0, max=max(0, len(words[0]) - 1), description="word")
    caption = w.HTML()
    out = w.Output()
    moving = []  # non-empty while run() moves the sliders itself: their observers must not draw again

    def draw(i, t):
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.3))
        axes[0].imshow(np.asarray(images[i]))
        axes[0].axis("off")
        if scenes is not None:
            draw_scene_truth(axes[0], scenes[i])
        text = " ".join(f"[{x}]" if k == t else x for k, x in enumerate(words[i]))
        axes[0].set_title(text, fontsize=8, wrap=True)
        attention_overlay(axes[1], images[i], np.asarray(attention[i])[t], title=f"word {t + 1}: {words[i][t]!r}")
        fig.tight_layout()
        plt.show()

    def run(i, t=0):
        i = int(i)
        t = int(min(max(t, 0), max(0, len(words[i]) - 1)))
        moving.append(True)
        try:
            image.value = i
            step.max = max(0, len(words[i]) - 1)  # the range first, so that the value is not clipped to the old one
            step.value = t
        finally:
            moving.clear()
        caption.value = f"image {i}: " + " ".join(
            f"<mark>{html.escape(x)}</mark>" if k == t else html.escape(x) for k, x in enumerate(words[i]))
        with drawing_into(out):  # straight into the cell in headless runs (helpers.widgets)
            draw(i, t)

    image.observe(lambda change: moving or run(change["new"], 0), names="value")
    step.observe(lambda change: moving or run(image.value, change["new"]), names="value")
    return w.VBox([w.HBox([image, step]), caption, out]), run
