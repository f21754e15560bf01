"""Caption metrics (helpers/caption_metrics.py): BLEU, attention in a box and the uniform-attention rate."""

import numpy as np
import pytest

from helpers import caption_metrics


def test_bleu_perfect_and_partial():
    refs = [[["a", "dog", "on", "a", "blue", "background"]]]
    assert caption_metrics.bleu(refs, [["a", "dog", "on", "a", "blue", "background"]])["bleu4"] == pytest.approx(1.0)
    partial = caption_metrics.bleu(refs, [["a", "cat", "on", "a", "red", "background"]])
    assert 0 < partial["bleu4"] < partial["bleu1"] < 1


def test_attention_in_box_and_uniform_rate():
    att = np.zeros((8, 8))
    att[1, 2] = 1  # cell centre at x = 40, y = 24 on a 128 px image
    assert caption_metrics.attention_in_box(att, (32, 16, 48, 32))
    assert not caption_metrics.attention_in_box(att, (64, 64, 128, 128))
    assert caption_metrics.box_cell_fraction((0, 0, 64, 64), (8, 8)) == pytest.approx(0.25)


def test_box_cell_fraction_of_several_boxes_counts_each_cell_once():
    one = caption_metrics.box_cell_fraction((0, 0, 64, 64), (8, 8))
    assert caption_metrics.box_cell_fraction([(0, 0, 64, 64)], (8, 8)) == one
    assert caption_metrics.box_cell_fraction([(0, 0, 64, 64), (0, 0, 32, 32)], (8, 8)) == pytest.approx(0.25)
    assert caption_metrics.box_cell_fraction([(0, 0, 64, 64), (64, 64, 128, 128)], (8, 8)) == pytest.approx(0.5)
    assert caption_metrics.box_cell_fraction([], (8, 8)) == 0.0


# -------------------------------------------------------------- inputs a tester found (non-finite, lengths)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_attention_is_refused_not_a_hit(bad):
    for att in (np.full((2, 2), bad), np.where(np.eye(4) > 0, bad, 0.1)):
        with pytest.raises(ValueError, match="attention weights contain NaN or infinite"):
            caption_metrics.attention_in_box(att, (0, 0, 64, 64))


def test_attention_maps_and_boxes_must_have_their_shapes():
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        caption_metrics.attention_in_box(np.ones(4), (0, 0, 64, 64))
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        caption_metrics.attention_in_box(np.ones((0, 3)), (0, 0, 64, 64))
    with pytest.raises(ValueError, match="box must be"):
        caption_metrics.attention_in_box(np.ones((2, 2)), (0, 0, 64))


def _scene():
    from helpers.scenes import Obj, Scene

    return Scene(objects=[Obj("dog", (0, 0, 64, 64))], background="blue", canvas=128)


def test_attention_in_boxes_refuses_nan_maps_and_a_string_caption():
    maps = np.full((3, 4, 4), 0.1)
    maps[1] = np.nan  # the map that emits "dog"
    with pytest.raises(ValueError, match="NaN or infinite"):
        caption_metrics.attention_in_boxes(["a", "dog", "."], maps, _scene())
    with pytest.raises(TypeError, match="must be a list of tokens.*helpers.tokenize"):
        caption_metrics.attention_in_boxes("a dog", maps, _scene())
    maps[1] = 0.0
    maps[1, 0, 0] = 1.0
    (rec,) = caption_metrics.attention_in_boxes(["a", "dog", "."], maps, _scene())
    assert rec["hit"] and rec["uniform"] == pytest.approx(0.25)


def test_summary_refuses_non_finite_records():
    with pytest.raises(ValueError, match=r"records\[1\]"):
        caption_metrics.summarize_attention_in_box([{"hit": True, "uniform": 0.2}, {"hit": True, "uniform": np.nan}])
    ok = caption_metrics.summarize_attention_in_box(
        [{"hit": np.bool_(True), "uniform": 0.25}, {"hit": False, "uniform": 0.75}]
    )
    assert ok == {"attention_in_box": 0.5, "attention_in_box_uniform": 0.5, "object_words": 2}


def test_semantic_scores_refuse_mismatched_lengths_and_a_string():
    with pytest.raises(ValueError, match="1 captions but 0 scenes"):
        caption_metrics.semantic_scores(["a dog"], [])
    with pytest.raises(ValueError, match="2 captions but 1 scenes"):
        caption_metrics.semantic_scores(["a dog", "a cat"], [_scene()])
    with pytest.raises(TypeError, match="list of caption strings"):
        caption_metrics.semantic_scores("a dog", [_scene()])
    assert caption_metrics.semantic_scores(["a dog"], [_scene()])["object_recall"] == 1.0
    assert caption_metrics.semantic_scores([], [])["object_recall"] == 0.0  # empty but matched: as before


def test_human_ceiling_refuses_no_images_and_a_string():
    with pytest.raises(ValueError, match="no images"):
        caption_metrics.human_ceiling([])
    with pytest.raises(TypeError, match="human_ceiling takes a list"):
        caption_metrics.human_ceiling("a dog")
    with pytest.raises(ValueError, match="at least two references"):
        caption_metrics.human_ceiling([[["a", "dog"]]])
