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
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise DatasetFormatError(f"{path} is not valid JSON (truncated download?): {e}") from None


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
    doc = _read_json(path)
    for key in ("images", "annotations"):
        if key not in doc:
            raise DatasetFormatError(f"{path} has no '{key}': is it a COCO captions file?")
    images = sorted(doc["images"], key=lambda im: im["id"])
    index = {im["id"]: i for i, im in enumerate(images)}
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
    classes = _read_lines(root / "wnids.txt")
    index = {c: i for i, c in enumerate(classes)}
    words = {}
    if (root / "words.txt").is_file():
        for ln in _read_lines(root / "words.txt"):
            wnid, _, names = ln.partition("\t")
            if wnid in index:
                words[wnid] = [w.strip() for w in names.split(",") if w.strip()]
    files, labels, boxes = [], [], []
    if split == "train":
        for c in classes:
            box_file = root / "train" / c / f"{c}_boxes.txt"
            if not box_file.is_file():
                continue  # a class without training images (held out)
            for ln in _read_lines(box_file):
                parts = ln.split("\t")
                files.append(f"train/{c}/images/{parts[0]}")
                labels.append(index[c])
                boxes.append([int(float(v)) for v in parts[1:5]])
    elif split == "val":
        for ln in _read_lines(root / "val" / "val_annotations.txt"):
            parts = ln.split("\t")
            if parts[1] not in index:
                raise DatasetFormatError(f"val_annotations.txt names {parts[1]}, which is not in wnids.txt")
            files.append(f"val/images/{parts[0]}")
            labels.append(index[parts[1]])
            boxes.append([int(float(v)) for v in parts[2:6]])
    else:
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    return ClassData(root, classes, words, files, np.array(labels, np.int64),
                     np.array(boxes, np.int64).reshape(-1, 4), f"tiny-imagenet/{split}")


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
        _warnings.warn(f"{path} is not UTF-8 (line {line}); read as Windows-1252", stacklevel=2)
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


def read_flickr8k_tokens(path: Path, dropped: dict | None = None) -> dict:
    """`Flickr8k.token.txt` ('1000268201_693b08cb0e.jpg#0<TAB>A child in a pink dress ...') -> {image: [captions]}.

    Captions keep the order of their `#k` index; images keep the order of the file. Any number of captions
    per image is accepted (a few real images have 6). A line that is not `name#k<TAB>caption` is an error.
    Captions without a word are left out; `dropped`, if given, counts them per image ({image: count}).
    """
    out = {}
    for lineno, ln in text_lines(path):
        key, sep, caption = ln.partition("\t")
        if not sep:  # some copies have a space instead of the tab
            key, sep, caption = ln.partition(" ")
        name, hash_, k = key.strip().rpartition("#")
        if not hash_ or not name or not k.strip().isdigit():
            raise DatasetFormatError(f"{path}:{lineno}: expected 'image.jpg#k<TAB>caption', got {ln[:80]!r}")
        caption = clean_caption(caption)
        if has_words(caption):
            out.setdefault(name, []).append((int(k), caption))
        elif dropped is not None:
            dropped[name] = dropped.get(name, 0) + 1
    if not out:
        raise DatasetFormatError(f"{path} has no captions")
    return {name: [c for _, c in sorted(caps, key=lambda kc: kc[0])] for name, caps in out.items()}


