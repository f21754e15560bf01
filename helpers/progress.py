"""The static/live switch and progress bars: the bottom of the display stack.

`static_mode()` says whether notebooks run headless (the HTML book, the tests, `make bench`: the Makefile sets
`SEEING_SAYING_STATIC=1`) or live in Jupyter; `progress()` is the progress bar for either. The dataset build and
feature extraction use them, so they live below every data module; `helpers.widgets` re-exports both.

Chapter 00's dataset build and feature extraction show its bars; notebooks call it as `widgets.progress`.
Used in: notebooks/01_search_by_regression.ipynb § Watching training in TensorBoard
"""

from __future__ import annotations

import os
import sys

STATIC_ENV = "SEEING_SAYING_STATIC"


def static_mode() -> bool:
    """True when notebooks run headless (book build, tests): widgets are not displayed live."""
    return os.environ.get(STATIC_ENV, "") not in ("", "0", "false", "False")


def progress(iterable=None, **kwargs):
    """A progress bar (tqdm) for a step a student waits on; takes tqdm's arguments.

    In Jupyter it is `tqdm.auto`'s widget bar; in a terminal, tqdm's text bar. In static mode (the HTML book,
    the test runs) it is the text bar, and where the output is not a terminal (an executed notebook, a CI log)
    it goes to stdout and is redrawn at most every 10 s: a widget bar would stay frozen at its first state in the
    saved notebook, and a few redraws keep the executed notebook small (the book shows the last one).

    Used in: notebooks/01_search_by_regression.ipynb § Watching training in TensorBoard
    """
    if static_mode():
        from tqdm.std import tqdm

        if not sys.stdout.isatty():
            kwargs.setdefault("mininterval", 10)
            kwargs.setdefault("file", sys.stdout)
    else:
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)
