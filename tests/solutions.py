"""Every exercise's solution runs (issue 16): what the solutions of the chapters hold, and how each one is run.

Not a test module: ``tests/test_solutions_covered.py`` (fast) and ``tests/test_solutions_run.py`` (slow) use it.

A solution of the book (a sphinx-exercise ``{solution}`` directive, or ``{solution-start}`` ... ``{solution-end}``
around notebook cells) is run by ``make test`` in one of these ways:

* **checked pair**: a code cell tagged ``check`` stands between the exercise and its solution; the solution code
  is the cell above the check (``### BEGIN SOLUTION`` markers) and ``tests/test_exercises.py`` runs both ways;
* **cells**: code cells between ``{solution-start}`` and ``{solution-end}``, which every notebook run executes;
* **snippet**: the solution's text holds a ````` ```python ````` fence; the slow test appends each snippet, as a
  code cell, to the end of its notebook and runs the notebook (see ``RUNS``);
* **parameters**: a "re-run with other parameters" exercise, run by ``RUNS`` with the exercise's parameters;
* **described only**: ``DESCRIBED_ONLY`` names the few solutions that describe a change to a model and its
  training (a longer project) without code to run, each with the reason. A new entry needs one.

Snippets are written for the reader: the code the book shows is the code that runs, unchanged. A run may set
schedule parameters (``EPOCHS``...) so that it fits in the test budget; the snippets read the notebook's state,
so they follow. An indented code block or a fence without a language in a solution is an error (a snippet the
slow test would not see).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True)
class Run:
    """One execution of a notebook by the slow test: the exercises' parameters, a short schedule, the snippets.

    `params`: the values the exercises in `exercises` ask for (the run uses them as they are); `schedule`:
    what the run shortens so that it fits in ``make test`` (never a parameter an exercise asks to change,
    except where `not_run` says why); `not_run`: {parameter: why the run does not use the exercise's value}.
    """

    notebook: str
    params: dict = field(default_factory=dict)
    schedule: dict = field(default_factory=dict)
    exercises: tuple = ()
    not_run: dict = field(default_factory=dict)
    needs_gpu: bool = False  # skipped (saying so) where torch sees no GPU
    timeout: int = 600

    def injected(self) -> dict:
        return {**self.params, **self.schedule}

    @property
    def name(self) -> str:
        return self.notebook + ("-gpu" if self.needs_gpu else "")


# The slow test's runs: every notebook with a solution snippet or a parameter exercise, as few runs as possible.
# Seconds per run, measured on 2 CPU cores, are in tests/test_solutions_run.py's docstring.
RUNS = (
    Run("00_data_features_devices"),
    # The live test's schedule (EPOCHS = 2): the chapter's floors relax below its own schedule of 8.
    Run("01_search_by_regression", schedule={"EPOCHS": 2}),
    Run(
        "01_search_by_regression",
        # ex-01-seed-scale asks for a GPU, and needs one: on 2 CPU cores one epoch of the 4,096-unit MLPs took
        # about 5 minutes and 2,048 GRU units about 5 s per batch of 256 (minutes per epoch for each GRU run),
        # so no CPU schedule of these sizes fits in make test. Where torch sees a GPU, it runs as asked.
        params={"HIDDEN": 4096, "EPOCHS": 20, "GRU_HIDDEN": 2048, "DEVICE": "cuda"},
        exercises=("ex-01-seed-scale",),
        not_run={"SEED_SCALE": "section 4's own seed-scale run, which the exercise only mentions"},
        needs_gpu=True,
    ),
    Run(
        "02_devise_zero_shot",
        # devise-ex-seed asks for two runs, one per change; one run with both covers the code of each.
        params={"HIDDEN": (100, 50), "LABEL_NAMES": "all"},
        # the chapter's schedule: at the live test's EPOCHS = 8 the narrow head's softmax floor fails
        exercises=("devise-ex-seed",),
    ),
    # EPOCHS = 2 (the chapter's: 4): the floors hold in Spanish too; EPOCHS = 1 misses the CIDEr-D floor.
    Run("03_show_and_tell", params={"LANGUAGE": "es"}, schedule={"EPOCHS": 2}, exercises=("ex-03-spanish",)),
    Run("04_theano_attention_solution", schedule={"EPOCHS": 4}),
)

# Solutions that describe a change to a model and its training, with no code to run (label: why).
DESCRIBED_ONLY = {
    "att-doubly-stochastic": "a new loss term and a training run: the solution gives the two expressions",
    "att-look-ahead": "a variation of the chapter's attention-in-box loop, described by the index to shift",
    "att-xu-order": "the decoder's step in the other order and three training runs: the solution gives each line",
    "theano-att-init": "new layers in the Theano graph and a recompile: the solution names each change",
    "theano-att-dot": "a new score layer in the Theano graph and a recompile: the solution gives the layers",
    "theano-att-scan": "unroll rewritten with theano.scan and timed with an empty compile cache",
}

OPEN_RE = re.compile(r"^(?P<fence>`{3,}|:{3,})\s*\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
FENCE_RE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
LABEL_RE = re.compile(r"^\s*:label:\s*(?P<label>\S+)\s*$", re.MULTILINE)
PYTHON = ("python", "python3", "py", "ipython", "ipython3")


@dataclass
class Solution:
    notebook: str
    label: str
    cell: int  # index of the markdown cell that opens it
    end_cell: int  # index of the cell that closes it (the same for a {solution} directive)
    text: str  # the markdown of the solution
    snippets: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def tags(cell) -> set:
    return set(cell.get("metadata", {}).get("tags", []))


def _closes(line: str, fence: str) -> bool:
    """Whether `line` closes a block opened by `fence` (the same character, at least as many times)."""
    return re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line) is not None


def directives(markdown: str):
    """(name, argument, body, rest) of each top-level MyST directive of a markdown cell, in order; `rest` is
    the markdown after the directive's closing fence."""
    lines, i = markdown.split("\n"), 0
    while i < len(lines):
        m = OPEN_RE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, body, j = m["fence"], [], i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            body.append(lines[j])
            j += 1
        yield m["name"], m["arg"], "\n".join(body), "\n".join(lines[j + 1 :])
        i = j + 1


def code_in(text: str) -> tuple[list, list]:
    """(python snippets, problems) of a solution's markdown: ```python fences are snippets; a fence without a
    language and an indented code block (4 spaces after a blank line, outside a fence) are problems."""
    snippets, problems = [], []
    lines, i, blank, in_list = text.split("\n"), 0, True, False
    while i < len(lines):
        line = lines[i]
        m = FENCE_RE.match(line)
        if m:
            fence, info, body, j = m["fence"], m["info"].lower(), [], i + 1
            while j < len(lines) and not _closes(lines[j], fence):
                body.append(lines[j][len(m["indent"]) :])
                j += 1
            if info in PYTHON:
                snippets.append("\n".join(body).strip("\n"))
            elif not info:
                problems.append("a code fence without a language (```python if it is code to run)")
            i, blank = j + 1, False
            continue
        if line.strip() and not line.startswith(" "):
            in_list = bool(re.match(r"([-*+]|\d+[.)])\s", line))  # a list item: indented lines continue it
        if blank and not in_list and line.startswith("    ") and line.strip():
            problems.append(f"an indented code block ({line.strip()[:40]!r}): make it a ```python fence")
        blank = not line.strip()
        i += 1
    return snippets, problems


def solutions(cells, notebook: str = "") -> list[Solution]:
    """The solutions of a notebook's cells (nbformat cells or dicts with cell_type, source, metadata)."""
    out, open_start = [], None
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        source = cell["source"]
        if open_start is not None:  # inside {solution-start} ... {solution-end}: the text before the end
            open_start.text += "\n" + re.split(r"^\S*\{solution-end\}", source, maxsplit=1, flags=re.M)[0]
        for name, arg, body, rest in directives(source):
            label = arg.split()[0] if arg else ""
            if name == "solution":
                sol = Solution(notebook, label, index, index, body)
                sol.snippets, sol.problems = code_in(body)
                out.append(sol)
            elif name == "solution-start":
                open_start = Solution(notebook, label, index, index, rest.split("{solution-end}")[0])
            elif name == "solution-end" and open_start is not None:
                open_start.end_cell = index
                open_start.snippets, open_start.problems = code_in(open_start.text)
                out.append(open_start)
                open_start = None
    return out


def exercise_cells(cells) -> dict:
    """{label: index of the markdown cell holding the {exercise} directive}."""
    found = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            for name, _, body, _ in directives(cell["source"]):
                if name == "exercise":
                    m = LABEL_RE.search(body)
                    if m:
                        found[m["label"]] = index
    return found


def how_run(sol: Solution, cells, runs=RUNS, described=DESCRIBED_ONLY) -> str | None:
    """How `make test` runs this solution ('snippet', 'checked pair', 'cells', 'parameters', 'described
    only'), or None when nothing runs it."""
    if sol.snippets:
        return "snippet" if any(r.notebook == sol.notebook for r in runs) else None
    start = exercise_cells(cells).get(sol.label)
    if start is not None and any(
        cells[i]["cell_type"] == "code" and "check" in tags(cells[i]) for i in range(start + 1, sol.cell)
    ):
        return "checked pair"
    if any(cells[i]["cell_type"] == "code" for i in range(sol.cell + 1, sol.end_cell)):
        return "cells"
    if any(sol.label in r.exercises for r in runs):
        return "parameters"
    if sol.label in described:
        return "described only"
    return None


def parameters_cell(cells) -> str:
    return next(c["source"] for c in cells if c["cell_type"] == "code" and "parameters" in tags(c))


def parameter_names(cells) -> set:
    """The names the Parameters cell assigns."""
    names = set()
    for node in ast.walk(ast.parse(parameters_cell(cells))):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def settings_in(text: str) -> dict:
    """{NAME: value source} of the ``NAME = value`` code spans of an exercise's text (upper-case names)."""
    found = {}
    for span in re.findall(r"`([^`\n]+)`", text):
        m = re.fullmatch(r"\s*([A-Z][A-Z0-9_]*)\s*=\s*(.+?)\s*", span)
        if m:
            found[m[1]] = m[2]
    return found


def exercise_text(cells, label: str) -> str:
    """The text of the exercise labelled `label` ('' if there is none)."""
    index = exercise_cells(cells).get(label)
    if index is None:
        return ""
    return next(
        body
        for name, _, body, _ in directives(cells[index]["source"])
        if name == "exercise" and (m := LABEL_RE.search(body)) and m["label"] == label
    )


def _code(source: str) -> str:
    """A code cell's source without IPython magics and shell lines (so that ast can parse it)."""
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.split("\n"))


