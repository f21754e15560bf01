"""The one front door for data: the embedded and the real datasets load through the same functions.

    load_captions("train", "en")                                  -> CaptionData (the book's own scenes)
    load_captions("test_A", "en", "coco")                         -> CaptionData (downloaded into the cache)
    load_captions("val", "en", "flickr8k", data_dir="~/Flickr8k")  -> CaptionData (your copy, read as it is)
    load_classes("train", "tiny-imagenet", data_dir="tiny-imagenet-200")  -> ClassData
    detect_layout("coco", "/data/coco")                           -> Layout (what will be read, from where)
    subset(data, rows), seen_unseen(train), zero_shot_split(train)  -> images kept, classes held out
    sample_photos()                                               -> a few real photographs (no download)
    inspect("flickr8k", "~/Flickr8k")                             -> summary (python -m helpers inspect NAME PATH)

With `data_dir=None` a real dataset is fetched into the cache (`helpers.download`: checksummed, resumable).
With a folder it is read from there: no download, no checksum, nothing written into it (caches such as
image features go to `helpers.paths.cache_dir()`). helpers/layout_detection.py says which folder layouts
are recognized; helpers/inspection.py holds `inspect`. Nothing in embedded, formats or scenes imports this module.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from . import embedded
from .download import dataset_dir, fetch, get_dataset
from .formats import CaptionData, ClassData
from .inspection import FORMATS, inspect  # noqa: F401 (re-exported: notebooks call datasets.inspect)
from .layouts import (
    LAYOUTS,
    TEST_CHUNK,
    TEST_SETS,
    Layout,
    check_images,
    detect_layout,
    read_captions,
    read_classes,
    subset,
)

CAPTION_DATASETS = ("coco", "coco-spanish", "flickr8k")
CLASS_DATASETS = ("tiny-imagenet",)
LANGUAGES = {"coco": "en", "flickr8k": "en", "coco-spanish": "es"}


def splits(name: str) -> tuple:
    """The split names a dataset accepts ('embedded': its scene splits); UnknownDatasetError for an unknown name."""
    return embedded.SCENE_SPLITS if name == "embedded" else get_dataset(name).splits


def _registry_name(dataset: str, kind: tuple, other: str) -> str:
    ds = get_dataset(dataset)  # UnknownDatasetError (a KeyError) with the close names
    if ds.name not in kind:
        raise ValueError(
            f"{ds.name} is not a {'captioned-image' if kind == CAPTION_DATASETS else 'classification'} "
            f"dataset; those are {kind} (use {other})"
        )
    return ds.name


def _check_split(name: str, split: str) -> None:
    if split not in splits(name):
        raise ValueError(f"{name} has no split {split!r}; choose one of {splits(name)}")


def _layout(name: str, split: str, data_dir, download: bool, progress: bool) -> Layout:
    """The folder's layout; without `data_dir`, the cache's copy (fetched first when `download`)."""
    if data_dir is not None:
        return detect_layout(name, data_dir)
    files = None
    if name == "coco":
        official = split in ("train2014", "val2014")
        files = (
            ["annotations_trainval2014.zip", f"{split}.zip"]
            if official
            else ["caption_datasets.zip", "val2014.zip"] + (["train2014.zip"] if split in ("train", "restval") else [])
        )
    elif name == "coco-spanish":  # a drive share: checked, with instructions when absent, never downloaded
        phase = "train" if split in ("train", "val", "train_full") else split
        files = [r.filename for r in get_dataset(name).resources if r.filename.startswith(phase + "_")]
    folder = fetch(name, files, progress=progress) if download else dataset_dir(name)
    layout = detect_layout(name, folder)
    old = "coco-karpathy" if layout.name == "coco-karpathy" and split not in ("train2014", "val2014") else name
    return dataclasses.replace(layout, label=old)  # the names the feature caches were made with


# ------------------------------------------------------------------------------------------ the door
def load_captions(
    split: str = "train",
    lang: str | None = "en",
    dataset: str = "embedded",
    data_dir=None,
    *,
    config: embedded.Config | None = None,
    build_if_missing: bool = True,
    check: bool = True,
    download: bool = True,
    progress: bool = True,
) -> CaptionData:
    """Captioned images of one split: `CaptionData` (files, captions, `caption_image` (C,) int64, ...).

    dataset: 'embedded' (the book's scenes: 'train', 'val', 'test_A'..'test_C'; 'en' or 'es'), 'coco'
    (Karpathy 'train' / 'val' / 'test' / 'restval', official 'train2014' / 'val2014'), 'flickr8k' ('train',
    'val', 'test', 'all'), 'coco-spanish' (seed 000: 'train', 'val', 'train_full', test sets; Spanish;
    `data.features` holds its precomputed ResNet152 vectors). 'test_A' / 'test_B' / 'test_C' are 1,000-image
    test sets (of 'test' for coco and flickr8k; fewer images: fewer sets, at least one, said in one line).
    lang: the captions' language; None accepts the dataset's. data_dir: a copy of the dataset as
    distributed (see `detect_layout`), read as it is; None: the cache (embedded: built, real: fetched).
    build_if_missing (embedded only): build the scenes into the cache first if they are not there (else
    read the cache as it is). check: every listed image must be on disk. Errors: ValueError (a split,
    language or dataset of the wrong kind), UnknownDatasetError (a name not in the registry),
    DatasetFormatError (one line naming the folder, the layout expected and the first missing file),
    DownloadError (offline with nothing cached).

    Used in: notebooks/00_data_features_devices.ipynb § Building the embedded dataset
    """
    if dataset == "embedded":
        return embedded.read_captions(
            split, "en" if lang is None else lang, config or embedded.Config(), build_if_missing, root=data_dir
        )
    name = _registry_name(dataset, CAPTION_DATASETS, "load_classes(split, dataset=...) or load_real_classes")
    want = LANGUAGES[name]
    if lang is not None and lang != want:
        other = {"en": "'coco' or 'flickr8k'", "es": "'coco-spanish'"}.get(lang, "none")
        raise ValueError(
            f"{name} captions are in {want!r}, not {lang!r}: set LANGUAGE = {want!r}, or use a "
            f"dataset in {lang!r} ({other})"
        )
    _check_split(name, split)
    layout = _layout(name, split, data_dir, download, progress)
    data = read_captions(layout, split)
    if check and layout.image_dir is not None:
        check_images(layout, data)
    return data


def load_classes(
    split: str = "train",
    dataset: str = "embedded",
    data_dir=None,
    *,
    config: embedded.Config | None = None,
    build_if_missing: bool = True,
    check: bool = True,
    download: bool = True,
    progress: bool = True,
) -> ClassData:
    """Labelled images, one object each: `ClassData` (files, `labels` (N,) int64 into `classes`, `boxes` (N, 4)).

    dataset: 'embedded' ('train' holds only seen classes, 'val' seen and unseen ones) or 'tiny-imagenet'
    ('train' 500 images per class, 'val' 50; every class is seen). `boxes` are int64 (x0, y0, x1, y1) in pixels.
    data_dir, check, download and the errors as in `load_captions`.

    Used in: notebooks/00_data_features_devices.ipynb § Seen and unseen classes
    """
    if dataset == "embedded":
        return embedded.read_classes(split, config or embedded.Config(), build_if_missing, root=data_dir)
    name = _registry_name(dataset, CLASS_DATASETS, "load_captions(split, lang, dataset=...) or load_real_captions")
    _check_split(name, split)
    layout = _layout(name, split, data_dir, download, progress)
    data = read_classes(layout, split)
    if check:
        check_images(layout, data)
    return data


def load_real_captions(
    name: str,
    split: str = "train",
    lang: str | None = None,
    root=None,
    download: bool = True,
    check: bool = True,
    progress: bool = True,
) -> CaptionData:
    """`load_captions(split, lang, name, data_dir=root)`: the older spelling, kept."""
    return load_captions(split, lang, name, root, check=check, download=download, progress=progress)


def load_real_classes(
    name: str = "tiny-imagenet",
    split: str = "train",
    root=None,
    download: bool = True,
    check: bool = True,
    progress: bool = True,
) -> ClassData:
    """`load_classes(split, name, data_dir=root)`: the older spelling, kept."""
    return load_classes(split, name, root, check=check, download=download, progress=progress)


def test_sets(dataset: str = "embedded", data_dir=None, lang: str | None = None, **kwargs) -> tuple:
    """The 1,000-image test sets the data holds, e.g. ('test_A', 'test_B', 'test_C'); at least one.

    coco and flickr8k: one per whole 1,000 images of 'test' (all of it when smaller); coco-spanish: the
    test phases on disk. `kwargs` go to `load_captions`, and so do its errors (UnknownDatasetError for an
    unknown name, DatasetFormatError for a folder without the dataset).

    Used in: notebooks/00_data_features_devices.ipynb § Building the embedded dataset
    """
    if dataset == "embedded":
        return TEST_SETS
    name = get_dataset(dataset).name
    if name == "coco-spanish":
        have = detect_layout(name, data_dir).splits if data_dir is not None else splits(name)
        return tuple(s for s in TEST_SETS if s in have)
    n = len(load_captions("test", lang, name, data_dir, **{"check": False, **kwargs}))
    return tuple(s for s in TEST_SETS[: max(1, n // TEST_CHUNK)] if s in splits(name))


test_sets.__test__ = False  # not a pytest test


def seen_unseen(train: ClassData) -> tuple:
    """(seen, unseen) lists of class ids: a class is unseen when `train` (a ClassData) has no image of it.

    Taught in: notebooks/00_data_features_devices.ipynb § Seen and unseen classes
    """
    present = set(np.unique(train.labels).tolist())
    seen = [c for i, c in enumerate(train.classes) if i in present]
    unseen = [c for i, c in enumerate(train.classes) if i not in present]
    return seen, unseen


def zero_shot_split(train, fraction: float = 0.15, seed: int = 0) -> tuple:
    """(seen ids, unseen ids, keep): `keep` is an (N,) bool mask of the training images of seen classes.

    The embedded dataset already holds classes out of its training split (`seen_unseen`). A real
    dataset that trains on every class (Tiny ImageNet) gets a deterministic random `fraction` of its classes
    held out here (at least one; from `seed`), and their training images are masked away.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 1. The data: seen and unseen classes
    """
    seen, unseen = seen_unseen(train)
    if not unseen:
        rng = np.random.default_rng([seed, 2013])
        order = rng.permutation(len(train.classes))
        k = max(1, int(round(fraction * len(train.classes))))
        held = {train.classes[i] for i in order[:k]}
        seen = [c for c in train.classes if c not in held]
        unseen = [c for c in train.classes if c in held]
    keep_ids = {train.classes.index(c) for c in seen}
    keep = np.array([int(label) in keep_ids for label in train.labels], dtype=bool)
    return seen, unseen, keep


def sample_photos() -> list:
    """The real photographs that ship inside scikit-image, scikit-learn and matplotlib (no download).

    Returns a list of (name, PIL RGB image, where it comes from). Grayscale ones are converted to RGB.

    Taught in: notebooks/02_devise_zero_shot.ipynb § 7. Beyond emoji: a few real photographs
    """
    from matplotlib import cbook
    from PIL import Image
    from skimage import data as skd
    from sklearn.datasets import load_sample_images

    photos = []

    def add(name, array_or_image, source):
        im = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(np.asarray(array_or_image))
        photos.append((name, im.convert("RGB"), source))

    for name in ("astronaut", "chelsea", "coffee", "rocket", "camera", "clock", "hubble_deep_field"):
        add(name, getattr(skd, name)(), f"skimage.data.{name}()")
    add("motorcycle", skd.stereo_motorcycle()[0], "skimage.data.stereo_motorcycle()[0]")
    sk = load_sample_images()
    for fname, im in zip(sk.filenames, sk.images):
        add(Path(fname).stem, im, f"sklearn load_sample_images: {Path(fname).name}")
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        add("grace_hopper", Image.open(f).copy(), "matplotlib cbook.get_sample_data('grace_hopper.jpg')")
    return photos


def precomputed_features(data) -> dict | None:
    """The features that came with a dataset (coco-spanish: {'pooled': (N, 2048) float32, 'files': (N,)}), else None.

    Used in: notebooks/03_show_and_tell.ipynb § What about real photographs?
    """
    return data.features if isinstance(data, CaptionData) else None


def image_features(
    data,
    backbone: str = "efficientnet_lite0",
    size: int | None = None,
    device="cpu",
    with_maps: bool = True,
    progress: bool = True,
) -> dict:
    """CNN features of every image: {'pooled': (N, D) float32, 'map': (N, C, H, W) float16, 'files': (N,) str}.

    The dataset's own features when it has them (`precomputed_features`, no 'map'); else computed once and
    cached under `cache_dir('features')` (ClassData: no 'map'). EfficientNet-Lite0 at 128 px: D = 1280 and an
    (112, 8, 8) map; ResNet-152 maps are projected onto 128 channels (and 'projection' (2048, 128) is added).
    Raises as `helpers.features.cached_features` (ValueError for data without a name, MissingWeightsError).

    Taught in: notebooks/00_data_features_devices.ipynb § Features, and why we cache them
    """
    pre = precomputed_features(data)
    if pre is not None:
        return pre
    from .features import cached_features

    return cached_features(data, backbone, size, device, False if isinstance(data, ClassData) else with_maps, progress)


__all__ = [
    "load_captions",
    "load_classes",
    "detect_layout",
    "Layout",
    "subset",
    "seen_unseen",
    "zero_shot_split",
    "sample_photos",
    "test_sets",
    "image_features",
    "precomputed_features",
    "inspect",
    "splits",
    "load_real_captions",
    "load_real_classes",
    "CAPTION_DATASETS",
    "CLASS_DATASETS",
    "FORMATS",
    "LAYOUTS",
]
