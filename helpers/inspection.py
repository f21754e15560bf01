"""Inspecting a dataset folder or file: what the loader would read from it, checked and counted.

    inspect("flickr8k", "~/Flickr8k")   -> summary (python -m helpers inspect NAME PATH)

Nothing is downloaded or written. `helpers.datasets` re-exports `inspect` and `FORMATS`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import embedded
from .formats import (
    CaptionData,
    DatasetFormatError,
    _read_json_object,
    missing_images,
    read_coco_captions,
    read_karpathy_captions,
    read_tiny_imagenet,
    summarize_captions,
    summarize_classes,
)
from .layouts import (
    TEST_CHUNK,
    TEST_SETS,
    Layout,
    check_images,
    detect_layout,
    read_captions,
    read_classes,
    said,
)
from .vectorfiles import scan_vectors

FORMATS = ("coco", "coco-spanish", "flickr8k", "tiny-imagenet", "embedded", "word2vec", "glove")


def inspect(name: str, path, images=None) -> dict:
    """What the loader would read from PATH, checked and counted (`python -m helpers inspect NAME PATH`).

    name: 'coco', 'coco-spanish', 'flickr8k', 'tiny-imagenet', 'embedded' (PATH: the dataset's folder; for
    coco also one captions JSON, official or Karpathy's; for flickr8k also Flickr8k.token.txt or Kaggle's
    captions.txt), 'word2vec' / 'glove' (PATH: a vector file). `images`: the image folder, if not found.
    Returns {'dataset', 'layout', 'path', 'files', 'image_dir', 'notes', 'splits': {split: counts},
    'images', 'captions', 'captions_dropped', 'images_missing', 'first_missing', 'ok', 'problem'}; with
    images absent it still returns the counts, with `ok` False and `problem` the loader's one-line error.
    Raises ValueError (unknown name) or DatasetFormatError (no layout, a file missing, damaged, or empty).

    Used in: notebooks/00_data_features_devices.ipynb § Building the embedded dataset
    """
    path = Path(path).expanduser()
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; choose one of {FORMATS}")
    if not path.exists():
        raise DatasetFormatError(f"{path} does not exist")
    if name in ("word2vec", "glove"):
        if not path.is_file():
            raise DatasetFormatError(f"{path} is not a file")
        info = scan_vectors(path, name, full=True)
        return {
            "dataset": name,
            "layout": info["format"],
            "path": str(path),
            "vectors": info["vectors"],
            "dimension": info["dimension"],
            "header": info["header"],
            "ok": True,
            "problem": None,
        }
    if path.is_file() and name == "coco":
        return _inspect_coco_file(path, images)
    if path.is_file() and name == "flickr8k":
        layout = detect_layout(name, path.parent, image_dir=images)
        if layout.parts["captions"] != path:
            raise DatasetFormatError(f"{path}: expected Flickr8k.token.txt or Kaggle's captions.txt")
    elif path.is_file():
        raise DatasetFormatError(f"{path} is a file: give the {name} folder")
    else:
        layout = detect_layout(name, path, image_dir=images)
    with said.collecting() as notes:
        out = _summary(layout)
    out["notes"] = notes
    return out


def _entry(data, layout: Layout, problems: list) -> tuple:
    """(counts of one split, the set of its files absent from disk); the loader's error goes to `problems`."""
    entry = summarize_captions(data) if isinstance(data, CaptionData) else summarize_classes(data)
    if layout.image_dir is None:
        return entry, set()
    missing = missing_images(data)
    root = data.image_dir
    entry.update(
        images_missing=len(missing), first_missing=_rel(Path(root) / missing[0], layout.root) if missing else None
    )
    if missing:
        try:
            check_images(layout, data)
        except DatasetFormatError as e:
            problems.append(str(e))
    return entry, set(missing)


