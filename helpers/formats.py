"""Readers and writers for the on-disk formats of the datasets the book uses.

The embedded dataset is written in the same formats as the real datasets, so one reader serves both:
- COCO captions / instances JSON (`captions_*.json`, `instances_*.json`) plus an image folder;
- the Tiny ImageNet tree (`wnids.txt`, `words.txt`, `train/<wnid>/images/`, `val/val_annotations.txt`).

Every reader returns one of two plain structures: `CaptionData` (images + captions) or `ClassData`
(labelled images).
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .paths import new_file_mode


class DatasetFormatError(ValueError):
    """A dataset file is missing, empty, truncated or does not follow its format."""


class DatasetWarning(UserWarning):
    """A dataset file read with a repair (e.g. not UTF-8, read as Windows-1252); the message names the file."""


# ------------------------------------------------------------------------------------------ structures
@dataclass
class CaptionData:
    """Images with captions. `caption_image[k]` is the index (into `files`) of the image caption k describes."""
    image_dir: Path
    files: list
    captions: list
    caption_image: np.ndarray
    meanings: list | None = None  # what each caption says (embedded data only): see scenes.sample_meaning
    scenes: list | None = None  # scene truth per image (embedded data only): see scenes.Scene
    lang: str = "en"
    name: str = ""
    features: dict | None = None  # came with the data (seed 000's): {'pooled': (N, D) float32, 'files': (N,)}
    dropped: np.ndarray | None = None  # (N,) int64: captions of each image the reader dropped (empty, None, no word)

    def __post_init__(self):
        self.caption_image = np.asarray(self.caption_image, dtype=np.int64)
        if len(self.captions) != len(self.caption_image):
            raise DatasetFormatError("captions and caption_image differ in length")
        if self.dropped is not None:
            self.dropped = np.asarray(self.dropped, dtype=np.int64)
            if len(self.dropped) != len(self.files):
                raise DatasetFormatError("dropped and files differ in length")

    def __len__(self):
        return len(self.files)

    def paths(self) -> list:
        return [self.image_dir / f for f in self.files]

    def captions_of(self, i: int) -> list:
        return [self.captions[k] for k in np.flatnonzero(self.caption_image == i)]


@dataclass
class ClassData:
    """Labelled images: `labels[k]` indexes `classes` (ids, e.g. WordNet ids); `words[id]` are its names."""
    root: Path
    classes: list
    words: dict
    files: list = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: np.ndarray | None = None
    name: str = ""

    def __len__(self):
        return len(self.files)

    def paths(self) -> list:
        return [self.root / f for f in self.files]


# ------------------------------------------------------------------------------------- atomic writing
def write_atomic(path: Path, write, binary: bool = True) -> None:
    """Write a file through a temporary file in its folder and a rename, so no reader sees half of it.

    `write(f)` writes to the open temporary file (bytes, or UTF-8 text with `binary=False`). On any error
    (a full disk, Ctrl-C) the temporary file is removed, `path` is left as it was and the error propagates.
    The file gets the mode a plain `open()` gives (group-readable under the usual umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n")) as f:
            os.fchmod(f.fileno(), new_file_mode())
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename, so no reader sees half of it (`write_atomic`)."""
    write_atomic(path, lambda f: f.write(text), binary=False)


def _read_json(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    if path.stat().st_size == 0:
        raise DatasetFormatError(f"{path} is empty")
    data = path.read_bytes()
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise DatasetFormatError(f"{path}:{line}: bytes that are not UTF-8 (byte {e.start:,}): JSON files are "
                                 f"UTF-8; a damaged download?") from None
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{path}:{e.lineno}: not valid JSON (truncated download?): {e.msg} at column "
                                 f"{e.colno}") from None
    except RecursionError:
        raise DatasetFormatError(f"{path}: JSON nested too deeply to be a dataset file") from None


def _read_json_object(path: Path, keys: tuple, what: str) -> dict:
    """`_read_json` that also requires a JSON object with `keys`; DatasetFormatError names file and key."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise DatasetFormatError(f"{path}: expected a JSON object with {', '.join(repr(k) for k in keys)} "
                                 f"({what}), got {_json_type(doc)}")
    for key in keys:
        if key not in doc:
            raise DatasetFormatError(f"{path}: no {key!r} at the top level: is it {what}?")
    return doc


