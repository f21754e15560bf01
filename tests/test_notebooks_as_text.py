"""Notebooks as text (issue 15): every notebook has a jupytext py:percent twin with the same cells.

The twins are what linters (`make lint`), the duplicate finder and code review read; the `.ipynb` files are what
Jupyter, nbval and the book run. `make sync` (jupytext --sync) brings a pair back together after an edit on
either side; this test fails when they differ, naming the pair and the command.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.ipynb"))


def as_percent(notebook: Path) -> str:
    """The py:percent text jupytext writes for `notebook` (what its twin must hold)."""
    return jupytext.writes(jupytext.read(notebook), fmt="py:percent")


def test_every_notebook_has_a_twin_and_every_twin_a_notebook():
    twins = {p.stem for p in NOTEBOOKS.glob("*.py")}
    notebooks = {p.stem for p in PAIRS}
    assert notebooks, "no notebooks found"
    assert notebooks == twins, (
        f"notebooks without a py:percent twin: {sorted(notebooks - twins)}; twins without a "
        f"notebook: {sorted(twins - notebooks)}; run `make sync`"
    )


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_twin_holds_the_notebooks_cells(notebook):
    twin = notebook.with_suffix(".py")
    assert twin.exists(), f"{twin.name} is missing: run `make sync`"
    assert twin.read_text(encoding="utf-8") == as_percent(notebook), (
        f"{notebook.name} and {twin.name} differ: run `make sync` (jupytext --sync keeps the newer side)"
    )


def test_the_check_sees_a_one_character_edit(tmp_path):
    """The comparison is exact: an edit in a code cell of the notebook alone makes the pair differ."""
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# A title"), nbformat.v4.new_code_cell("x = 1\nprint(x)")]
    )
    path = tmp_path / "a.ipynb"
    nbformat.write(nb, str(path))
    path.with_suffix(".py").write_text(as_percent(path), encoding="utf-8")
    assert path.with_suffix(".py").read_text(encoding="utf-8") == as_percent(path)
    nb.cells[1].source = "x = 2\nprint(x)"
    nbformat.write(nb, str(path))
    assert path.with_suffix(".py").read_text(encoding="utf-8") != as_percent(path)


CODE_LINE_LIMIT = 88  # characters: a code cell of the HTML book shows this much without scrolling sideways


def long_code_lines(notebook: Path, limit: int = CODE_LINE_LIMIT) -> list:
    """['<notebook> cell <k> line <j>: <n> characters', ...] for each code line longer than `limit`."""
    import nbformat

    nb = nbformat.read(str(notebook), as_version=4)
    return [
        f"{notebook.name} cell {k} line {j}: {len(line)} characters"
        for k, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for j, line in enumerate(cell.source.splitlines(), 1)
        if len(line) > limit
    ]


@pytest.mark.parametrize("notebook", PAIRS, ids=lambda p: p.stem)
def test_code_lines_fit_the_book_page(notebook):
    """No code line over 88 characters (issue 15; 950 when the check came in, 2026-11-30): `make sync` runs
    ruff format, which breaks code; long strings, comments and docstrings are broken by hand."""
    too_long = long_code_lines(notebook)
    assert not too_long, (
        f"{len(too_long)} code lines over {CODE_LINE_LIMIT} characters: they scroll sideways in the HTML book; run "
        "`make sync` (ruff format), then break long strings (adjacent literals), comments and docstrings:\n"
        + "\n".join(too_long[:20])
    )


def test_the_line_check_counts_code_not_prose(tmp_path):
    import nbformat

    long = "x = " + "1 + " * 30 + "1"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("word " * 40), nbformat.v4.new_code_cell("y = 1\n" + long)]
    )
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    assert long_code_lines(tmp_path / "a.ipynb") == [f"a.ipynb cell 1 line 2: {len(long)} characters"]
