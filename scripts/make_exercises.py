#!/usr/bin/env python
"""Generate the student notebooks from the solution notebooks: one source of truth, no drift.

    python scripts/make_exercises.py            # write notebooks/<name>_exercise.ipynb for every <name>_solution.ipynb
    python scripts/make_exercises.py --check    # exit 1 if a committed student notebook differs from the generated one
    python scripts/make_exercises.py notebooks/04_attention_solution.ipynb   # only these

The solution notebook is what authors edit; its student twin is generated and committed (so that readers,
Binder and the book see it), and `--check` (run by tests/test_exercises.py) fails when they disagree.

How a solution notebook marks what the student writes (the conventions of nbgrader, the cell tags of
Jupyter Book and nbval):

* ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` comment lines inside a code cell: the lines between them
  (markers included) become, at the indentation of the ``BEGIN`` line::

      # YOUR CODE HERE
      raise NotImplementedError("<message>")

  The message is whatever follows the marker (``### BEGIN SOLUTION: the context vector``), else a default.
  Several regions per cell are fine; code outside them (a ``def`` line, a docstring) is kept.
* Cell tag ``solution`` on a code cell: the whole cell becomes such a stub.
* Cell tag ``check`` on a code cell: a test of the cell(s) above; kept as it is.
* Cell tag ``uses-exercises`` on a code cell: it needs the finished exercises (it trains the model built from
  them...). It is kept, but in the student notebook it also gets ``skip-execution`` (honoured by nbclient,
  so by Jupyter Book) and ``nbval-skip`` (honoured by nbval, so by ``make test``): the book executes the
  student page without running it. In Jupyter nothing is skipped: the student runs it once the checks pass.
* Cell tag ``solution-only`` (any cell): left out of the student notebook.

In the student notebook, stub cells and ``check`` cells are tagged ``raises-exception``: until the student
fills the stub, calling it raises ``NotImplementedError`` and the check fails, and the book shows that
failure instead of stopping. Markdown cells are kept (hints, explanations). Outputs and execution counts
are stripped, cell ids are kept (so the same cell has the same id in both notebooks), and the title line
loses a trailing ": solutions" / " — solutions" / " (solutions)". MyST labels defined in the notebook
(``(name)=`` targets and ``:label: name`` options, e.g. of sphinx-exercise directives) get the suffix
``-exercise``, and the notebook's own references to them follow, so the two pages of one chapter never define
the same label twice (a duplicate label is a Sphinx warning, and the book builds with ``-W``).

The output depends only on the solution notebook (no dates, no versions), so running the script twice
writes identical files.

A chapter notebook (00-03) is one page of the book, not a pair: its code exercises live in the chapter, each a
solution cell (``### BEGIN SOLUTION`` markers, and the tag ``hide-input`` so that the book shows it collapsed),
a ``check`` cell and cells tagged ``uses-exercises`` that use it on the chapter's data. A reader gets the stubs
with ``--student``, which writes a student copy to a path of their choosing (not committed, not under
``notebooks/``)::

    python scripts/make_exercises.py --student notebooks/02_devise_zero_shot.ipynb --output ~/02_student.ipynb

The copy is made as above, except that the stub cells lose ``hide-input`` (the student writes there).
tests/test_exercises.py runs each chapter's (solution, check) pairs both ways.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUB_LINE_LENGTH = 88  # the line length of notebooks/ruff.toml

BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)###\s*BEGIN SOLUTION\b[:\s\-—]*(?P<message>.*?)\s*$")
END_RE = re.compile(r"^[ \t]*###\s*END SOLUTION\b")
TITLE_SUFFIX_RE = re.compile(r"(\s*[:—–-]\s*solutions?|\s*\(solutions?\))\s*$", re.IGNORECASE)
LABEL_DEF_RES = (
    re.compile(r"^\((?P<label>[A-Za-z0-9_][\w\-.:]*)\)=\s*$", re.MULTILINE),
    re.compile(r"^\s*:label:\s*(?P<label>\S+)\s*$", re.MULTILINE),
)

DEFAULT_MESSAGE = "Exercise: replace this line with your code"
STUB_COMMENT = "# YOUR CODE HERE"
EXERCISE_SUFFIX = "-exercise"
RAISES = "raises-exception"
SKIP_TAGS = ("skip-execution", "nbval-skip")
SOURCE_TAGS = ("solution", "check", "uses-exercises", "solution-only")


class ExerciseError(ValueError):
    """A solution notebook whose markers do not make sense (an unclosed region, a stray END)."""


def exercise_path(solution: Path) -> Path:
    if not solution.name.endswith("_solution.ipynb"):
        raise ExerciseError(f"{solution.name}: a solution notebook's name ends with _solution.ipynb")
    return solution.with_name(solution.name[: -len("_solution.ipynb")] + "_exercise.ipynb")


def stub_lines(indent: str, message: str) -> list[str]:
    """The stub, laid out as ``ruff format`` lays it out (make lint checks the twins): double quotes unless the
    message holds one, and the string on its own line when the call would pass the notebooks' 88 characters."""
    message = message or DEFAULT_MESSAGE
    literal = repr(message) if '"' in message else json.dumps(message, ensure_ascii=False)
    call = f"{indent}raise NotImplementedError({literal})"
    if len(call) <= STUB_LINE_LENGTH:
        return [f"{indent}{STUB_COMMENT}", call]
    return [f"{indent}{STUB_COMMENT}", f"{indent}raise NotImplementedError(", f"{indent}    {literal}", f"{indent})"]