def _json_type(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "true/false", type(None): "null"}.get(type(value), type(value).__name__)


def _expect(path: Path, where: str, value, kind: type | tuple, what: str):
    """`value` if it is a `kind`, else DatasetFormatError '<file>: at <JSON path>: expected <what>, got ...'."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DatasetFormatError(f"{path}: at {where}: expected {what}, got {_json_type(value)}"
                                 f"{'' if isinstance(value, (dict, list)) else f' ({value!r:.40})'}")
    return value


def _expect_key(path: Path, where: str, obj: dict, key: str, kind, what: str):
    if key not in obj:
        raise DatasetFormatError(f"{path}: at {where}: no {key!r} key (expected {what}); keys: "
                                 f"{', '.join(sorted(map(str, obj)))[:80]}")
    return _expect(path, f"{where}.{key}", obj[key], kind, what)


def _read_lines(path: Path) -> list:
    """Lines of a text file, tolerant of CRLF, a BOM, a missing final newline and trailing blanks."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    text = path.read_text(encoding="utf-8-sig")
    return [ln.rstrip() for ln in text.splitlines() if ln.strip()]


# ------------------------------------------------------------------------------------------- COCO JSON
def write_coco_captions(path: Path, files: list, captions: list, caption_image: list, size=(128, 128),
                        extra_images: list | None = None, extra_annotations: list | None = None,
                        info: dict | None = None) -> None:
    """Write a COCO captions file; `extra_*` add fields to each image / annotation (COCO readers ignore them)."""
    images = [{"id": i + 1, "file_name": f, "width": size[0], "height": size[1], **(extra_images[i] if extra_images else {})}
              for i, f in enumerate(files)]
    anns = [{"id": k + 1, "image_id": int(caption_image[k]) + 1, "caption": c,
             **(extra_annotations[k] if extra_annotations else {})} for k, c in enumerate(captions)]
    doc = {"info": info or {}, "licenses": [], "images": images, "annotations": anns}
    write_text_atomic(path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))


def read_coco_captions(path: Path, image_dir: Path | None = None, lang: str = "en") -> CaptionData:
    """Read a COCO captions JSON (`captions_train2014.json` or ours): images in id order, captions stripped."""
    doc = _read_json_object(path, ("images", "annotations"), "a COCO captions file")
    _expect(path, "images", doc["images"], list, "a list of images")
    _expect(path, "annotations", doc["annotations"], list, "a list of annotations")
    for i, im in enumerate(doc["images"]):
        _expect(path, f"images[{i}]", im, dict, "an image object")
        _expect_key(path, f"images[{i}]", im, "id", int, "an integer image id")
        _expect_key(path, f"images[{i}]", im, "file_name", str, "a file name")
    for i, a in enumerate(doc["annotations"]):
        _expect(path, f"annotations[{i}]", a, dict, "an annotation object")
        _expect_key(path, f"annotations[{i}]", a, "id", int, "an integer annotation id")
        _expect_key(path, f"annotations[{i}]", a, "image_id", int, "the integer id of an image")
        _expect_key(path, f"annotations[{i}]", a, "caption", (str, type(None)), "a caption string")
    images = sorted(doc["images"], key=lambda im: im["id"])
    index = {im["id"]: i for i, im in enumerate(images)}
    if len(index) != len(images):
        raise DatasetFormatError(f"{path}: at images: two images share an id")
    captions, owner, meanings = [], [], []
    dropped = np.zeros(len(images), np.int64)
    for a in sorted(doc["annotations"], key=lambda a: a["id"]):
        if a["image_id"] not in index:
            raise DatasetFormatError(f"{path}: caption {a['id']} points at unknown image {a['image_id']}")
        text = " ".join(str(a.get("caption") or "").split())
        if not has_words(text):
            dropped[index[a["image_id"]]] += 1
            continue
        captions.append(text)
        owner.append(index[a["image_id"]])
        meanings.append(a.get("meaning"))
    image_dir = Path(image_dir) if image_dir else Path(path).parent
    scenes = None
    if images and "scene" in images[0]:
        from .scenes import scene_from_json
        scenes = [scene_from_json(im["scene"]) for im in images]
    return CaptionData(image_dir, [im["file_name"] for im in images], captions, np.array(owner, np.int64),
                       meanings if any(m is not None for m in meanings) else None, scenes, lang,
                       Path(path).stem, dropped=dropped)


