"""Exercise notebooks: the student notebook is generated from the solution notebook, and its checks bite.

* Drift: every committed ``notebooks/*_exercise.ipynb`` equals what ``scripts/make_exercises.py`` generates
  from its ``*_solution.ipynb`` (fast).
* The generator itself, on a small synthetic notebook: regions, tags, labels, errors, determinism (fast).
* Both ways (slow): the solution notebook's check cells pass (the cells tagged ``uses-exercises`` — training
  and everything after it — are skipped: ``make test`` runs the whole notebook anyway), and in the student
  notebook, executed as the book executes it, every check cell fails with ``NotImplementedError`` while no
  other cell fails. One execution of each notebook covers every exercise.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "make_exercises.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_exercises", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_exercises", module)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
SOLUTIONS = sorted((ROOT / "notebooks").glob("*_solution.ipynb"))
IDS = [p.stem for p in SOLUTIONS]


def tags(cell) -> set:
    return set(cell.metadata.get("tags", []))


# ------------------------------------------------------------------------------------------- drift
@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_student_notebook_is_generated(solution):
    target, text = gen.generate(solution)
    assert target.exists(), f"{target.name} is missing: run python scripts/make_exercises.py"
    assert target.read_text(encoding="utf-8") == text, (
        f"{target.name} differs from the notebook generated from {solution.name}: edit the solution notebook "
        "only, then run python scripts/make_exercises.py"
    )


@pytest.mark.parametrize("solution", SOLUTIONS, ids=IDS)
def test_student_notebook_structure(solution):
    sol = nbformat.read(solution, as_version=4)
    ex = nbformat.read(gen.exercise_path(solution), as_version=4)
    nbformat.validate(ex)
    for cell in ex.cells:
        if cell.cell_type == "code":  # prose may name the markers; code must not keep them
            assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
        assert "solution-only" not in tags(cell)
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            if "NotImplementedError" in cell.source and gen.STUB_COMMENT in cell.source or "check" in tags(cell):
                assert "raises-exception" in tags(cell), f"cell {cell.id} must be tagged raises-exception"
            if "uses-exercises" in tags(cell):
                assert {"skip-execution", "nbval-skip"} <= tags(cell)
    # The same cell ids in the same order (minus the solution-only cells): the notebooks line up.
    kept = [c.id for c in sol.cells if "solution-only" not in tags(c)]
    assert [c.id for c in ex.cells] == kept
    # A check needs something to check: every check cell comes after at least one stub.
    first_stub = next((i for i, c in enumerate(ex.cells) if gen.STUB_COMMENT in c.source), None)
    checks = [i for i, c in enumerate(ex.cells) if "check" in tags(c)]
    if checks:
        assert first_stub is not None and first_stub < checks[0]


def test_check_mode_reports_drift(tmp_path, monkeypatch, capsys):
    nb = _toy_notebook()
    solution = tmp_path / "99_toy_solution.ipynb"
    nbformat.write(nb, solution)
    assert gen.main(["--check", str(solution)]) == 1  # missing
    assert gen.main([str(solution)]) == 0
    assert gen.main(["--check", str(solution)]) == 0
    exercise = tmp_path / "99_toy_exercise.ipynb"
    exercise.write_text(exercise.read_text().replace("YOUR CODE HERE", "my code"))
    assert gen.main(["--check", str(solution)]) == 1
    assert "differs" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- the generator
def _toy_notebook():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [
        nbformat.v4.new_markdown_cell("# Toy chapter: solutions\n\nStory."),
        nbformat.v4.new_markdown_cell("Only for the solution page.", metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_code_cell(
            'def f(x):\n    """Double x."""\n    ### BEGIN SOLUTION: double it\n    y = 2 * x\n    return y\n'
            "    ### END SOLUTION\n\n\ndef g(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"
        ),
        nbformat.v4.new_code_cell("assert f(2) == 4", metadata={"tags": ["check"]}),
        nbformat.v4.new_code_cell("z = 3 * 3", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("model = f(10)", metadata={"tags": ["uses-exercises"]}),
        nbformat.v4.new_markdown_cell(
            "(toy-ex)=\n```{exercise}\n:label: toy-q\nWhy?\n```\n\n"
            "```{solution} toy-q\n:class: dropdown\nBecause. See {ref}`toy-ex`.\n```"
        ),
    ]
    cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    cells[2].execution_count = 7
    nb.cells = cells
    for i, c in enumerate(nb.cells):
        c.id = f"cell-{i}"
    return nb


def test_generator_on_a_toy_notebook():
    nb = _toy_notebook()
    ex = gen.make_exercise(nb)
    assert nb.cells[2].outputs, "the input notebook must not be modified"
    assert [c.id for c in ex.cells] == ["cell-0", "cell-2", "cell-3", "cell-4", "cell-5", "cell-6"]
    title, stubs, check, whole, uses, md = ex.cells
    assert title.source == "# Toy chapter\n\nStory."
    assert stubs.source == (
        'def f(x):\n    """Double x."""\n    # YOUR CODE HERE\n    raise NotImplementedError("double it")\n\n\n'
        'def g(x):\n    # YOUR CODE HERE\n    raise NotImplementedError("Exercise: replace this line with your code")'
    )
    assert stubs.outputs == [] and stubs.execution_count is None
    assert "raises-exception" in tags(stubs) and "raises-exception" in tags(check)
    assert check.source == "assert f(2) == 4"
    assert whole.source.endswith('raise NotImplementedError("Exercise: replace this line with your code")')
    assert "raises-exception" in tags(whole)
    assert {"skip-execution", "nbval-skip", "uses-exercises"} <= tags(uses) and "raises-exception" not in tags(uses)
    assert "(toy-ex-exercise)=" in md.source and ":label: toy-q-exercise" in md.source
    assert "{solution} toy-q-exercise" in md.source and "{ref}`toy-ex-exercise`" in md.source
    # The stubs really raise, and the check really fails on them.
    scope = {}
    exec(stubs.source, scope)
    with pytest.raises(NotImplementedError, match="double it"):
        exec(check.source, scope)
    # Laid out as ruff format lays it out (make lint checks the twins): a stub past 88 characters is split.
    long = gen.stub_lines("        ", "x" * 80)
    assert long == [
        "        # YOUR CODE HERE",
        "        raise NotImplementedError(",
        f'            "{"x" * 80}"',
        "        )",
    ]
    assert gen.stub_lines("", 'say "hi"') == ["# YOUR CODE HERE", "raise NotImplementedError('say \"hi\"')"]
    # Deterministic: the same text twice.
    assert gen.render(gen.make_exercise(nb)) == gen.render(gen.make_exercise(_toy_notebook()))


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside the region"),
    ],
)
def test_generator_rejects_broken_markers(source, message):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    with pytest.raises(gen.ExerciseError, match=message):
        gen.make_exercise(nb)


# ------------------------------------------------------------------------------- both ways (slow)
def _execute(nb, path: Path, allow_errors: bool):
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=600,
        allow_errors=allow_errors,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    return nb


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def _has_checks(solution: Path) -> bool:
    return any("check" in tags(c) for c in nbformat.read(solution, as_version=4).cells)


CHECKED = [p for p in SOLUTIONS if _has_checks(p)]


@pytest.mark.slow
@pytest.mark.parametrize("solution", CHECKED, ids=[p.stem for p in CHECKED])
def test_checks_pass_on_the_solution(solution, monkeypatch):
    """Every cell up to the training (the exercises and their checks) runs without an error."""
    monkeypatch.setenv("SEEING_SAYING_STATIC", "1")
    nb = nbformat.read(solution, as_version=4)
    for cell in nb.cells:
        if "uses-exercises" in tags(cell):
            cell.metadata.setdefault("tags", []).append("skip-execution")
    _execute(nb, solution, allow_errors=False)  # raises CellExecutionError on the first failing cell
    ran = [c for c in nb.cells if c.cell_type == "code" and "check" in tags(c)]
    assert ran and all(c.execution_count for c in ran)


@pytest.mark.slow
@pytest.mark.parametrize("solution", CHECKED, ids=[p.stem for p in CHECKED])
def test_checks_fail_on_the_stubs(solution, monkeypatch):
    """The student notebook as the book runs it: each check fails on its untouched stub, nothing else fails."""
    monkeypatch.setenv("SEEING_SAYING_STATIC", "1")
    exercise = gen.exercise_path(solution)
    nb = _execute(nbformat.read(exercise, as_version=4), exercise, allow_errors=True)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errs = _errors(cell)
        if "check" in tags(cell):
            if not errs:
                problems.append(f"check cell {i} ({cell.id}) passed on the untouched stub")
            elif errs[0].ename != "NotImplementedError":
                problems.append(f"check cell {i} ({cell.id}) failed with {errs[0].ename}, not NotImplementedError")
        elif errs:
            stub = gen.STUB_COMMENT in cell.source and errs[0].ename == "NotImplementedError"
            if not stub:
                problems.append(f"cell {i} ({cell.id}) failed: {errs[0].ename}: {errs[0].evalue}")
        if "uses-exercises" in tags(cell) and cell.execution_count is not None:
            problems.append(f"cell {i} ({cell.id}) is tagged uses-exercises but was executed")
    assert not problems, "\n".join(problems)
