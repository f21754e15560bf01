"""The book's embedded dataset: build it once (deterministically) and verify it; it is read like the real ones.

Loading goes through the data front door, `helpers.load_captions` / `helpers.load_classes`
(helpers/datasets.py), which calls `read_captions` / `read_classes` here for `dataset="embedded"`.

Layout under `cache_dir("embedded")/<version>-s<seed>/` (the same formats as COCO and Tiny ImageNet):

    scenes/images/<split>/<split>_00001.jpg          128x128 scenes, 1-4 emoji objects each
    scenes/annotations/captions_<split>.json         COCO captions (English), with the scene truth per image
    scenes/annotations/captions_<split>_es.json      the same captions in Spanish
    classes/wnids.txt, words.txt                     Tiny ImageNet layout: one object per image
    classes/train/<id>/images/*.JPEG                 seen classes only
    classes/val/images/*.JPEG, val_annotations.txt   seen and unseen (held-out) classes
    manifest.json                                    configuration + sha256 of every file

Scene splits: train / val / test_A / test_B / test_C (1000 images x 5 captions each, as seed 000).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import scenes as sc
from .formats import (
    CaptionData,
    ClassData,
    read_coco_captions,
    read_tiny_imagenet,
    write_coco_captions,
    write_text_atomic,
    write_tiny_imagenet_index,
)
from .paths import cache_dir, file_lock
from .progress import progress as progress_bar

VERSION = "v1"
SCENE_SPLITS = ("train", "val", "test_A", "test_B", "test_C")


@dataclass(frozen=True)
class Config:
    """What the embedded dataset is made of; changing any field changes the dataset (its `fingerprint`).

    `image_size` is the side of every image in pixels. The folder and the data's names carry VERSION, `seed`
    and, for a Config whose other fields differ from the defaults, a tag of those fields (`dataset_root`,
    `dataset_name`), so two such Configs never share a folder or a feature cache.
    """

    seed: int = 0
    image_size: int = 128
    n_train: int = 4000
    n_val: int = 500
    n_test: int = 1000  # per test split
    captions_per_image: int = 5
    n_scene_classes: int = 120  # scenes use a subset of the seen classes, so each class is seen often
    unseen_fraction: float = 0.15  # classes held out of every training set (DeViSE zero-shot)
    cls_train_per_class: int = 10
    cls_val_seen: int = 3
    cls_val_unseen: int = 10
    jpeg_quality: int = 92
    class_limit: int = 0  # use only the first N atlas classes (0: all); small datasets for tests

    def split_sizes(self) -> dict:
        return {
            "train": self.n_train,
            "val": self.n_val,
            "test_A": self.n_test,
            "test_B": self.n_test,
            "test_C": self.n_test,
        }


def _tag(config: Config) -> str:
    """'<VERSION>-s<seed>', plus '-c' and 8 hex digits of the fields other than `seed` when they differ from
    the defaults (the book's own scenes keep their short name)."""
    fields = {k: v for k, v in asdict(config).items() if k != "seed"}
    if fields == {k: v for k, v in asdict(Config()).items() if k != "seed"}:
        return f"{VERSION}-s{config.seed}"
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
    return f"{VERSION}-s{config.seed}-c{digest}"


def dataset_root(config: Config = Config()) -> Path:
    """The embedded dataset's folder for `config`: `cache_dir("embedded")/<VERSION>-s<seed>[-c<tag>]` (not built
    here; the tag only for a Config with other fields than the defaults)."""
    return cache_dir("embedded") / _tag(config)


def dataset_name(config: Config = Config()) -> str:
    """'embedded-<VERSION>-s<seed>[-c<tag>]': the prefix of the loaded data's `name` (and so of its feature cache
    keys); the same tag as `dataset_root`."""
    return f"embedded-{_tag(config)}"


def class_split(config: Config = Config()) -> tuple:
    """(seen ids, unseen ids, scene class ids): a deterministic split of the atlas classes, stratified by category.

    Sorted lists of atlas class ids: `unseen_fraction` of each category is held out, and `n_scene_classes`
    of the seen classes are drawn for the scenes (all from `seed`).

    Taught in: notebooks/00_data_features_devices.ipynb § Seen and unseen classes
    """
    sprites = sc.load_atlas()[0]
    if config.class_limit:
        sprites = sprites[: config.class_limit]
    rng = np.random.default_rng([config.seed, 99])
    seen, unseen = [], []
    for cat in sorted({s.category for s in sprites}):
        ids = [s.id for s in sprites if s.category == cat]
        order = rng.permutation(len(ids))
        k = int(round(config.unseen_fraction * len(ids)))
        unseen += [ids[i] for i in order[:k]]
        seen += [ids[i] for i in order[k:]]
    order = rng.permutation(len(seen))
    scene_classes = sorted(seen[i] for i in order[: config.n_scene_classes])
    return sorted(seen), sorted(unseen), scene_classes


# ------------------------------------------------------------------------------------------------ build
def _render_scene_split(root: Path, split: str, n: int, classes: list, config: Config, progress: bool) -> None:
    rng = np.random.default_rng([config.seed, SCENE_SPLITS.index(split)])
    img_dir = root / "scenes" / "images" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    files, caps_en, caps_es, owner, extra_images, extra_ann = [], [], [], [], [], []
    for i in progress_bar(range(n), desc=f"scenes {split}", disable=not progress, unit="img"):
        scene = sc.sample_scene(rng, classes, config.image_size)
        image = sc.render_scene(scene, rng)  # also tightens the truth boxes to the visible sprite
        name = f"{split}_{i + 1:05d}.jpg"
        image.save(img_dir / name, quality=config.jpeg_quality)
        files.append(name)
        extra_images.append({"scene": sc.scene_to_json(scene)})
        for meaning, en, es in sc.captions_for(scene, rng, config.captions_per_image):
            caps_en.append(en)
            caps_es.append(es)
            owner.append(i)
            extra_ann.append({"meaning": meaning})
    size = (config.image_size, config.image_size)
    ann = root / "scenes" / "annotations"
    info = {"description": f"Seeing and Saying embedded scenes {VERSION}", "split": split}
    write_coco_captions(
        ann / f"captions_{split}.json", files, caps_en, owner, size, extra_images, extra_ann, dict(info, language="en")
    )
    write_coco_captions(
        ann / f"captions_{split}_es.json",
        files,
        caps_es,
        owner,
        size,
        extra_images,
        extra_ann,
        dict(info, language="es"),
    )


def _render_object(rng, sprite_id: str, size: int):
    """A classification image: one object, random background, size, position, flip, rotation."""
    side = int(rng.integers(size * 7 // 16, size * 13 // 16))
    x0 = int(rng.integers(2, size - side - 1))
    y0 = int(rng.integers(2, size - side - 1))
    scene = sc.Scene(
        [sc.Obj(sprite_id, (x0, y0, x0 + side, y0 + side))],
        list(sc.BACKGROUNDS)[int(rng.integers(len(sc.BACKGROUNDS)))],
        size,
    )
    image = sc.render_scene(scene, rng)
    return image, scene.objects[0].box


def _render_classes(root: Path, config: Config, progress: bool) -> None:
    seen, unseen, _ = class_split(config)
    by_id = sc.sprites_by_id()
    classes = sorted(seen + unseen)
    words = {c: [by_id[c].en, *by_id[c].syn_en] for c in classes}
    rng = np.random.default_rng([config.seed, 42])
    train, val = {}, []
    todo = [(c, "train", k) for c in seen for k in range(config.cls_train_per_class)]
    todo += [(c, "val", k) for c in seen for k in range(config.cls_val_seen)]
    todo += [(c, "val", k) for c in unseen for k in range(config.cls_val_unseen)]
    (root / "classes" / "val" / "images").mkdir(parents=True, exist_ok=True)
    for c, split, k in progress_bar(todo, desc="class images", disable=not progress, unit="img"):
        image, box = _render_object(rng, c, config.image_size)
        if split == "train":
            name = f"{c}_{k}.JPEG"
            folder = root / "classes" / "train" / c / "images"
            folder.mkdir(parents=True, exist_ok=True)
            image.save(folder / name, format="JPEG", quality=config.jpeg_quality)
            train.setdefault(c, []).append((name, box))
        else:
            name = f"val_{len(val)}.JPEG"
            image.save(root / "classes" / "val" / "images" / name, format="JPEG", quality=config.jpeg_quality)
            val.append((name, c, box))
    write_tiny_imagenet_index(root / "classes", classes, words, train, val)


GENERATORS = ("embedded.py", "scenes.py", "scene_truth.py", "grammar.py")  # the code that draws and captions


def fingerprint(config: Config = Config()) -> str:
    """What the dataset is made from (a sha256, 64 hex digits): the atlas bytes, the configuration, the version
    and the source of the modules that draw and caption the scenes (`GENERATORS`: an edit rebuilds the data)."""
    h = hashlib.sha256(f"{VERSION}{json.dumps(asdict(config), sort_keys=True)}".encode())
    for path in [sc.ASSETS / "atlas.json", sc.ASSETS / "atlas.png", *(Path(__file__).with_name(m) for m in GENERATORS)]:
        h.update(path.read_bytes())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(root: Path) -> dict:
    return {
        str(p.relative_to(root)): _sha256(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def verify(root: Path, config: Config = Config(), progress: bool = False) -> list:
    """Names of files that are missing or whose sha256 differs from the manifest (empty list: all good).

    A manifest made from another atlas or configuration counts as bad too (["manifest.json"]). With `progress`,
    a bar shows the files checked (a few seconds on a laptop for the embedded dataset).
    """
    mf = root / "manifest.json"
    if not mf.is_file():
        return ["manifest.json"]
    try:
        manifest = json.loads(mf.read_text())
        expected = manifest["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):  # TypeError: not a JSON object
        return ["manifest.json"]
    if not isinstance(expected, dict) or manifest.get("fingerprint") != fingerprint(config):
        return ["manifest.json"]
    files = progress_bar(
        expected.items(),
        total=len(expected),
        desc="checking the dataset",
        unit="file",
        disable=not progress,
        leave=False,
    )
    bad = [name for name, digest in files if not (root / name).is_file() or _sha256(root / name) != digest]
    return bad


def build(config: Config = Config(), progress: bool = True, features: bool = True, force: bool = False) -> Path:
    """Generate the embedded dataset (and its features) unless a verified copy exists; returns its folder.

    Writes into a temporary folder and renames it into place, under a file lock, so two notebooks started
    at once neither build it twice nor see half of it; an error or Ctrl-C removes the temporary folder. A copy
    that fails its checksums (or a file where its folder belongs) is rebuilt. OSError when the cache folder
    cannot be written (a file where a folder belongs, no permission, a full disk).
    `force` rebuilds a good copy too; `features` also computes and caches the CNN features of every split.

    Taught in: notebooks/00_data_features_devices.ipynb § Building the embedded dataset
    """
    root = dataset_root(config)
    with file_lock(root):
        if root.exists() and not force:
            bad = verify(root, config, progress)
            if not bad:
                if features:
                    _build_features(config, progress)
                return root
            print(f"The embedded dataset at {root} fails its checksums ({len(bad)} files, e.g. {bad[:3]}): rebuilding.")
        t = time.perf_counter()
        tmp = root.with_name(root.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:  # interrupted (Ctrl-C) or failed: nothing half-built stays behind
            _, _, scene_classes = class_split(config)
            for split, n in config.split_sizes().items():
                _render_scene_split(tmp, split, n, scene_classes, config, progress)
            _render_classes(tmp, config, progress)
            manifest = {"version": VERSION, "fingerprint": fingerprint(config), "config": asdict(config)}
            write_text_atomic(tmp / "manifest.json", json.dumps({**manifest, "files": _manifest(tmp)}, indent=1))
            if root.is_dir() and not root.is_symlink():
                shutil.rmtree(root)
            elif root.exists() or root.is_symlink():  # a file or a link where the dataset's folder belongs
                root.unlink()
            tmp.rename(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if progress:
            print(f"built the embedded dataset in {time.perf_counter() - t:.0f} s -> {root}")
    if features:
        _build_features(config, progress)
    return root


def _build_features(config: Config, progress: bool) -> None:
    from .features import cached_features

    for split in SCENE_SPLITS:
        cached_features(read_captions(split, config=config, build_if_missing=False), progress=progress)
    for split in ("train", "val"):
        cached_features(read_classes(split, config=config, build_if_missing=False), with_maps=False, progress=progress)


_verified = set()


def ensure(config: Config = Config(), progress: bool = True) -> Path:
    """The embedded dataset's folder, built on first use and verified once per process (per folder, so per seed)."""
    root = dataset_root(config)
    if root in _verified:
        return root
    build(config, progress=progress, features=False)
    _verified.add(root)
    return root


# ------------------------------------------------------------------------------------------------- read
def read_captions(
    split: str = "train",
    lang: str = "en",
    config: Config = Config(),
    build_if_missing: bool = True,
    root: Path | None = None,
) -> CaptionData:
    """The embedded scenes of one split, captions in 'en' or 'es', through the COCO reader.

    `root`: a built copy of the dataset (read as it is); default: the cache's copy, built and verified
    first when `build_if_missing` (else the cache's copy as it is). Unknown split or language: ValueError;
    a copy that is not there or damaged: DatasetFormatError. Notebooks call `helpers.load_captions`.
    """
    if split not in SCENE_SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SCENE_SPLITS}")
    if lang not in ("en", "es"):
        raise ValueError(f"unknown language {lang!r}; the embedded captions are 'en' or 'es'")
    if root is None:
        root = ensure(config) if build_if_missing else dataset_root(config)
    suffix = "" if lang == "en" else "_es"
    data = read_coco_captions(
        Path(root) / "scenes" / "annotations" / f"captions_{split}{suffix}.json",
        Path(root) / "scenes" / "images" / split,
        lang,
    )
    data.name = f"{dataset_name(config)}/{split}"
    return data


def read_classes(
    split: str = "train", config: Config = Config(), build_if_missing: bool = True, root: Path | None = None
) -> ClassData:
    """The classification view (one object per image) through the Tiny ImageNet reader.

    'train' holds only seen classes; 'val' holds seen and unseen ones (`helpers.seen_unseen` tells them
    apart). `root` and `build_if_missing` as in `read_captions`. Another split: ValueError; a copy that is
    not there or damaged: DatasetFormatError. Notebooks call `helpers.load_classes`.
    """
    if root is None:
        root = ensure(config) if build_if_missing else dataset_root(config)
    data = read_tiny_imagenet(Path(root) / "classes", split)
    data.name = f"{dataset_name(config)}/classes-{split}"
    return data


__all__ = [
    "Config",
    "build",
    "ensure",
    "read_captions",
    "read_classes",
    "verify",
    "dataset_root",
    "dataset_name",
    "class_split",
    "fingerprint",
    "SCENE_SPLITS",
    "VERSION",
]