# --------------------------------------------------------------------------------------- Tiny ImageNet
def write_tiny_imagenet_index(root: Path, classes: list, words: dict, train: dict, val: list) -> None:
    """Write the Tiny ImageNet text files. `train[wnid]` is a list of (file name, box); `val` of (file, wnid, box)."""
    root = Path(root)
    write_text_atomic(root / "wnids.txt", "".join(f"{c}\n" for c in classes))
    write_text_atomic(root / "words.txt", "".join(f"{c}\t{', '.join(words[c])}\n" for c in classes))
    for wnid, items in train.items():
        write_text_atomic(root / "train" / wnid / f"{wnid}_boxes.txt",
                          "".join(f"{f}\t{b[0]}\t{b[1]}\t{b[2]}\t{b[3]}\n" for f, b in items))
    write_text_atomic(root / "val" / "val_annotations.txt",
                      "".join(f"{f}\t{w}\t{b[0]}\t{b[1]}\t{b[2]}\t{b[3]}\n" for f, w, b in val))


def read_tiny_imagenet(root: Path, split: str = "train") -> ClassData:
    """Read the Tiny ImageNet tree at `root` (the folder that holds `wnids.txt`); split 'train' or 'val'."""
    root = Path(root)
    if not (root / "wnids.txt").is_file():
        raise DatasetFormatError(f"{root} has no wnids.txt: point at the tiny-imagenet-200 folder")
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    classes = [ln for _, ln in text_lines(root / "wnids.txt")]
    index = {c: i for i, c in enumerate(classes)}
    words = {}
    if (root / "words.txt").is_file():
        for _, ln in text_lines(root / "words.txt"):
            wnid, _, names = ln.partition("\t")
            if wnid in index:
                words[wnid] = [w.strip() for w in names.split(",") if w.strip()]
    files, labels, boxes = [], [], []
    if split == "train":
        for c in classes:
            box_file = root / "train" / c / f"{c}_boxes.txt"
            if not box_file.is_file():
                continue  # a class without training images (held out)
            for lineno, ln in text_lines(box_file):
                name, box = _tiny_fields(box_file, lineno, ln, 5, "file<TAB>x0<TAB>y0<TAB>x1<TAB>y1")
                files.append(f"train/{c}/images/{name[0]}")
                labels.append(index[c])
                boxes.append(box)
    else:
        ann = root / "val" / "val_annotations.txt"
        for lineno, ln in text_lines(ann):
            (name, wnid), box = _tiny_fields(ann, lineno, ln, 6, "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1")
            if wnid not in index:
                raise DatasetFormatError(f"{ann}:{lineno}: names class {wnid!r}, which is not in wnids.txt")
            files.append(f"val/images/{name}")
            labels.append(index[wnid])
            boxes.append(box)
    return ClassData(root, classes, words, files, np.array(labels, np.int64),
                     np.array(boxes, np.int64).reshape(-1, 4), f"tiny-imagenet/{split}")


def _tiny_fields(path: Path, lineno: int, line: str, n: int, expected: str) -> tuple:
    """Split a Tiny ImageNet line into its `n - 4` names and 4 integer box coordinates, or raise
    DatasetFormatError naming the file, the line and what was expected (e.g. spaces instead of tabs)."""
    parts = line.split("\t")
    if len(parts) != n:
        hint = " (spaces instead of tabs?)" if len(parts) == 1 and len(line.split()) == n else ""
        raise DatasetFormatError(f"{path}:{lineno}: expected {n} tab-separated fields ({expected}), got "
                                 f"{len(parts)}{hint}: {line[:60]!r}")
    try:
        box = [int(v) for v in parts[n - 4:]]  # whole pixels in the real files; 12.5 or inf is a damaged line
    except ValueError:
        raise DatasetFormatError(f"{path}:{lineno}: expected 4 integer box coordinates, got "
                                 f"{parts[n - 4:]!r}") from None
    return parts[:n - 4], box


