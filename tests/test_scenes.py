"""The scene generator and the caption grammar: determinism, agreement, and meaning <-> text <-> truth."""

import numpy as np
import pytest

from helpers import data as D
from helpers import grammar
from helpers import scenes as S


@pytest.fixture(scope="module")
def classes():
    return D.class_split()[2]


def test_same_seed_same_scene_and_pixels(classes):
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    sa, sb = S.sample_scene(a, classes), S.sample_scene(b, classes)
    assert S.scene_to_json(sa) == S.scene_to_json(sb)
    assert np.array_equal(np.asarray(S.render_scene(sa, a)), np.asarray(S.render_scene(sb, b)))


def test_scenes_respect_their_limits(classes):
    rng = np.random.default_rng(0)
    for _ in range(200):
        scene = S.sample_scene(rng, classes)
        S.render_scene(scene, rng)
        assert 1 <= len(scene.objects) <= 4 and scene.background in S.BACKGROUNDS
        for o in scene.objects:
            x0, y0, x1, y1 = o.box
            assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128


def test_spanish_agreement_and_contractions():
    by = S.sprites_by_id()
    fem = next(s for s in by.values() if s.es_gender == "f" and s.es not in S.ES_STRESSED_A and not s.syn_es)
    masc = next(s for s in by.values() if s.es_gender == "m" and not s.syn_es)
    rng = np.random.default_rng(0)
    assert S.es_np(fem, 1, None, rng) == f"una {fem.es}"
    assert S.es_np(fem, 2, "small", rng) in (f"dos {fem.es_plural} pequeñas", f"dos {fem.es_plural} diminutas")
    assert S.es_np(masc, 1, "small", rng) in (f"un {masc.es} pequeño", f"un {masc.es} diminuto")
    assert S.es_np(masc, 3, "big", rng) in (f"tres {masc.es_plural} grandes", f"tres {masc.es_plural} enormes")
    assert S.es_join_prep("a la izquierda de", f"el {masc.es}") == f"a la izquierda del {masc.es}"
    assert S.es_join_prep("junto a", f"el {masc.es}") == f"junto al {masc.es}"
    assert S.es_join_prep("junto a", f"la {fem.es}") == f"junto a la {fem.es}"
    eagle = S.Sprite("eagle", "", "eagle", "eagles", "águila", "águilas", "f", (), (), "animal", 0, 0)
    assert S.es_np(eagle, 1, None, rng) == "un águila"


def test_english_articles():
    assert S.en_article("apple") == "an" and S.en_article("dog") == "a"
    assert S.en_article("unicorn") == "a" and S.en_article("umbrella") == "an"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_captions_parse_back_to_their_meaning_and_fit_their_scene(classes, lang):
    rng = np.random.default_rng(3)
    n_rel = 0
    for _ in range(300):
        scene = S.sample_scene(rng, classes)
        S.render_scene(scene, rng)
        for meaning, en, es in S.captions_for(scene, rng, 5):
            assert S.satisfies(scene, meaning), (en, S.scene_to_json(scene))
            parsed = grammar.parse_caption(en if lang == "en" else es, lang)
            assert parsed["objects"] == meaning["objects"], (en, es, parsed)
            if meaning["kind"] == "relation":
                n_rel += 1
                assert parsed["relation"] == meaning["relation"], (en, es, parsed)
    assert n_rel > 100


def test_every_image_gets_five_distinct_captions(classes):
    rng = np.random.default_rng(5)
    for _ in range(100):
        scene = S.sample_scene(rng, classes)
        caps = S.captions_for(scene, rng, 5)
        assert len(caps) == 5 and len({en for _, en, _ in caps}) >= 3


def test_unknown_language_is_refused(classes):
    rng = np.random.default_rng(0)
    scene = S.sample_scene(rng, classes)
    with pytest.raises(ValueError, match="language"):
        S.realize(S.sample_meaning(scene, rng), "fr", rng)


def test_relation_query_says_the_relation_and_its_meaning_holds_where_it_should():
    by_id = S.sprites_by_id()
    cat, bear = (next(c for c, s in by_id.items() if s.en == w) for w in ("cat", "bear"))
    assert S.relation_query(cat, "left", bear) == "a cat to the left of a bear"
    assert S.relation_query(bear, "left", cat, "es") == "un oso a la izquierda de un gato"
    with pytest.raises(ValueError, match="'en' or 'es'"):
        S.relation_query(cat, "left", bear, "fr")
    with pytest.raises(KeyError):
        S.relation_query(cat, "behind", bear)
    # The meaning is what `satisfies` checks: true for the scene that shows it, false for the swapped one.
    scene = S.Scene([S.Obj(cat, (5, 40, 45, 80)), S.Obj(bear, (80, 40, 120, 80))], "grass")
    assert S.satisfies(scene, S.relation_meaning(cat, "left", bear))
    assert not S.satisfies(scene, S.relation_meaning(bear, "left", cat))
    # Parsing the plain query back gives the same relation (grammar and generator agree).
    assert grammar.parse_caption(S.relation_query(cat, "left", bear))["relation"] == [cat, "left", bear]
