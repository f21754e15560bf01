"""Word-vector text files as they really are: one parser for `inspect`, the loaders and every chapter.

Two formats: word2vec/fastText text (a first line 'count dim', then 'word v1 ... vdim') and GloVe text
(no header). The word of a row is everything before its last `dim` fields, so GloVe 840B's words with
spaces ('. . .', 'new york') and words holding a non-breaking or other Unicode space survive; only the
ASCII space separates fields. Headerless files get `dim` from the first 100 rows (the most common number of
trailing numeric fields, the smaller on a tie: a numeric word adds one, a word with spaces adds none).
`.gz` / `.bz2` / `.xz` files are read through their decompressor.

Reported as `DatasetFormatError` with the file and the line: a row with too few fields, a value that is
not a number or not finite (NaN, inf), a header that disagrees with the rows, a truncated or damaged
compressed file. Undecodable bytes in a word are read with U+FFFD and one `DatasetWarning` (file, first
line, count). Used by `helpers.realdata.load_vectors` (and so `helpers.realdata.load_word_vectors`, chapter
02's word vectors) and by `python -m helpers inspect word2vec|glove PATH`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import unicodedata
import warnings
import zlib
from pathlib import Path

import numpy as np

from ._checks import positive_int
from .formats import DatasetFormatError, DatasetWarning

_DAMAGED = (EOFError, OSError, zlib.error, lzma.LZMAError)


_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def open_binary(path: Path):
    """The file opened for reading bytes, through gzip / bz2 / xz when its first bytes (else its suffix) say so.

    Raises DatasetFormatError for a zip archive (it holds files, not one stream: unzip it first).
    """
    path = Path(path)
    with open(path, "rb") as f:
        start = f.read(6)
    if start.startswith(b"PK\x03\x04"):
        raise DatasetFormatError(f"{path} is a zip archive: unzip it and give the word-vector file inside")
    opener = next((o for m, o in _MAGIC.items() if start.startswith(m)), None)
    return (opener or {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open))(path, "rb")


def _is_number(field: bytes) -> bool:
    """A decimal number as NumPy's parser reads it (Python's `float` also takes `1_0`, NumPy does not)."""
    try:
        float(field)
        return b"_" not in field
    except ValueError:
        return False


def vectors_header(path: Path):
    """(count, dim) from a word2vec/fastText first line 'count dim', or None for GloVe text (no header).

    Raises DatasetFormatError for a missing, empty or damaged file, UTF-16 text or lines that end in CR only.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    if path.stat().st_size == 0:
        raise DatasetFormatError(f"{path} is empty")
    try:
        with open_binary(path) as f:
            first = f.readline(1 << 20)  # a first line of a megabyte is no word vector's
    except _DAMAGED as e:
        raise DatasetFormatError(f"{path}:1: the compressed file is damaged or truncated ({e})") from None
    first = first.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark some editors add
    if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first[:4]:
        raise DatasetFormatError(f"{path}: UTF-16 text; save it as UTF-8 (iconv -f UTF-16 -t UTF-8) and read that")
    if b"\r" in first.rstrip(b"\r\n"):
        raise DatasetFormatError(f"{path}:1: lines end in a carriage return only; convert them (tr '\\r' '\\n')")
    parts = first.split()  # 'count dim', separated by a space (or a tab, which gensim accepts too)
    if not first.strip():
        raise DatasetFormatError(f"{path}:1: a blank first line: not a word-vector file")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _split(raw: bytes) -> list:
    return raw.rstrip(b"\r\n").rstrip(b" ").split(b" ")


def _lines(path: Path, skip_header: bool):
    """(line number, raw line) of every non-blank row; a damaged compressed stream raises with the line."""
    lineno = 0
    try:
        with open_binary(path) as f:
            for raw in f:
                lineno += 1
                if lineno == 1:
                    raw = raw.removeprefix(b"\xef\xbb\xbf")
                if (skip_header and lineno == 1) or not raw.strip(b" \r\n"):
                    continue
                yield lineno, raw
    except _DAMAGED as e:
        raise DatasetFormatError(
            f"{path}:{lineno + 1}: the compressed file is damaged or truncated ({type(e).__name__}: {e})"
        ) from None