# ------------------------------------------------------------------------- messy real text files (added)
# Real files come with CRLF line ends, a byte-order mark, trailing spaces, a last line without a newline,
# non-ASCII words, blank lines, sometimes a legacy encoding, and `</s>` end markers left by translation
# tools. The readers below accept all of that and raise `DatasetFormatError` (file and line) for the rest.
import re as _re
import warnings as _warnings

_END_MARKERS = _re.compile(r"</?s>")
_WORD = _re.compile(r"\w")


def clean_caption(text: str) -> str:
    """A caption with whitespace normalised and `<s>` / `</s>` markers removed ('Un perro. </s> ' -> 'Un perro.')."""
    return " ".join(_END_MARKERS.sub(" ", str(text)).split())


def has_words(text) -> bool:
    """False for a caption the readers drop: None, empty, or without a letter or digit ('.', ' - ')."""
    return text is not None and bool(_WORD.search(str(text)))


def read_text(path: Path) -> str:
    """A whole text file: UTF-8 (BOM allowed), else Windows-1252 with a warning; missing/empty -> DatasetFormatError."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    data = path.read_bytes()
    if not data.strip():
        raise DatasetFormatError(f"{path} is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        _warnings.warn(f"{path} is not UTF-8 (line {line}); read as Windows-1252", DatasetWarning, stacklevel=2)
        return data.decode("cp1252", errors="replace")


def text_lines(path: Path) -> list:
    """(line number, line) for every non-blank line, stripped of surrounding blanks and of CR (CRLF files).

    Only '\\n' separates lines (not the other Unicode line breaks `str.splitlines` knows), so a caption
    that happens to contain U+0085 or U+2028 stays one caption.
    """
    out = []
    for i, ln in enumerate(read_text(path).split("\n"), 1):
        ln = ln.strip()
        if ln:
            out.append((i, ln))
    return out


def read_image_list(path: Path) -> list:
    """Image names, one a line (Flickr8k split files, seed 000's `<phase>_images_names.txt`), in file order."""
    names = [ln for _, ln in text_lines(path)]
    seen = set()
    dup = [n for n in names if n in seen or seen.add(n)]
    if dup:
        raise DatasetFormatError(f"{path} lists {len(dup)} image(s) twice, e.g. {dup[0]!r}")
    return names


# ------------------------------------------------------------------------------------------ Flickr8k
FLICKR8K_TOKENS = "Flickr8k.token.txt"
FLICKR8K_SPLITS = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
                   "dev": "Flickr_8k.devImages.txt", "test": "Flickr_8k.testImages.txt"}


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _no_image_name(name: str, oddities: dict | None) -> bool:
    """True (and counted in `oddities`) for a caption group whose name is not an image file name: the real
    Flickr8k.token.txt has a group '2258277193_586949ec62.jpg.1' with no image behind it."""
    if name.lower().endswith(IMAGE_SUFFIXES):
        return False
    if oddities is not None:
        oddities[name] = oddities.get(name, 0) + 1
    return True


def read_flickr8k_tokens(path: Path, dropped: dict | None = None, oddities: dict | None = None) -> dict:
    """`Flickr8k.token.txt` ('1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...') -> {image: [captions]}.

    Captions keep the order of their `#k` index; images keep the order of the file. Any number of captions
    per image is accepted (a few real images have 6). A line that is not `name#k<TAB>caption` is an error.
    Captions without a word are left out; `dropped`, if given, counts them per image ({image: count}).
    Groups whose name is not an image file name (`.jpg.1`) are left out and counted in `oddities`.
    """
    out = {}
    for lineno, ln in text_lines(path):
        key, sep, caption = ln.partition("\t")
        if not sep:  # some copies have a space instead of the tab
            key, sep, caption = ln.partition(" ")
        name, hash_, k = key.strip().rpartition("#")
        if not hash_ or not name or not k.strip().isdigit():
            raise DatasetFormatError(f"{path}:{lineno}: expected 'image.jpg#k<TAB>caption', got {ln[:80]!r}")
        if _no_image_name(name, oddities):
            continue
        caption = clean_caption(caption)
        if has_words(caption):
            out.setdefault(name, []).append((int(k), caption))
        elif dropped is not None:
            dropped[name] = dropped.get(name, 0) + 1
    if not out:
        raise DatasetFormatError(f"{path} has no captions")
    return {name: [c for _, c in sorted(caps, key=lambda kc: kc[0])] for name, caps in out.items()}


