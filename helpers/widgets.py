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

STATIC_ENV = "SEEING_SAYING_STATIC"


def static_mode() -> bool:
    """True when notebooks run headless (book build, tests): widgets are not displayed live."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0", "false", "False")


def show(widget, note: str = "interactive control") -> None:
    """Display `widget` in Jupyter; in static mode print one line instead."""
    if static_mode():
        print(f"({note}: run this notebook in Jupyter to use it; the figure above shows examples)")
        return
    from IPython.display import display
    display(widget)


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

    Returns (widget, run) where `run(text)` performs one query programmatically (what tests call).
    """
    import ipywidgets as w

    box = w.Text(value=initial, placeholder=placeholder, description=description,
                 layout=w.Layout(width="60%"), continuous_update=False)
    out = w.Output()

    def run(text):
        with drawing_into(out):
            on_query(text)

    box.observe(lambda change: run(change["new"]), names="value")
    return w.VBox([box, out]), run
