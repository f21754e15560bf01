"""helpers.widgets: live controls in Jupyter, plain cell output in headless runs (tests, the book, bench)."""
import contextlib

import pytest

from helpers import widgets


@pytest.mark.parametrize("value, static", [("1", True), ("", False), ("0", False), ("false", False)])
def test_static_mode_follows_the_environment(monkeypatch, value, static):
    monkeypatch.setenv(widgets.STATIC_ENV, value)
    assert widgets.static_mode() is static


def test_static_mode_draws_into_the_cell_not_the_output_widget(monkeypatch, capsys):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")

    class Output:  # must not be touched in static mode
        def clear_output(self, wait=False):
            raise AssertionError("the Output widget was used in static mode")

    assert isinstance(widgets.drawing_into(Output()), contextlib.nullcontext)
    box, run = widgets.text_search(lambda text: print(f"results for {text!r}"))
    run("a cat")
    widgets.show(box, "search box")
    out = capsys.readouterr().out
    assert "results for 'a cat'" in out and "(search box: run this notebook in Jupyter" in out


def test_live_mode_clears_and_uses_the_output_widget(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "")
    calls = []

    class Output:
        def clear_output(self, wait=False):
            calls.append(("clear", wait))

    out = Output()
    assert widgets.drawing_into(out) is out and calls == [("clear", True)]
