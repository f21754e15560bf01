"""pytest plugin on top of nbval: each notebook run that passed feeds the book, so CI executes it once.

``make test`` runs::

    python -m pytest tests -p tests.nbval_book --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \\
        notebooks/00_....ipynb notebooks/01_....ipynb ...

**nbval** executes every notebook cell by cell, in order, in one kernel per notebook (one test per code cell).
With ``--nbval-lax`` a cell fails only if it raises, unless it is tagged ``raises-exception``; outputs are
not compared, because the notebooks assert their own quality floors in code. This plugin adds three things:

* After a cell fails, the rest of that notebook is skipped with the reason ("not run: Cell 7 failed"),
  instead of a pile of ``NameError``\\ s from cells that depended on it.
* The outputs nbval received for each cell are written into the notebook, and when every code cell of a
  notebook ran and passed, the executed notebook is stored in the book's jupyter-cache (``--notebook-cache``,
  default ``_build/.jupyter_cache``, the ``execute.cache`` of ``_config.yml``). ``jupyter-book build`` in
  ``cache`` mode then finds it ("Using cached notebook") and does not execute the notebook again. The cache
  key is jupyter-cache's hash of the code cells, so any edit to a code cell makes the book execute that
  notebook afresh; and ``tests/book_cache.py`` empties the cache first when ``helpers/`` or
  ``requirements.txt`` changed since the runs it holds. A run during which they changed is not stored, nor is
  a run restricted with ``-k`` or ``--deselect`` (it is not a whole execution).
* Wall seconds per notebook go to ``--notebook-times`` (default ``_build/notebook_times.json``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import IPyNbCell

_NOT_STORED = []  # lines for the summary: runs not stored because the code changed under them


def pytest_terminal_summary(terminalreporter):
    for line in _NOT_STORED:
        terminalreporter.write_line(line)


def pytest_addoption(parser):
    group = parser.getgroup("nbval-book", "notebook runs that feed the book (tests/nbval_book.py)")
    group.addoption(
        "--notebook-cache",
        default="_build/.jupyter_cache",
        help="jupyter-cache folder to store fully passing executions in ('' to store nothing)",
    )
    group.addoption(
        "--notebook-times", default="_build/notebook_times.json", help="JSON file of wall seconds per notebook"
    )


def _run(nbfile) -> dict:
    """This notebook's run so far, kept on nbval's collector node."""
    run = getattr(nbfile, "_book_run", None)
    if run is None:
        from tests.book_cache import inputs_digest  # the code this run imports: compared again before storing

        run = nbfile._book_run = {"started": time.perf_counter(), "failed": None, "count": 0, "done": 0}
        run["digest"] = inputs_digest()
    return run


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if isinstance(item, IPyNbCell):
        failed = _run(item.parent)["failed"]
        if failed:
            pytest.skip(f"not run: {failed} failed")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not isinstance(item, IPyNbCell) or report.when != "call":
        return
    run = _run(item.parent)
    if report.failed:
        run["failed"] = item.name
        return
    run["done"] += 1  # passed, or skipped by its own `nbval-skip` tag
    if report.passed:
        run["count"] += 1
        outputs = [nbformat.from_dict(dict(o)) for o in (item.test_outputs or [])]
        for output in outputs:
            if output.output_type == "execute_result":
                output.execution_count = run["count"]
        item.cell.outputs = outputs
        item.cell.execution_count = run["count"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    if not isinstance(item, IPyNbCell) or (nextitem is not None and nextitem.parent is item.parent):
        return
    nbfile = item.parent
    run = _run(nbfile)
    seconds = time.perf_counter() - run["started"]
    config = item.config
    times_path = Path(config.getoption("notebook_times"))
    times_path.parent.mkdir(parents=True, exist_ok=True)
    times = json.loads(times_path.read_text()) if times_path.exists() else {}
    times[nbfile.path.stem] = {"seconds": round(seconds, 1), "passed": run["failed"] is None}
    times_path.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")

    n_code = sum(1 for c in nbfile.nb.cells if c.cell_type == "code")
    cache_path = config.getoption("notebook_cache")
    if run["failed"] is None and run["done"] == n_code and cache_path:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        from tests.book_cache import ensure_fresh, inputs_digest

        if inputs_digest() != run["digest"]:  # edited while it ran: its outputs are the old code's
            _NOT_STORED.append(f"{nbfile.path.name}: not stored in the book's cache: helpers/ changed while it ran")
            return
        ensure_fresh(Path(cache_path))  # runs made with older helpers/ must not sit beside this one

        # Same URI as Jupyter Book uses, so `jcache notebook list` shows one entry per notebook.
        get_cache(cache_path).cache_notebook_bundle(
            CacheBundleIn(nbfile.nb, str(nbfile.path.resolve()), data={"execution_seconds": seconds}),
            check_validity=False,
            overwrite=True,
        )
