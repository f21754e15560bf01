"""Tests for the committed emoji atlas (helpers/assets/atlas.{png,json}) and its table scripts/emoji_vocab.tsv.

They need neither the emoji font nor a rebuild: they read the committed files. `scripts/build_atlas.py --check`
(which needs fonts-noto-color-emoji) is what proves the PNG is a fresh render of the table.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import math
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ATLAS_JSON = ROOT / "helpers" / "assets" / "atlas.json"
ATLAS_PNG = ROOT / "helpers" / "assets" / "atlas.png"
VOCAB = ROOT / "scripts" / "emoji_vocab.tsv"

COLUMNS_TSV = ["char", "id", "en", "en_plural", "es", "es_plural", "es_gender", "syn_en", "syn_es", "category"]
CATEGORIES = {"animal", "food", "plant", "vehicle", "object", "sport", "music", "clothing", "nature"}
SPRITE_KEYS = {
    "id",
    "char",
    "codepoints",
    "unicode_name",
    "emoji_en",
    "emoji_es",
    "en",
    "en_plural",
    "es",
    "es_plural",
    "es_gender",
    "syn_en",
    "syn_es",
    "category",
    "row",
    "col",
    "w",
    "h",
}

# Words the caption grammar (helpers/scenes.py) uses around the nouns: a noun form equal to one of them would
# be misread by parse_caption (background colours, sizes, numbers, relations, frames).
RESERVED_EN = {
    "white",
    "gray",
    "grey",
    "blue",
    "green",
    "yellow",
    "pink",
    "orange",
    "purple",
    "brown",
    "black",
    "big",
    "large",
    "huge",
    "small",
    "little",
    "tiny",
    "one",
    "two",
    "three",
    "four",
    "left",
    "right",
    "above",
    "over",
    "below",
    "under",
    "next",
    "beside",
    "picture",
    "image",
    "photo",
    "scene",
    "background",
    "there",
    "is",
    "are",
    "a",
    "an",
    "the",
    "of",
    "on",
    "in",
    "and",
    "to",
}
RESERVED_ES = {
    "blanco",
    "gris",
    "azul",
    "verde",
    "amarillo",
    "rosa",
    "naranja",
    "morado",
    "marrón",
    "negro",
    "grande",
    "grandes",
    "enorme",
    "enormes",
    "pequeño",
    "pequeña",
    "pequeños",
    "pequeñas",
    "diminuto",
    "diminuta",
    "diminutos",
    "diminutas",
    "dos",
    "tres",
    "cuatro",
    "izquierda",
    "derecha",
    "encima",
    "sobre",
    "debajo",
    "bajo",
    "junto",
    "lado",
    "imagen",
    "foto",
    "fondo",
    "hay",
    "muestra",
    "se",
    "ve",
    "ven",
    "que",
    "un",
    "una",
    "el",
    "la",
    "del",
    "al",
    "de",
    "a",
    "y",
}
# Spanish nouns whose gender does not follow the -o/-a ending (checked one by one against the RAE dictionary).
ES_MASC_IN_A = {"planeta", "mapa", "koala", "panda", "gorila", "tranvía", "sofá"}
ES_FEM_IN_O = {"moto", "radio"}
# Feminine nouns that start with a stressed a/ha take 'el'/'un' in the singular ('el águila'); the others do not.
ES_STRESSED_A = {"águila", "hacha", "ancla", "ave"}
ES_UNSTRESSED_A = {"abeja", "ardilla", "araña", "aceituna", "ambulancia", "hamburguesa", "hormiga"}


# --------------------------------------------------------------------------------------------- loading
@lru_cache(maxsize=1)
def meta() -> dict:
    return json.loads(ATLAS_JSON.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def sprites() -> tuple:
    return tuple(meta()["sprites"])


@lru_cache(maxsize=1)
def atlas_rgba() -> np.ndarray:
    with Image.open(ATLAS_PNG) as im:
        assert im.mode == "RGBA", f"the atlas must be RGBA, not {im.mode}"
        return np.asarray(im)


@lru_cache(maxsize=1)
def vocab_rows() -> tuple:
    with open(VOCAB, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == COLUMNS_TSV, f"bad header: {rows[0]}"
    return tuple(dict(zip(COLUMNS_TSV, r)) for r in rows[1:] if any(c.strip() for c in r))


def split_list(cell: str) -> list:
    return [w.strip() for w in cell.split(",") if w.strip()]


@lru_cache(maxsize=1)
def glove_vocabulary() -> frozenset:
    """GloVe 6B's 400k words, read the way scripts/build_atlas.py reads them."""
    spec = importlib.util.spec_from_file_location("build_atlas", ROOT / "scripts" / "build_atlas.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return frozenset(mod.glove_words())


def grammar_constant(name: str):
    """A literal constant of helpers/scenes.py, read from its source (importing helpers pulls in torch: slow).

    A missing file or constant fails the test that asks (a rename must not turn a test into a skip): if the
    grammar moved, point this function at its new home.
    """
    path = ROOT / "helpers" / "scenes.py"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: where did the caption grammar go?"
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(getattr(t, "id", None) == name for t in targets):
                return ast.literal_eval(node.value)
    pytest.fail(f"helpers/scenes.py defines no literal {name}: was it renamed or moved?")


def all_forms(s: dict, lang: str) -> list:
    if lang == "en":
        return [s["en"], s["en_plural"], *s["syn_en"]]
    return [s["es"], s["es_plural"], *(w.partition(":")[0] for w in s["syn_es"])]


# ---------------------------------------------------------------------------------------- JSON and PNG
def test_header():
    m = meta()
    assert m["version"] == 1
    assert m["cell"] == 64
    assert m["columns"] >= 1
    assert "Noto Color Emoji" in m["source"] and "Apache-2.0" in m["source"] and "OFL-1.1" in m["source"]
    assert 260 <= len(sprites()) <= 320


def test_sprite_records_complete():
    for s in sprites():
        assert set(s) == SPRITE_KEYS, s["id"]
        assert isinstance(s["syn_en"], list) and isinstance(s["syn_es"], list), s["id"]
        assert len(s["syn_en"]) <= 2 and len(s["syn_es"]) <= 2, s["id"]


def test_png_size_matches_json():
    m, rgba = meta(), atlas_rgba()
    cell, cols, n = m["cell"], m["columns"], len(sprites())
    assert rgba.shape == (math.ceil(n / cols) * cell, cols * cell, 4)
    assert ATLAS_PNG.stat().st_size < 2_000_000


def test_layout_is_table_order():
    cols = meta()["columns"]
    for k, s in enumerate(sprites()):
        assert (s["row"], s["col"]) == divmod(k, cols), s["id"]


def test_every_sprite_fills_its_cell():
    """Each cell holds a non-empty sprite of the recorded size, centred, and touching two opposite edges."""
    m, rgba = meta(), atlas_rgba()
    c = m["cell"]
    for s in sprites():
        alpha = rgba[s["row"] * c : (s["row"] + 1) * c, s["col"] * c : (s["col"] + 1) * c, 3]
        ys, xs = np.nonzero(alpha)
        assert len(ys) > 0.15 * c * c, f"{s['id']}: sprite nearly empty"
        assert 1 <= s["w"] <= c and 1 <= s["h"] <= c and max(s["w"], s["h"]) == c, s["id"]
        x0, y0 = (c - s["w"]) // 2, (c - s["h"]) // 2
        assert xs.min() >= x0 and xs.max() < x0 + s["w"], f"{s['id']}: sprite wider than recorded"
        assert ys.min() >= y0 and ys.max() < y0 + s["h"], f"{s['id']}: sprite taller than recorded"
        assert xs.max() - xs.min() + 1 >= s["w"] - 2 and ys.max() - ys.min() + 1 >= s["h"] - 2, (
            f"{s['id']}: sprite smaller than recorded"
        )
        rgb = rgba[s["row"] * c : (s["row"] + 1) * c, s["col"] * c : (s["col"] + 1) * c, :3][alpha > 128]
        packed = (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2]
        assert len(np.unique(packed)) >= 8, f"{s['id']}: sprite is (nearly) one colour"


def test_unused_cells_are_empty():
    m, rgba = meta(), atlas_rgba()
    c, cols, n = m["cell"], m["columns"], len(sprites())
    for k in range(n, math.ceil(n / cols) * cols):
        r, col = divmod(k, cols)
        assert not rgba[r * c : (r + 1) * c, col * c : (col + 1) * c, 3].any()


def test_sprites_are_distinct_pictures():
    m, rgba = meta(), atlas_rgba()
    c = m["cell"]
    seen = {}
    for s in sprites():
        tile = rgba[s["row"] * c : (s["row"] + 1) * c, s["col"] * c : (s["col"] + 1) * c].tobytes()
        assert tile not in seen, f"{s['id']} has the same picture as {seen.get(tile)}"
        seen[tile] = s["id"]


# ----------------------------------------------------------------------------------------- the emoji
def test_chars_are_plain_object_emoji():
    emoji = pytest.importorskip("emoji")
    for s in sprites():
        ch = s["char"]
        cps = [ord(c) for c in ch]
        assert not any(0x1F3FB <= cp <= 0x1F3FF for cp in cps), f"{s['id']}: skin-tone modifier"
        assert not any(0x1F1E6 <= cp <= 0x1F1FF for cp in cps), f"{s['id']}: regional indicator (flag)"
        assert 0x200D not in cps, f"{s['id']}: ZWJ sequence"
        assert emoji.EMOJI_DATA[ch]["status"] == emoji.STATUS["fully_qualified"], s["id"]
        assert s["codepoints"] == " ".join(f"{cp:04X}" for cp in cps), s["id"]
        assert s["unicode_name"] == ", ".join(unicodedata.name(c) for c in ch), s["id"]
        assert s["emoji_en"] == emoji.demojize(ch, language="en", delimiters=("", "")), s["id"]
        assert s["emoji_es"] == emoji.demojize(ch, language="es", delimiters=("", "")), s["id"]


def test_chars_unique():
    chars = [s["char"] for s in sprites()]
    assert len(set(chars)) == len(chars)


# ------------------------------------------------------------------------------------------ the words
@pytest.mark.parametrize("key", ["id", "en", "es"])
def test_unique(key):
    values = [s[key] for s in sprites()]
    dupes = sorted({v for v in values if values.count(v) > 1})
    assert not dupes, f"repeated {key}: {dupes}"


def test_ids_are_snake_case():
    import re

    for s in sprites():
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", s["id"]), s["id"]


def test_genders_and_categories():
    for s in sprites():
        assert s["es_gender"] in {"m", "f"}, s["id"]
        assert s["category"] in CATEGORIES, s["id"]
        for w in s["syn_es"]:
            word, _, g = w.partition(":")
            assert word and g in {"", "m", "f"} and not w.endswith(":"), f"{s['id']}: bad Spanish synonym {w!r}"


def test_every_category_used():
    assert {s["category"] for s in sprites()} == CATEGORIES


def test_english_words_in_glove():
    words = glove_vocabulary()
    assert len(words) == 400_000
    missing = [(s["id"], w) for s in sprites() for w in [s["en"], *s["syn_en"]] if w not in words]
    assert not missing, f"not in GloVe 6B: {missing}"


def test_english_nouns_are_single_lowercase_words():
    for s in sprites():
        for w in [s["en"], s["en_plural"], *s["syn_en"]]:
            assert w == w.lower() and w.isalpha(), f"{s['id']}: {w!r}"


def test_spanish_words_shape():
    for s in sprites():
        for w in [s["es"], s["es_plural"], *(x.partition(":")[0] for x in s["syn_es"])]:
            assert w == w.lower() and 1 <= len(w.split()) <= 3, f"{s['id']}: {w!r}"
            assert all(t.isalpha() for t in w.split()), f"{s['id']}: {w!r}"
        assert len(s["es"].split()) == len(s["es_plural"].split()), s["id"]
        assert s["es_plural"].split()[0].endswith("s"), f"{s['id']}: plural {s['es_plural']!r}"


def test_spanish_gender_against_endings():
    """-o nouns are masculine and -a nouns feminine unless listed as checked exceptions."""
    for s in sprites():
        pairs = [(s["es"], s["es_gender"])] + [
            (w.partition(":")[0], w.partition(":")[2] or s["es_gender"]) for w in s["syn_es"]
        ]
        for word, g in pairs:
            head = word.split()[0]
            if head.endswith("o"):
                assert g == "m" or head in ES_FEM_IN_O, f"{s['id']}: {head!r} is {g}"
            if head.endswith(("a", "á")):
                assert g == "f" or head in ES_MASC_IN_A, f"{s['id']}: {head!r} is {g}"
            if head in ES_FEM_IN_O:
                assert g == "f", head
            if head in ES_MASC_IN_A:
                assert g == "m", head


def test_stressed_a_feminine_nouns_known():
    """'el águila' but 'la abeja': every feminine noun starting with a/á/ha/há is classified, and the caption
    grammar knows the stressed ones."""
    fem = {s["es"] for s in sprites() if s["es_gender"] == "f"}
    fem |= {
        w.partition(":")[0] for s in sprites() for w in s["syn_es"] if (w.partition(":")[2] or s["es_gender"]) == "f"
    }
    for w in fem:
        if w.startswith(("a", "á", "ha", "há")):
            assert w in ES_STRESSED_A | ES_UNSTRESSED_A, f"classify {w!r} as stressed or unstressed a"
    grammar = grammar_constant("ES_STRESSED_A")
    missing = sorted((ES_STRESSED_A & fem) - set(grammar))
    assert not missing, f"helpers/scenes.py ES_STRESSED_A lacks {missing}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_word_forms_identify_one_class(lang):
    """parse_caption maps every singular, plural and synonym back to one class: no form may be shared."""
    owner = {}
    for s in sprites():
        for f in set(all_forms(s, lang)):
            assert f not in owner, f"{lang} form {f!r} belongs to {owner.get(f)} and {s['id']}"
            owner[f] = s["id"]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_word_forms_avoid_grammar_words(lang):
    reserved = RESERVED_EN if lang == "en" else RESERVED_ES
    for s in sprites():
        for f in all_forms(s, lang):
            clash = set(f.split()[:1]) & reserved if lang == "es" else set(f.split()) & reserved
            assert not clash, f"{s['id']}: {lang} form {f!r} clashes with caption grammar word(s) {clash}"


# -------------------------------------------------------------------------------------- TSV vs JSON
def test_tsv_and_json_agree_row_by_row():
    rows, sp = vocab_rows(), sprites()
    assert len(rows) == len(sp)
    for k, (r, s) in enumerate(zip(rows, sp)):
        for key in ("char", "id", "en", "en_plural", "es", "es_plural", "es_gender", "category"):
            assert r[key] == s[key], f"row {k} ({r['id']}): {key} {r[key]!r} != {s[key]!r}"
        assert split_list(r["syn_en"]) == s["syn_en"], f"row {k} ({r['id']}): syn_en"
        assert split_list(r["syn_es"]) == s["syn_es"], f"row {k} ({r['id']}): syn_es"
