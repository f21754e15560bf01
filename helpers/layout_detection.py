"""Which on-disk layout a dataset folder has: `detect_layout` and the `Layout` it returns.

    layout = detect_layout("coco", "/data/coco")   # Layout(name='coco-karpathy', files=(...), image_dir=...)

`LAYOUTS` says what each layout needs. Reading a split of a detected layout is in `layouts.py`, which
re-exports these names. Every problem is a `DatasetFormatError` of one line naming the folder, the layout
and the first missing file.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .formats import FLICKR8K_SPLITS, FLICKR8K_TOKENS, DatasetFormatError, seed000_files

TEST_SETS = ("test_A", "test_B", "test_C")
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
    """The one-line error: '<folder>: <layout>: <problem>; first missing file: <file>' (returned, not raised)."""
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
    """The first file `filename` at most `depth` folders below `folder` (shallowest first), or None; a folder of
    that name is not a hit (a token file unzipped as a folder is missing, not a raw IsADirectoryError later)."""
    folder = Path(folder)
    for d in range(depth + 1):
        hits = sorted(p for p in folder.glob("/".join(["*"] * d + [filename])) if p.is_file())
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

    Used in: notebooks/01_search_by_regression.ipynb § 1. The data: captioned images and their CNN vectors
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
