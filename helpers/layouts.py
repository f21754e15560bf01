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
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .formats import (
    FLICKR8K_SPLITS,
    FLICKR8K_TOKENS,
    CaptionData,
    ClassData,
    DatasetFormatError,
    missing_images,
    read_coco_captions,
    read_flickr8k_csv,
    read_flickr8k_tokens,
    read_image_list,
    read_karpathy_captions,
    read_seed000,
    read_tiny_imagenet,
    seed000_files,
    subset,  # subset: in formats_core now, still importable from here (helpers.search)
)

TEST_CHUNK = 1000  # images per test set (test_A / test_B / test_C, as seed 000)
TEST_SETS = ("test_A", "test_B", "test_C")
SPANISH_VAL = 1000  # images of seed 000's train phase held out as 'val'
HOLD = {"coco": (5000, 10), "flickr8k": (1000, 8)}  # deterministic val/test: min(cap, N // div) images each
SPANISH_PHASES = ("train", "test_A", "test_B", "test_C")

LAYOUTS = {
    "coco": {
        "coco-karpathy": "dataset_coco.json + train2014/ val2014/",
        "coco-official": "annotations/captions_val2014.json (or train2014) + val2014/ (or train2014/)",
    },
    "flickr8k": {
        "flickr8k-official": "Flickr8k_text/Flickr8k.token.txt + Flicker8k_Dataset/",
        "flickr8k-kaggle": "captions.txt (image,caption) + Images/",
    },
    "tiny-imagenet": {"tiny-imagenet": "tiny-imagenet-200/wnids.txt + train/ val/"},
    "coco-spanish": {"coco-spanish-seed000": "<phase>/<phase>_images_names.txt, _images_vectors.bin, _captions.txt"},
    "embedded": {"embedded": "scenes/annotations/captions_<split>.json + scenes/images/ + classes/wnids.txt"},
}


@dataclass(frozen=True)
class Layout:
    """A dataset folder as found: what the loader reads from it and where the images are."""

    dataset: str  # 'coco', 'flickr8k', 'tiny-imagenet', 'coco-spanish' or 'embedded'
    name: str  # the layout, a key of LAYOUTS[dataset], e.g. 'coco-karpathy'
    root: Path  # the folder given
    files: tuple  # the files the loader reads (Path); Tiny ImageNet's per-class box files are not listed
    image_dir: Path | None  # the folder image file names are relative to; None: no images (coco-spanish)
    splits: tuple  # the split names this layout reads
    label: str = ""  # prefix of the loaded data's `name` (the feature cache's key)
    parts: dict = field(default_factory=dict, compare=False, hash=False, repr=False)  # located files by role


class _Said(set):
    """Lines printed once per process; inside `collecting()` they are gathered in a list instead."""

    notes: list | None = None

    def say(self, line: str) -> None:
        if self.notes is not None:
            self.notes += [line] if line not in self.notes else []
        elif line not in self:
            self.add(line)
            print(line)

    @contextmanager
    def collecting(self):
        self.notes, notes = [], []
        try:
            yield notes
        finally:
            notes += self.notes
            self.notes = None


said = _Said()  # what a loader says about the folder (a deterministic split, a small test split)


def error(layout: Layout | Path, problem: str, missing=None) -> DatasetFormatError:
    """The one-line error: '<folder>: <layout>: <problem>; first missing file: <file>'."""
    if isinstance(layout, Layout):
        where, name = layout.root, f"{layout.name} layout ({LAYOUTS[layout.dataset][layout.name]})"
    else:
        where, name = layout, "the layout"
    tail = f"; first missing file: {_rel(missing, where)}" if missing is not None else ""
    return DatasetFormatError(f"{where}: {name}: {problem}{tail}")


