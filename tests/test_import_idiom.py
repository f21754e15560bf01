"""The book's one import idiom for helpers, in every notebook (issue #15, item 5).

    import helpers                                # top-level names: helpers.load_captions(...), helpers.Vocabulary
    from helpers import captioning, plots         # modules, by their full names: captioning.evaluate_captions(...)

and nothing else: no ``from helpers.<module> import <name>``, no ``import helpers.<module>``, no alias
(``import helpers as hp``, ``from helpers import captioning as cap``), no ``from helpers import <a function>``,
and no ``helpers.<module>.<name>`` (a module is reached through its own import, so a notebook never depends on
something else having imported ``helpers.<module>``). One exception: the Theano notebooks begin with
``from helpers.theano_compat import import_lasagne`` (the shims must run before NumPy, Theano and Lasagne load).

The check reads the code cells (``ast``); it starts no interpreter.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
THEANO_EXCEPTION = frozenset({("helpers.theano_compat", "import_lasagne")})
MAGIC = re.compile(r"^\s*[%!]")  # IPython magics and shell escapes are not Python


def helpers_modules(root: Path = ROOT / "helpers") -> frozenset:
    """The public modules of the helpers package on disk: helpers/<name>.py and helpers/<name>/__init__.py."""
    files = {p.stem for p in root.glob("*.py")}
    packages = {p.parent.name for p in root.glob("*/__init__.py")}
    return frozenset(name for name in files | packages if not name.startswith("_"))


def check_import_idiom(source: str, modules: frozenset | None = None, allow: frozenset = frozenset()) -> list[str]:
    """The problems with how ``source`` imports and reaches ``helpers`` (empty: it follows the idiom).

    ``modules``: the names of helpers' modules (default: those on disk). ``allow``: ``(module, name)`` pairs
    that may be imported with ``from <module> import <name>`` (the Theano notebooks' ``import_lasagne``).
    """
    modules = helpers_modules() if modules is None else modules
    code = "\n".join("" if MAGIC.match(line) else line for line in source.splitlines())
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return [f"line {error.lineno}: does not parse: {error.msg}"]
    problems = []
    nodes = sorted((n for n in ast.walk(tree) if hasattr(n, "lineno")), key=lambda n: (n.lineno, n.col_offset))
    for node in nodes:
        where = f"line {node.lineno}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "helpers" and alias.asname:
                    problems.append(f"{where}: `import helpers as {alias.asname}`: write `import helpers`")
                elif alias.name.startswith("helpers."):
                    module = alias.name.split(".")[1]
                    problems.append(f"{where}: `import {alias.name}`: write `from helpers import {module}`")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "helpers":
                for alias in node.names:
                    if alias.name == "*":
                        problems.append(f"{where}: `from helpers import *`: name the modules")
                    elif alias.name not in modules:
                        problems.append(
                            f"{where}: `from helpers import {alias.name}`: {alias.name} is not a "
                            f"helpers module; import its module, or use helpers.{alias.name}"
                        )
                    elif alias.asname:
                        problems.append(
                            f"{where}: `from helpers import {alias.name} as {alias.asname}`: "
                            f"no alias, write `from helpers import {alias.name}`"
                        )
            elif node.module.startswith("helpers."):
                names = [a.name for a in node.names if (node.module, a.name) not in allow or a.asname]
                if names:
                    module = node.module.split(".")[1]
                    problems.append(
                        f"{where}: `from {node.module} import {', '.join(names)}`: write "
                        f"`from helpers import {module}` and `{module}.{names[0]}`"
                    )
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "helpers"
            and node.attr in modules
        ):
            problems.append(
                f"{where}: `helpers.{node.attr}`: write `from helpers import {node.attr}` and `{node.attr}.<name>`"
            )
    return list(dict.fromkeys(problems))  # in source order, each once


# ------------------------------------------------------------------------------ the checker, on small strings
MODULES = frozenset({"captioning", "plots", "results", "theano_compat", "widgets"})


def problems(source: str, allow: frozenset = frozenset()) -> list[str]:
    return check_import_idiom(source, MODULES, allow)


@pytest.mark.parametrize(
    "source",
    [
        "import helpers\nfrom helpers import captioning, plots\n",
        "import helpers\nimport numpy as np\nfrom helpers import (captioning,\n                     results)\n",
        "train = helpers.load_captions('train')\nvocab = helpers.Vocabulary.build([])\n",  # top-level names
        "from helpers import results\nresults.record('00', {'x': 1.0})\n",
        "import helpers, os\n%matplotlib inline\n!ls\nx = os.sep\n",  # magics are skipped
        "from helpersx import thing\nimport helpers_extra as hx\n",  # other packages are not helpers
        "def f():\n    from helpers import plots\n    return plots\n",
    ],
)
def test_idiom_accepted(source):
    assert problems(source) == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from helpers import captioning as cap\n", "no alias"),
        ("import helpers as hp\n", "write `import helpers`"),
        ("from helpers.results import record\n", "`from helpers import results` and `results.record`"),
        ("from helpers.plots import (show_images,\n    loss_curves)\n", "import show_images, loss_curves`"),
        ("import helpers.results\n", "write `from helpers import results`"),
        ("import helpers.results as R\n", "write `from helpers import results`"),
        ("from helpers import record\n", "record is not a helpers module"),
        ("from helpers import *\n", "name the modules"),
        ("import helpers\nhelpers.results.record('00', {})\n", "`helpers.results`"),
        ("import helpers\nx = helpers.widgets\n", "`helpers.widgets`"),
        ("def f():\n    from helpers.widgets import show\n", "`widgets.show`"),
        ("from helpers.theano_compat import import_lasagne\n", "`theano_compat.import_lasagne`"),  # not allowed here
        ("x = (\n", "does not parse"),
    ],
)
def test_idiom_refused(source, expected):
    found = problems(source)
    assert len(found) == 1 and expected in found[0], found


def test_theano_exception_is_exactly_one_import():
    assert problems("from helpers.theano_compat import import_lasagne\n", THEANO_EXCEPTION) == []
    assert problems("from helpers.theano_compat import import_lasagne as il\n", THEANO_EXCEPTION)
    assert problems("from helpers.theano_compat import theano_flags\n", THEANO_EXCEPTION)


def test_every_problem_is_reported_with_its_line():
    found = problems(
        "import helpers\nfrom helpers import plots as P\nfrom helpers.results import record\nhelpers.widgets.show(1)\n"
    )
    assert [p.split(":")[0] for p in found] == ["line 2", "line 3", "line 4"], found


def test_modules_on_disk():
    modules = helpers_modules()
    assert {"plots", "results", "theano_compat"} <= modules, modules
    assert not any(m.startswith("_") for m in modules), modules


# ------------------------------------------------------------------------------------------- the notebooks
def notebook_problems(path: Path) -> list[str]:
    allow = THEANO_EXCEPTION if "theano" in path.stem else frozenset()
    found = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            found += [
                f"{path.name} cell {cell.get('id')} {problem}"
                for problem in check_import_idiom(cell.source, allow=allow)
            ]
    return found


def test_notebooks_follow_the_import_idiom():
    assert NOTEBOOKS, "no notebooks found"
    found = [p for path in NOTEBOOKS for p in notebook_problems(path)]
    assert not found, "\n".join(found)