def read_flickr8k_csv(path: Path, dropped: dict | None = None, oddities: dict | None = None) -> dict:
    """Kaggle's Flickr8k `captions.txt` (CSV, header `image,caption`) -> {image: [captions]} in file order.

    Read with the csv module: a caption may hold commas and quotes. Captions without a word are left out
    (`dropped` counts them per image, as in `read_flickr8k_tokens`). Another header, or a row without an
    image name, raises `DatasetFormatError` (file and line).
    """
    import csv
    import io

    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if header[:2] != ["image", "caption"]:
        raise DatasetFormatError(f"{path}:1: expected the header 'image,caption', got {','.join(header)[:80]!r}")
    out = {}
    for row in reader:
        if not any(f.strip() for f in row):
            continue
        name = row[0].strip()
        if not name:
            raise DatasetFormatError(f"{path}:{reader.line_num}: a caption without an image name")
        if _no_image_name(name, oddities):
            continue
        caption = clean_caption(",".join(row[1:])) if len(row) > 1 else ""
        if has_words(caption):
            out.setdefault(name, []).append(caption)
        else:
            out.setdefault(name, [])
            if dropped is not None:
                dropped[name] = dropped.get(name, 0) + 1
    if not any(out.values()):
        raise DatasetFormatError(f"{path} has no captions")
    return out


def read_flickr8k(text_dir: Path, image_dir: Path | None = None, split: str = "train") -> CaptionData:
    """Flickr8k as distributed: the text folder (`Flickr8k.token.txt`, `Flickr_8k.*Images.txt`) -> CaptionData.

    `split`: 'train' (6,000 images), 'val' or 'dev' (1,000), 'test' (1,000), or 'all' (the three splits).
    An image of the split file without captions is an error. `image_dir` defaults to the text folder.
    """
    text_dir = Path(text_dir)
    dropped = {}
    tokens = read_flickr8k_tokens(text_dir / FLICKR8K_TOKENS, dropped)
    if split == "all":
        names = list(dict.fromkeys(n for s in ("train", "val", "test")
                                   for n in read_image_list(text_dir / FLICKR8K_SPLITS[s])))
    elif split in FLICKR8K_SPLITS:
        names = read_image_list(text_dir / FLICKR8K_SPLITS[split])
    else:
        raise ValueError(f"unknown Flickr8k split {split!r}; choose 'train', 'val' (or 'dev'), 'test' or 'all'")
    captions, owner = [], []
    for i, name in enumerate(names):
        if name not in tokens:
            raise DatasetFormatError(f"{FLICKR8K_SPLITS.get(split, 'a split file')} lists {name}, which has no "
                                     f"caption in {FLICKR8K_TOKENS}")
        captions += tokens[name]
        owner += [i] * len(tokens[name])
    return CaptionData(Path(image_dir) if image_dir else text_dir, names, captions, np.array(owner, np.int64),
                       lang="en", name=f"flickr8k/{split}", dropped=[dropped.get(n, 0) for n in names])


# ------------------------------------------------------------------------- seed 000's COCO-2014-Spanish
SEED000_DIM = 2048


def seed000_files(folder: Path, phase: str) -> dict:
    """The three files of a phase: `<folder>/<phase>/<phase>_*` (the seed's layout) or `<folder>/<phase>_*`."""
    folder = Path(folder)
    for base in (folder / phase, folder):
        files = {k: base / f"{phase}_{suffix}" for k, suffix in
                 (("names", "images_names.txt"), ("vectors", "images_vectors.bin"), ("captions", "captions.txt"))}
        if any(p.exists() for p in files.values()):
            return files
    return {k: folder / phase / f"{phase}_{s}" for k, s in
            (("names", "images_names.txt"), ("vectors", "images_vectors.bin"), ("captions", "captions.txt"))}