def _rel(path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _find(folder: Path, filename: str, depth: int = 3) -> Path | None:
    """The first `filename` at most `depth` folders below `folder` (shallowest first), or None."""
    folder = Path(folder)
    for d in range(depth + 1):
        hits = sorted(folder.glob("/".join(["*"] * d + [filename])))
        if hits:
            return hits[0]
    return None


def _label(dataset: str, root: Path, files) -> str:
    """'<dataset>-<8 hex>': the folder and its main files' sizes and times, so another copy gets other caches."""
    h = hashlib.sha256(str(root.resolve()).encode())
    for f in files:
        st = Path(f).stat()
        h.update(f"|{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return f"{dataset}-{h.hexdigest()[:8]}"


# ------------------------------------------------------------------------------------------- detection
def detect_layout(dataset: str, data_dir, label: str | None = None, image_dir=None) -> Layout:
    """The layout of `data_dir` for `dataset` ('coco', 'flickr8k', 'tiny-imagenet', 'coco-spanish', 'embedded').

    The dataset may sit in `data_dir` itself or a few folders below it (shallowest first; at equal depth
    the official layout wins); Flickr8k's text folder may be given itself, its images found beside it.
    `label` prefixes the loaded data's names (default: the dataset name and a hash of the folder and its
    files); `image_dir` overrides the image folder found. Nothing is read but names and first lines.
    Raises ValueError (a dataset without layouts) or a one-line DatasetFormatError (none of its layouts
    here: the folder, the layouts expected and the first file missing).
    """
    root = Path(data_dir).expanduser()
    key = str(dataset).strip().lower().replace("_", "-")
    if key not in LAYOUTS:
        raise ValueError(f"no layouts known for {dataset!r}; known: {', '.join(LAYOUTS)}")
    expected = " or ".join(f"{k} ({v})" for k, v in LAYOUTS[key].items())
    if not root.is_dir():
        raise DatasetFormatError(
            f"{root}: expected {expected}: " + ("not a folder" if root.exists() else "no such folder")
        )
    found = {
        "coco": _coco,
        "flickr8k": _flickr8k,
        "tiny-imagenet": _tiny_imagenet,
        "coco-spanish": _spanish,
        "embedded": _embedded,
    }[key](root)
    if isinstance(found, str):
        raise DatasetFormatError(f"{root}: expected {expected}: none found; first missing file: {found}")
    name, files, images, splits, parts = found
    if image_dir is not None:
        images = Path(image_dir).expanduser()
    return Layout(
        key,
        name,
        root,
        tuple(files),
        images,
        tuple(splits),
        label or _label(key, root, [f for f in files if Path(f).is_file()]),
        parts,
    )


def _image_folder(bases, first: str | None, names: tuple, depth: int = 2) -> Path | None:
    """The folder holding the image `first`: a conventionally named folder, else wherever it is found."""
    if first is None:
        return None
    for base in bases:
        for name in names:
            for cand in (base / name / name, base / name, base):
                if (cand / first).is_file():
                    return cand
    for base in bases:
        hit = _find(base, first, depth)
        if hit is not None:
            return hit.parent
    return None


def _coco(root: Path):
    karpathy = _find(root, "dataset_coco.json")
    official = {s: p for s in ("train2014", "val2014") if (p := _find(root, f"captions_{s}.json"))}
    if karpathy is None and not official:
        return "dataset_coco.json"
    image_root = next(
        (
            c
            for c in (root, *sorted(root.glob("*/")), *sorted(root.glob("*/*/")))
            if (c / "val2014").is_dir() or (c / "train2014").is_dir()
        ),
        root,
    )
    name = "coco-karpathy" if karpathy else "coco-official"
    splits = ("train", "val", "test", *TEST_SETS, *(("restval",) if karpathy else ()), *official)
    return (
        name,
        [p for p in (karpathy, *official.values()) if p],
        image_root,
        splits,
        {"karpathy": karpathy, "official": official},
    )


def _flickr8k(root: Path):
    tokens, table = _find(root, FLICKR8K_TOKENS, 2), _find(root, "captions.txt", 2)
    depth = {p: len(p.relative_to(root).parts) for p in (tokens, table) if p}
    if tokens is None and table is None:
        return f"Flickr8k_text/{FLICKR8K_TOKENS}"
    kaggle = tokens is None or (table is not None and depth[table] < depth[tokens])
    source = table if kaggle else tokens
    lists_dir = (_find(root, FLICKR8K_SPLITS["train"]) or source).parent if kaggle else source.parent
    lists = {s: lists_dir / FLICKR8K_SPLITS[s] for s in ("train", "val", "test")}
    if kaggle and not lists["train"].is_file():
        lists = {}  # Kaggle's copy has no split lists: a deterministic split
    home = source.parent if kaggle or source.parent == root else source.parent.parent  # the dataset's folder
    bases = [home] + ([root.parent] if not kaggle and source.parent == root else [])  # given the text folder
    names = ("Images",) if kaggle else ("Flicker8k_Dataset", "Flickr8k_Dataset", "Images")
    images = _image_folder(bases, _first_image(source, kaggle), names) or home / names[0]
    return (
        ("flickr8k-kaggle" if kaggle else "flickr8k-official"),
        [source, *lists.values()],
        images,
        ("train", "val", "test", "test_A", "all"),
        {"captions": source, "lists": lists, "kaggle": kaggle},
    )


def _first_image(path: Path, kaggle: bool) -> str | None:
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            if line.strip() and not (kaggle and line.lower().startswith("image,")):
                return (
                    line.split(",", 1)[0] if kaggle else line.split("\t", 1)[0].split(" ", 1)[0].rpartition("#")[0]
                ).strip() or None
    return None


def _tiny_imagenet(root: Path):
    wnids = _find(root, "wnids.txt", 2)  # the folder itself, or tiny-imagenet-200/ in it (shallowest first)
    if wnids is None:
        return "wnids.txt"
    base = wnids.parent
    words = [base / "words.txt"] if (base / "words.txt").is_file() else []  # optional: class names
    return (
        "tiny-imagenet",
        [wnids, *words, base / "val" / "val_annotations.txt"],
        base,
        ("train", "val"),
        {"base": base},
    )


def _spanish(root: Path):
    hits = sorted(root.glob("*_images_names.txt")) + sorted(root.glob("*/*_images_names.txt"))
    if not hits:
        return "train/train_images_names.txt"
    folder = (
        hits[0].parent.parent if hits[0].parent.name == hits[0].name[: -len("_images_names.txt")] else hits[0].parent
    )
    phases = [p for p in SPANISH_PHASES if any(v.exists() for v in seed000_files(folder, p).values())]
    files = [f for p in phases for f in seed000_files(folder, p).values()]
    splits = (("train", "val", "train_full") if "train" in phases else ()) + tuple(p for p in phases if p != "train")
    return "coco-spanish-seed000", files, None, splits, {"folder": folder, "phases": phases}


def _embedded(root: Path):
    ann = root / "scenes" / "annotations"
    files = sorted(ann.glob("captions_*.json")) + [root / "classes" / "wnids.txt"]
    if not files[0].name.startswith("captions_"):
        return "scenes/annotations/captions_train.json"
    splits = tuple(p.stem.removeprefix("captions_") for p in files[:-1] if not p.stem.endswith("_es"))
    return "embedded", files, root / "scenes" / "images", splits, {}


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
    A split the layout lacks, or a file it needs that is missing, raises DatasetFormatError.
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
        groups = {s: read_image_list(lists[s]) for s in needed}
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
    """One split ('train' / 'val') of a Tiny ImageNet layout as ClassData (images not checked)."""
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
    data.name = f"{layout.label}/{split}"
    return data


def check_images(layout: Layout, data) -> None:
    """A one-line DatasetFormatError when an image `data` lists is not on disk (names the first one)."""
    missing = missing_images(data)
    if missing:
        root = data.image_dir if isinstance(data, CaptionData) else data.root
        raise error(
            layout,
            f"{len(missing):,} of {len(data.files):,} listed images are absent from {root}",
            Path(root) / missing[0],
        )
