"""Readers and writers of the caption datasets' files, each checked line by line or JSON path by JSON path:
COCO captions JSON (`captions_*.json`, plus an image folder; the embedded dataset is written in it too);
Flickr8k (`Flickr8k.token.txt` or the Kaggle `captions.txt`, and the split files); seed 000's COCO-2014-Spanish
phases (names, raw float32 vectors, captions); the Karpathy split JSON (`dataset_coco.json`, `dataset_flickr8k.json`).
Each returns a `CaptionData` or raises `DatasetFormatError` naming the file, the line (or JSON path) and what
was expected.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .formats_core import (
    CaptionData,
    DatasetFormatError,
    _expect,
    _expect_key,
    _expect_scene,
    _read_json_object,
    check_file_name,
    clean_caption,
    has_words,
    read_image_list,
    read_text,
    text_lines,
    write_text_atomic,
)


# ------------------------------------------------------------------------------------------- COCO JSON
def write_coco_captions(
    path: Path,
    files: list,
    captions: list,
    caption_image: list,
    size=(128, 128),
    extra_images: list | None = None,
    extra_annotations: list | None = None,
    info: dict | None = None,
) -> None:
    """Write a COCO captions file; `extra_*` add fields to each image / annotation (COCO readers ignore them).
    `caption_image[k]`: 0-based index into `files` of caption k (1-based ids in the file); `size`: (w, h) px."""
    images = [
        {"id": i + 1, "file_name": f, "width": size[0], "height": size[1], **(extra_images[i] if extra_images else {})}
        for i, f in enumerate(files)
    ]
    more = extra_annotations or [{}] * len(captions)
    anns = [
        {"id": k + 1, "image_id": int(caption_image[k]) + 1, "caption": c, **more[k]} for k, c in enumerate(captions)
    ]
    doc = {"info": info or {}, "licenses": [], "images": images, "annotations": anns}
    write_text_atomic(path, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))


def read_coco_captions(path: Path, image_dir: Path | None = None, lang: str = "en") -> CaptionData:
    """Read a COCO captions JSON (`captions_train2014.json` or ours): images in id order, captions stripped.
    `caption_image` (C,) int64; captions without a word are counted in `dropped`. DatasetFormatError: a damaged
    or malformed file (file and JSON path: e.g. a `file_name` empty, absolute, with '..' or a folder, a malformed
    `scene`), two images with one id or file_name, a caption of an unknown image, no images or usable caption."""
    doc = _read_json_object(path, ("images", "annotations"), "a COCO captions file")
    _expect(path, "images", doc["images"], list, "a list of images")
    _expect(path, "annotations", doc["annotations"], list, "a list of annotations")
    for i, im in enumerate(doc["images"]):
        _expect(path, f"images[{i}]", im, dict, "an image object")
        _expect_key(path, f"images[{i}]", im, "id", int, "an integer image id")
        _expect_key(path, f"images[{i}]", im, "file_name", str, "a file name")
        check_file_name(im["file_name"], f"{path}: at images[{i}].file_name")
        if "scene" in im or "scene" in doc["images"][0]:
            _expect_scene(path, f"images[{i}]", im)
    for i, a in enumerate(doc["annotations"]):
        _expect(path, f"annotations[{i}]", a, dict, "an annotation object")
        _expect_key(path, f"annotations[{i}]", a, "id", int, "an integer annotation id")
        _expect_key(path, f"annotations[{i}]", a, "image_id", int, "the integer id of an image")
        _expect_key(path, f"annotations[{i}]", a, "caption", (str, type(None)), "a caption string")
    if not doc["images"]:
        raise DatasetFormatError(f"{path}: at images: no images (an empty list): a damaged or unfinished file?")
    images = sorted(doc["images"], key=lambda im: im["id"])
    for group, key in (("images", "id"), ("images", "file_name"), ("annotations", "id")):  # each once: a file
        first: dict = {}  # listed under two ids would be its own wrong answer in search, a caption counted twice
        if (twice := next((x for x in doc[group] if first.setdefault(x[key], x) is not x), None)) is not None:
            i, j = first[twice[key]]["id"], twice["id"]
            raise DatasetFormatError(f"{path}: at {group}: two share the {key} {twice[key]!r} (ids {i} and {j})")
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
    if not captions:
        raise DatasetFormatError(f"{path} has no captions: its {len(doc['annotations']):,} are empty or without a word")
    image_dir = Path(image_dir) if image_dir else Path(path).parent
    scenes = None
    if "scene" in images[0]:  # checked above: every image has one
        from .scenes import scene_from_json

        scenes = [scene_from_json(im["scene"]) for im in images]
    return CaptionData(
        image_dir,
        [im["file_name"] for im in images],
        captions,
        np.array(owner, np.int64),
        meanings if any(m is not None for m in meanings) else None,
        scenes,
        lang,
        Path(path).stem,
        dropped=dropped,
    )


# ------------------------------------------------------------------------------------------ Flickr8k
FLICKR8K_TOKENS = "Flickr8k.token.txt"
FLICKR8K_SPLITS = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "dev": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}
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
    per image is accepted (a few real images have 6). A line that is not `name#k<TAB>caption`, or whose name
    is not a file inside the dataset's folder (`check_file_name`), is a DatasetFormatError (file and line).
    Captions without a word are left out; `dropped`, if given, counts them per image ({image: count}).
    Groups whose name is not an image file name (`.jpg.1`) are left out and counted in `oddities`.
    """
    out = {}
    for lineno, ln in text_lines(path):
        key, sep, caption = ln.partition("\t")
        if not sep:  # some copies have a space instead of the tab
            key, sep, caption = ln.partition(" ")
        name, hash_, k = key.strip().rpartition("#")
        if not hash_ or not name or not (k.strip().isascii() and k.strip().isdigit()):  # not '²', not '٥'
            raise DatasetFormatError(f"{path}:{lineno}: expected 'image.jpg#k<TAB>caption', got {ln[:80]!r}")
        if _no_image_name(check_file_name(name, f"{path}:{lineno}"), oddities):
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
    (`dropped` counts them per image, as in `read_flickr8k_tokens`). Another header (a third column too), a row
    without an image name or whose name leaves the folder, or a field too long for the csv module (131,072
    characters) raises `DatasetFormatError` (file and line).
    """
    import csv
    import io

    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    if header != ["image", "caption"]:  # a third column would be glued onto every caption
        raise DatasetFormatError(f"{path}:1: expected the header 'image,caption', got {','.join(header)[:80]!r}")
    out = {}
    try:
        for row in (r for r in reader if any(f.strip() for f in r)):
            name = row[0].strip()
            if _no_image_name(check_file_name(name, f"{path}:{reader.line_num}"), oddities):
                continue
            caption = clean_caption(",".join(row[1:])) if len(row) > 1 else ""
            out.setdefault(name, []).extend([caption] if has_words(caption) else [])
            if not has_words(caption) and dropped is not None:
                dropped[name] = dropped.get(name, 0) + 1
    except csv.Error as e:  # a field over the csv module's limit of 131,072 characters
        raise DatasetFormatError(f"{path}:{reader.line_num}: {e}: a damaged file?") from None
    if not any(out.values()):
        raise DatasetFormatError(f"{path} has no captions")
    return out


def read_split_lists(lists: dict, shared: dict | None = None) -> dict:
    """{split: image names} of the split files `lists` ({split: path}; `read_image_list`). DatasetFormatError for
    a missing or malformed file, or a 'train' image also in another list (train/test leakage: names both files and
    the image); an image in two other lists (val and test) is counted in `shared` ({image: (file, file)})."""
    groups, first = {s: read_image_list(p) for s, p in lists.items()}, {}
    for split, names in groups.items():
        for name in names:
            if first.setdefault(name, split) != split and "train" in (split, first[name]):
                raise DatasetFormatError(
                    f"{lists[first[name]]} and {lists[split]} both list {name}: a training image in another split "
                    "(train/test leakage); keep it in one"
                )
            if first[name] != split and shared is not None:
                shared[name] = (lists[first[name]], lists[split])
    return groups


def read_flickr8k(text_dir: Path, image_dir: Path | None = None, split: str = "train") -> CaptionData:
    """Flickr8k as distributed: the text folder (`Flickr8k.token.txt`, `Flickr_8k.*Images.txt`) -> CaptionData.

    `split`: 'train' (6,000 images), 'val' or 'dev' (1,000), 'test' (1,000), or 'all' (the three splits).
    `image_dir` defaults to the text folder. Raises ValueError for another split, DatasetFormatError for a missing
    or malformed file, an image of the split without captions, a train image in another split (`read_split_lists`).
    """
    text_dir = Path(text_dir)
    dropped = {}
    tokens = read_flickr8k_tokens(text_dir / FLICKR8K_TOKENS, dropped)
    if split not in (*FLICKR8K_SPLITS, "all"):
        raise ValueError(f"unknown Flickr8k split {split!r}; choose 'train', 'val' (or 'dev'), 'test' or 'all'")
    needed = ("train", "val", "test") if split == "all" else ({"dev": "val"}.get(split, split),)
    lists = {s: text_dir / FLICKR8K_SPLITS[s] for s in ("train", "val", "test")}
    groups = read_split_lists({s: p for s, p in lists.items() if s in needed or p.is_file()})
    names = list(dict.fromkeys(n for s in needed for n in groups[s]))
    captions, owner = [], []
    for i, name in enumerate(names):
        if name not in tokens:
            raise DatasetFormatError(
                f"{FLICKR8K_SPLITS.get(split, 'a split file')} lists {name}, which has no caption in {FLICKR8K_TOKENS}"
            )
        captions += tokens[name]
        owner += [i] * len(tokens[name])
    return CaptionData(
        Path(image_dir) if image_dir else text_dir,
        names,
        captions,
        np.array(owner, np.int64),
        lang="en",
        name=f"flickr8k/{split}",
        dropped=[dropped.get(n, 0) for n in names],
    )


# ------------------------------------------------------------------------- seed 000's COCO-2014-Spanish
SEED000_DIM = 2048


def seed000_files(folder: Path, phase: str) -> dict:
    """The three files of a phase: `<folder>/<phase>/<phase>_*` (the seed's layout) or `<folder>/<phase>_*`."""
    folder = Path(folder)
    kinds = {"names": "images_names.txt", "vectors": "images_vectors.bin", "captions": "captions.txt"}
    layouts = [{k: base / f"{phase}_{suffix}" for k, suffix in kinds.items()} for base in (folder / phase, folder)]
    return next((files for files in layouts if any(p.exists() for p in files.values())), layouts[0])  # [0]: missing


def read_seed000_vectors(path: Path, n: int, dim: int = SEED000_DIM) -> np.ndarray:
    """`<phase>_images_vectors.bin`: raw float32, `n` x `dim`, no header -> (n, dim) float32. Size checked against `n`.
    DatasetFormatError: missing, empty, not whole rows, another number of rows than `n`, NaN or infinite values."""
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    size = path.stat().st_size
    if size == 0:
        raise DatasetFormatError(f"{path} is empty")
    row = dim * 4
    if size % row:
        raise DatasetFormatError(
            f"{path} has {size:,} bytes, not a whole number of {dim}-float32 rows ({row:,} bytes each): truncated?"
        )
    if size // row != n:
        raise DatasetFormatError(
            f"{path} holds {size // row:,} vectors of {dim} floats but the names file lists {n:,} images"
        )
    vectors = np.fromfile(path, dtype="<f4").reshape(n, dim)
    if not np.isfinite(vectors).all():
        raise DatasetFormatError(f"{path} contains NaN or infinite values: damaged file?")
    return vectors


def read_seed000(folder: Path, phase: str, dim: int = SEED000_DIM) -> tuple:
    """Seed 000's three files of one phase -> (CaptionData in Spanish, float32 vectors N x dim).

    `<phase>_images_names.txt`: one image name a line (the order of the vectors);
    `<phase>_images_vectors.bin`: raw float32 N x dim; `<phase>_captions.txt`: 'image name<TAB>caption'.
    Every caption must name an image of the names file; else, or for a missing file, DatasetFormatError.
    Empty or wordless captions ('a.jpg<TAB>', 'a.jpg<TAB>.') are dropped and counted in `dropped`.
    """
    files = seed000_files(folder, phase)
    for kind in ("names", "captions", "vectors"):
        if not files[kind].is_file():
            raise DatasetFormatError(
                f"{files[kind]} is missing (seed 000's layout: <folder>/{phase}/"
                f"{phase}_images_names.txt, _images_vectors.bin, _captions.txt)"
            )
    names = read_image_list(files["names"])
    vectors = read_seed000_vectors(files["vectors"], len(names), dim)
    index = {n: i for i, n in enumerate(names)}
    captions, owner = [], []
    dropped = np.zeros(len(names), np.int64)
    for lineno, ln in text_lines(files["captions"]):
        name, sep, caption = (ln, "\t", "") if ln in index else ln.partition("\t")  # 'a.jpg<TAB>': empty caption
        if not sep:
            raise DatasetFormatError(
                f"{files['captions']}:{lineno}: expected 'image name<TAB>caption', got {ln[:80]!r}"
            )
        name = name.strip()
        if name not in index:
            raise DatasetFormatError(
                f"{files['captions']}:{lineno}: caption of {name!r}, which is not in {files['names'].name}"
            )
        caption = clean_caption(caption)
        if has_words(caption):
            captions.append(caption)
            owner.append(index[name])
        else:
            dropped[index[name]] += 1
    if not captions:
        raise DatasetFormatError(f"{files['captions']} has no captions")
    data = CaptionData(
        files["names"].parent,
        names,
        captions,
        np.array(owner, np.int64),
        lang="es",
        name=f"coco-spanish/{phase}",
        dropped=dropped,
    )
    return data, vectors


# -------------------------------------------------------------------------------- Karpathy split JSON
def read_karpathy_captions(path: Path, split: str, image_dir: Path | None = None, check_only: bool = False):
    """Karpathy's `dataset_coco.json` / `dataset_flickr8k.json` -> CaptionData of one split.

    'train' includes 'restval' (the usual 113,287 COCO training images); 'val', 'test', 'restval' as in
    the file. File names are `<filepath>/<filename>` (e.g. 'val2014/COCO_val2014_000000391895.jpg').
    `check_only`: validate the file, return None. DatasetFormatError (file, JSON path): malformed (e.g. a file
    name that is empty, absolute, with '..' or a folder), an image listed twice (in one or two splits), or an
    empty split.
    """
    doc = _read_json_object(path, ("images",), "a Karpathy split file (dataset_coco.json)")
    _expect(path, "images", doc["images"], list, "a list of images")
    first: dict = {}  # file name -> the index of its first record
    for i, im in enumerate(doc["images"]):
        _expect(path, f"images[{i}]", im, dict, "an image object")
        name = _expect_key(path, f"images[{i}]", im, "filename", str, "a file name")
        check_file_name(name, f"{path}: at images[{i}].filename")
        _expect_key(path, f"images[{i}]", im, "split", str, "a split name")
        if im.get("filepath") is not None:
            folder = _expect(path, f"images[{i}].filepath", im["filepath"], str, "a folder name")
            check_file_name("/".join(p for p in (folder, name) if p), f"{path}: at images[{i}].filepath")
        if (j := first.setdefault("/".join(p for p in (im.get("filepath"), name) if p), i)) != i:
            raise DatasetFormatError(f"{path}: at images[{i}]: {name!r} is also images[{j}]: list each image once")
        for j, sent in enumerate(_expect_key(path, f"images[{i}]", im, "sentences", list, "a list of sentences")):
            at = f"images[{i}].sentences[{j}]"
            if "raw" not in _expect(path, at, sent, dict, "a sentence object") and "tokens" not in sent:
                raise DatasetFormatError(f"{path}: at {at}: no 'raw' or 'tokens' key")
            _expect(path, f"{at}.raw", sent.get("raw"), (str, type(None)), "a caption string")
            tokens = _expect(path, f"{at}.tokens", sent.get("tokens"), (list, type(None)), "a list of tokens")
            for k, t in enumerate(tokens or []):
                _expect(path, f"{at}.tokens[{k}]", t, str, "a token string")
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
    return CaptionData(
        Path(image_dir) if image_dir else Path(path).parent,
        files,
        captions,
        np.array(owner, np.int64),
        lang="en",
        name=f"karpathy-{doc.get('dataset', 'coco')}/{split}",
        dropped=dropped,
    )