def strip_solutions(source: str, where: str) -> tuple[str, int]:
    """Replace every BEGIN/END SOLUTION region of `source`; returns (new source, number of regions)."""
    out, n, inside = [], 0, None
    for number, line in enumerate(source.split("\n"), start=1):
        begin, end = BEGIN_RE.match(line), END_RE.match(line)
        if inside is None:
            if end:
                raise ExerciseError(f"{where}, line {number}: END SOLUTION without BEGIN SOLUTION")
            if begin:
                inside = number
                n += 1
                out += stub_lines(begin["indent"], begin["message"])
            else:
                out.append(line)
        else:
            if begin:
                raise ExerciseError(f"{where}, line {number}: BEGIN SOLUTION inside the region opened on line {inside}")
            if end:
                inside = None
    if inside is not None:
        raise ExerciseError(f"{where}, line {inside}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), n


def notebook_labels(nb) -> list[str]:
    labels = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for pattern in LABEL_DEF_RES:
                labels += [m["label"] for m in pattern.finditer(cell.source)]
    return sorted(set(labels), key=lambda s: (-len(s), s))


def rename_labels(text: str, labels: list[str]) -> str:
    """Suffix every definition of and reference to `labels` (MyST targets, :label:, {ref}, {solution} ...)."""
    for label in labels:
        new = label + EXERCISE_SUFFIX
        esc = re.escape(label)
        text = re.sub(rf"^\({esc}\)=", f"({new})=", text, flags=re.MULTILINE)
        text = re.sub(rf"^([ \t]*:label:[ \t]*){esc}[ \t]*$", rf"\g<1>{new}", text, flags=re.MULTILINE)
        # {solution} label, {ref}`label`, {ref}`text <label>`, {numref}, [text](#label)
        text = re.sub(rf"(\{{solution-start\}}|\{{solution\}})(\s+){esc}(?=\s|$)", rf"\g<1>\g<2>{new}", text)
        text = re.sub(rf"(\{{(?:ref|numref|prf:ref)\}}`(?:[^`<]*<)?){esc}(?=>?`)", rf"\g<1>{new}", text)
        text = re.sub(rf"\]\(#{esc}\)", f"](#{new})", text)
    return text


def add_tags(cell, *tags: str) -> None:
    current = list(cell.metadata.get("tags", []))
    for tag in tags:
        if tag not in current:
            current.append(tag)
    cell.metadata["tags"] = current


def make_exercise(solution_nb) -> nbformat.NotebookNode:
    """The student notebook for a solution notebook (a new object; the input is not changed)."""
    nb = copy.deepcopy(solution_nb)
    labels = notebook_labels(nb)
    cells, title_done = [], False
    for index, cell in enumerate(nb.cells):
        tags = set(cell.metadata.get("tags", []))
        where = f"cell {index} ({cell.get('id', 'no id')})"
        if "solution-only" in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if "solution" in tags:
                if BEGIN_RE.search(cell.source) or END_RE.search(cell.source):
                    raise ExerciseError(f"{where}: tagged 'solution' and also has SOLUTION markers: use one of them")
                cell.source = "\n".join(stub_lines("", ""))
                add_tags(cell, RAISES)
            else:
                cell.source, regions = strip_solutions(cell.source, where)
                if regions:
                    add_tags(cell, RAISES)
            if "check" in tags:
                add_tags(cell, RAISES)
            if "uses-exercises" in tags:
                if "check" in tags or "solution" in tags:
                    raise ExerciseError(f"{where}: 'uses-exercises' cannot be combined with 'check' or 'solution'")
                add_tags(cell, *SKIP_TAGS)
        elif cell.cell_type == "markdown":
            if "solution" in tags:
                raise ExerciseError(f"{where}: the 'solution' tag is for code cells (use 'solution-only')")
            if not title_done and cell.source.lstrip().startswith("# "):
                first, _, rest = cell.source.lstrip().partition("\n")
                cell.source = TITLE_SUFFIX_RE.sub("", first) + ("\n" + rest if rest else "")
                title_done = True
            cell.source = rename_labels(cell.source, labels)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # widget state belongs to executed copies only
    nb.metadata["exercise"] = {
        "generated_from": "solution notebook",
        "generator": "scripts/make_exercises.py",
        "note": "do not edit: edit the solution notebook and run the generator",
    }
    return nb


def make_student(chapter_nb, source_name: str) -> nbformat.NotebookNode:
    """The student copy of a chapter notebook: `make_exercise`, and the stubs shown (no ``hide-input``)."""
    nb = make_exercise(chapter_nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and STUB_COMMENT in cell.source and RAISES in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "hide-input"]
    nb.metadata["exercise"]["generated_from"] = source_name
    return nb


def write_student(source: Path, output: Path) -> Path:
    """Write the student copy of the chapter notebook `source` to `output` (refused under notebooks/)."""
    source, output = source.resolve(), output.expanduser().resolve()
    if output.is_relative_to(NOTEBOOKS) or output == source:
        raise ExerciseError(f"{output}: write the student copy outside notebooks/ (the book would pick it up)")
    try:
        nb = nbformat.read(source, as_version=4)
        nbformat.validate(nb)
    except (OSError, nbformat.reader.NotJSONError, nbformat.ValidationError) as err:
        raise ExerciseError(
            f"{source}: not a readable notebook ({type(err).__name__}); pass a chapter .ipynb"
        ) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(make_student(nb, source.name)), encoding="utf-8")
    return output


