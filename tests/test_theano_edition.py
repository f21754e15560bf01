"""The Theano + Lasagne edition of chapter 04 (notebooks/04_theano_attention_*.ipynb, book/theano_vs_pytorch.md).

Fast checks of what the notebooks promise but nbval cannot see, checked by running the notebooks' own cells
(found by their cell ids) rather than by reading their text:

- the environment: ``OPENBLAS_NUM_THREADS=1`` is set before NumPy is first imported, and Theano and Lasagne
  are first imported after helpers.theano_compat has set ``THEANO_FLAGS`` (a flag the user set survives);
- the seed's conventions on the model built from the solution's cells on a tiny synthetic dataset: padding is
  ``-1`` and the loss ignores it, the compiled functions take the image features first, the feature map
  becomes a sequence of positions in row-major order, training uses Adam with a learning rate that
  ``set_value`` changes, and every compiled function uses the notebook's compile mode;
- the results contract (the ``floors`` cell records the headline metrics and its floors can fail);
- the sampling exercise both ways (it is pure NumPy, so it is tested here without compiling anything).

The Theano part runs in one fresh interpreter (import order matters, and the shims must not leak into the
other tests); it compiles with Theano's Python linker, so it needs no g++ and no warm compile cache.
Executing the notebooks (nbval in ``make test``) and the both-ways test of the attention exercises
(tests/test_exercises.py) do the rest.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path

import nbformat
import numpy as np
import pytest

from tests.test_env import run_python

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "notebooks" / "04_theano_attention_solution.ipynb"
EXERCISE = ROOT / "notebooks" / "04_theano_attention_exercise.ipynb"
PAGE = ROOT / "book" / "theano_vs_pytorch.md"
# A flag a reader may have set: the notebooks must keep it (helpers.theano_compat merges, a cell must not clobber).
USER_THEANO_FLAGS = "traceback__limit=11"


def code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def cell(path: Path, cell_id: str):
    found = [c for c in nbformat.read(path, as_version=4).cells if c.get("id") == cell_id]
    assert found, f"{path.name} has no cell with id {cell_id!r} (renamed? update this test)"
    return found[0]


def imported_modules(source: str) -> list:
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


# ------------------------------------------------------------------ the notebook's cells in a fresh interpreter
# Runs every code cell up to the one with id "imports" exactly as the notebook does, logging the environment at
# the first import of numpy, theano and lasagne. With BUILD_MODEL=1 it then builds the solution's model from its
# cells on synthetic data (the 'load-data' cell reads the real dataset; here a stand-in defines what it defines)
# and measures the behaviour the tests below check. Every measurement is stored, or the error it raised, so that
# one broken behaviour fails one test, not all of them.
PROBE = r'''
import ast, json, os, sys, traceback

notebook = json.load(open(os.environ["PROBE_NOTEBOOK"], encoding="utf-8"))
cells = {c.get("id"): "".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"}
order = [c.get("id") for c in notebook["cells"] if c["cell_type"] == "code"]
facts = {"first_import": {}}
current = [None]


class ImportLog:
    """Records the environment at the first import of numpy, theano and lasagne (and in which cell)."""
    def find_spec(self, name, path=None, target=None):
        if name in ("numpy", "theano", "lasagne") and name not in facts["first_import"]:
            facts["first_import"][name] = {"cell": current[0],
                                           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                                           "THEANO_FLAGS": os.environ.get("THEANO_FLAGS")}
        return None


sys.meta_path.insert(0, ImportLog())
ns = {"__name__": "__main__"}


def run(cell_id, source=None):
    if cell_id not in cells:
        raise KeyError(f"no code cell with id {cell_id!r}")
    current[0] = cell_id
    exec(compile(cells[cell_id] if source is None else source, cell_id, "exec"), ns)


def measure(name, fn):
    try:
        facts[name] = fn()
    except Exception:
        facts[name] = {"error": traceback.format_exc(limit=6)}


for cell_id in order[:order.index("imports")]:
    run(cell_id)
facts["numpy_before_imports_cell"] = "numpy" in sys.modules
run("imports")

import numpy as np
import theano
from threadpoolctl import threadpool_info

facts["theano_config"] = {"floatX": theano.config.floatX, "base_compiledir": theano.config.base_compiledir,
                          "traceback__limit": theano.config.traceback__limit}
facts["blas_threads"] = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

if os.environ.get("PROBE_BUILD_MODEL") == "1":
    from types import SimpleNamespace

    # Stand-in for the 'load-data' cell: 6 images of 5 x 2 x 3 features (every size distinct, so a swapped
    # axis shows), two captions each, of 1 to 4 words (so that shorter captions are padded).
    words = ["cat", "dog", "sun", "tree", "car", "boat", "red", "blue"]
    captions = [" ".join(words[(i + j) % 8] for j in range(1 + (i + k) % 4)) for i in range(6) for k in range(2)]
    fake = SimpleNamespace(files=[f"{i}.png" for i in range(6)], captions=captions,
                           caption_image=[i for i in range(6) for _ in range(2)])
    ns.update(train=fake, val=fake, FEATURES=5, HEIGHT=2, WIDTH=3)
    data_rng = np.random.RandomState(0)
    ns["img_codes"] = data_rng.randn(6, 5, 2, 3).astype("float32")
    ns["val_codes"] = ns["img_codes"]
    for cell_id in ("vocab", "toolbox", "ex1", "ex2", "decoder", "loss"):
        run(cell_id)
    # Python linker: no g++, no compile cache; the graph is the notebook's. A fresh mode object, so that the
    # test can tell which compiled functions used the notebook's COMPILE_MODE.
    mode = ns["COMPILE_MODE"] = theano.compile.Mode(linker="py", optimizer="fast_compile")
    run("compile")
    run("batches")
    run("ex3")  # sample_tokens, which the generation loop calls
    generate = ast.parse(cells["generate"])  # its functions only: the rest of the cell loads the test set
    generate.body = [node for node in generate.body if isinstance(node, ast.FunctionDef)]
    run("generate", ast.unparse(generate))

    train_step, val_step, decoder_step = ns["train_step"], ns["val_step"], ns["decoder_step"]
    decoder, as_matrix = ns["decoder"], ns["as_matrix"]
    B, C, H, W = 4, 5, 2, 3
    X = ns["img_codes"][:B]
    S = as_matrix([caps[0] for caps in ns["captions"][:B]])
    facts["sizes"] = {"batch": B, "features": C, "height": H, "width": W, "n_tokens": ns["n_tokens"],
                      "lstm": ns["LSTM_SIZE"], "max_len": ns["MAX_LEN"]}
    facts["pad_ix"] = ns["PAD_IX"]
    facts["batch_sentences"] = S.tolist()
    measure("padded_row", lambda: as_matrix([["<start>", "cat", "<end>"]])[0].tolist())
    measure("modes", lambda: {name: ns[name].maker.mode is mode
                              for name in ("train_step", "val_step", "decoder_step")})

    # Adam's first step moves every weight with a gradient by the learning rate (times the sign of the
    # gradient), whatever the gradient's size; the notebook lowers the rate with set_value, not by recompiling.
    def adam_first_step():
        rate = float(ns["LEARNING_RATE"]) / 3
        ns["learning_rate"].set_value(np.float32(rate))
        bias = decoder.output_probs.b
        before = bias.get_value().copy()
        loss = float(train_step(X, S))
        ns["learning_rate"].set_value(np.float32(ns["LEARNING_RATE"]))
        ratio = np.abs(bias.get_value() - before) / rate
        return {"loss": loss, "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
                "updates": len(ns["updates"]), "weights": len(ns["weights"])}

    measure("adam_first_step", adam_first_step)

    # The loss, recomputed one decoder step at a time: the mean of -log p(next word) over the next words that
    # are not padding (-1).
    def loss_by_steps():
        cell_state = np.zeros((B, ns["LSTM_SIZE"]), "float32")
        out_state = np.zeros((B, ns["LSTM_SIZE"]), "float32")
        total, count = 0.0, 0
        for t in range(S.shape[1] - 1):
            probs, _, cell_state, out_state = decoder_step(X, S[:, t], cell_state, out_state)
            target = S[:, t + 1]
            keep = target != -1
            total += float(-np.log(probs[keep, target[keep]]).sum())
            count += int(keep.sum())
        return {"val_step": float(val_step(X, S)), "by_steps": total / count}

    measure("loss", loss_by_steps)
    measure("val_step_swapped", lambda: float(val_step(S, X)))
    measure("decoder_step_shapes", lambda: [list(np.shape(o)) for o in decoder_step(
        X, np.full(B, ns["START_IX"], "int32"), np.zeros((B, ns["LSTM_SIZE"]), "float32"),
        np.zeros((B, ns["LSTM_SIZE"]), "float32"))])

    def generated():
        tokens, attention = ns["generate_captions"](X)
        return {"tokens": list(tokens.shape), "attention": list(attention.shape),
                "attention_sums": attention.sum(axis=(2, 3)).ravel().tolist()}

    measure("generated", generated)

    def positions():
        import theano.tensor as T
        images = T.tensor4("images")
        seq = theano.function([images], ns["lasagne"].layers.get_output(
            decoder.image_features_seq, {decoder.image_features: images}), mode=mode)(X)
        expected = X.transpose(0, 2, 3, 1).reshape(B, H * W, C)  # position p is row p // W, column p % W
        return {"shape": list(seq.shape), "max_abs_diff": float(np.abs(seq - expected).max())}

    measure("positions", positions)

    def training():
        batch = ns["generate_batch"](ns["img_codes"], ns["captions"], 6)  # what the 'train' cell feeds train_step
        before = float(val_step(*batch))
        losses = [float(train_step(*batch)) for _ in range(40)]
        return {"before": before, "after": float(val_step(*batch)), "finite": bool(np.isfinite(losses).all())}

    measure("training", training)

json.dump(facts, open(os.environ["PROBE_FACTS"], "w", encoding="utf-8"))
'''


@cache
def probe(path: Path, build_model: bool, facts_dir: Path) -> dict:
    facts = facts_dir / f"{path.stem}-{int(build_model)}.json"
    run_python(
        PROBE,
        timeout=900,
        PROBE_NOTEBOOK=str(path),
        PROBE_FACTS=str(facts),
        PROBE_BUILD_MODEL="1" if build_model else "0",
        THEANO_FLAGS=USER_THEANO_FLAGS,
    )
    return json.loads(facts.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def facts_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("theano-probe")


@pytest.fixture(scope="module")
def model(facts_dir) -> dict:
    """The solution's cells run in a fresh interpreter, with its model built on synthetic data."""
    return probe(SOLUTION, True, facts_dir)