def read_flickr8k_csv(path: Path, dropped: dict | None = None) -> dict:
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
def read_karpathy_captions(path: Path, split: str, image_dir: Path | None = None) -> CaptionData:
    """Karpathy's `dataset_coco.json` / `dataset_flickr8k.json` -> CaptionData of one split.

    'train' includes 'restval' (the usual 113,287 COCO training images); 'val', 'test', 'restval' as in
    the file. File names are `<filepath>/<filename>` (e.g. 'val2014/COCO_val2014_000000391895.jpg').
    """
    doc = _read_json(path)
    if "images" not in doc or (doc["images"] and "sentences" not in doc["images"][0]):
        raise DatasetFormatError(f"{path} is not a Karpathy split file (no images with sentences)")
    wanted = {"train": ("train", "restval")}.get(split, (split,))
    files, captions, owner, dropped = [], [], [], []
    for im in doc["images"]:
        if im.get("split") not in wanted:
            continue
        name = "/".join(p for p in (im.get("filepath", ""), im["filename"]) if p)
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
        raise ValueError(f"{path} has no images in split {split!r}; it has {splits}")
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
def vectors_header(path: Path):
    """(count, dim) from a word2vec/fastText `.vec` first line, or None for GloVe text (no header).

    `.gz` / `.bz2` files are read through their decompressor. Empty / missing -> DatasetFormatError.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    if path.stat().st_size == 0:
        raise DatasetFormatError(f"{path} is empty")
    with _open_binary(path) as f:
        first = f.readline()
    parts = first.decode("utf-8-sig", errors="replace").split()
    if not parts:
        raise DatasetFormatError(f"{path} starts with a blank line: not a word-vector file")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _open_binary(path: Path):
    path = Path(path)
    if path.suffix == ".gz":
        import gzip
        return gzip.open(path, "rb")
    if path.suffix == ".bz2":
        import bz2
        return bz2.open(path, "rb")
    return open(path, "rb")


def scan_vectors(path: Path, fmt: str = "auto", full: bool = True) -> dict:
    """Check a word-vector text file and count it: {'format', 'vectors', 'dimension', 'header'}.

    fmt: 'word2vec' (a 'count dim' header, as fastText's `.vec`), 'glove' (no header) or 'auto'. With
    `full`, every row must have a word and `dim` numbers (the last one too: a truncated file fails) and the
    header's count must equal the number of rows. Without `full`, only the rows are counted and the first
    and last rows checked (fast). Rows may end with a space, CRLF, or no newline at the end of the file.
    """
    path = Path(path)
    header = vectors_header(path)
    if fmt == "word2vec" and header is None:
        raise DatasetFormatError(f"{path} has no 'count dim' header line: is it GloVe text? (format 'glove')")
    if fmt == "glove" and header is not None:
        raise DatasetFormatError(f"{path} starts with a 'count dim' header {header}: it is word2vec/fastText "
                                 "text (format 'word2vec')")
    if fmt not in ("auto", "word2vec", "glove"):
        raise ValueError(f"unknown vector format {fmt!r}; use 'word2vec', 'glove' or 'auto'")
    dim = header[1] if header else None
    rows, bad, last = 0, None, None
    with _open_binary(path) as f:
        if header:
            f.readline()
        lineno = 1 if header else 0
        for raw in f:
            lineno += 1
            line = raw.rstrip(b"\r\n").rstrip()
            if not line:
                continue
            rows += 1
            if full or rows == 1:
                fields = line.split(b" ")
                if dim is None:
                    dim = len(fields) - 1
                if len(fields) != dim + 1 and bad is None:
                    bad = (lineno, len(fields) - 1)
            last = (lineno, line)
    if rows == 0:
        raise DatasetFormatError(f"{path} has no vectors")
    if last is not None:
        fields = last[1].split(b" ")
        if len(fields) != dim + 1 and bad is None:
            bad = (last[0], len(fields) - 1)
        try:
            [float(x) for x in fields[-dim:]]
        except ValueError:
            bad = bad or (last[0], len(fields) - 1)
    if bad:
        raise DatasetFormatError(f"{path}:{bad[0]}: a row with {bad[1]} numbers where {dim} are expected "
                                 "(a truncated or damaged file, or a header that disagrees with the rows)")
    if header and header[0] != rows:
        raise DatasetFormatError(f"{path}: the header says {header[0]:,} vectors of {header[1]} numbers but the "
                                 f"file has {rows:,} rows (truncated, or a header that disagrees with the rows)")
    return {"format": "word2vec" if header else "glove", "vectors": rows, "dimension": dim,
            "header": list(header) if header else None}


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


def _count_rows(path: Path, header: bool) -> int:
    """Rows of a text vector file, counted fast (newlines in binary blocks; a last line without one counts)."""
    lines, last = 0, b"\n"
    with _open_binary(path) as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return lines - (1 if header else 0)


def read_text_vectors(path: Path, limit: int | None = None, fmt: str = "auto", chunk: int = 100_000) -> tuple:
    """A word2vec/fastText `.vec` (header) or GloVe (no header) text file -> (words, float32 matrix, info).

    Parsed with pandas' C reader in blocks (several times faster than splitting lines in Python), keeping
    the first `limit` rows. Checked: every row has a word and `dim` numbers (a truncated last row fails),
    the header's dimension and count agree with the rows, words are unique (later duplicates are dropped
    with a warning, as gensim does). `.gz` / `.bz2` files are read as they are.
    """
    import csv

    import pandas as pd

    path = Path(path)
    header = vectors_header(path)
    if fmt == "word2vec" and header is None:
        raise DatasetFormatError(f"{path} has no 'count dim' header line: is it GloVe text? (format 'glove')")
    if fmt == "glove" and header is not None:
        raise DatasetFormatError(f"{path} starts with a 'count dim' header {header}: it is word2vec/fastText text")
    with _open_binary(path) as f:
        if header:
            f.readline()
        first = f.readline().decode("utf-8", "replace").split()
    if len(first) < 2:
        raise DatasetFormatError(f"{path} has no vectors" if not first else f"{path}: the first row has no numbers")
    dim = len(first) - 1
    if header and header[1] != dim:
        raise DatasetFormatError(f"{path}: the header says {header[1]} numbers per row but the first row has {dim} "
                                 "(a header that disagrees with the rows)")
    want = header[0] if header else None
    if limit is not None:
        want = min(limit, want) if want is not None else None
    matrix = np.empty((want, dim), np.float32) if want is not None else None
    words, blocks, n = [], [], 0
    reader = pd.read_csv(path, sep=" ", header=None, skiprows=1 if header else 0, nrows=limit,
                         quoting=csv.QUOTE_NONE, na_filter=False, engine="c", encoding="utf-8",
                         encoding_errors="replace", skip_blank_lines=True, chunksize=chunk,
                         dtype={0: str, **{i: np.float32 for i in range(1, dim + 1)}})
    try:
        for df in reader:
            if df.shape[1] == dim + 2 and (df.iloc[:, -1] == "").all():
                df = df.iloc[:, :-1]  # fastText ends every row with a space
            if df.shape[1] != dim + 1:
                raise ValueError(f"rows with {df.shape[1] - 1} fields")
            block = df.iloc[:, 1:].to_numpy(np.float32)
            if matrix is not None:
                if n + len(block) > len(matrix):
                    raise DatasetFormatError(f"{path}: the header says {header[0]:,} vectors but the file has more "
                                             "rows (a header that disagrees with the rows)")
                matrix[n:n + len(block)] = block
            else:
                blocks.append(block)
            words += df.iloc[:, 0].tolist()
            n += len(block)
    except (ValueError, pd.errors.ParserError) as e:
        if isinstance(e, DatasetFormatError):
            raise
        scan_vectors(path, fmt="word2vec" if header else "glove", full=True)  # finds the line, raises
        raise DatasetFormatError(f"{path}: {e} (a damaged file?)") from None
    if n == 0:
        raise DatasetFormatError(f"{path} has no vectors")
    if header:
        rows = n if (limit is None or n < limit) else _count_rows(path, True)
        if rows != header[0]:
            raise DatasetFormatError(f"{path}: the header says {header[0]:,} vectors of {header[1]} numbers but the "
                                     f"file has {rows:,} rows (truncated, or a header that disagrees with the rows)")
        matrix = matrix[:n]
    else:
        matrix = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    if not np.isfinite(matrix).all():
        bad = int(np.flatnonzero(~np.isfinite(matrix).all(1))[0])
        raise DatasetFormatError(f"{path}: row {bad + 1} ({words[bad]!r}) has a value that is not a finite number")
    if len(set(words)) != len(words):
        seen, keep = set(), []
        for i, w in enumerate(words):
            if w not in seen:
                seen.add(w)
                keep.append(i)
        _warnings.warn(f"{path}: {len(words) - len(keep)} duplicate word(s) ignored (the first one is kept)",
                       stacklevel=2)
        words, matrix = [words[i] for i in keep], matrix[keep]
    return words, matrix, {"format": "word2vec" if header else "glove", "vectors": len(words), "dimension": dim,
                           "header": list(header) if header else None}