def read_seed000_vectors(path: Path, n: int, dim: int = SEED000_DIM) -> np.ndarray:
    """`<phase>_images_vectors.bin`: raw float32, `n` x `dim`, no header. Size is checked against `n`."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    size = path.stat().st_size
    if size == 0:
        raise DatasetFormatError(f"{path} is empty")
    row = dim * 4
    if size % row:
        raise DatasetFormatError(f"{path} has {size:,} bytes, not a whole number of {dim}-float32 rows "
                                 f"({row:,} bytes each): truncated?")
    if size // row != n:
        raise DatasetFormatError(f"{path} holds {size // row:,} vectors of {dim} floats but the names file lists "
                                 f"{n:,} images")
    vectors = np.fromfile(path, dtype="<f4").reshape(n, dim)
    if not np.isfinite(vectors).all():
        raise DatasetFormatError(f"{path} contains NaN or infinite values: damaged file?")
    return vectors


def read_seed000(folder: Path, phase: str, dim: int = SEED000_DIM) -> tuple:
    """Seed 000's three files of one phase -> (CaptionData in Spanish, float32 vectors N x dim).

    `<phase>_images_names.txt`: one image name a line (the order of the vectors);
    `<phase>_images_vectors.bin`: raw float32 N x dim; `<phase>_captions.txt`: 'image name<TAB>caption'.
    Every caption must name an image of the names file.
    """
    files = seed000_files(folder, phase)
    for kind in ("names", "captions", "vectors"):
        if not files[kind].is_file():
            raise DatasetFormatError(f"{files[kind]} is missing (seed 000's layout: <folder>/{phase}/"
                                     f"{phase}_images_names.txt, _images_vectors.bin, _captions.txt)")
    names = read_image_list(files["names"])
    vectors = read_seed000_vectors(files["vectors"], len(names), dim)
    index = {n: i for i, n in enumerate(names)}
    captions, owner = [], []
    dropped = np.zeros(len(names), np.int64)
    for lineno, ln in text_lines(files["captions"]):
        name, sep, caption = ln.partition("\t")
        if not sep:
            raise DatasetFormatError(f"{files['captions']}:{lineno}: expected 'image name<TAB>caption', got {ln[:80]!r}")
        name = name.strip()
        if name not in index:
            raise DatasetFormatError(f"{files['captions']}:{lineno}: caption of {name!r}, which is not in "
                                     f"{files['names'].name}")
        caption = clean_caption(caption)
        if has_words(caption):
            captions.append(caption)
            owner.append(index[name])
        else:
            dropped[index[name]] += 1
    if not captions:
        raise DatasetFormatError(f"{files['captions']} has no captions")
    data = CaptionData(files["names"].parent, names, captions, np.array(owner, np.int64), lang="es",
                       name=f"coco-spanish/{phase}", dropped=dropped)
    return data, vectors


# -------------------------------------------------------------------------------- Karpathy split JSON
def read_karpathy_captions(path: Path, split: str, image_dir: Path | None = None, check_only: bool = False):
    """Karpathy's `dataset_coco.json` / `dataset_flickr8k.json` -> CaptionData of one split.

    'train' includes 'restval' (the usual 113,287 COCO training images); 'val', 'test', 'restval' as in
    the file. File names are `<filepath>/<filename>` (e.g. 'val2014/COCO_val2014_000000391895.jpg').
    """
    doc = _read_json_object(path, ("images",), "a Karpathy split file (dataset_coco.json)")
    _expect(path, "images", doc["images"], list, "a list of images")
    for i, im in enumerate(doc["images"]):
        _expect(path, f"images[{i}]", im, dict, "an image object")
        _expect_key(path, f"images[{i}]", im, "filename", str, "a file name")
        _expect_key(path, f"images[{i}]", im, "split", str, "a split name")
        if "filepath" in im:
            _expect(path, f"images[{i}].filepath", im["filepath"], (str, type(None)), "a folder name")
        for j, sent in enumerate(_expect_key(path, f"images[{i}]", im, "sentences", list, "a list of sentences")):
            _expect(path, f"images[{i}].sentences[{j}]", sent, dict, "a sentence object")
            if "raw" not in sent and "tokens" not in sent:
                raise DatasetFormatError(f"{path}: at images[{i}].sentences[{j}]: no 'raw' or 'tokens' key")
            if "raw" in sent:
                _expect(path, f"images[{i}].sentences[{j}].raw", sent["raw"], (str, type(None)), "a caption string")
            if "tokens" in sent:
                tokens = _expect(path, f"images[{i}].sentences[{j}].tokens", sent["tokens"], (list, type(None)),
                                 "a list of tokens")
                for k, t in enumerate(tokens or []):
                    _expect(path, f"images[{i}].sentences[{j}].tokens[{k}]", t, str, "a token string")
    if check_only:
        return None
    wanted = {"train": ("train", "restval")}.get(split, (split,))
    files, captions, owner, dropped = [], [], [], []
    for im in doc["images"]:
        if im.get("split") not in wanted:
            continue
        name = "/".join(p for p in (im.get("filepath") or "", im["filename"]) if p)
        dropped.append(0)
        for s in im["sentences"]:
            text = clean_caption(s.get("raw") or " ".join(s.get("tokens") or []))
            if has_words(text):
                captions.append(text)
                owner.append(len(files))
            else:
                dropped[-1] += 1
        files.append(name)
    if not files:
        splits = sorted({im.get("split") for im in doc["images"]})
        raise DatasetFormatError(f"{path} has no images in split {split!r}; it has {splits}")
    return CaptionData(Path(image_dir) if image_dir else Path(path).parent, files, captions,
                       np.array(owner, np.int64), lang="en", name=f"karpathy-{doc.get('dataset', 'coco')}/{split}",
                       dropped=dropped)


# ----------------------------------------------------------------------------------- image presence
def missing_images(data) -> list:
    """Files of a CaptionData / ClassData that are not on disk (one directory listing per folder)."""
    root = data.image_dir if isinstance(data, CaptionData) else data.root
    listing, missing = {}, []
    for f in data.files:
        p = Path(root) / f
        if p.parent not in listing:
            try:
                listing[p.parent] = set(os.listdir(p.parent))
            except OSError:
                listing[p.parent] = set()
        if p.name not in listing[p.parent]:
            missing.append(str(f))
    return missing


def check_images(data) -> None:
    """DatasetFormatError naming the images that a dataset lists but that are absent from disk."""
    missing = missing_images(data)
    if missing:
        root = data.image_dir if isinstance(data, CaptionData) else data.root
        raise DatasetFormatError(f"{len(missing):,} of {len(data.files):,} listed images are absent from {root}, "
                                 f"e.g. {missing[:3]} (an archive not unpacked, or unpacked elsewhere?)")


# -------------------------------------------------------------------------- word vectors (text formats)
# --------------------------------------------------------------------------------- summaries (inspect)
def summarize_captions(data: CaptionData, images_checked: bool | None = None) -> dict:
    """Counts of a CaptionData: images, captions, captions per image (min/max), vocabulary-free."""
    per = np.bincount(data.caption_image, minlength=len(data.files)) if len(data.files) else np.zeros(0, int)
    out = {"name": data.name, "images": len(data.files), "captions": len(data.captions),
           "captions_per_image": {"min": int(per.min()) if len(per) else 0, "max": int(per.max()) if len(per) else 0},
           "images_without_captions": int((per == 0).sum()),
           "captions_dropped": int(data.dropped.sum()) if data.dropped is not None else 0}
    if images_checked is not None:
        out["images_present"] = images_checked
    return out


def summarize_classes(data: ClassData) -> dict:
    present = np.unique(data.labels) if len(data.labels) else np.zeros(0, int)
    return {"name": data.name, "classes": len(data.classes), "classes_with_images": int(len(present)),
            "images": len(data.files), "classes_with_words": len(data.words)}
