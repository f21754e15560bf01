"""Which on-disk layout a dataset folder has, and how to read each of its splits.

    layout = detect_layout("coco", "/data/coco")   # Layout(name='coco-karpathy', files=(...), image_dir=...)
    read_captions(layout, "test_A")                -> CaptionData
    read_classes(layout, "val")                    -> ClassData
    check_images(layout, data)                     DatasetFormatError if a listed image is absent

Layouts (`LAYOUTS` says what each one needs): coco-karpathy (Karpathy's `dataset_coco.json` + `train2014/`
`val2014/`), coco-official (`annotations/captions_{train,val}2014.json` + the image folders, split here),
flickr8k-official (`Flickr8k_text/` + `Flicker8k_Dataset/`), flickr8k-kaggle (`captions.txt` + `Images/`),
tiny-imagenet (as unzipped), coco-spanish-seed000 (seed 000's phase files), embedded (the book's own).
A folder is read as it is: nothing is written into it, nothing is downloaded or checksummed. Where a folder
has no split files, the split is deterministic (sha256 of each image's file name) and said in one printed
line; so is a test split too small for three 1,000-image test sets. Every problem is a `DatasetFormatError`
of one line naming the folder, the layout and the first missing file. Used by `helpers.datasets`.
Detection (`detect_layout`, `Layout`, `LAYOUTS`) is in `helpers.layout_detection`, re-exported here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .caption_formats import read_split_lists
from .formats import (
    CaptionData,
    ClassData,
    missing_images,
    read_coco_captions,
    read_flickr8k_csv,
    read_flickr8k_tokens,
    read_karpathy_captions,
    read_seed000,
    read_tiny_imagenet,
    seed000_files,
    subset,  # subset: in formats_core now, still importable from here (helpers.search)
)
from .layout_detection import (  # noqa: F401 (re-exported: helpers.datasets and tests use layouts.*)
    LAYOUTS,
    SPANISH_PHASES,
    TEST_SETS,
    Layout,
    _find,
    _label,
    _rel,
    _Said,
    detect_layout,
    error,
    said,
)

TEST_CHUNK = 1000  # images per test set (test_A / test_B / test_C, as seed 000)
SPANISH_VAL = 1000  # images of seed 000's train phase held out as 'val'
HOLD = {"coco": (5000, 10), "flickr8k": (1000, 8)}  # deterministic val/test: min(cap, N // div) images each


# --------------------------------------------------------------------------------------------- reading
def hash_split(names, hold: int) -> dict:
    """{'train', 'val', 'test'}: names in sha256 order, the first `hold` test, the next `hold` val, the rest
    train; each list sorted by name. Stable: it depends on the names only, not on their order or count."""
    order = sorted(names, key=lambda n: hashlib.sha256(str(n).encode()).hexdigest())
    return {"train": sorted(order[2 * hold :]), "val": sorted(order[hold : 2 * hold]), "test": sorted(order[:hold])}


def _hold(dataset: str, n: int) -> int:
    cap, div = HOLD[dataset]
    return min(cap, n // div) if n // div else int(n >= 3)


def test_chunk(data: CaptionData, split: str, layout: Layout) -> CaptionData:
    """test_A / test_B / test_C: the 1st / 2nd / 3rd `TEST_CHUNK` images of the test split. A test split of
    fewer than 3 chunks holds as many test sets as whole chunks, at least one (all of it when it is smaller
    than one chunk), said in one line; asking for one more raises DatasetFormatError."""
    n, k = len(data.files), TEST_SETS.index(split)
    held = max(1, n // TEST_CHUNK)
    sets = ", ".join(TEST_SETS[:held])
    if n < 3 * TEST_CHUNK:
        said.say(
            f"{layout.dataset} at {layout.root}: the test split has {n:,} images, "
            + (
                f"so one test set ({TEST_SETS[0]}) of {n:,} images"
                if n < TEST_CHUNK
                else f"so {held} test set(s) of {TEST_CHUNK:,} ({sets})"
            )
        )
    if k >= held:
        raise error(layout, f"the test split has {n:,} images: {held} test set(s) ({sets}), not {split}")
    return subset(data, range(k * TEST_CHUNK, min(n, (k + 1) * TEST_CHUNK)) if n >= TEST_CHUNK else range(n))


def read_captions(layout: Layout, split: str) -> CaptionData:
    """One split of a caption layout as CaptionData (images not checked: see `check_images`).

    Splits: 'train', 'val', 'test', 'test_A'..'test_C' (1,000-image chunks of 'test'), COCO's 'restval'
    (Karpathy) and 'train2014' / 'val2014' (official files), Flickr8k's 'all', coco-spanish's 'train_full'.
    A split the layout lacks, a file it needs that is missing or malformed, or a Flickr8k training image that a
    val or test list also names raises DatasetFormatError; a layout that is not a caption layout ValueError.
    """
    if split not in layout.splits:
        raise error(layout, f"no split {split!r} here; this layout has {', '.join(layout.splits)}")
    reader = {
        "coco-karpathy": _read_coco,
        "coco-official": _read_coco,
        "flickr8k-official": _read_flickr8k,
        "flickr8k-kaggle": _read_flickr8k,
        "coco-spanish-seed000": _read_spanish,
    }.get(layout.name)
    if reader is None:
        raise ValueError(f"{layout.name} is not a caption layout")
    data = reader(layout, split)
    data.name = f"{layout.label}/{split}"
    return data


def _read_coco(layout: Layout, split: str) -> CaptionData:
    official = layout.parts["official"]
    if split in official:
        return read_coco_captions(official[split], layout.image_dir / split, "en")
    base = "test" if split in TEST_SETS else split
    if layout.name == "coco-karpathy":
        data = read_karpathy_captions(layout.parts["karpathy"], base, image_dir=layout.image_dir)
    else:
        parts = [read_coco_captions(p, layout.image_dir, "en") for p in official.values()]
        files = [f"{s}/{f}" for s, d in zip(official, parts) for f in d.files]
        offsets = np.cumsum([0] + [len(d.files) for d in parts])
        data = CaptionData(
            layout.image_dir,
            files,
            [c for d in parts for c in d.captions],
            np.concatenate([d.caption_image + o for d, o in zip(parts, offsets)]),
            lang="en",
            dropped=np.concatenate([d.dropped for d in parts]),
        )
        groups = hash_split(files, _hold("coco", len(files)))
        said.say(
            f"coco at {layout.root}: no Karpathy dataset_coco.json, so a deterministic split of the "
            f"{len(files):,} official images by the sha256 of each file name: "
            + " / ".join(f"{s} {len(v):,}" for s, v in groups.items())
        )
        index = {f: i for i, f in enumerate(files)}
        data = subset(data, [index[f] for f in groups[base]])
    return test_chunk(data, split, layout) if split in TEST_SETS else data


def _read_flickr8k(layout: Layout, split: str) -> CaptionData:
    source, lists, kaggle = layout.parts["captions"], layout.parts["lists"], layout.parts["kaggle"]
    dropped, oddities = {}, {}
    captions = (read_flickr8k_csv if kaggle else read_flickr8k_tokens)(source, dropped, oddities)
    if oddities:
        first = next(iter(oddities))
        said.say(
            f"flickr8k at {layout.root}: {len(oddities)} caption group(s) in {source.name} name no image file "
            f"(e.g. {first!r}, {oddities[first]} captions; a known quirk of the real file): left out"
        )
    base = {"test_A": "test"}.get(split, split)
    if lists:
        needed = ("train", "val", "test") if base == "all" else (base,)
        for s in needed:
            if not lists[s].is_file():
                raise error(layout, "a split list is missing", lists[s])
        shared = {}  # val and test may share images (said); a train image in either is an error
        groups = read_split_lists({s: p for s, p in lists.items() if s in needed or p.is_file()}, shared)
        if shared:
            first, (a, b) = next(iter(shared.items()))
            said.say(
                f"flickr8k at {layout.root}: {len(shared):,} image(s) in both {a.name} and {b.name} (e.g. {first})"
            )
        if kaggle:
            said.say(
                f"flickr8k at {layout.root}: captions.txt with the official split lists in {lists['train'].parent}"
            )
    else:
        groups = hash_split([n for n, c in captions.items() if c], _hold("flickr8k", len(captions)))
        said.say(
            f"flickr8k at {layout.root}: captions.txt without split lists (Flickr_8k.*Images.txt), so a "
            "deterministic split by the sha256 of each file name: "
            + " / ".join(f"{s} {len(v):,}" for s, v in groups.items())
        )
    names = (
        list(dict.fromkeys(n for s in ("train", "val", "test") for n in groups[s])) if base == "all" else groups[base]
    )
    texts, owner = [], []
    for i, name in enumerate(names):
        if not captions.get(name):
            raise error(layout, f"{name} is listed but has no caption in {source.name}")
        texts += captions[name]
        owner += [i] * len(captions[name])
    data = CaptionData(
        layout.image_dir, names, texts, np.array(owner, np.int64), lang="en", dropped=[dropped.get(n, 0) for n in names]
    )
    return test_chunk(data, split, layout) if split in TEST_SETS else data


def _read_spanish(layout: Layout, split: str) -> CaptionData:
    phase = "train" if split in ("train", "val", "train_full") else split
    folder = layout.parts["folder"]
    for path in seed000_files(folder, phase).values():
        if not path.is_file():
            raise error(layout, f"phase {phase} is incomplete", path)
    data, vectors = read_seed000(folder, phase)
    data.features = {
        "pooled": vectors,
        "files": np.array(data.files),
        "backbone": "resnet152 (precomputed by seed 000)",
    }
    if split in ("train", "val"):
        n = len(data.files)
        n_val = SPANISH_VAL if n > 2 * SPANISH_VAL else max(1, n // 10)
        data = subset(data, range(n - n_val) if split == "train" else range(n - n_val, n))
    return data


def read_classes(layout: Layout, split: str) -> ClassData:
    """One split ('train' / 'val') of a Tiny ImageNet layout as ClassData (images not checked).

    Raises ValueError for another layout, DatasetFormatError (one line) for a split the layout lacks, missing
    val labels, no images listed, or a malformed file. Classes without names in words.txt are said in one line.
    """
    if layout.name != "tiny-imagenet":
        raise ValueError(f"{layout.name} is not a class layout")
    if split not in layout.splits:
        raise error(layout, f"no split {split!r} here; this layout has {', '.join(layout.splits)}")
    base = layout.parts["base"]
    if split == "val" and not (base / "val" / "val_annotations.txt").is_file():
        raise error(layout, "the val labels are missing", base / "val" / "val_annotations.txt")
    data = read_tiny_imagenet(base, split)
    if not len(data.files):
        first = base / "train" / data.classes[0] / f"{data.classes[0]}_boxes.txt" if data.classes else base
        raise error(layout, f"no {split} images are listed", first)
    nameless = [c for c in data.classes if not data.words.get(c)]
    if nameless:
        said.say(
            f"tiny-imagenet at {layout.root}: {len(nameless)} of {len(data.classes)} classes of wnids.txt have no "
            f"names in words.txt (e.g. {nameless[0]}): they are shown by their ids"
        )
    data.name = f"{layout.label}/{split}"
    return data


def check_images(layout: Layout, data) -> None:
    """A one-line DatasetFormatError when an image `data` lists is not on disk (names the first one)."""
    missing = missing_images(data)
    if missing:
        root = data.image_dir
        raise error(
            layout,
            f"{len(missing):,} of {len(data.files):,} listed images are absent from {root}",
            Path(root) / missing[0],
        )
