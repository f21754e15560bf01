"""Every solution is run by ``make test`` (fast): no exercise's solution can be left unrun (issue 16).

Each ``{solution}`` block of every notebook (``tests/solutions.py`` says how they are read) must be a checked
pair, solution cells the notebook runs, a block with a ```python snippet that ``tests/test_solutions_run.py``
runs, an exercise in that test's parameter table, or one of the few ``DESCRIBED_ONLY`` solutions. The snippets
must parse, read only names the notebook defines (a wrong name fails here, in a second, not after a run of
the notebook) and fit the book's code width; the parameter table must name parameters that exist.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from tests import solutions as sol

NOTEBOOKS = sol.chapter_notebooks()
CODE_LINE_LIMIT = 88  # the code width of the book's cells (tests/test_notebooks_as_text.py)


def cells_of(path):
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_solution_is_run(notebook):
    cells = cells_of(notebook)
    problems = []
    for s in sol.solutions(cells, notebook.stem):
        problems += [f"{s.label}: {p}" for p in s.problems]
        if sol.how_run(s, cells) is None:
            problems.append(
                f"{s.label}: nothing runs this solution. Give it a checked pair (scripts/make_exercises.py), "
                f"a ```python snippet (and {notebook.stem} a run in tests/solutions.py RUNS), or its exercise's "
                "parameters in RUNS"
            )
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_snippets_parse_and_use_the_notebooks_names(notebook):
    cells = cells_of(notebook)
    problems, earlier = [], []
    for s in sol.solutions(cells, notebook.stem):
        for code in s.snippets:
            try:
                ast.parse(code)
            except SyntaxError as err:
                problems.append(f"{s.label}: the snippet does not parse: {err}")
                continue
            missing = sol.unknown_names(code, cells, tuple(earlier))
            if missing:
                problems.append(f"{s.label}: the snippet reads names the notebook does not define: {missing}")
            long = [line for line in code.split("\n") if len(line) > CODE_LINE_LIMIT]
            if long:
                problems.append(f"{s.label}: snippet lines over {CODE_LINE_LIMIT} characters: {long}")
            earlier.append(code)
    assert not problems, f"{notebook.name}:\n" + "\n".join(problems)


def test_the_table_names_real_exercises_and_parameters():
    by_stem = {p.stem: p for p in NOTEBOOKS}
    labels = {}
    for path in NOTEBOOKS:
        for s in sol.solutions(cells_of(path), path.stem):
            labels[s.label] = s
    for run in sol.RUNS:
        assert run.notebook in by_stem, f"RUNS names {run.notebook}, which is not a notebook"
        cells = cells_of(by_stem[run.notebook])
        names = sol.parameter_names(cells)
        unknown = sorted(set(run.injected()) - names)
        assert not unknown, f"{run.notebook}: {unknown} are not in its Parameters cell (papermill would ignore them)"
        for label in run.exercises:
            assert label in labels and labels[label].notebook == run.notebook, f"{label}: no such solution"
            # The exercise's settings (`NAME = value` in its text): real parameters, each used by the run or
            # set aside with a reason.
            settings = sol.settings_in(sol.exercise_text(cells, label))
            assert settings, f"{label}: its text names no `NAME = value` setting"
            for name, value in settings.items():
                assert name in names, f"{label} asks for `{name} = {value}`, but {name} is not a parameter"
                if name in run.params:
                    assert run.params[name] == ast.literal_eval(value), (
                        f"{label} asks for {name} = {value}, the run uses {run.params[name]!r}"
                    )
                else:
                    assert name in run.not_run or name in run.schedule, (
                        f"{label} asks for {name} = {value}: set it in the run's params, or say in not_run why not"
                    )
    for label in sol.DESCRIBED_ONLY:
        assert label in labels, f"DESCRIBED_ONLY names {label}, which is no solution (remove it)"
        assert not labels[label].snippets, f"{label} has a snippet now: the slow test runs it, remove it"


# ------------------------------------------------------------------ the check itself, on made-up notebooks
def _md(text):
    return nbformat.v4.new_markdown_cell(text)


def _code(text, *tags):
    return nbformat.v4.new_code_cell(text, metadata={"tags": list(tags)})


EXERCISE = "```{{exercise}}\n:label: {0}\n\nDo it.\n```\n\n"


def _notebook():
    return [
        _code("EPOCHS = 2\nWIDTH = 8", "parameters"),
        _code("import helpers\nfrom helpers import metrics\nx = 3"),
        _md(EXERCISE.format("toy-pair")),
        _code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", "hide-input"),
        _code("assert f() == 1", "check"),
        _md("```{solution} toy-pair\n:class: dropdown\nBecause.\n```"),
        _md(EXERCISE.format("toy-snippet") + "````{solution} toy-snippet\n\n```python\nprint(x + 1)\n```\n````"),
        _md(EXERCISE.format("toy-params") + "```{solution} toy-params\nSet `WIDTH = 16`.\n```"),
        _md(EXERCISE.format("toy-cells") + "```{solution-start} toy-cells\n:class: dropdown\n```\nText."),
        _code("y = x * 2"),
        _md("More text.\n```{solution-end}\n```"),
    ]


def test_a_made_up_notebook_with_every_kind_is_covered():
    cells = _notebook()
    runs = (sol.Run("toy", params={"WIDTH": 16}, exercises=("toy-params",)),)
    found = {s.label: sol.how_run(s, cells, runs=runs, described={}) for s in sol.solutions(cells, "toy")}
    assert found == {
        "toy-pair": "checked pair",
        "toy-snippet": "snippet",
        "toy-params": "parameters",
        "toy-cells": "cells",
    }
    snippet = next(s for s in sol.solutions(cells, "toy") if s.label == "toy-snippet")
    assert snippet.snippets == ["print(x + 1)"] and not snippet.problems
    assert sol.unknown_names("print(x + 1)", cells) == []
    assert sol.parameter_names(cells) == {"EPOCHS", "WIDTH"}
    assert sol.settings_in("Set `WIDTH = 16` and `T = len(x)`, not `x = 1`.") == {"WIDTH": "16", "T": "len(x)"}


def test_an_uncovered_solution_fails_for_the_right_reason():
    cells = _notebook()
    runs = (sol.Run("toy", params={"WIDTH": 16}, exercises=("toy-params",)),)
    # A prose solution with no check, no snippet, no parameters: not run.
    cells.append(_md(EXERCISE.format("toy-prose") + "```{solution} toy-prose\nJust words.\n```"))
    found = {s.label: sol.how_run(s, cells, runs=runs, described={}) for s in sol.solutions(cells, "toy")}
    assert found["toy-prose"] is None and all(v for k, v in found.items() if k != "toy-prose")
    # Described only, with a reason: covered.
    prose = next(s for s in sol.solutions(cells, "toy") if s.label == "toy-prose")
    assert sol.how_run(prose, cells, runs=runs, described={"toy-prose": "why"}) == "described only"
    # A snippet in a notebook that no run executes: not run.
    snippet = next(s for s in sol.solutions(cells, "toy") if s.label == "toy-snippet")
    assert sol.how_run(snippet, cells, runs=(), described={}) is None
    # The parameter exercise without its run: not run.
    params = next(s for s in sol.solutions(cells, "toy") if s.label == "toy-params")
    assert sol.how_run(params, cells, runs=(), described={}) is None


def test_code_the_slow_test_would_miss_is_an_error():
    indented = sol.code_in("Do this:\n\n    x = 1\n    print(x)\n\nThen that.")
    assert indented[0] == [] and "indented code block" in indented[1][0]
    bare = sol.code_in("```\nx = 1\n```")
    assert bare[0] == [] and "without a language" in bare[1][0]
    assert sol.code_in("```bash\nls\n```") == ([], [])  # a shell command is not a snippet
    assert sol.code_in("- a list item\n\n    continued") == ([], [])
    assert sol.code_in("Run:\n\n```python\na = 1\n```\n") == (["a = 1"], [])


def test_a_wrong_name_in_a_snippet_is_found():
    cells = _notebook()
    assert sol.unknown_names("print(captions_text)", cells) == ["captions_text"]
    assert sol.unknown_names("z = x + 1\nprint(z, len([1]))", cells) == []
    assert sol.unknown_names("print(y)", cells, earlier=("y = 1",)) == []
    assert sol.unknown_names("metrics.no_such_function()", cells) == ["metrics.no_such_function"]
    assert sol.unknown_names("metrics.ranks([], [], [])", cells) == []
