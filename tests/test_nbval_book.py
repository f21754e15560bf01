"""tests/nbval_book.py, the plugin `make test` adds to nbval: failures fail, passes feed the book's cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def notebook(path: Path, *cells: str, tags: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# test")] + [nbformat.v4.new_code_cell(c) for c in cells]
    for index, cell_tags in (tags or {}).items():
        nb.cells[index + 1].metadata["tags"] = cell_tags
    nbformat.write(nb, path)
    return path


def plugin_args(tmp_path: Path) -> list[str]:
    """The command line that runs the book's nbval plugin with its cache and times under `tmp_path`."""
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "tests.nbval_book",
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "--notebook-cache",
        str(tmp_path / "cache"),
        "--notebook-times",
        str(tmp_path / "times.json"),
    ]


def run_plugin(tmp_path: Path, *notebooks: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*plugin_args(tmp_path), "-o", "addopts=-rs", *map(str, notebooks)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cells_pass_fail_skip_and_only_passing_notebooks_are_cached(tmp_path):
    good = notebook(
        tmp_path / "good.ipynb",
        "x = 1",
        "raise NotImplementedError('exercise stub')",  # tagged: allowed to raise
        "print(x + 1)",
        tags={1: ["raises-exception"]},
    )
    bad = notebook(tmp_path / "bad.ipynb", "y = 2", "raise ValueError('deliberately broken')", "print(y)")
    result = run_plugin(tmp_path, good, bad)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 failed, 4 passed, 1 skipped" in out, out  # good: 3 cells; bad: 1 passes, 1 fails, 1 skipped
    assert "deliberately broken" in out and "not run: Cell 1 failed" in out, out

    from jupyter_cache import get_cache

    cache = get_cache(str(tmp_path / "cache"))
    cached = {Path(r.uri).name for r in cache.list_cache_records()}
    assert cached == {"good.ipynb"}, cached
    # What Jupyter Book will look up: the notebook as it is on disk matches the cached execution.
    record = cache.match_cache_notebook(nbformat.read(good, as_version=4))
    outputs = [c.outputs for c in cache.get_cache_bundle(record.pk).nb.cells if c.cell_type == "code"]
    assert outputs[2][0]["text"] == "2\n"
    times = json.loads((tmp_path / "times.json").read_text())
    assert times["good"]["passed"] is True and times["bad"]["passed"] is False
    # The stored run carries what the kernel printed, with execution counts, like a notebook saved in Jupyter.
    cells = [c for c in cache.get_cache_bundle(record.pk).nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == [1, 2, 3]
    assert outputs[1][0]["output_type"] == "error" and outputs[1][0]["ename"] == "NotImplementedError"


@pytest.mark.slow
def test_a_partial_run_is_not_cached(tmp_path):
    good = notebook(tmp_path / "good.ipynb", "x = 1", "print(x)")
    args = plugin_args(tmp_path)
    ids = subprocess.run(
        [*args, "--collect-only", "-q", str(good)], cwd=ROOT, capture_output=True, text=True, timeout=300
    ).stdout.splitlines()
    (last,) = [i for i in ids if i.endswith("Cell 1")]
    result = subprocess.run(
        [*args, "--deselect", last, str(good)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and "1 passed, 1 deselected" in result.stdout, result.stdout + result.stderr
    assert (
        not (tmp_path / "cache").exists()
        or not __import__("jupyter_cache").get_cache(str(tmp_path / "cache")).list_cache_records()
    )


@pytest.mark.slow
def test_a_run_during_which_helpers_changed_is_not_cached(tmp_path):
    """Its outputs come from the code before the edit; stored under the new code's stamp, the book would show them."""
    edit = ROOT / "helpers" / ".edited-during-a-test-run"
    good = notebook(tmp_path / "good.ipynb", "x = 1", f"open({str(edit)!r}, 'w').close()  # an author's edit")
    try:
        result = run_plugin(tmp_path, good)
    finally:
        edit.unlink(missing_ok=True)
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "2 passed" in out and "helpers/ changed while it ran" in out, out
    assert (
        not (tmp_path / "cache").exists()
        or not __import__("jupyter_cache").get_cache(str(tmp_path / "cache")).list_cache_records()
    )
