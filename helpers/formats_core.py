"""What every dataset reader shares: the two structures readers return, their errors, and careful file reading.

- `CaptionData` (images + captions) and `ClassData` (labelled images); `DatasetFormatError` (file, line or
  JSON path, and what was expected) and `DatasetWarning` (a file read with a repair);
- JSON read with its path checked (`_read_json_object`, `_expect`, `_expect_key`) and text files as people
  really save them (`read_text`, `text_lines`, `read_image_list`, `clean_caption`);
- atomic writing (`write_atomic`, `write_text_atomic`), image presence and the summaries `inspect` prints.

Each format's readers are in `helpers.caption_formats` and `helpers.class_formats`; `helpers.formats` has it all.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .paths import new_file_mode


class DatasetFormatError(ValueError):
    """A dataset file is missing, empty, truncated or does not follow its format (the message names it).

    Used in: notebooks/01_search_by_regression.ipynb § 1. The data: captioned images and their CNN vectors
    """


class DatasetWarning(UserWarning):
    """A dataset file read with a repair (e.g. not UTF-8, read as Windows-1252); the message names the file."""


# ------------------------------------------------------------------------------------------ structures
@dataclass
class CaptionData:
    """Images with captions. `caption_image[k]` is the index (into `files`) of the image caption k describes.

    `files`: N image names relative to `image_dir`; `captions`: C strings; `caption_image`: (C,) int64. Raises
    DatasetFormatError when `captions` and `caption_image`, or `dropped` and `files`, differ in length.
    """

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
    """Labelled images: `labels[k]` indexes `classes` (ids, e.g. WordNet ids); `words[id]` are its names.

    `image_dir` is the folder the `files` are relative to, as in `CaptionData`. `labels`: (N,) int64; `boxes`:
    (N, 4) int64 (x0, y0, x1, y1 in pixels) or None.
    """

    image_dir: Path
    classes: list
    words: dict
    files: list = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: np.ndarray | None = None
    name: str = ""

    def __len__(self):
        return len(self.files)

    def paths(self) -> list:
        return [self.image_dir / f for f in self.files]

    @property
    def root(self) -> Path:
        """The older name of `image_dir` (one name for the image folder of both kinds of data)."""
        warnings.warn("ClassData.root is now ClassData.image_dir", DeprecationWarning, stacklevel=2)
        return self.image_dir


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
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
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
        line = data[: e.start].count(b"\n") + 1
        raise DatasetFormatError(
            f"{path}:{line}: bytes that are not UTF-8 (byte {e.start:,}): JSON files are UTF-8; a damaged download?"
        ) from None
    except json.JSONDecodeError as e:
        raise DatasetFormatError(
            f"{path}:{e.lineno}: not valid JSON (truncated download?): {e.msg} at column {e.colno}"
        ) from None
    except ValueError as e:  # an integer of more than sys.get_int_max_str_digits() (4,300) digits
        m = re.search(rb"\d{%d,}" % (sys.get_int_max_str_digits() + 1), data)
        where = f"{path}:{data.count(10, 0, m.start()) + 1}" if m else str(path)  # 10: the line end
        raise DatasetFormatError(
            f"{where}: a number too long to read ({str(e).split(';')[0]}), which no dataset file has: "
            "a damaged file? Download it again"
        ) from None
    except RecursionError:
        raise DatasetFormatError(f"{path}: JSON nested too deeply to be a dataset file") from None


def _read_json_object(path: Path, keys: tuple, what: str) -> dict:
    """`_read_json` that also requires a JSON object with `keys`; DatasetFormatError names file and key."""
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise DatasetFormatError(
            f"{path}: expected a JSON object with {', '.join(repr(k) for k in keys)} ({what}), got {_json_type(doc)}"
        )
    for key in keys:
        if key not in doc:
            raise DatasetFormatError(f"{path}: no {key!r} at the top level: is it {what}?")
    return doc


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}


def _json_type(value) -> str:
    kinds = {**_JSON_TYPES, bool: "true/false", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _expect(path: Path, where: str, value, kind: type | tuple, what: str):
    """`value` if it is a `kind`, else DatasetFormatError '<file>: at <JSON path>: expected <what>, got ...'."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DatasetFormatError(
            f"{path}: at {where}: expected {what}, got {_json_type(value)}"
            f"{'' if isinstance(value, (dict, list)) else f' ({value!r:.40})'}"
        )
    return value


