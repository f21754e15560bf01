"""The Theano + Lasagne edition of chapter 04 (notebooks/04_theano_attention_*.ipynb, book/theano_vs_pytorch.md).

Fast checks of what the notebooks promise but nbval cannot see: the environment is set before NumPy is
imported, Lasagne comes through helpers.theano_compat, every compiled function uses the notebook's compile
mode, the results contract, the seed's conventions (padding -1, features first), and the sampling exercise
both ways (it is pure NumPy, so it is tested here without compiling anything). Executing the notebooks
(nbval in ``make test``) and the both-ways test of the attention exercises (tests/test_exercises.py) do the rest.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "notebooks" / "04_theano_attention_solution.ipynb"
EXERCISE = ROOT / "notebooks" / "04_theano_attention_exercise.ipynb"
PAGE = ROOT / "book" / "theano_vs_pytorch.md"


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def cell(path: Path, cell_id: str):
    return next(c for c in nbformat.read(path, as_version=4).cells if c.get("id") == cell_id)


def imported_modules(source: str) -> list:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", [SOLUTION, EXERCISE], ids=["solution", "exercise"])
def test_openblas_is_set_before_numpy(path):
    cells = code_cells(path)
    first = cells[0].source
    assert re.search(r'os\.environ\["OPENBLAS_NUM_THREADS"\]\s*=\s*"1"', first), "the first code cell sets it"
    assert imported_modules(first) == ["os"], "the first code cell imports nothing but os"
    # No code cell before the imports cell imports numpy, helpers or theano.
    for c in cells[1:]:
        mods = imported_modules(c.source)
        if any(m.split(".")[0] in ("numpy", "helpers", "theano", "lasagne") for m in mods):
            assert c.get("id") == "imports", f"cell {c.get('id')} imports {mods} before the imports cell"
            break


def test_lasagne_only_through_theano_compat():
    cells = code_cells(SOLUTION)
    imports = cell(SOLUTION, "imports").source
    position = imports.index("import_lasagne()")
    assert "import theano" in imports[position:] and "import numpy" in imports[position:], \
        "theano and numpy are imported after the shims"
    for c in cells:
        assert not re.search(r"^\s*import lasagne\b", c.source, re.M), f"cell {c.get('id')}: use import_lasagne()"
        assert "os.environ[\"THEANO_FLAGS\"]" not in c.source, "THEANO_FLAGS are set by helpers.theano_compat"


def test_every_compiled_function_uses_the_compile_mode():
    calls = 0
    for c in code_cells(SOLUTION):
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "theano.function":
                calls += 1
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                assert keywords.get("mode") in ("COMPILE_MODE", "CHECK_MODE"), f"cell {c.get('id')}: {ast.unparse(node)[:80]}"
    assert calls >= 5  # two checks, train, val, one decoder step


def test_seed_conventions():
    source = "\n".join(c.source for c in code_cells(SOLUTION))
    assert "PAD_IX = -1" in source
    # train and validation functions take the image features first and the sentences second
    assert re.search(r"train_step = theano\.function\(\[image_vectors, sentences\]", source)
    assert re.search(r"val_step = theano\.function\(\[image_vectors, sentences\]", source)
    assert "lasagne.updates.adam(" in source
    assert "reshape(dimshuffle(image_features, [0, 2, 3, 1]), [[0], -1, [3]])" in source


def test_results_contract():
    floors = cell(SOLUTION, "floors").source
    assert 'record("04_theano_attention_solution", metrics)' in floors
    for key in ("train_loss_first", "train_loss_last", "val_loss", "bleu4"):
        assert f'"{key}"' in floors, key
    assert "assert" in floors


def _sample_tokens(path: Path):
    scope = {"np": np}
    exec(cell(path, "ex3").source, scope)
    return scope["sample_tokens"]


def test_sampling_exercise_both_ways():
    check = cell(SOLUTION, "ex3-check").source
    assert "check" in cell(SOLUTION, "ex3-check").metadata.get("tags", [])
    solved = {"np": np, "sample_tokens": _sample_tokens(SOLUTION)}
    exec(check, solved)  # passes on the solution
    stub = {"np": np, "sample_tokens": _sample_tokens(EXERCISE)}
    with pytest.raises(NotImplementedError):
        exec(check, stub)


def test_sampling_is_reproducible_and_valid():
    sample = _sample_tokens(SOLUTION)
    probs = np.random.RandomState(0).dirichlet(np.ones(50), size=64).astype("float32")
    a = sample(probs, 0.7, np.random.RandomState(5))
    b = sample(probs, 0.7, np.random.RandomState(5))
    assert np.array_equal(a, b) and a.shape == (64,)
    assert a.min() >= 0 and a.max() < 50
    assert np.array_equal(sample(probs, 0, None), probs.argmax(1))


def test_comparison_page():
    text = PAGE.read_text(encoding="utf-8")
    for topic in ("Graph compilation vs eager", "`scan` vs a Python loop", "Shared variables vs parameters"):
        assert topic in text, topic
    for doc in ("04_attention_exercise", "04_theano_attention_exercise", "04_attention_solution",
                "04_theano_attention_solution"):
        assert f"../notebooks/{doc}" in text
        assert (ROOT / "notebooks" / f"{doc}.ipynb").exists()
    # Every {ref} label the page uses is defined in the solution notebook (sphinx-exercise labels).
    labels = set(re.findall(r":label:\s*(\S+)", "\n".join(c.source for c in nbformat.read(SOLUTION, 4).cells)))
    for ref in re.findall(r"\{ref\}`(?:[^`<]*<)?([^`>]+)>?`", text):
        assert ref in labels, ref