def _summary(layout: Layout) -> dict:
    out = {
        "dataset": layout.dataset,
        "layout": layout.name,
        "path": str(layout.root),
        "files": [_rel(f, layout.root) for f in layout.files],
        "image_dir": None if layout.image_dir is None else str(layout.image_dir),
    }
    parts, problems = {}, []
    if layout.name in ("tiny-imagenet", "embedded"):
        datas = (
            {s: read_classes(layout, s) for s in layout.splits}
            if layout.name == "tiny-imagenet"
            else {
                **{s: embedded.read_captions(s, root=layout.root) for s in layout.splits},
                **{f"classes-{s}": read_tiny_imagenet(layout.root / "classes", s) for s in ("train", "val")},
            }
        )
        parts = {s: _entry(d, layout, problems)[0] for s, d in datas.items()}
        if layout.name == "tiny-imagenet":
            out.update(classes=parts["train"]["classes"], words=parts["train"]["classes_with_words"])
        out.update(
            images=sum(p["images"] for p in parts.values()),
            images_missing=sum(p["images_missing"] for p in parts.values()),
        )
    else:
        spanish = layout.name == "coco-spanish-seed000"
        primary = layout.parts["phases"] if spanish else ("train", "val", "test")
        seen = {}  # image path -> (captions, dropped, absent): the primary splits, each image once
        phase_of = {}  # image name -> seed 000's first phase listing it: one in two phases is train/test leakage
        for split in [*primary, *layout.parts.get("official", ())]:
            d = read_captions(layout, "train_full" if spanish and split == "train" else split)
            parts[split], missing = _entry(d, layout, problems)
            if spanish:
                parts[split].update(
                    vectors=int(d.features["pooled"].shape[0]), dimension=int(d.features["pooled"].shape[1])
                )
            twice = [f for f in d.files if phase_of.setdefault(f, split) != split] if spanish else []
            if twice:
                said.say(
                    f"coco-spanish at {layout.root}: {len(twice):,} image(s) of phase {split} are also in phase "
                    f"{phase_of[twice[0]]} (e.g. {twice[0]}): train/test leakage"
                )
            if split in primary:
                per = np.bincount(d.caption_image, minlength=len(d.files))
                drop = d.dropped if d.dropped is not None else np.zeros(len(d.files), np.int64)
                seen.update(
                    {str(Path(d.image_dir) / f): (int(c), int(k), f in missing) for f, c, k in zip(d.files, per, drop)}
                )
        per = [t[0] for t in seen.values()] or [0]
        out.update(
            images=len(seen),
            captions=sum(per),
            captions_per_image={"min": min(per), "max": max(per)},
            captions_dropped=sum(t[1] for t in seen.values()),
            images_missing=None if spanish else sum(t[2] for t in seen.values()),
        )
        if spanish:
            out.update(vectors=sum(p["vectors"] for p in parts.values()), dimension=2048)
        else:
            out["test_sets"] = list(TEST_SETS[: max(1, parts["test"]["images"] // TEST_CHUNK)])
            if parts["test"]["images"] < len(TEST_SETS) * TEST_CHUNK:
                read_captions(layout, TEST_SETS[0])  # says how many test sets the test split holds
    firsts = [p["first_missing"] for p in parts.values() if p.get("first_missing")]
    out.update(
        splits=parts,
        first_missing=firsts[0] if firsts else None,
        ok=not problems,
        problem=problems[0] if problems else None,
    )
    return out


def _rel(path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _inspect_coco_file(path: Path, images) -> dict:
    """One COCO captions JSON (official or ours) or Karpathy's split file, with its images where they are."""
    doc = _read_json_object(path, ("images",), "a COCO captions file or Karpathy's split file")
    imgs = doc.get("images")
    karpathy = isinstance(imgs, list) and any(isinstance(im, dict) and "sentences" in im for im in imgs[:1])
    if karpathy:  # check the whole file before anything below reads it
        read_karpathy_captions(path, "train", check_only=True)
    del doc
    home = path.parent.parent  # the dataset's folder when the file is in annotations/ (COCO's layout)
    if karpathy:  # file names are '<train2014|val2014>/<file>', relative to the folder that holds those
        names = list(dict.fromkeys(im.get("split") for im in imgs))
        names = [s for s in names if s != "restval" or "train" not in names]  # 'train' holds restval's images too
        datas = {s: read_karpathy_captions(path, s) for s in names}
        cands, expected = (path.parent, home), path.parent
    else:
        stem = path.stem.removeprefix("captions_").removesuffix("_es").removesuffix("_en")
        datas = {stem: read_coco_captions(path)}
        cands, expected = (home / "images" / stem, home / stem, path.parent / stem, path.parent), home / stem
    first = next(iter(datas.values())).files[:1]
    found = Path(images) if images else next((c for c in cands if first and (c / first[0]).is_file()), None)
    for d in datas.values():
        d.image_dir = found or expected
    parts = {s: summarize_captions(d) for s, d in datas.items()}
    base = path.parent if karpathy else home  # what the file names in messages are relative to
    missing = [_rel(Path(d.image_dir) / m, base) for d in datas.values() for m in missing_images(d)]
    n = sum(len(d.files) for d in datas.values())
    layout = "karpathy-file" if karpathy else "coco-captions-file"
    return {
        "dataset": "coco",
        "layout": layout,
        "path": str(path),
        "files": [path.name],
        "variant": "karpathy" if karpathy else "coco",
        "image_dir": str(found) if found else None,
        "splits": parts,
        "images": n,
        "captions": sum(p["captions"] for p in parts.values()),
        "captions_dropped": sum(p["captions_dropped"] for p in parts.values()),
        "images_missing": len(missing),
        "first_missing": missing[0] if missing else None,
        "ok": not missing,
        "problem": (
            f"{base}: {layout}: {len(missing):,} of {n:,} listed images are absent"
            f"{'' if found else ' (no image folder found: --images FOLDER)'}; first missing file: "
            f"{missing[0]}"
        )
        if missing
        else None,
    }
