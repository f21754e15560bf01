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
import re
import sys
from pathlib import Path

import nbformat
import pytest

from tests.solutions import tags

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


def test_label_renaming_keeps_the_lines_around_it():
    text = "```{exercise}\n:label: q\n\nAsk.\n```\n\n```{solution} q\n:class: dropdown\n\nAnswer.\n```"
    renamed = gen.rename_labels(text, ["q"])
    assert renamed == text.replace(":label: q", ":label: q-exercise").replace("{solution} q", "{solution} q-exercise")
    assert ":label: q-exercise\n\nAsk." in renamed  # the blank line after the option stays (MyST needs it)


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


# ------------------------------------------------------------- chapter notebooks (00-03): exercises in the page
# A chapter is one page of the book (no second, executed copy): each code exercise is a solution cell (SOLUTION
# markers, tagged hide-input), a check cell right after it, and cells tagged uses-exercises that apply it to the
# chapter's data. The student copy comes from `make_exercises.py --student`. Here every (solution, check) pair
# runs in a fresh namespace after the notebook's Parameters cell and the imports cell below it, once with the
# solution (the check must pass) and once with the generated stub (the check must fail, with NotImplementedError
# or AssertionError, and the stub cell itself must not): the checks are proven to bite.
CHAPTERS = sorted((ROOT / "notebooks").glob("0[0-3]_*.ipynb"))
PILOT = "02_devise_zero_shot"  # the chapter whose student copy is tested below
# The checked code exercises each chapter must keep (solution, check pairs): a chapter losing one fails here.
MIN_PAIRS = {
    "00_data_features_devices": 1,  # most_ambiguous
    "01_search_by_regression": 1,  # hinge_loss
    "02_devise_zero_shot": 3,  # soft_probs, hinge_first_violation, SeedScaled
    "03_show_and_tell": 3,  # length_normalized, sample_decode, image_at_every_step
}


def _has_markers(cell) -> bool:
    return any(gen.BEGIN_RE.match(line) for line in cell.source.split("\n"))


def chapter_pairs(nb) -> list[tuple]:
    """(solution cell, check cell) pairs: each check cell with the nearest solution cell above it."""
    pairs, last = [], None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "solution" in tags(cell) or _has_markers(cell):
            last = cell
        elif "check" in tags(cell):
            assert last is not None, f"check cell {cell.id} has no solution cell above it"
            pairs.append((last, cell))
    return pairs


def setup_source(nb) -> str:
    """The Parameters cell and the code cell after it (the imports)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, c in enumerate(code) if "parameters" in tags(c))
    return "\n\n".join(c.source for c in code[first : first + 2])


_RUNNER = r"""
import json, sys, traceback
import matplotlib
matplotlib.use("Agg")
job = json.load(sys.stdin)
out = []
for pair in job["pairs"]:
    for mode in ("solution", "stub"):
        ns = {"__name__": "__main__"}
        exec(compile(job["setup"], "setup", "exec"), ns)
        stage = mode
        try:
            exec(compile(pair[mode], mode, "exec"), ns)
            stage = "check"
            exec(compile(pair["check"], "check", "exec"), ns)
            out.append([pair["id"], mode, "passed", ""])
        except Exception as err:
            out.append([pair["id"], mode, stage + ":" + type(err).__name__, traceback.format_exc(limit=3)])
