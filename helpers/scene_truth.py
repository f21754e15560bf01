"""Scene truth: the emoji atlas, the objects of a scene with their boxes, and the relations between them.

A *scene* is a small canvas with 1-4 emoji objects on a coloured background. Its *truth* lists every object
(class, box, size) and the background; relations between objects (left of, above, next to...) follow from the
boxes. Drawing, rendering and captioning scenes is in `scenes.py`, which re-exports these names.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

ASSETS = Path(__file__).resolve().parent / "assets"

# background colour names: (en, es) with the RGB used to paint it
BACKGROUNDS = {
    "white": ("blanco", (236, 236, 232)),
    "gray": ("gris", (150, 150, 150)),
    "blue": ("azul", (70, 110, 200)),
    "green": ("verde", (80, 160, 90)),
    "yellow": ("amarillo", (235, 215, 90)),
    "pink": ("rosa", (235, 160, 190)),
    "orange": ("naranja", (235, 140, 60)),
    "purple": ("morado", (130, 80, 170)),
    "brown": ("marrón", (130, 90, 60)),
    "black": ("negro", (30, 30, 30)),
}
SIZE_BIG, SIZE_SMALL = 52, 36  # box side (px, on a 128 px canvas) at or above which an object is big / below small


# ----------------------------------------------------------------------------------------------- the atlas
@dataclass(frozen=True)
class Sprite:
    """One emoji class: its words in both languages and where its picture lies in the atlas."""

    id: str
    char: str
    en: str
    en_plural: str
    es: str
    es_plural: str
    es_gender: str
    syn_en: tuple
    syn_es: tuple
    category: str
    row: int
    col: int


@cache
def load_atlas(path: str | None = None):
    """(sprites, rgba, cell) from the committed atlas: a tuple of `Sprite`, the RGBA atlas as an (H, W, 4) uint8 array
    and the side of one atlas cell in pixels (64). Cached: a second call returns the same objects.

    Taught in: notebooks/00_data_features_devices.ipynb § The sprite atlas
    """
    path = Path(path) if path else ASSETS / "atlas.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    rgba = np.asarray(Image.open(path.with_suffix(".png")).convert("RGBA"))
    sprites = tuple(
        Sprite(
            s["id"],
            s["char"],
            s["en"],
            s["en_plural"],
            s["es"],
            s["es_plural"],
            s["es_gender"],
            tuple(s.get("syn_en", ())),
            tuple(s.get("syn_es", ())),
            s["category"],
            s["row"],
            s["col"],
        )
        for s in meta["sprites"]
    )
    return sprites, rgba, int(meta["cell"])


def sprite_image(sprite: Sprite) -> Image.Image:
    """The sprite's RGBA picture cropped from the atlas (transparent margin removed), a PIL image of at most 64x64 px.

    Taught in: notebooks/00_data_features_devices.ipynb § The sprite atlas
    """
    return _sprite_image(sprite.id).copy()


@cache
def _sprite_image(sprite_id: str) -> Image.Image:
    sprite = sprites_by_id()[sprite_id]
    _, rgba, cell = load_atlas()
    tile = rgba[sprite.row * cell : (sprite.row + 1) * cell, sprite.col * cell : (sprite.col + 1) * cell]
    ys, xs = np.nonzero(tile[..., 3] > 8)
    return Image.fromarray(tile[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])


@cache
def sprites_by_id() -> dict:
    """{class id: `Sprite`} of every sprite of the atlas (cached: one dict for the process).

    Used in: notebooks/00_data_features_devices.ipynb § Seen and unseen classes
    """
    return {s.id: s for s in load_atlas()[0]}


# ---------------------------------------------------------------------------------------- scene truth
@dataclass
class Obj:
    """One object of a scene's truth: its class id `cls` and its `box` (x0, y0, x1, y1) in pixels.

    `center` is the box's centre (x, y), `side` its longer side in pixels, `size` a word from that side:
    'big' (>= SIZE_BIG px), 'small' (< SIZE_SMALL px) or 'medium' (the thresholds are for a 128 px canvas).
    """

    cls: str
    box: tuple  # x0, y0, x1, y1 in pixels

    @property
    def center(self):
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    @property
    def side(self):
        x0, y0, x1, y1 = self.box
        return max(x1 - x0, y1 - y0)

    @property
    def size(self) -> str:
        """'big', 'small' or 'medium' from the box side."""
        return "big" if self.side >= SIZE_BIG else "small" if self.side < SIZE_SMALL else "medium"


@dataclass
class Scene:
    """The truth of one image: its objects (`Obj`), its background and `canvas`, the image side in pixels.

    (An object's `size` is a word, 'big' / 'medium' / 'small'; the image's side is `canvas`, not `size`.)
    `counts()` gives {class id: number of objects of that class}.
    """

    objects: list
    background: str
    canvas: int = 128
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The older name of `canvas`."""
        warnings.warn("Scene.size is now Scene.canvas (the image side in pixels)", DeprecationWarning, stacklevel=2)
        return self.canvas

    def counts(self) -> dict:
        out = {}
        for o in self.objects:
            out[o.cls] = out.get(o.cls, 0) + 1
        return out


def relation(a: Obj, b: Obj) -> str:
    """Where `a` lies with respect to `b`: 'left', 'right', 'above' or 'below' (image coordinates).

    The larger of the horizontal and vertical offsets between the box centres decides (a tie: left / right).

    Taught in: notebooks/00_data_features_devices.ipynb § A scene and its truth
    """
    (ax, ay), (bx, by) = a.center, b.center
    dx, dy = bx - ax, by - ay
    if abs(dx) >= abs(dy):
        return "left" if dx > 0 else "right"
    return "above" if dy > 0 else "below"


def near(a: Obj, b: Obj) -> bool:
    """True when the two boxes are close enough to say 'next to': centres less than 0.9 x (sum of the sides) apart.

    Taught in: notebooks/00_data_features_devices.ipynb § A scene and its truth
    """
    (ax, ay), (bx, by) = a.center, b.center
    return float(np.hypot(bx - ax, by - ay)) < 0.9 * (a.side + b.side)


def overlap(a: tuple, b: tuple) -> float:
    """Intersection area over the smaller box's area, in [0, 1]; boxes are (x0, y0, x1, y1) in pixels."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w * h / smaller
