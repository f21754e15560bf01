"""The embedded dataset's pieces: the scene generator and renderer, and the caption grammar.

A *scene* is a small canvas with 1-4 emoji objects on a coloured background; its *truth* (the atlas, `Obj`, `Scene`,
relations left of, above, next to... from the boxes) is in `scene_truth.py`, re-exported here. Captions are generated
from a *meaning* (which objects, how many, which size, which relation, which background) in English and Spanish, so
the two languages are parallel and the meaning tells which images satisfy a caption (the oracle ceiling in
`metrics.py`). Reading captions back (the object lexicon, `parse_caption`) is in `grammar.py`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .scene_truth import (  # noqa: F401 (re-exported: notebooks call scenes.load_atlas, scenes.relation, ...)
    ASSETS,
    BACKGROUNDS,
    SIZE_BIG,
    SIZE_SMALL,
    Obj,
    Scene,
    Sprite,
    _sprite_image,
    load_atlas,
    near,
    overlap,
    relation,
    sprite_image,
    sprites_by_id,
)


# -------------------------------------------------------------------------------------- the generator
def sample_scene(
    rng: np.random.Generator,
    classes: list,
    size: int = 128,
    max_objects: int = 4,
    min_objects: int = 1,
    max_overlap: float = 0.15,
    repeat_p: float = 0.3,
) -> Scene:
    """Draw a scene's truth: 1-4 objects (a class may repeat: "two dogs"), boxes that overlap little.
    `size`: the canvas side in pixels; boxes (x0, y0, x1, y1) in px. An object with no free spot in 50 tries is dropped.
    Taught in: notebooks/00_data_features_devices.ipynb § A scene and its truth"""
    n = int(rng.integers(min_objects, max_objects + 1))
    chosen = []
    for _ in range(n):
        if chosen and rng.random() < repeat_p:
            chosen.append(chosen[int(rng.integers(len(chosen)))])
        else:
            chosen.append(classes[int(rng.integers(len(classes)))])
    objects = []
    for cls in chosen:
        for _ in range(50):  # rejection sampling for a free spot; shrink the object when space is scarce
            side = int(rng.integers(28, 68 if n <= 2 else 56))
            x0 = int(rng.integers(2, size - side - 1))
            y0 = int(rng.integers(2, size - side - 1))
            box = (x0, y0, x0 + side, y0 + side)
            if all(overlap(box, o.box) <= max_overlap for o in objects):
                objects.append(Obj(cls, box))
                break
    background = list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]
    return Scene(objects, background, size)


def render_scene(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """Paint the scene: a shaded background with mild noise, then each sprite (flip, slight rotation).
    Returns a canvas x canvas RGB PIL image; each object's box is tightened, in place, to its visible sprite.
    Taught in: notebooks/00_data_features_devices.ipynb § A scene and its truth"""
    s = scene.canvas
    base = np.array(BACKGROUNDS[scene.background][1], np.float32)
    ramp = np.linspace(-1, 1, s, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    shade = (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])[..., None] * rng.uniform(10, 30)
    noise = rng.normal(0, 4, (s, s, 1)).astype(np.float32)
    canvas = Image.fromarray(np.clip(base + shade + noise, 0, 255).astype(np.uint8))
    for o in scene.objects:
        img = _sprite_image(o.cls)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = img.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BICUBIC, expand=True)
        x0, y0, x1, y1 = o.box
        side = x1 - x0
        w, h = img.size
        scale = side / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
        ox = x0 + (side - img.size[0]) // 2
        oy = y0 + (side - img.size[1]) // 2
        canvas.paste(img, (ox, oy), img)
        # the truth box is the sprite's visible extent
        a = np.asarray(img)[..., 3] > 32
        ys, xs = np.nonzero(a)
        if len(xs):
            o.box = (int(ox + xs.min()), int(oy + ys.min()), int(ox + xs.max() + 1), int(oy + ys.max() + 1))
    return canvas


# -------------------------------------------------------------------------------------- the grammar
EN_NUM = {1: "one", 2: "two", 3: "three", 4: "four"}
ES_NUM = {2: "dos", 3: "tres", 4: "cuatro"}
EN_AN_EXCEPTIONS = {"unicorn", "uniform", "unicycle", "ukulele", "ewe", "european", "one", "useful", "usb"}
ES_STRESSED_A = {
    "águila",
    "hacha",
    "ancla",
    "arpa",
    "ala",
    "agua",
    "hada",
    "alma",
    "aula",
    "ave",
    "asa",
    "ánfora",
    "haba",
}

EN_SIZE = {"big": ["big", "large", "huge"], "small": ["small", "little", "tiny"]}
ES_SIZE = {
    "big": [("grande", "grande", "grandes", "grandes"), ("enorme", "enorme", "enormes", "enormes")],
    "small": [("pequeño", "pequeña", "pequeños", "pequeñas"), ("diminuto", "diminuta", "diminutos", "diminutas")],
}
EN_REL = {
    "left": ["to the left of", "left of"],
    "right": ["to the right of", "right of"],
    "above": ["above", "over"],
    "below": ["below", "under"],
    "near": ["next to", "beside"],
}
ES_REL = {
    "left": ["a la izquierda de"],
    "right": ["a la derecha de"],
    "above": ["encima de", "sobre"],
    "below": ["debajo de", "bajo"],
    "near": ["junto a", "al lado de"],
}


def en_article(word: str) -> str:
    """'a' or 'an' for an English word or phrase ('an apple', 'a unicorn', 'an hour').
    Used in: notebooks/01_search_by_regression.ipynb § 6. What a bag of words cannot say"""
    vowel = word[0] in "aeiou" and not any(word.startswith(e) for e in EN_AN_EXCEPTIONS)
    return "an" if vowel or word.startswith(("hour", "honest")) else "a"


def en_np(sprite: Sprite, count: int, size: str | None, rng, definite=False) -> str:
    """An English noun phrase: 'a dog', 'two big dogs', 'the small apple'."""
    if count == 1:
        noun = (
            sprite.en
            if not sprite.syn_en or rng.random() < 0.7
            else sprite.syn_en[int(rng.integers(len(sprite.syn_en)))]
        )
    else:
        noun = sprite.en_plural
    words = [EN_SIZE[size][int(rng.integers(3))]] if size else []
    words.append(noun)
    phrase = " ".join(words)
    if count > 1:
        return f"{EN_NUM[count]} {phrase}"
    return f"the {phrase}" if definite else f"{en_article(phrase)} {phrase}"


def es_noun(sprite: Sprite, rng) -> tuple:
    """(noun, gender) in Spanish, sometimes a synonym; a synonym may carry its own gender as 'word:g'."""
    if sprite.syn_es and rng.random() >= 0.7:
        syn = sprite.syn_es[int(rng.integers(len(sprite.syn_es)))]
        word, _, g = syn.partition(":")
        return word, g or sprite.es_gender
    return sprite.es, sprite.es_gender


def es_np(sprite: Sprite, count: int, size: str | None, rng, definite=False) -> str:
    """A Spanish noun phrase with agreement: 'un perro', 'dos manzanas pequeñas', 'el águila grande'."""
    if count == 1:
        noun, g = es_noun(sprite, rng)
    else:
        noun, g = sprite.es_plural, sprite.es_gender
    fem = g == "f"
    adj = ""
    if size:
        forms = ES_SIZE[size][int(rng.integers(2))]
        adj = " " + forms[(2 if count > 1 else 0) + (1 if fem else 0)]
    if count > 1:
        return f"{ES_NUM[count]} {noun}{adj}"
    return f"{es_article(noun, g, definite)} {noun}{adj}"


def es_article(noun: str, gender: str, definite: bool = False) -> str:
    """'el'/'la' or 'un'/'una' for a singular noun; a feminine noun with a stressed a takes 'el'/'un' ('el águila')."""
    masculine_form = gender != "f" or noun in ES_STRESSED_A
    return ("el" if masculine_form else "la") if definite else ("un" if masculine_form else "una")


def es_join_prep(prep: str, np_: str) -> str:
    """'de' + 'el perro' -> 'del perro'; 'a' + 'el gato' -> 'al gato'."""
    if np_.startswith("el "):
        if prep.endswith(" de") or prep == "de":
            return prep[:-2] + "del " + np_[3:]
        if prep.endswith(" a") or prep == "a":
            return prep[:-1] + "al " + np_[3:]
    return f"{prep} {np_}"


def en_list(items: list) -> str:
    """English list of phrases: 'a dog', 'a dog and a cat', 'a dog, a cat and a key' (not empty)."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def es_list(items: list) -> str:
    """Spanish list of phrases: 'un perro', 'un perro y un gato', 'un perro, un gato y una llave' (not empty)."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " y " + items[-1]


def sample_meaning(scene: Scene, rng: np.random.Generator) -> dict:
    """Choose what one caption says about the scene: a list of objects, or a relation, plus optional extras.

    The meaning is JSON-friendly: {"kind": "list"|"relation", "objects": {cls: count}, "sizes": {cls: size},
    "relation": [a, rel, b] or None, "background": name or None, "frame": int}.
    """
    counts = scene.counts()
    kinds = ["list", "list"] + (
        ["relation", "relation", "relation"]
        if len(counts) >= 2 or any(c >= 2 for c in counts.values()) and len(scene.objects) >= 2
        else []
    )
    kind = kinds[int(rng.integers(len(kinds)))]
    sizes = {}
    for cls, c in counts.items():
        objs = [o for o in scene.objects if o.cls == cls]
        if c == 1 and objs[0].size != "medium" and rng.random() < 0.5:
            sizes[cls] = objs[0].size
    meaning = {
        "kind": kind,
        "objects": {},
        "sizes": {},
        "relation": None,
        "background": scene.background if rng.random() < 0.35 else None,
        "frame": int(rng.integers(6)),
    }
    if kind == "list":
        meaning["objects"] = dict(counts)
        meaning["sizes"] = sizes
    else:
        i, j = rng.choice(len(scene.objects), size=2, replace=False)
        a, b = scene.objects[int(i)], scene.objects[int(j)]
        if a.cls == b.cls:  # "a dog next to a dog" reads oddly: describe the other pair order or fall back
            others = [o for o in scene.objects if o.cls != a.cls]
            if not others:
                meaning["kind"] = "list"
                meaning["objects"] = dict(counts)
                meaning["sizes"] = sizes
                return meaning
            b = others[int(rng.integers(len(others)))]
        rel = "near" if near(a, b) and rng.random() < 0.25 else relation(a, b)
        meaning["relation"] = [a.cls, rel, b.cls]
        meaning["objects"] = {a.cls: 1, b.cls: 1}
        meaning["sizes"] = {k: v for k, v in sizes.items() if k in (a.cls, b.cls)}
    return meaning


EN_FRAMES = ["{x}", "a picture of {x}", "an image of {x}", "there is {x}", "a photo showing {x}", "{x} in the scene"]
EN_FRAMES_PL = [
    "{x}",
    "a picture of {x}",
    "an image of {x}",
    "there are {x}",
    "a photo showing {x}",
    "{x} in the scene",
]
ES_FRAMES = ["{x}", "una imagen de {x}", "una foto de {x}", "hay {x}", "una foto que muestra {x}", "se ve {x}"]
ES_FRAMES_PL = ["{x}", "una imagen de {x}", "una foto de {x}", "hay {x}", "una foto que muestra {x}", "se ven {x}"]


def realize(meaning: dict, lang: str, rng: np.random.Generator) -> str:
    """Turn a meaning into a caption string in `lang` ('en' or 'es')."""
    if lang not in ("en", "es"):
        raise ValueError(f"language must be 'en' or 'es', not {lang!r}")
    by_id = sprites_by_id()
    np_ = en_np if lang == "en" else es_np
    sizes = meaning["sizes"]
    if meaning["kind"] == "list":
        items = [np_(by_id[c], n, sizes.get(c), rng) for c, n in meaning["objects"].items()]
        body = (en_list if lang == "en" else es_list)(items)
        plural = len(items) > 1 or any(n > 1 for n in meaning["objects"].values())
    else:
        a, rel, b = meaning["relation"]
        left = np_(by_id[a], 1, sizes.get(a), rng)
        right = np_(by_id[b], 1, sizes.get(b), rng)
        if lang == "en":
            body = f"{left} {EN_REL[rel][int(rng.integers(len(EN_REL[rel])))]} {right}"
        else:
            phrase = ES_REL[rel][int(rng.integers(len(ES_REL[rel])))]
            if meaning["background"] and phrase == "sobre":  # not "sobre un panda sobre un fondo blanco"
                phrase = "encima de"
            body = f"{left} {es_join_prep(phrase, right)}"
        plural = False
    if lang == "en":
        text = (EN_FRAMES_PL if plural else EN_FRAMES)[meaning["frame"]].format(x=body)
        if meaning["background"]:
            text += f" on a {meaning['background']} background"
    else:
        text = (ES_FRAMES_PL if plural else ES_FRAMES)[meaning["frame"]].format(x=body)
        if meaning["background"]:
            text += f" sobre un fondo {BACKGROUNDS[meaning['background']][0]}"
    return text


def captions_for(scene: Scene, rng: np.random.Generator, n: int = 5) -> list:
    """`n` (meaning, english, spanish) triples for a scene, distinct in English unless the scene allows fewer.
    Taught in: notebooks/00_data_features_devices.ipynb § Captions in two languages"""
    out, seen = [], set()
    for _ in range(20 * n):
        m = sample_meaning(scene, rng)
        en, es = realize(m, "en", rng), realize(m, "es", rng)
        if en not in seen:
            seen.add(en)
            out.append((m, en, es))
        if len(out) == n:
            break
    while len(out) < n:  # tiny scenes can have fewer distinct phrasings: repeat with a new frame
        m = dict(out[len(out) % len(out)][0], frame=len(out) % 6)
        out.append((m, realize(m, "en", rng), realize(m, "es", rng)))
    return out


# ---------------------------------------------------------------------- a relation, said and meant
def relation_query(a: str, rel: str, b: str, lang: str = "en") -> str:
    """The plainest caption stating a relation between two classes: `relation_query('cat', 'left', 'bear')` ->
    'a cat to the left of a bear', in Spanish 'un gato a la izquierda de un oso'. a, b: atlas class ids; rel: a key
    of `EN_REL`; the first phrasing of each relation, indefinite articles, no size, no background. Used to probe
    word order (swap a and b). KeyError for an unknown class or relation, ValueError for a language not 'en' / 'es'.
    Taught in: notebooks/01_search_by_regression.ipynb § 6. What a bag of words cannot say"""
    if lang not in ("en", "es"):
        raise ValueError(f"language must be 'en' or 'es', not {lang!r}")
    by_id = sprites_by_id()

    def noun_phrase(cls: str) -> str:
        s = by_id[cls]
        if lang == "en":
            return f"{en_article(s.en)} {s.en}"
        return f"{es_article(s.es, s.es_gender)} {s.es}"

    phrase = (EN_REL if lang == "en" else ES_REL)[rel][0]
    return f"{noun_phrase(a)} {phrase} {noun_phrase(b)}"


def relation_meaning(a: str, rel: str, b: str) -> dict:
    """The meaning of `relation_query(a, rel, b)`, as `sample_meaning` gives it and `satisfies` checks it:
    {'kind': 'relation', 'objects': {a: 1, b: 1}, 'relation': [a, rel, b], no sizes, no background}.
    Taught in: notebooks/01_search_by_regression.ipynb § 6. What a bag of words cannot say"""
    return {"kind": "relation", "objects": {a: 1, b: 1}, "sizes": {}, "relation": [a, rel, b], "background": None}


# ------------------------------------------------------------------------- meaning vs truth (the oracle)
def satisfies(scene: Scene, meaning: dict) -> bool:
    """True when what the caption says (its meaning) holds in the scene (used for oracle ceilings).
    Used in: notebooks/01_search_by_regression.ipynb § 6. What a bag of words cannot say"""
    counts = scene.counts()
    for cls, n in meaning["objects"].items():
        if counts.get(cls, 0) < 1 or (n > 1 and counts[cls] != n):
            return False
    if meaning["kind"] == "list" and set(meaning["objects"]) != set(counts):
        return False  # a list caption names every object in the scene
    for cls, size in meaning["sizes"].items():
        if not any(o.cls == cls and o.size == size for o in scene.objects):
            return False
    if meaning["background"] and meaning["background"] != scene.background:
        return False
    if meaning["relation"]:
        a, rel, b = meaning["relation"]
        ok = any(
            (near(x, y) if rel == "near" else relation(x, y) == rel)
            for x in scene.objects
            if x.cls == a
            for y in scene.objects
            if y.cls == b and y is not x
        )
        if not ok:
            return False
    return True


def scene_to_json(scene: Scene) -> dict:
    """The scene truth as the JSON object our annotation files store per image ({'background', 'size', 'objects'})."""
    return {
        "background": scene.background,
        "size": scene.canvas,  # the annotation files' key (kept: the built files stay the same bytes)
        "objects": [{"cls": o.cls, "box": list(o.box)} for o in scene.objects],
    }


def scene_from_json(d: dict) -> Scene:
    """The `Scene` of a `scene_to_json` object (boxes as tuples; a missing 'size' means a 128 px canvas)."""
    return Scene([Obj(o["cls"], tuple(o["box"])) for o in d["objects"]], d["background"], d.get("size", 128))
