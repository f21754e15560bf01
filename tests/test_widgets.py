"""helpers.widgets: live controls in Jupyter, plain cell output in headless runs (tests, the book, bench)."""

import pytest

from helpers import widgets


@pytest.mark.parametrize("value, static", [("1", True), ("", False), ("0", False), ("false", False)])
def test_static_mode_follows_the_environment(monkeypatch, value, static):
    monkeypatch.setenv(widgets.STATIC_ENV, value)
    assert widgets.static_mode() is static


def test_static_mode_draws_into_the_cell_not_the_output_widget(monkeypatch, capsys):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")

    class Output:  # must not be touched in static mode
        def __setattr__(self, name, value):
            raise AssertionError("the Output widget was used in static mode")

        def clear_output(self, wait=False):
            raise AssertionError("the Output widget was used in static mode")

    with widgets.drawing_into(Output()):
        print("drawn into the cell")
    assert capsys.readouterr().out == "drawn into the cell\n"
    box, run = widgets.text_search(lambda text: print(f"results for {text!r}"))
    run("a cat")
    widgets.show(box, "search box")
    out = capsys.readouterr().out
    assert "results for 'a cat'" in out
    assert "(search box: open this notebook in JupyterLab (`make lab`) to use it live" in out
    assert out.count("\n") == 2, "one line for the query's results, one line for the hint"


LIVE_SCRIPT = r"""
import json, os
os.environ["SEEING_SAYING_STATIC"] = ""
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()  # display() publishes through this shell, as in a kernel
import ipywidgets
from IPython.display import HTML, display
from helpers import widgets

out, broken = ipywidgets.Output(), ipywidgets.Output()
out.outputs = ({"output_type": "stream", "name": "stdout", "text": "an older answer"},)
print("printed before the block")
with widgets.drawing_into(out):
    print("nearest labels: a")
    print("b")
    display(HTML("<b>images</b>"))
    print("done")
with widgets.drawing_into(broken):
    print("half an answer")
    1 / 0
print("after the blocks")
print(json.dumps([out.outputs, broken.outputs]))
"""


def test_live_mode_hands_the_output_widget_what_the_block_drew(tmp_path):
    """Live: the block's prints and displays, in order, replace the Output widget's content in one state update
    (not routed by the browser, which may not hold a widget made in the same cell yet); nothing reaches the
    cell; an exception is shown in the widget and goes no further (as `with out:` does)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = subprocess.run(
        [sys.executable, "-c", LIVE_SCRIPT],
        capture_output=True,
        text=True,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:2] == ["printed before the block", "after the blocks"], run.stdout
    drawn, broken = json.loads(lines[2])
    assert drawn == [
        {"output_type": "stream", "name": "stdout", "text": "nearest labels: a\nb\n"},
        {
            "output_type": "display_data",
            "data": {"text/plain": "<IPython.core.display.HTML object>", "text/html": "<b>images</b>"},
            "metadata": {},
        },
        {"output_type": "stream", "name": "stdout", "text": "done\n"},
    ]
    assert broken[0] == {"output_type": "stream", "name": "stdout", "text": "half an answer\n"}
    assert broken[1]["name"] == "stderr" and "ZeroDivisionError" in broken[1]["text"] and len(broken) == 2


def test_text_search_shows_the_query_it_answers(monkeypatch, capsys):
    """run(text) puts the text into the box (the example a notebook shows is the query the box holds), and
    answers once; typing the same text again (Enter) answers again."""
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    answered = []
    box, run = widgets.text_search(answered.append, placeholder="e.g. a cat")
    run("a dog")
    assert box.children[0].value == "a dog" and answered == ["a dog"]
    run("a dog")
    assert answered == ["a dog", "a dog"]
    box.children[0].value = "two cats"  # what the browser sends when a student types and presses Enter
    assert answered == ["a dog", "a dog", "two cats"]


def test_word_stepper_opens_in_step_with_the_view_it_shows(monkeypatch):
    """The sliders follow run(i, t), and moving a slider redraws once, at the slider's value (issue 18: the
    stepper opened with its sliders at image 0, word 0 while the picture showed image 1)."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    images = [np.zeros((16, 16, 3), np.uint8)] * 3
    words = [["a", "cat"], ["two", "big", "dogs", "here"], ["a", "key"]]
    maps = [np.full((len(ws), 4, 4), 1 / 16, np.float32) for ws in words]
    widget, run = widgets.word_stepper(images, words, maps)
    (image, step), caption = widget.children[0].children, widget.children[1]
    drawn = []
    monkeypatch.setattr(plt, "show", lambda: drawn.append(caption.value))
    run(1, 2)
    assert (image.value, step.value, step.max) == (1, 2, 3) and len(drawn) == 1
    assert caption.value == "image 1: two big <mark>dogs</mark> here"
    step.value = 3  # a student moves the word slider
    assert len(drawn) == 2 and caption.value.endswith("<mark>here</mark>")
    image.value = 2  # ... then the image slider: back to the first word of the new caption
    assert (image.value, step.value, step.max) == (2, 0, 1) and len(drawn) == 3
    assert caption.value == "image 2: <mark>a</mark> key"
    plt.close("all")


def test_progress_is_a_text_bar_on_stdout_in_static_runs(monkeypatch, capsys):
    """Static runs (the book, tests) get tqdm's text bar on stdout: no widget frozen at 0% in the saved notebook."""
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    bar = widgets.progress(range(3), desc="steps")
    assert type(bar).__module__ == "tqdm.std" and list(bar) == [0, 1, 2]
    out = capsys.readouterr()
    assert "steps: 100%" in out.out and "3/3" in out.out and out.err == ""


def test_progress_is_tqdm_auto_when_live(monkeypatch):
    """Live (Jupyter, a terminal): tqdm.auto, which picks the widget bar in a notebook kernel."""
    from tqdm.auto import tqdm

    monkeypatch.setenv(widgets.STATIC_ENV, "")
    bar = widgets.progress(range(2), disable=True)
    assert isinstance(bar, tqdm) and list(bar) == [0, 1]