def fact(facts: dict, name: str):
    value = facts[name]
    if isinstance(value, dict) and "error" in value:
        pytest.fail(f"measuring {name!r} raised:\n{value['error']}")
    return value


# ------------------------------------------------------------------------------------------- environment
@pytest.mark.slow
@pytest.mark.parametrize("path", [SOLUTION, EXERCISE], ids=["solution", "exercise"])
def test_environment_is_set_before_numpy_theano_and_lasagne(path, facts_dir):
    from helpers.paths import cache_dir
    from helpers.theano_compat import theano_flags

    facts = probe(path, path == SOLUTION, facts_dir)
    first = facts["first_import"]
    assert not facts["numpy_before_imports_cell"], "a cell before the imports cell imports numpy"
    assert first["numpy"]["OPENBLAS_NUM_THREADS"] == "1", f"numpy was first imported with {first['numpy']}"
    for module in ("theano", "lasagne"):
        assert first[module]["THEANO_FLAGS"] == theano_flags(USER_THEANO_FLAGS), (
            f"{module} was first imported (cell {first[module]['cell']!r}) before helpers.theano_compat set the "
            f"flags, or after a cell changed them: THEANO_FLAGS={first[module]['THEANO_FLAGS']!r}"
        )
    assert facts["theano_config"] == {
        "floatX": "float32",
        "base_compiledir": str(cache_dir("theano")),
        "traceback__limit": 11,
    }, facts["theano_config"]
    assert facts["blas_threads"] and set(facts["blas_threads"]) == {1}, facts["blas_threads"]


