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