def _glove_dim(path: Path) -> int:
    """The dimension of a headerless file: the most common number of trailing numeric fields over its first
    100 rows (a numeric word adds one, a word with spaces none; a damaged short row cannot set it), the smaller
    on a tie."""
    counts = []
    for lineno, raw in _lines(path, False):
        fields = _split(raw)
        n = 0
        while n < len(fields) - 1 and _is_number(fields[-1 - n]):
            n += 1
        if n == 0:
            raise DatasetFormatError(f"{path}:{lineno}: a row without numbers: not a word-vector file")
        counts.append(n)
        if len(counts) == 100:
            break
    if not counts:
        raise DatasetFormatError(f"{path} has no vectors")
    from collections import Counter

    ranked = Counter(counts).most_common()
    return min(n for n, c in ranked if c == ranked[0][1])


class _Rows:
    """Parse rows into (words, float32 values) in blocks; errors name the file and the line."""

    def __init__(self, path: Path, dim: int, spaces_in_words: bool):
        self.path, self.dim, self.spaces = path, dim, spaces_in_words
        self.bad_bytes, self.first_bad = 0, None

    def word(self, lineno: int, raw_word: bytes, n_fields: int) -> str:
        if not raw_word:
            raise DatasetFormatError(
                f"{self.path}:{lineno}: expected a word and {self.dim} numbers, got "
                f"{n_fields} field(s) (truncated row?)"
            )
        if not self.spaces and b" " in raw_word:
            raise DatasetFormatError(
                f"{self.path}:{lineno}: expected a word and {self.dim} numbers, got "
                f"{n_fields} fields (a header that disagrees with the rows?)"
            )
        try:
            word = raw_word.decode("utf-8")
        except UnicodeDecodeError:
            self.bad_bytes += 1
            self.first_bad = self.first_bad or lineno
            word = raw_word.decode("utf-8", errors="replace")
        return unicodedata.normalize("NFC", word)  # as queries are (helpers.text): 'niño' typed either way

    def block(self, rows: list) -> tuple:
        """rows: [(line number, raw line)] -> (words, (n, dim) float32)."""
        words, values = [], []
        for lineno, raw in rows:
            parts = raw.rstrip(b"\r\n").rstrip(b" ").rsplit(b" ", self.dim)
            if len(parts) < self.dim + 1:
                raise DatasetFormatError(
                    f"{self.path}:{lineno}: expected a word and {self.dim} numbers, got "
                    f"{len(parts)} field(s) (truncated row?)"
                )
            words.append(self.word(lineno, parts[0], len(parts)))
            values.append(b" ".join(parts[1:]))
        with warnings.catch_warnings():  # a field that is not a number: found and reported just below
            warnings.simplefilter("ignore", DeprecationWarning)
            flat = np.fromstring(b" ".join(values), dtype=np.float32, sep=" ") if values else np.zeros(0, np.float32)
        if flat.size != len(rows) * self.dim:  # some field is not a number: find its row
            for lineno, raw in rows:
                for field in raw.rstrip(b"\r\n").rstrip(b" ").rsplit(b" ", self.dim)[1:]:
                    if not _is_number(field):
                        raise DatasetFormatError(f"{self.path}:{lineno}: {field[:20]!r} is not a number")
            raise DatasetFormatError(f"{self.path}: a row does not parse as {self.dim} numbers")
        matrix = flat.reshape(len(rows), self.dim)
        finite = np.isfinite(matrix).all(1)
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise DatasetFormatError(
                f"{self.path}:{rows[i][0]}: the vector of {words[i]!r} has a value that is "
                f"not a finite number (NaN or inf): a damaged file?"
            )
        return words, matrix

    def warn(self) -> None:
        if self.bad_bytes:
            warnings.warn(
                f"{self.path}:{self.first_bad}: {self.bad_bytes} word(s) with bytes that are not UTF-8, "
                f"read with the replacement character U+FFFD",
                DatasetWarning,
                stacklevel=3,
            )


