"""The book's structure: _toc.yml and notebooks/ agree, notebooks are numbered, clean and parameterised."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOK_NAME = re.compile(r"^(\d\d)_[a-z0-9]+(?:_[a-z0-9]+)*$")
PARAMETERS = ("DATASET", "LANGUAGE", "DEVICE", "EPOCHS")  # the book's convention: UPPER_CASE constants


def toc_files(node=TOC) -> list[str]:
    """Every `file:` (and the root) of _toc.yml, in reading order."""
    files = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if key in node:
                files.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key, []):
                files.extend(toc_files(child))
    return files


TOC_FILES = toc_files()
TOC_NOTEBOOKS = [f for f in TOC_FILES if f.startswith("notebooks/")]
DISK_NOTEBOOKS = sorted(p.relative_to(ROOT).with_suffix("").as_posix() for p in (ROOT / "notebooks").glob("*.ipynb"))


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / f"{name}.ipynb", as_version=4)


def test_toc_parts():
    captions = [part["caption"] for part in TOC["parts"]]
    assert captions == [
        "Getting started",
        "Searching images with words",
        "Describing images with words",
        "Where this leads",
        "Appendix",
    ]
    assert TOC["root"] == "book/intro"


@pytest.mark.parametrize("name", TOC_FILES)
def test_toc_file_exists(name):
    candidates = [ROOT / f"{name}{suffix}" for suffix in (".md", ".ipynb")]
    assert any(p.is_file() for p in candidates), f"_toc.yml lists {name}, but neither {name}.md nor .ipynb exists"


def test_no_duplicates_in_toc():
    assert len(TOC_FILES) == len(set(TOC_FILES))


def test_every_notebook_is_in_the_toc():
    missing = sorted(set(DISK_NOTEBOOKS) - set(TOC_NOTEBOOKS))
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"


def test_notebooks_come_in_numbered_order():
    stems = [Path(n).name for n in TOC_NOTEBOOKS]
    for stem in stems:
        assert NOTEBOOK_NAME.match(stem), f"{stem}: notebook names are NN_lower_case_words"
    numbers = [int(s[:2]) for s in stems]
    assert numbers == sorted(numbers), f"_toc.yml lists the notebooks out of order: {stems}"
    assert sorted(set(numbers)) == list(range(len(set(numbers)))), f"numbers should run 00, 01, ... : {stems}"
    assert stems == sorted(stems), "within a number, the toc order should match the file order (make test's order)"


def test_exercises_are_followed_by_their_solution():
    stems = [Path(n).name for n in TOC_NOTEBOOKS]
    for i, stem in enumerate(stems):
        if stem.endswith("_exercise"):
            assert i + 1 < len(stems) and stems[i + 1] == stem.replace("_exercise", "_solution"), stem


@pytest.mark.parametrize("name", TOC_NOTEBOOKS)
class TestNotebook:
    def test_valid(self, name):
        nbformat.validate(read(name))

    def test_kernel_is_python3(self, name):
        kernelspec = read(name).metadata.get("kernelspec", {})
        assert kernelspec.get("name") == "python3", f"{name}: kernelspec {kernelspec} (the book runs python3)"

    def test_no_outputs_committed(self, name):
        nb = read(name)
        dirty = [
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
        ]
        assert not dirty, f"{name}: cells {dirty} have outputs or execution counts; clear them before committing"
        assert "widgets" not in nb.metadata, f"{name}: widget state is committed in the metadata"

    def test_parameters_cell(self, name):
        nb = read(name)
        cells = [c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, (
            f"{name}: needs exactly one code cell tagged `parameters` (papermill), found {len(cells)}"
        )
        assigned = {}
        for node in ast.parse(cells[0].source).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        assigned[target.id] = node.value
        missing = [p for p in PARAMETERS if p not in assigned]
        assert not missing, f"{name}: the parameters cell does not define {missing}"
        for p in PARAMETERS:
            ast.literal_eval(assigned[p])  # papermill overrides literals: a parameter must be one
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        position = next(i for i, c in enumerate(nb.cells) if c is cells[0])
        code_before = [c for c in nb.cells[first_code:position] if c.cell_type == "code"]
        assert len(code_before) <= 2, f"{name}: put the parameters cell near the top (after at most 2 code cells)"

    def test_no_nbval_comment_markers(self, name):
        # Jupyter Book does not honour `# NBVAL_RAISES_EXCEPTION` (the build breaks): use the cell tag
        # `raises-exception`, which nbval, nbclient and Jupyter Book all honour.
        for cell in read(name).cells:
            if cell.cell_type == "code":
                assert "NBVAL_RAISES_EXCEPTION" not in cell.source, f"{name}: use the tag `raises-exception`"


def test_config_executes_from_cache_and_fails_on_errors():
    execute = CONFIG["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["allow_errors"] is False
    assert 60 <= execute["timeout"] <= 1800
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    assert "sphinx_exercise" in CONFIG["sphinx"]["extra_extensions"]
    for folder in (".venv", "_build", ".cache", "results"):
        assert folder in CONFIG["exclude_patterns"]


def test_repository_url_is_written_once():
    text = (ROOT / "_config.yml").read_text()
    url = CONFIG["repository"]["url"]
    assert text.count(url) == 1, "the repository URL lives in one place (_config.yml, reused by a YAML anchor)"
    assert CONFIG["parse"]["myst_substitutions"]["repository"] == url


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text()))
    sources = list((ROOT / "book").glob("*.md")) + list((ROOT / "notebooks").glob("*.ipynb"))
    cited = set()
    for path in sources:
        for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", path.read_text()):
            cited.update(k.strip() for k in group.split(","))
    missing = sorted(cited - keys)
    assert not missing, f"cited but not in references.bib: {missing}"


def test_each_bibliography_key_is_defined_once():
    # two helpers appending the same paper is easy to miss, and a duplicate key fails the -W book build late
    keys = re.findall(r"@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text())
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert not twice, f"defined more than once in references.bib: {twice}"


def test_every_helpers_module_is_in_the_reference():
    page = (ROOT / "book" / "helpers_reference.md").read_text()
    documented = set(re.findall(r"automodule:: helpers\.(\w+)", page))
    modules = {p.stem for p in (ROOT / "helpers").glob("*.py") if not p.stem.startswith("_")}
    missing = sorted(modules - documented)
    assert not missing, f"add these modules to book/helpers_reference.md: {missing}"
    stale = sorted(documented - modules)
    assert not stale, f"book/helpers_reference.md documents modules that do not exist: {stale}"
