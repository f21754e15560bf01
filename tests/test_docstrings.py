"""Docstrings of `helpers` (issue 15, item 6): every public function and class has one, and every back-link
to the book (`Taught in: notebooks/<notebook>.ipynb § <heading>` or `Used in: ...`) names a notebook that
exists and a heading of that notebook.

Read with `ast` from the source (nothing is imported, no torch is loaded). Headings are read from the
notebooks' py:percent twins (`notebooks/*.py`): the `# ## ...` lines (any level) of their markdown cells.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "helpers"
NOTEBOOKS = ROOT / "notebooks"

# The older chapter-named modules and their machinery are aliases (each name documented in its home); the
# command line is not an API.
ALIASES = {"search", "devise", "captioning", "attention", "_older_names", "__main__"}
BACK_LINK = re.compile(r"^(Taught|Used) in: notebooks/(?P<notebook>[^/\s]+)\.ipynb § (?P<heading>.+)$")
MENTION = re.compile(r"\b(Taught|Used) in:")
MARKDOWN_HEADING = re.compile(r"^# #{1,6} (?P<text>.+)$")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _reexport_only(tree: ast.Module) -> bool:
    """A module whose body is only its docstring, imports and `__all__` (helpers/formats.py, helpers/data.py)."""
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue
        if isinstance(node, ast.Assign) and all(getattr(t, "id", None) == "__all__" for t in node.targets):
            continue
        return False
    return True


MODULES = sorted(p for p in HELPERS.glob("*.py") if p.stem not in ALIASES and not _reexport_only(_tree(p)))


def public_definitions(tree: ast.Module) -> list:
    """The module's top-level functions and classes whose names do not start with `_`."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [n for n in tree.body if isinstance(n, kinds) and not n.name.startswith("_")]


def _normalize(heading: str) -> str:
    """A heading compared without surrounding blanks and trailing punctuation."""
    return heading.strip().rstrip(".,;:!?").strip()


def headings(notebook: str) -> set:
    """The markdown headings of `notebooks/<notebook>.py` (the py:percent twin), normalized."""
    out, markdown = set(), False
    for line in (NOTEBOOKS / f"{notebook}.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            markdown = "[markdown]" in line
        elif markdown and (m := MARKDOWN_HEADING.match(line)):
            out.add(_normalize(m["text"]))
    return out


def docstrings(path: Path) -> list:
    """(where, docstring) of the module and of every function and class in it, methods included."""
    tree = _tree(path)
    out = [(path.stem, ast.get_docstring(tree))]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((f"{path.stem}.{node.name}", ast.get_docstring(node)))
    return [(where, doc) for where, doc in out if doc]


def back_links(path: Path) -> list:
    """(where, line) of every line of `path`'s docstrings that mentions `Taught in:` or `Used in:`."""
    return [
        (where, line.strip()) for where, doc in docstrings(path) for line in doc.splitlines() if MENTION.search(line)
    ]


def test_the_modules_are_found():
    names = {p.stem for p in MODULES}
    assert {"metrics", "scenes", "text", "datasets", "decoding"} <= names
    assert not names & ALIASES and "formats" not in names and "data" not in names  # re-export only


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_every_public_function_and_class_has_a_docstring(path):
    missing = [n.name for n in public_definitions(_tree(path)) if not (ast.get_docstring(n) or "").strip()]
    assert not missing, f"helpers/{path.name}: public names without a docstring: {missing}"


@pytest.mark.parametrize("path", sorted(HELPERS.glob("*.py")), ids=lambda p: p.stem)
def test_back_links_name_a_notebook_section(path):
    problems = []
    for where, line in back_links(path):
        m = BACK_LINK.match(line)
        if not m:
            problems.append(
                f"{where}: {line!r} is not 'Taught in: notebooks/<notebook>.ipynb § <heading>' on a line of its own"
            )
            continue
        notebook = m["notebook"]
        if not (NOTEBOOKS / f"{notebook}.ipynb").is_file() or not (NOTEBOOKS / f"{notebook}.py").is_file():
            problems.append(f"{where}: notebooks/{notebook}.ipynb (or its twin {notebook}.py) does not exist")
        elif _normalize(m["heading"]) not in headings(notebook):
            problems.append(f"{where}: notebooks/{notebook}.ipynb has no heading {m['heading']!r}")
    assert not problems, "\n".join(problems)


def test_many_helpers_link_back_to_the_book():
    linked = [line for p in MODULES for _, line in back_links(p)]
    assert len(linked) >= 80, f"only {len(linked)} back-links: were the docstrings' `Taught in:` lines lost?"
