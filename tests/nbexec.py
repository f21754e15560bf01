"""pytest plugin: test notebooks cell by cell (like ``nbval --nbval-lax``), and keep the run for the book.

Loaded with ``python -m pytest -p tests.nbexec --notebooks notebooks/*.ipynb`` (``make test`` does it).

* One test item per code cell, run in order in one kernel per notebook, with the current environment's
  Python (what ``--nbval-current-env`` does). A cell fails if it raises, unless it is tagged
  ``raises-exception`` (the tag nbval, nbclient and Jupyter Book all honour); after a failed cell the rest
  of that notebook is skipped, with the reason, instead of piling up ``NameError``\\ s. Outputs are not
  compared (``--nbval-lax``): notebooks assert their own quality floors in code.
* Cells run through ``nbclient``, the executor Jupyter Book itself uses, so outputs are recorded exactly as
  the book would record them (``clear_output``, display updates, widget state included).
* When every cell of a notebook passed, the executed notebook is stored in the book's jupyter-cache
  (``--notebook-cache``, default ``_build/.jupyter_cache``, the ``execute.cache`` of ``_config.yml``).
  ``jupyter-book build`` in ``cache`` mode then finds it ("Using cached notebook") and does not execute the
  notebook again: CI executes every notebook once. The cache key is jupyter-cache's hash of the code cells,
  so any edit to a code cell makes the book execute that notebook afresh.
* Wall time per notebook is written to ``_build/notebook_times.json`` (used by the performance page).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

RAISES_TAGS = {"raises-exception", "nbval-raises-exception"}
SKIP_TAGS = {"nbval-skip", "skip-execution"}


def pytest_addoption(parser):
    group = parser.getgroup("notebooks", "executing notebooks (tests/nbexec.py)")
    group.addoption("--notebooks", action="store_true", help="collect .ipynb files: one test per code cell")
    group.addoption(
        "--notebook-timeout", type=int, default=600, help="seconds one cell may run (default 600, as the book)"
    )
    group.addoption(
        "--notebook-cache",
        default="_build/.jupyter_cache",
        help="jupyter-cache folder to store fully passing executions in ('' to store nothing)",
    )
    group.addoption(
        "--notebook-times", default="_build/notebook_times.json", help="JSON file of wall seconds per notebook"
    )


def pytest_collect_file(file_path: Path, parent):
    if (
        parent.config.getoption("notebooks")
        and file_path.suffix == ".ipynb"
        and ".ipynb_checkpoints" not in file_path.parts
    ):
        return NotebookFile.from_parent(parent, path=file_path)
    return None


class NotebookCellError(Exception):
    """A notebook cell raised (or timed out, or the kernel died)."""


class NotebookFile(pytest.File):
    def collect(self):
        self.nb = nbformat.read(self.path, as_version=4)
        self.client = None
        self.failed: str | None = None
        self.passed_cells: set[int] = set()
        self.code_indices = [
            i for i, cell in enumerate(self.nb.cells) if cell.cell_type == "code" and cell.source.strip()
        ]
        for number, index in enumerate(self.code_indices):
            yield NotebookCell.from_parent(self, name=f"cell {number}", index=index, number=number)

    def setup(self):
        from nbclient import NotebookClient

        config = self.config
        self.started = time.perf_counter()
        self.client = NotebookClient(
            self.nb,
            timeout=config.getoption("notebook_timeout"),
            allow_errors=False,
            record_timing=False,
            resources={"metadata": {"path": str(self.path.parent)}},
        )
        client = self.client
        client.reset_execution_trackers()
        client.km = client.create_kernel_manager()
        client.start_new_kernel()
        client.start_new_kernel_client()
        # As nbclient's execute() does: the kernel's language_info goes into the notebook metadata.
        info = client.wait_for_reply(client.kc.kernel_info())
        if info is not None and "language_info" in info["content"]:
            self.nb.metadata["language_info"] = info["content"]["language_info"]

    def teardown(self):
        client = self.client
        if client is None:
            return
        try:
            client.set_widgets_metadata()
        finally:
            if client.km is not None:
                client._cleanup_kernel()
        seconds = time.perf_counter() - self.started
        self._nb_write_time(seconds)
        complete = self.failed is None and self.passed_cells == set(self.code_indices)
        cache_path = self.config.getoption("notebook_cache")
        if complete and cache_path:
            self._nb_cache_store(cache_path, seconds)

    def _nb_write_time(self, seconds: float) -> None:
        path = Path(self.config.getoption("notebook_times"))
        path.parent.mkdir(parents=True, exist_ok=True)
        times = json.loads(path.read_text()) if path.exists() else {}
        times[self.path.stem] = {"seconds": round(seconds, 1), "passed": self.failed is None}
        path.write_text(json.dumps(times, indent=2, sort_keys=True) + "\n")

    def _nb_cache_store(self, cache_path: str, seconds: float) -> None:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        cache = get_cache(cache_path)
        # Same URI as Jupyter Book uses, so `jcache notebook list` shows one entry per notebook.
        cache.cache_notebook_bundle(
            CacheBundleIn(self.nb, str(self.path.resolve()), data={"execution_seconds": seconds}),
            check_validity=False,
            overwrite=True,
        )


class NotebookCell(pytest.Item):
    def __init__(self, *, index: int, number: int, **kwargs):
        super().__init__(**kwargs)
        self.index = index
        self.number = number
        self.cell = self.parent.nb.cells[index]

    def runtest(self):
        nbfile: NotebookFile = self.parent
        tags = set(self.cell.metadata.get("tags", []))
        if tags & SKIP_TAGS:
            nbfile.passed_cells.add(self.index)
            pytest.skip(f"tagged {sorted(tags & SKIP_TAGS)}")
        if nbfile.failed:
            pytest.skip(f"not run: {nbfile.failed} failed")
        if tags & RAISES_TAGS and "raises-exception" not in tags:
            # nbclient only knows the plain tag: treat nbval's spelling the same way.
            self.cell.metadata.setdefault("tags", []).append("raises-exception")
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        client = nbfile.client
        try:
            client.execute_cell(self.cell, self.index, execution_count=client.code_cells_executed + 1)
        except CellTimeoutError as err:
            nbfile.failed = self.name
            raise NotebookCellError(f"timed out after {client.timeout} s\n{err}") from None
        except DeadKernelError as err:
            nbfile.failed = self.name
            raise NotebookCellError(f"the kernel died (out of memory?)\n{err}") from None
        except CellExecutionError as err:
            nbfile.failed = self.name
            raise NotebookCellError(str(err)) from None
        nbfile.passed_cells.add(self.index)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookCellError):
            source = "\n".join(f"    {line}" for line in self.cell.source.splitlines())
            return f"{self.path.name}, {self.name} (notebook cell {self.index}):\n{source}\n\n{excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"
