"""The chapter-named modules of before issue 15 are aliases: every name they list is the object of its home,
read with a DeprecationWarning that names the home; other names raise AttributeError."""

import importlib
import inspect

import pytest

OLDER = ["search", "devise", "captioning", "attention"]


def homes(old: str) -> dict:
    """The alias table of `helpers.<old>`, read from its `__getattr__` closure."""
    getter = importlib.import_module(f"helpers.{old}").__getattr__
    return inspect.getclosurevars(getter).nonlocals["homes"]


@pytest.mark.parametrize("old", OLDER)
def test_every_older_name_is_the_object_of_its_home(old):
    module = importlib.import_module(f"helpers.{old}")
    table = homes(old)
    assert table, f"helpers.{old} lists no names"
    for name, home in table.items():
        new_module, _, new_name = home.partition(".")
        expected = getattr(importlib.import_module(f"helpers.{new_module}"), new_name or name)
        with pytest.warns(DeprecationWarning, match=rf"helpers\.{old}\.{name} is now helpers\.{new_module}\."):
            assert getattr(module, name) is expected


def test_the_cases_older_imports_still_work():
    """The field cases import `flat_hits` from helpers.devise and `bleu_scores` from helpers.captioning."""
    from helpers import metrics

    with pytest.warns(DeprecationWarning):
        from helpers.devise import flat_hits
    with pytest.warns(DeprecationWarning):
        from helpers.captioning import bleu_scores
    assert flat_hits is metrics.flat_hits and bleu_scores is metrics.bleu
    from helpers.metrics import bleu  # BLEU's one home

    with pytest.raises(TypeError):
        bleu([["a dog runs"]], ["a god nurs"])


@pytest.mark.parametrize("old", OLDER)
def test_an_unknown_older_name_raises(old):
    module = importlib.import_module(f"helpers.{old}")
    with pytest.raises(AttributeError, match="older name"):
        module.no_such_helper  # noqa: B018


def test_older_spellings_and_attribute_names_still_work():
    """One English spelling and one name for the image folder (issue 15); the names of before still answer."""
    import numpy as np

    from helpers import caption_metrics
    from helpers.formats_core import ClassData

    with pytest.warns(DeprecationWarning, match="summarize_attention_in_box"):
        assert caption_metrics.summarise_attention_in_box is caption_metrics.summarize_attention_in_box
    data = ClassData(image_dir="imgs", classes=["a"], words={"a": ["a"]}, files=["x.jpg"], labels=np.zeros(1, int))
    with pytest.warns(DeprecationWarning, match="image_dir"):
        assert data.root == "imgs"
    with pytest.raises(AttributeError):
        _ = caption_metrics.summarise_everything


def test_an_images_side_is_canvas_and_an_objects_size_a_word():
    from helpers.scene_truth import Obj, Scene

    scene = Scene([Obj("cat", (0, 0, 100, 100))], "grass", 96)
    assert scene.canvas == 96 and scene.objects[0].size == "big"
    with pytest.warns(DeprecationWarning, match="canvas"):
        assert scene.size == 96