def _expect_key(path: Path, where: str, obj: dict, key: str, kind, what: str):
    if key not in obj:
        raise DatasetFormatError(
            f"{path}: at {where}: no {key!r} key (expected {what}); keys: {', '.join(sorted(map(str, obj)))[:80]}"
        )
    return _expect(path, f"{where}.{key}", obj[key], kind, what)


def _expect_scene(path: Path, where: str, im: dict) -> None:
    """DatasetFormatError (file, JSON path) unless `im['scene']` is {'background': str, 'size': int (optional),
    'objects': [{'cls': str, 'box': [x0, y0, x1, y1]}]}, as `scenes.scene_to_json` writes it."""
    scene = _expect_key(path, where, im, "scene", dict, "a scene object (every image has one if the first has)")
    _expect_key(path, f"{where}.scene", scene, "background", str, "a background name")
    _expect(path, f"{where}.scene.size", scene.get("size", 128), int, "the canvas size in pixels")
    for j, o in enumerate(_expect_key(path, f"{where}.scene", scene, "objects", list, "a list of objects")):
        at = f"{where}.scene.objects[{j}]"
        _expect_key(path, at, _expect(path, at, o, dict, "an object {'cls', 'box'}"), "cls", str, "a class id")
        box = _expect_key(path, at, o, "box", list, "a box [x0, y0, x1, y1]")
        if len(box) != 4 or not all(type(v) in (int, float) for v in box):
            raise DatasetFormatError(f"{path}: at {at}.box: expected 4 numbers [x0, y0, x1, y1], got {box!r:.60}")


# ------------------------------------------------------------------------- messy real text files (added)
# Real files come with CRLF line ends, a byte-order mark, trailing spaces, a last line without a newline,
# non-ASCII words, blank lines, sometimes a legacy encoding, and `</s>` end markers left by translation
# tools. The readers accept all of that and raise `DatasetFormatError` (file and line) for the rest.

_END_MARKERS = re.compile(r"</?s>")
_WORD = re.compile(r"\w")


def clean_caption(text: str) -> str:
    """A caption with whitespace normalized and `<s>` / `</s>` markers removed ('Un perro. </s> ' -> 'Un perro.')."""
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
        line = data[: e.start].count(b"\n") + 1
        warnings.warn(f"{path} is not UTF-8 (line {line}); read as Windows-1252", DatasetWarning, stacklevel=2)
        return data.decode("cp1252", errors="replace")


def text_lines(path: Path) -> list:
    """(line number, line) for every non-blank line, stripped of surrounding blanks and of CR (CRLF files).

    Only '\\n' separates lines (not the other Unicode line breaks `str.splitlines` knows), so a caption
    that happens to contain U+0085 or U+2028 stays one caption. A missing or empty file: DatasetFormatError.
    """
    out = []
    for i, ln in enumerate(read_text(path).split("\n"), 1):
        ln = ln.strip()
        if ln:
            out.append((i, ln))
    return out


def bad_file_name(name: str) -> str | None:
    """Why `name` cannot be a file inside the dataset's folder (empty, absolute, '..', a folder, a '.' part) or None."""
    parts = re.split(r"[/\\]", name)
    if not name.strip() or "\0" in name:
        return "empty" if not name.strip() else "a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:[/\\]", name):
        return "an absolute path"
    if ".." in parts or parts[-1] in ("", "."):
        return "'..' leaves the dataset's folder" if ".." in parts else "a folder"
    return "a '.' or empty part: write 'a/b.jpg', not './a/b.jpg' (one name each)" if {".", ""} & {*parts} else None


def check_file_name(name: str, where: str) -> str:
    """`name` if `bad_file_name` finds nothing, else DatasetFormatError '<where>: expected ... got <name> (why)'."""
    why = bad_file_name(name)
    if why:
        raise DatasetFormatError(f"{where}: expected a file name inside the dataset's folder, got {name!r:.80} ({why})")
    return name


def read_image_list(path: Path) -> list:
    """Image names, one a line (Flickr8k split files, seed 000's `<phase>_images_names.txt`), in file order.

    DatasetFormatError for a missing or empty file, a name listed twice, or one that is not a file name inside
    the dataset's folder (`check_file_name`: empty, absolute, with '..', ending in '/'; file and line).
    """
    names = [check_file_name(ln, f"{path}:{i}") for i, ln in text_lines(path)]
    seen = set()
    dup = [n for n in names if n in seen or seen.add(n)]
    if dup:
        raise DatasetFormatError(f"{path} lists {len(dup)} image(s) twice, e.g. {dup[0]!r}")
    return names