@pytest.mark.parametrize("path", [SOLUTION, EXERCISE], ids=["solution", "exercise"])
def test_first_cell_imports_only_os(path):
    first = code_cells(path)[0]
    assert imported_modules(first.source) == ["os"], "the first code cell imports nothing but os"


@pytest.mark.parametrize("path", [SOLUTION, EXERCISE], ids=["solution", "exercise"])
def test_lasagne_only_through_theano_compat(path):
    """`import lasagne` would work after import_lasagne(), but the book has one way in: import_lasagne()."""
    for c in code_cells(path):
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, ast.Import):
                assert "lasagne" not in [a.name for a in node.names], f"cell {c.get('id')}: use import_lasagne()"


def test_every_compiled_function_uses_the_compile_mode():
    calls = 0
    for c in code_cells(SOLUTION):
        for node in ast.walk(ast.parse(c.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "theano.function":
                calls += 1
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                assert keywords.get("mode") in ("COMPILE_MODE", "CHECK_MODE"), (
                    f"cell {c.get('id')}: {ast.unparse(node)[:80]}"
                )
    assert calls >= 5  # two checks, train, val, one decoder step


# ------------------------------------------------------------------ the seed's conventions, on the model
@pytest.mark.slow
def test_compiled_functions_use_the_compile_mode(model):
    assert fact(model, "modes") == {"train_step": True, "val_step": True, "decoder_step": True}


@pytest.mark.slow
def test_padding_is_minus_one(model):
    assert model["pad_ix"] == -1
    row = fact(model, "padded_row")
    assert len(row) == model["sizes"]["max_len"] and row[3:] == [-1] * (len(row) - 3), row
    assert any(-1 in s for s in model["batch_sentences"]), "the test batch should contain padding"


@pytest.mark.slow
def test_loss_ignores_padding(model):
    """val_step (the unrolled graph) agrees with the loss recomputed one step at a time over the words that are
    not padding (-1)."""
    loss = fact(model, "loss")
    assert np.isclose(loss["val_step"], loss["by_steps"], rtol=1e-4), loss


@pytest.mark.slow
def test_compiled_functions_take_image_features_first(model):
    sizes = model["sizes"]
    B, n, lstm = sizes["batch"], sizes["n_tokens"], sizes["lstm"]
    assert np.isfinite(fact(model, "loss")["val_step"])  # val_step(features (B, C, H, W), sentences (B, T))
    assert np.isfinite(fact(model, "adam_first_step")["loss"])  # train_step(features, sentences)
    swapped = model["val_step_swapped"]
    assert isinstance(swapped, dict) and "error" in swapped, "val_step(sentences, features) should be refused"
    # decoder_step(features, previous words, cell, output) -> probabilities, attention, cell, output
    positions = sizes["height"] * sizes["width"]
    assert fact(model, "decoder_step_shapes") == [[B, n], [B, positions], [B, lstm], [B, lstm]]
    generated = fact(model, "generated")  # the notebook's own generation loop around decoder_step
    assert generated["tokens"] == [B, sizes["max_len"] - 1]
    assert generated["attention"] == [B, sizes["max_len"] - 1, sizes["height"], sizes["width"]]
    assert np.allclose(generated["attention_sums"], 1, atol=1e-4)
    training = fact(model, "training")  # train_step(*generate_batch(...)), as the 'train' cell calls it
    assert training["finite"] and training["after"] < 0.8 * training["before"], training


@pytest.mark.slow
def test_feature_map_becomes_positions_in_row_major_order(model):
    """(batch, channels, h, w) -> (batch, h * w, channels): position p is row p // w, column p % w of the map,
    which is how the attention maps are reshaped back to (h, w) for the figures."""
    positions = fact(model, "positions")
    sizes = model["sizes"]
    assert positions["shape"] == [sizes["batch"], sizes["height"] * sizes["width"], sizes["features"]]
    assert positions["max_abs_diff"] == 0.0, positions


@pytest.mark.slow
def test_training_uses_adam_and_the_shared_learning_rate(model):
    step = fact(model, "adam_first_step")
    # Adam's first step is learning_rate * g / (|g| + eps): the rate for every bias of the output layer.
    assert 0.99 < step["ratio_min"] and step["ratio_max"] < 1.01, step
    assert step["updates"] == 3 * step["weights"] + 1, "Adam updates each weight and its two moments, and t"


# ------------------------------------------------------------------------------------ results contract
def floors_scope(tmp_path, monkeypatch, dataset="embedded", **overrides) -> dict:
    """What the 'floors' cell reads, with metrics at the level of a good run (or ``overrides``)."""
    import helpers
    from helpers import results

    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path))
    good = {
        "train_loss_first": 3.1,
        "train_loss_last": 0.9,
        "val_loss": 1.0,
        "bleu4": 0.43,
        "bleu1": 0.72,
        "attention_in_box": 0.68,
        "attention_in_box_uniform": 0.13,
        "untrained_val_loss": 3.2,
    }
    good.update(overrides)
    return {
        "np": np,
        "helpers": helpers,
        "results": results,
        "record": results.record,
        "DATASET": dataset,
        "n_tokens": 60,
        "compile_seconds": 12.0,
        "train_seconds": 58.0,
        "untrained_val_loss": good["untrained_val_loss"],
        "val_loss": good["val_loss"],
        "history": {
            "train loss": [good["train_loss_first"], good["train_loss_last"]],
            "val loss": [good["untrained_val_loss"] - 0.1, good["val_loss"]],
        },
        "model_scores": {
            "bleu1": good["bleu1"],
            "bleu2": 0.6,
            "bleu4": good["bleu4"],
            "object_precision": 0.88,
            "object_recall": 0.52,
        },
        "neighbour_scores": {"bleu4": 0.33},
        "human_scores": {"bleu4": 0.53},
        "attention_summary": {
            "attention_in_box": good["attention_in_box"],
            "attention_in_box_uniform": good["attention_in_box_uniform"],
            "object_words": 40,
        },
    }