def bound_names(cells) -> tuple[set, dict]:
    """(every name a notebook's code binds at any level, {name: module} of its imports)."""
    names, modules = set(), {}
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse(_code(cell["source"]))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    names.add((a.asname or a.name).split(".")[0])
                    modules[a.asname or a.name] = a.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    names.add(a.asname or a.name)
                    modules[a.asname or a.name] = f"{node.module}.{a.name}"
    return names, modules


def unknown_names(snippet: str, cells, earlier: tuple = ()) -> list[str]:
    """Names a snippet reads that neither the notebook, the earlier snippets nor Python define, and attributes
    of the book's own modules (``helpers``...) that do not exist."""
    import importlib

    names, modules = bound_names([*cells, *({"cell_type": "code", "source": s} for s in earlier)])
    tree = ast.parse(snippet)
    own = bound_names([{"cell_type": "code", "source": snippet}])[0]
    own |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    missing = sorted(
        {
            n.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)
            and n.id not in names | own
            and not hasattr(builtins, n.id)
        }
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = modules.get(node.value.id, "")
            if module.split(".")[0] == "helpers":
                try:
                    owner = importlib.import_module(module)
                except ImportError:
                    continue
                if not hasattr(owner, node.attr):
                    missing.append(f"{node.value.id}.{node.attr}")
    return missing


def chapter_notebooks() -> list[Path]:
    """The notebooks whose solutions count: every notebook but the generated student ones (``*_exercise``,
    made from a ``*_solution`` notebook whose solutions are these)."""
    return [p for p in sorted(NOTEBOOKS.glob("*.ipynb")) if not p.stem.endswith("_exercise")]