def render(nb) -> str:
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def generate(solution: Path) -> tuple[Path, str]:
    nb = nbformat.read(solution, as_version=4)
    nbformat.validate(nb)
    return exercise_path(solution), render(make_exercise(nb))


def solution_notebooks(paths=None) -> list[Path]:
    if paths:
        return [Path(p).resolve() for p in paths]
    return sorted(NOTEBOOKS.glob("*_solution.ipynb"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a committed student notebook differs from the generated one",
    )
    parser.add_argument(
        "--student",
        action="store_true",
        help="the one notebook given is a chapter notebook: write its student copy to --output",
    )
    parser.add_argument("--output", type=Path, help="with --student: where the student copy goes")
    parser.add_argument("notebooks", nargs="*", help="solution notebooks (default: notebooks/*_solution.ipynb)")
    args = parser.parse_args(argv)
    if args.student:
        if len(args.notebooks) != 1 or args.output is None or args.check:
            parser.error("--student takes one chapter notebook and --output PATH (and no --check)")
        try:
            written = write_student(Path(args.notebooks[0]), args.output)
        except ExerciseError as err:
            print(err, file=sys.stderr)
            return 2
        print(f"wrote {written}")
        return 0
    stale = []
    for solution in solution_notebooks(args.notebooks):
        try:
            target, text = generate(solution)
        except ExerciseError as err:
            print(f"{solution.name}: {err}", file=sys.stderr)
            return 2
        current = target.read_text(encoding="utf-8") if target.exists() else None
        rel = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
        if args.check:
            if current != text:
                stale.append(rel)
                if current is None:
                    print(f"{rel}: missing (generate it from {solution.name})", file=sys.stderr)
                else:
                    diff = list(
                        difflib.unified_diff(
                            current.splitlines(), text.splitlines(), "committed", "generated", n=1, lineterm=""
                        )
                    )
                    print(f"{rel}: differs from the one generated from {solution.name}:", file=sys.stderr)
                    print("\n".join(diff[:40] + (["..."] if len(diff) > 40 else [])), file=sys.stderr)
            else:
                print(f"{rel}: up to date")
        elif current != text:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {rel}")
        else:
            print(f"{rel}: unchanged")
    if stale:
        print(f"{len(stale)} student notebook(s) out of date: run python scripts/make_exercises.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