def run_floors(scope: dict) -> None:
    exec(cell(SOLUTION, "floors").source, scope)


def test_results_contract(tmp_path, monkeypatch):
    from helpers import results

    run_floors(floors_scope(tmp_path, monkeypatch))
    recorded = results.load("04_theano_attention_solution")
    for key in ("train_loss_first", "train_loss_last", "val_loss", "bleu4", "compile_seconds", "train_seconds"):
        assert key in recorded, key
    assert recorded["bleu4"] == 0.43 and recorded["val_loss"] == 1.0


@pytest.mark.parametrize(
    "dataset, bad",
    [
        ("embedded", {"train_loss_last": 2.5}),  # the training loss did not go down
        ("embedded", {"val_loss": 3.0}),  # no better than a uniform guess
        ("embedded", {"bleu4": 0.1}),  # below the BLEU-4 floor
        ("embedded", {"attention_in_box": 0.2}),  # attention not on the objects
        ("coco", {"val_loss": 3.3}),  # real data: training did not lower the validation loss
        ("coco", {"bleu4": 1.5}),  # real data: BLEU outside [0, 1]
    ],
)
def test_floors_fail_on_a_bad_run(tmp_path, monkeypatch, dataset, bad):
    run_floors(floors_scope(tmp_path, monkeypatch, dataset=dataset))  # a good run passes
    with pytest.raises(AssertionError):
        run_floors(floors_scope(tmp_path, monkeypatch, dataset=dataset, **bad))


# ------------------------------------------------------------------------------------- sampling exercise
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
    for doc in (
        "04_attention_exercise",
        "04_theano_attention_exercise",
        "04_attention_solution",
        "04_theano_attention_solution",
    ):
        assert f"../notebooks/{doc}" in text
        assert (ROOT / "notebooks" / f"{doc}.ipynb").exists()
    # Every {ref} label the page uses is defined in the solution notebook (sphinx-exercise labels).
    labels = set(re.findall(r":label:\s*(\S+)", "\n".join(c.source for c in nbformat.read(SOLUTION, 4).cells)))
    for ref in re.findall(r"\{ref\}`(?:[^`<]*<)?([^`>]+)>?`", text):
        assert ref in labels, ref