# ------------------------------------------------------------------------------------------- subsets
def subset(data, indices, name: str | None = None):
    """The images `indices` (in that order) of a CaptionData or ClassData, with what belongs to them.

    CaptionData: their captions (renumbered), meanings, scenes, dropped counts and the rows of every
    per-image array in `features`; ClassData: their labels and boxes. `name` defaults to the data's name.

    Used in: notebooks/01_search_by_regression.ipynb § 1. The data: captioned images and their CNN vectors
    """
    idx = np.asarray(list(indices), np.int64).reshape(-1)
    files = [data.files[i] for i in idx]
    if isinstance(data, ClassData):
        return ClassData(
            data.image_dir,
            data.classes,
            data.words,
            files,
            data.labels[idx],
            None if data.boxes is None else data.boxes[idx],
            data.name if name is None else name,
        )
    new = np.full(len(data.files), -1, np.int64)
    new[idx] = np.arange(len(idx))
    keep = np.flatnonzero(new[data.caption_image] >= 0)
    n = len(data.files)
    features = (
        None
        if data.features is None
        else {
            k: v[idx] if isinstance(v, np.ndarray) and v.ndim and len(v) == n else v for k, v in data.features.items()
        }
    )
    return CaptionData(
        data.image_dir,
        files,
        [data.captions[k] for k in keep],
        new[data.caption_image[keep]],
        None if data.meanings is None else [data.meanings[k] for k in keep],
        None if data.scenes is None else [data.scenes[i] for i in idx],
        data.lang,
        data.name if name is None else name,
        features,
        None if data.dropped is None else data.dropped[idx],
    )


# ----------------------------------------------------------------------------------- image presence
def missing_images(data) -> list:
    """Files of a CaptionData / ClassData that are not regular files on disk (one directory listing per folder);
    a name that leaves the image folder or names a folder (`bad_file_name`) counts as missing."""
    root = data.image_dir
    listing, missing = {}, []
    for f in data.files:
        p = Path(root) / f
        if p.parent not in listing:
            try:
                with os.scandir(p.parent) as entries:
                    listing[p.parent] = {e.name for e in entries if os.path.isfile(e.path)}  # False for loops
            except OSError:
                listing[p.parent] = set()
        if bad_file_name(str(f)) or p.name not in listing[p.parent]:
            missing.append(str(f))
    return missing


def check_images(data) -> None:
    """DatasetFormatError naming the images that a dataset lists but that are absent from disk."""
    missing = missing_images(data)
    if missing:
        root = data.image_dir
        raise DatasetFormatError(
            f"{len(missing):,} of {len(data.files):,} listed images are absent from {root}, "
            f"e.g. {missing[:3]} (an archive not unpacked, or unpacked elsewhere?)"
        )


# --------------------------------------------------------------------------------- summaries (inspect)
def summarize_captions(data: CaptionData, images_checked: bool | None = None) -> dict:
    """Counts of a CaptionData: images, captions, captions per image (min/max), vocabulary-free."""
    per = np.bincount(data.caption_image, minlength=len(data.files)) if len(data.files) else np.zeros(0, int)
    out = {
        "name": data.name,
        "images": len(data.files),
        "captions": len(data.captions),
        "captions_per_image": {"min": int(per.min()) if len(per) else 0, "max": int(per.max()) if len(per) else 0},
        "images_without_captions": int((per == 0).sum()),
        "captions_dropped": int(data.dropped.sum()) if data.dropped is not None else 0,
    }
    if images_checked is not None:
        out["images_present"] = images_checked
    return out


def summarize_classes(data: ClassData) -> dict:
    """Counts of a ClassData: {'name', 'classes', 'classes_with_images', 'images', 'classes_with_words'} (`inspect`)."""
    present = np.unique(data.labels) if len(data.labels) else np.zeros(0, int)
    return {
        "name": data.name,
        "classes": len(data.classes),
        "classes_with_images": int(len(present)),
        "images": len(data.files),
        "classes_with_words": len(data.words),
    }
