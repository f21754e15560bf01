"""Interactive widgets with static twins.

In Jupyter a chapter shows a live ipywidgets control (a search box, a caption explorer). The HTML book and
the test runs execute notebooks without a browser: there, with `SEEING_SAYING_STATIC=1` (set by the
Makefile), `show()` displays nothing live and the chapter's static figure stands in, so no page carries a
raw widget or needs widget JavaScript from the internet. The widget is still built and its callback run
once in those runs, so the code behind it is tested.
"""

from __future__ import annotations

import contextlib
import io
import sys
import traceback

from .progress import STATIC_ENV, progress, static_mode  # noqa: F401  (re-exported: widgets.progress)

# The one line a static copy (the HTML book, test runs) prints where a live widget would be.
LIVE_HINT = (
    "open this notebook in JupyterLab (`make lab`) to use it live; in this static copy a figure shows it at work"
)


def show(widget, note: str = "interactive control") -> None:
    """Display `widget` in Jupyter; in static mode print one line that says how to get the live version.

    Used in: notebooks/00_data_features_devices.ipynb § Explore the scenes
    """
    if static_mode():
        print(f"({note}: {LIVE_HINT})")
        return
    from IPython.display import display

    display(widget)


class _Recorder:
    """Collects what a widget callback prints and displays, in order, as nbformat outputs (a list of dicts)."""

    def __init__(self):
        self.outputs: list = []

    def stream(self, name: str):
        recorder = self

        class _Stream(io.TextIOBase):
            def writable(self):
                return True

            def write(self, text):
                last = recorder.outputs[-1] if recorder.outputs else None
                if last and last["output_type"] == "stream" and last["name"] == name:
                    last["text"] += text
                else:
                    recorder.outputs.append({"output_type": "stream", "name": name, "text": text})
                return len(text)

        return _Stream()

    def publisher(self):
        from IPython.core.displaypub import CapturingDisplayPublisher

        recorder = self

        class _Publisher(CapturingDisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False):
                recorder.outputs.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})

            def clear_output(self, wait=False):
                recorder.outputs.clear()

        return _Publisher()


@contextlib.contextmanager
def drawing_into(out):
    """Context manager for a widget callback: in Jupyter, what the block prints and displays (text, figures)
    replaces the content of the Output widget `out`; in static mode it goes straight into the running cell.

    The block's output is collected in the kernel and handed to `out` in one state update (`out.outputs`), not
    routed by `with out:`. That routing happens in the browser, which must already hold the Output widget when
    the output arrives: for a widget created and used in the same cell the output could land in the cell
    instead (seen in `make test-live`: chapter 02's first search answer missing from its box). It also means
    no flicker between clearing and drawing. An exception in the block is shown in `out` as a traceback and not
    raised further, as with `with out:` (a widget callback has no cell to fail).
    Headless executors are kept away from the Output widget altogether: nbclient's stand-in for it could leave a
    notebook run waiting forever (seen twice in `make bench`).

    Used in: notebooks/00_data_features_devices.ipynb § Explore the scenes
    """
    if static_mode():
        yield
        return
    from IPython import get_ipython

    shell = get_ipython()
    recorder = _Recorder()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # what was printed before the block stays where it was printed
    saved_pub = shell.display_pub if shell is not None else None
    try:
        if shell is not None:
            shell.display_pub = recorder.publisher()
        with (
            contextlib.redirect_stdout(recorder.stream("stdout")),
            contextlib.redirect_stderr(recorder.stream("stderr")),
        ):
            yield
    except Exception:
        recorder.outputs.append({"output_type": "stream", "name": "stderr", "text": traceback.format_exc()})
    finally:
        if shell is not None:
            shell.display_pub = saved_pub
        out.outputs = tuple(recorder.outputs)


def text_search(on_query, placeholder: str = "type a description", description: str = "Query", initial: str = ""):
    """A text box + output area; `on_query(text)` is called on Enter and draws into the output area.

    Returns (widget, run) where `run(text)` performs one query programmatically (what notebooks call to show an
    example, and tests): it also puts `text` into the box, so the box always shows the query its results answer.

    Used in: notebooks/01_search_by_regression.ipynb § 7. Search for yourself
    """
    import ipywidgets as w

    box = w.Text(
        value=initial,
        placeholder=placeholder,
        description=description,
        layout=w.Layout(width="60%"),
        continuous_update=False,
    )
    out = w.Output()

    def answer(text):
        with drawing_into(out):
            on_query(text)

    def run(text):
        if box.value == text:
            answer(text)
        else:
            box.value = text  # the observer below answers it

    box.observe(lambda change: answer(change["new"]), names="value")
    return w.VBox([box, out]), run


def word_stepper(images: list, words: list, attention: list, scenes: list | None = None):
    """A widget: pick an image, step through its generated words, see each word's attention map.

    `words[i]` is the generated word list of image i and `attention[i]` its (T, H, W) maps. Returns
    (widget, run) where `run(i, t)` shows image i at word t and moves both sliders there, so the widget opens in
    step with the view a notebook chose (in static mode it draws into the cell's output instead of the widget's).
    Above the picture, one line of text names the image and marks the current word (``<mark>``).

    Taught in: notebooks/04_attention_solution.ipynb § Exploration: step through the words
    """
    import html

    import ipywidgets as w
    import matplotlib.pyplot as plt
    import numpy as np

    from .plots import attention_overlay, draw_scene_truth

    image = w.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    step = w.IntSlider(value=0, min=0, max=max(0, len(words[0]) - 1), description="word")
    caption = w.HTML()
    out = w.Output()
    moving = []  # non-empty while run() moves the sliders itself: their observers must not draw again

    def draw(i, t):
        fig, axes = plt.subplots(1, 2, figsize=(6, 3.3))
        axes[0].imshow(np.asarray(images[i]))
        axes[0].axis("off")
        if scenes is not None:
            draw_scene_truth(axes[0], scenes[i])
        text = " ".join(f"[{x}]" if k == t else x for k, x in enumerate(words[i]))
        axes[0].set_title(text, fontsize=8, wrap=True)
        attention_overlay(axes[1], images[i], np.asarray(attention[i])[t], title=f"word {t + 1}: {words[i][t]!r}")
        fig.tight_layout()
        plt.show()

    def run(i, t=0):
        i = int(i)
        t = int(min(max(t, 0), max(0, len(words[i]) - 1)))
        moving.append(True)
        try:
            image.value = i
            step.max = max(0, len(words[i]) - 1)  # the range first, so that the value is not clipped to the old one
            step.value = t
        finally:
            moving.clear()
        caption.value = f"image {i}: " + " ".join(
            f"<mark>{html.escape(x)}</mark>" if k == t else html.escape(x) for k, x in enumerate(words[i])
        )
        with drawing_into(out):  # straight into the cell in headless runs (helpers.widgets)
            draw(i, t)

    image.observe(lambda change: moving or run(change["new"], 0), names="value")
    step.observe(lambda change: moving or run(image.value, change["new"]), names="value")
    return w.VBox([w.HBox([image, step]), caption, out]), run