print("RESULTS" + json.dumps(out))
"""


def _run_pairs(chapter: Path):
    import json
    import os
    import subprocess

    nb = nbformat.read(chapter, as_version=4)
    stubs = {c.id: c.source for c in gen.make_exercise(nb).cells}
    pairs = [
        {"id": check.id, "solution": sol.source, "stub": stubs[sol.id], "check": check.source}
        for sol, check in chapter_pairs(nb)
    ]
    if not pairs:
        return nb, []
    env = {**os.environ, "SEEING_SAYING_STATIC": "1", "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        input=json.dumps({"setup": setup_source(nb), "pairs": pairs}),
        capture_output=True,
        text=True,
        cwd=chapter.parent,
        env=env,
        timeout=300,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULTS")), None)
    assert line, f"the runner failed:\n{proc.stderr[-3000:]}"
    return nb, json.loads(line[len("RESULTS") :])


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_checks_pass_on_solutions_and_fail_on_stubs(chapter):
    nb, results = _run_pairs(chapter)
    pairs = len(results) // 2  # each pair runs twice: with the solution and with the stub
    assert pairs >= MIN_PAIRS.get(chapter.stem, 0), f"{chapter.stem} has {pairs} checked code exercises"
    problems = []
    for check_id, mode, outcome, trace in results:
        if mode == "solution" and outcome != "passed":
            problems.append(f"{check_id}: the check fails on the solution ({outcome})\n{trace}")
        if mode == "stub" and outcome not in ("check:NotImplementedError", "check:AssertionError"):
            problems.append(f"{check_id}: on the stub the check gives {outcome}, not a failing check\n{trace}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_exercise_cells(chapter):
    """Solution cells are collapsed in the book and followed by their check; the rest of the chapter does not
    depend on an exercise except through cells tagged uses-exercises."""
    nb = nbformat.read(chapter, as_version=4)
    pairs = chapter_pairs(nb)
    solutions = [c for c in nb.cells if c.cell_type == "code" and ("solution" in tags(c) or _has_markers(c))]
    assert {s.id for s, _ in pairs} == {s.id for s in solutions}, "every solution cell has a check cell"
    for cell in solutions:
        assert "hide-input" in tags(cell), f"solution cell {cell.id}: tag it hide-input (collapsed in the book)"
    code = [c for c in nb.cells if c.cell_type == "code"]
    if solutions:
        first = code.index(solutions[0])
        # The exercises' names are used only by solution, check and uses-exercises cells.
        names = set()
        for cell in solutions:
            names |= set(re.findall(r"^(?:def|class)\s+(\w+)", cell.source, flags=re.MULTILINE))
        for cell in code[first:]:
            if cell in solutions or tags(cell) & {"check", "uses-exercises", "solution-only"}:
                continue
            used = {n for n in names if re.search(rf"\b{n}\b", cell.source)}
            assert not used, f"cell {cell.id} uses {sorted(used)}: tag it uses-exercises"


def test_student_copy(tmp_path, capsys):
    chapter = ROOT / "notebooks" / f"{PILOT}.ipynb"
    target = tmp_path / "student" / "02.ipynb"
    assert gen.main(["--student", str(chapter), "--output", str(target)]) == 0
    student = nbformat.read(target, as_version=4)
    nbformat.validate(student)
    text = target.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in "".join(c.source for c in student.cells if c.cell_type == "code")
    stubs = [c for c in student.cells if c.cell_type == "code" and gen.STUB_COMMENT in c.source]
    assert len(stubs) >= 3 and all("hide-input" not in tags(c) for c in stubs)
    assert all("raises-exception" in tags(c) for c in stubs)
    assert gen.render(gen.make_student(nbformat.read(chapter, as_version=4), chapter.name)) == text
    # Not under notebooks/ (the book and the tests would pick it up), and not over the chapter itself.
    assert gen.main(["--student", str(chapter), "--output", str(ROOT / "notebooks" / "x.ipynb")]) == 2
    assert not (ROOT / "notebooks" / "x.ipynb").exists()
    below = ROOT / "notebooks" / "mine" / "x.ipynb"  # nor in a folder below it
    assert gen.main(["--student", str(chapter), "--output", str(below)]) == 2
    assert not below.parent.exists()
    with pytest.raises(SystemExit):
        gen.main(["--student", str(chapter)])  # no --output
    # A missing file or one that is not a notebook: one line on stderr, exit 2, nothing written.
    capsys.readouterr()
    for bad in (tmp_path / "missing.ipynb", ROOT / "README.md"):
        assert gen.main(["--student", str(bad), "--output", str(tmp_path / "bad.ipynb")]) == 2
        err = capsys.readouterr().err.strip()
        assert "not a readable notebook" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "bad.ipynb").exists()
