"""Reader and writer of the Tiny ImageNet tree (`wnids.txt`, `words.txt`, `train/<wnid>/<wnid>_boxes.txt`,
`val/val_annotations.txt`), the class dataset's format (the embedded dataset is written in it too)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .formats_core import ClassData, DatasetFormatError, bad_file_name, check_file_name, text_lines, write_text_atomic

MAX_PIXEL = 65535  # no JPEG is wider or taller (Tiny ImageNet's boxes lie in 0..63, the embedded ones in 0..127)


def write_tiny_imagenet_index(root: Path, classes: list, words: dict, train: dict, val: list) -> None:
    """Write the Tiny ImageNet text files. `train[wnid]` is a list of (file name, box); `val` of (file, wnid, box).

    A box is (x0, y0, x1, y1) in pixels; `words[wnid]` the class's names. Every file is written atomically."""
    root = Path(root)
    write_text_atomic(root / "wnids.txt", "".join(f"{c}\n" for c in classes))
    write_text_atomic(root / "words.txt", "".join(f"{c}\t{', '.join(words[c])}\n" for c in classes))
    for wnid, items in train.items():
        write_text_atomic(
            root / "train" / wnid / f"{wnid}_boxes.txt",
            "".join(f"{f}\t{b[0]}\t{b[1]}\t{b[2]}\t{b[3]}\n" for f, b in items),
        )
    write_text_atomic(
        root / "val" / "val_annotations.txt", "".join(f"{f}\t{w}\t{b[0]}\t{b[1]}\t{b[2]}\t{b[3]}\n" for f, w, b in val)
    )


def read_tiny_imagenet(root: Path, split: str = "train") -> ClassData:
    """Read the Tiny ImageNet tree at `root` (the folder that holds `wnids.txt`); split 'train' or 'val'.

    Returns ClassData: files `train/<wnid>/images/<file>` or `val/images/<file>`, `labels` (N,) int64 into
    `classes`, `boxes` (N, 4) int64 (x0, y0, x1, y1 in pixels). A class without `train/<wnid>/<wnid>_boxes.txt`
    has no training images (held out). `words.txt` lines are 'wnid<TAB or spaces>name, name'; a class without
    names there has no `words` entry. Raises ValueError for another split, DatasetFormatError (file and line)
    for no wnids.txt, a wnid listed twice or that is not a folder name, a line without its tab-separated
    fields, an image name that leaves the folder, a box that is not 4 integers 0 <= x0 <= x1, 0 <= y0 <= y1
    <= MAX_PIXEL (ASCII digits), a val class not in wnids.txt, an image listed twice, a boxes file that is a folder.
    """
    root = Path(root)
    wnids = root / "wnids.txt"
    if not wnids.is_file():
        raise DatasetFormatError(f"{root} has no wnids.txt: point at the tiny-imagenet-200 folder")
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', not {split!r}")
    index, lines = {}, {}
    for lineno, c in text_lines(wnids):
        if c in index:
            raise DatasetFormatError(f"{wnids}:{lineno}: {c!r} is listed twice (also line {lines[c]}): list it once")
        if bad_file_name(c) or "/" in c or "\\" in c:
            raise DatasetFormatError(f"{wnids}:{lineno}: expected a WordNet id (a folder of train/), got {c!r:.80}")
        index[c], lines[c] = len(index), lineno
    classes, words = list(index), {}
    if (root / "words.txt").is_file():
        for _, ln in text_lines(root / "words.txt"):
            wnid, _, names = ln.partition("\t") if "\t" in ln else ln.partition(" ")  # a space for the tab, too
            names = [w.strip() for w in names.split(",") if w.strip()]
            if wnid.strip() in index and names:
                words[wnid.strip()] = names
    files, labels, boxes, seen = [], [], [], {}  # seen: {file: where it was first listed}
    if split == "train":
        for c in classes:
            box_file = root / "train" / c / f"{c}_boxes.txt"
            if not box_file.exists() and not box_file.is_symlink():
                continue  # a class without training images (held out)
            if not box_file.is_file():  # a folder, a dangling link: not a held-out class
                raise DatasetFormatError(f"{box_file} is not a readable file: put the class's boxes file back")
            for lineno, ln in text_lines(box_file):
                name, box = _tiny_fields(box_file, lineno, ln, 5, "file<TAB>x0<TAB>y0<TAB>x1<TAB>y1")
                files.append(_once(f"train/{c}/images/{name[0]}", seen, f"{box_file}:{lineno}"))
                labels.append(index[c])
                boxes.append(box)
    else:
        ann = root / "val" / "val_annotations.txt"
        for lineno, ln in text_lines(ann):
            (name, wnid), box = _tiny_fields(ann, lineno, ln, 6, "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1")
            if wnid not in index:
                raise DatasetFormatError(f"{ann}:{lineno}: names class {wnid!r}, which is not in wnids.txt")
            files.append(_once(f"val/images/{name}", seen, f"{ann}:{lineno}"))
            labels.append(index[wnid])
            boxes.append(box)
    return ClassData(
        root,
        classes,
        words,
        files,
        np.array(labels, np.int64),
        np.array(boxes, np.int64).reshape(-1, 4),
        f"tiny-imagenet/{split}",
    )


def _once(file: str, seen: dict, where: str) -> str:
    """`file`, recorded in `seen`; DatasetFormatError if it was listed before (it would count, and weigh, twice)."""
    if seen.setdefault(file, where) != where:
        raise DatasetFormatError(f"{where}: {file} is listed twice (also {seen[file]}): list each image once")
    return file


def _tiny_fields(path: Path, lineno: int, line: str, n: int, expected: str) -> tuple:
    """Split a Tiny ImageNet line into its `n - 4` names and 4 integer box coordinates (a box inside the image), or
    raise DatasetFormatError naming the file, the line and what was expected (e.g. spaces instead of tabs)."""
    parts = line.split("\t")
    if len(parts) != n:
        hint = " (spaces instead of tabs?)" if len(parts) == 1 and len(line.split()) == n else ""
        raise DatasetFormatError(
            f"{path}:{lineno}: expected {n} tab-separated fields ({expected}), got {len(parts)}{hint}: {line[:60]!r}"
        )
    check_file_name(parts[0], f"{path}:{lineno}")
    if not all(re.fullmatch(r"-?[0-9]+", v) for v in parts[n - 4 :]):  # 12.5, inf, '4_4', '١', ' 3 ': damaged
        raise DatasetFormatError(f"{path}:{lineno}: expected 4 integer box coordinates, got {parts[n - 4 :]!r:.80}")
    box = [int(v) for v in parts[n - 4 :]]  # whole pixels in the real files
    if not (0 <= box[0] <= box[2] <= MAX_PIXEL and 0 <= box[1] <= box[3] <= MAX_PIXEL):
        raise DatasetFormatError(
            f"{path}:{lineno}: expected a box x0<TAB>y0<TAB>x1<TAB>y1 with 0 <= x0 <= x1, 0 <= y0 <= y1 "
            f"(pixels, at most {MAX_PIXEL}), got {' '.join(parts[n - 4 :])[:80]}"
        )
    return parts[: n - 4], box