def _setup(path: Path, fmt: str) -> tuple:
    path = Path(path)
    if fmt not in ("auto", "word2vec", "glove"):
        raise ValueError(f"unknown vector format {fmt!r}; use 'word2vec', 'glove' or 'auto'")
    header = vectors_header(path)
    if fmt == "word2vec" and header is None:
        raise DatasetFormatError(f"{path} has no 'count dim' header line: is it GloVe text? (format 'glove')")
    if fmt == "glove" and header is not None:
        raise DatasetFormatError(
            f"{path} starts with a 'count dim' header {header}: it is word2vec/fastText text (format 'word2vec')"
        )
    dim = header[1] if header else _glove_dim(path)
    if dim < 1:
        raise DatasetFormatError(f"{path}:1: the header gives {dim} numbers per row")
    # word2vec/fastText words never hold an ASCII space (they were split on it); GloVe 840B's do
    return path, header, dim, _Rows(path, dim, spaces_in_words=header is None)


def _first_of_each(path: Path, words: list, matrix: np.ndarray, dropped: int = 0) -> tuple:
    """(words, matrix) with the first row of each word only; one DatasetWarning counts the duplicates left out
    (`dropped`: those the reader already left out), as gensim does."""
    if len(set(words)) == len(words) and not dropped:
        return words, matrix
    seen: dict = {}
    keep = [seen.setdefault(w, i) for i, w in enumerate(words) if w not in seen]
    n = dropped + len(words) - len(keep)
    warnings.warn(f"{path}: {n} duplicate word(s) ignored (the first one is kept)", DatasetWarning, stacklevel=3)
    return [words[i] for i in keep], matrix[keep]


def read_binary_vectors(path: Path, limit: int | None = None) -> tuple:
    """word2vec's binary `.bin` format, through gensim's reader -> (words, (n, dim) float32, info).

    Damaged, truncated or non-binary files raise DatasetFormatError (gensim's own errors are not shown raw);
    NaN or infinite values too. Words are NFC-normalized as in text files. TypeError / ValueError for a `limit`
    that is not None or an int >= 1.
    """
    from gensim.models import KeyedVectors

    limit = None if limit is None else positive_int(limit, "limit")
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path} is missing")
    with open(path, "rb") as f:
        f.readline()  # the 'count dim' header is text in the binary format too
        body = f.read(4096)
    if body and all(32 <= b < 127 or b in b"\t\r\n" for b in body):
        raise DatasetFormatError(
            f"{path}: a text vector file named .bin (its vectors are written as text): "
            f"rename it .vec (word2vec text) or .txt (GloVe)"
        )
    try:
        kv = KeyedVectors.load_word2vec_format(str(path), binary=True, limit=limit)
    except (EOFError, ValueError, UnicodeDecodeError, OSError, IndexError, OverflowError, MemoryError) as e:
        raise DatasetFormatError(
            f"{path}: not a readable word2vec binary file ({type(e).__name__}: {str(e)[:80]})"
        ) from None
    filled = [i for i, w in enumerate(kv.index_to_key) if w is not None]  # gensim leaves a repeated word's row empty
    if not filled:
        raise DatasetFormatError(f"{path} has no vectors")
    words = [unicodedata.normalize("NFC", kv.index_to_key[i]) for i in filled]
    n_rows = len(kv.index_to_key)  # index only when rows are missing: a fancy index copies the whole matrix
    matrix = np.asarray(kv.vectors if len(filled) == n_rows else kv.vectors[filled], np.float32)
    words, matrix = _first_of_each(path, words, matrix, n_rows - len(filled))
    if not np.isfinite(matrix).all():
        i = int(np.flatnonzero(~np.isfinite(matrix).all(1))[0])
        raise DatasetFormatError(
            f"{path}: the vector of {words[i]!r} (row {i + 1}) has a value that is not a finite number (NaN or inf)"
        )
    return (
        words,
        matrix,
        {
            "format": "word2vec-binary",
            "vectors": len(words),
            "dimension": int(matrix.shape[1]),
            "header": [len(words), int(matrix.shape[1])],
        },
    )


