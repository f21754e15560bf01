"""Interactive widgets with static twins.

In Jupyter a chapter shows a live ipywidgets control (a search box, a caption explorer). The HTML book and
the test runs execute notebooks without a browser: there, with `SEEING_SAYING_STATIC=1` (set by the
Makefile), `show()` displays nothing live and the chapter's static figure stands in, so no page carries a
raw widget or needs widget JavaScript from the internet. The widget is still built and its callback run
once in those runs, so the code behind it is tested.
"""
from __future__ import annotations

import contextlib
import os
import sys

STATIC_ENV = "SEEING_SAYING_STATIC"


def static_mode() -> bool:
    """True when notebooks run headless (book build, tests): widgets are not displayed live."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0", "false", "False")


# The one line a static copy (the HTML book, test runs) prints where a live widget would be.
LIVE_HINT = ("open this notebook in JupyterLab (`make lab`) to use it live; "
             "in this static copy a figure shows it at work")


def show(widget, note: str = "interactive control") -> None:
    """Display `widget` in Jupyter; in static mode print one line that says how to get the live version."""
    if static_mode():
        print(f"({note}: {LIVE_HINT})")
        return
    from IPython.display import display
    display(widget)


def progress(iterable=None, **kwargs):
    """A progress bar (tqdm) for a step a student waits on; takes tqdm's arguments.

    In Jupyter it is `tqdm.auto`'s widget bar; in a terminal, tqdm's text bar. In static mode (the HTML book,
    the test runs) it is the text bar, and where the output is not a terminal (an executed notebook, a CI log)
    it goes to stdout and is redrawn at most every 10 s: a widget bar would stay frozen at its first state in the
    saved notebook, and a few redraws keep the executed notebook small (the book shows the last one).
    """
    if static_mode():
        from tqdm.std import tqdm

        if not sys.stdout.isatty():
            kwargs.setdefault("mininterval", 10)
            kwargs.setdefault("file", sys.stdout)
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)


def drawing_into(out):
    """Context manager for a widget callback: draw into the Output widget `out` (cleared first) in Jupyter;
    in static mode straight into the running cell.

    Headless executors stand in for the browser's Output widget, and nbclient's stand-in can leave a notebook
    run waiting forever (seen twice in `make bench`: the kernel idle after the cell, the client never told).
    """
    if static_mode():
        return contextlib.nullcontext()
    out.clear_output(wait=True)
    return out


def text_search(on_query, placeholder: str = "type a description", description: str = "Query",
                initial: str = ""):
    """A text box + output area; `on_query(text)` is called on Enter and draws into the output area.

    Returns (widget, run) where `run(text)` performs one query programmatically (what notebooks call to show an
    example, and tests): it also puts `text` into the box, so the box always shows the query its results answer.
    """
    import ipywidgets as w

    box = w.Text(value=initial, placeholder=placeholder, description=description,
                 layout=w.Layout(width="60%"), continuous_update=False)
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