def read_text_vectors(path: Path, limit: int | None = None, fmt: str = "auto", chunk: int = 20_000) -> tuple:
    """A word2vec/fastText `.vec` (header) or GloVe (no header) text file -> (words, (n, dim) float32, info).

    Keeps the first `limit` rows. Checked: every row has a word and `dim` finite numbers (a truncated last
    row fails), the header's count agrees with the rows (counted to the end even with `limit`), words are
    unique (later duplicates are dropped with a warning, as gensim does). info: {'format', 'vectors',
    'dimension', 'header'}. A `.bin` file is read by `read_binary_vectors`. Raises DatasetFormatError naming
    the file and the line, ValueError for an unknown `fmt`, TypeError / ValueError for a `limit` that is not
    None or an int >= 1.
    """
    limit = None if limit is None else positive_int(limit, "limit")
    if Path(path).suffix == ".bin":
        return read_binary_vectors(path, limit)
    path, header, dim, rows = _setup(path, fmt)
    words, blocks, pending, n_rows = [], [], [], 0
    for lineno, raw in _lines(path, header is not None):
        n_rows += 1
        if limit is not None and n_rows > limit:
            if header is None:
                break
            continue  # count the rest against the header
        pending.append((lineno, raw))
        if len(pending) == chunk:
            w, m = rows.block(pending)
            words += w
            blocks.append(m)
            pending = []
    if pending:
        w, m = rows.block(pending)
        words += w
        blocks.append(m)
    rows.warn()
    if not words:
        raise DatasetFormatError(f"{path} has no vectors")
    if header and header[0] != n_rows:
        raise DatasetFormatError(
            f"{path}: the header says {header[0]:,} vectors of {header[1]} numbers but the "
            f"file has {n_rows:,} rows (truncated, or a header that disagrees with the rows)"
        )
    matrix = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    words, matrix = _first_of_each(path, words, matrix)
    return (
        words,
        matrix,
        {
            "format": "word2vec" if header else "glove",
            "vectors": len(words),
            "dimension": dim,
            "header": list(header) if header else None,
        },
    )


def scan_vectors(path: Path, fmt: str = "auto", full: bool = True) -> dict:
    """Check a word-vector text file with the loader's own parser and count it (`inspect`).

    Returns {'format', 'vectors', 'dimension', 'header'}, exactly what `read_text_vectors` would load.
    With `full=False` only the first 1,000 rows are parsed and the rest counted (fast); the header's count
    is still checked. Raises DatasetFormatError naming the file and the line.
    """
    if full or Path(path).suffix == ".bin":
        _, _, info = read_text_vectors(path, fmt=fmt)
        return info
    path, header, dim, rows = _setup(path, fmt)
    sample, n_rows = [], 0
    for lineno, raw in _lines(path, header is not None):
        n_rows += 1
        if len(sample) < 1000:
            sample.append((lineno, raw))
    if not sample:
        raise DatasetFormatError(f"{path} has no vectors")
    rows.block(sample)
    if header and header[0] != n_rows:
        raise DatasetFormatError(
            f"{path}: the header says {header[0]:,} vectors of {header[1]} numbers but the "
            f"file has {n_rows:,} rows (truncated, or a header that disagrees with the rows)"
        )
    return {
        "format": "word2vec" if header else "glove",
        "vectors": n_rows,
        "dimension": dim,
        "header": list(header) if header else None,
    }


__all__ = ["read_text_vectors", "read_binary_vectors", "scan_vectors", "vectors_header", "open_binary"]
