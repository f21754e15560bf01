"""Hosted notebooks (issue 16, item 6): Binder installs the pinned environment; Colab's file resolves on 3.12.

Binder (mybinder.org, repo2docker) reads `binder/`: Python 3.11, `requirements.txt`, then `postBuild`.
Colab runs a newer Python (3.12) than the book's environment (3.11, which Theano needs): the PyTorch
notebooks start with a cell that, on Colab only, installs `requirements-colab.txt` and `helpers`. The
slow test asks pip whether that file resolves for Python 3.12 from wheels (`pip install --dry-run`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from tests.test_env import parse_pins, requirements

ROOT = Path(__file__).resolve().parents[1]
COLAB_REQUIREMENTS = ROOT / "requirements-colab.txt"
COLAB_PYTHON = "3.12"
PYTORCH_NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if "theano" not in p.name)
THEANO_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*theano*.ipynb"))
# Only here may a pin differ from requirements.txt: NumPy 1.23.5 has no wheel for Python 3.12.
COLAB_EXCEPTIONS = {"numpy": "1.26.4"}
LOCAL_ONLY = {"theano-pymc", "lasagne"}


def colab_pins() -> dict[str, str]:
    return parse_pins(COLAB_REQUIREMENTS.read_text().splitlines())


def colab_cell(path: Path):
    """The notebook's first code cell if it is the Colab install cell, else None."""
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    return first if '"google.colab" in sys.modules' in first.source else None


def test_binder_installs_the_pinned_environment_on_python_311():
    binder = ROOT / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    lines = [line.split("#", 1)[0].strip() for line in (binder / "requirements.txt").read_text().splitlines()]
    assert [line for line in lines if line] == ["-r ../requirements.txt"]
    post_build = binder / "postBuild"
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    text = post_build.read_text()
    assert "pip install --no-deps" in text and "-m helpers build" in text
    # repo2docker uses binder/ and ignores the root's environment.yml; nothing else there may compete.
    assert sorted(p.name for p in binder.iterdir()) == ["postBuild", "requirements.txt", "runtime.txt"]


def test_colab_pins_are_those_of_requirements_txt():
    pins, colab = requirements(), colab_pins()
    assert not LOCAL_ONLY & colab.keys(), "Theano and Lasagne need Python 3.11 and NumPy < 1.24"
    different = {
        name: (pins.get(name), version)
        for name, version in colab.items()
        if pins.get(name) != version and COLAB_EXCEPTIONS.get(name) != version
    }
    assert not different, f"requirements.txt vs requirements-colab.txt: {different}"
    assert {"torch", "torchvision", "numpy"} <= colab.keys()


@pytest.mark.parametrize("path", PYTORCH_NOTEBOOKS, ids=lambda p: p.stem)
def test_pytorch_notebooks_start_with_the_colab_cell(path):
    cell = colab_cell(path)
    assert cell is not None, f"{path.name}: the first code cell must be the Colab install cell"
    assert "remove-cell" in cell.metadata.get("tags", []), "the book's pages hide the Colab cell"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert f'"{url}"' in cell.source, f"{path.name}: the Colab cell must clone {url} (_config.yml)"
    assert 'scripts/colab_setup.py", run_name="__main__"' in cell.source
    first = colab_cell(PYTORCH_NOTEBOOKS[0])
    assert cell.source == first.source, "every PyTorch notebook has the same Colab cell"


def test_colab_cell_does_nothing_off_colab():
    source = colab_cell(PYTORCH_NOTEBOOKS[0]).source
    before = (set(sys.modules), Path.cwd(), list(sys.path))
    namespace: dict = {}
    exec(compile(source, "colab-cell", "exec"), namespace)  # the cell, as a kernel off Colab runs it
    assert (set(sys.modules), Path.cwd(), sys.path) == before
    assert set(namespace) - {"__builtins__"} == {"sys"}


@pytest.mark.parametrize("path", THEANO_NOTEBOOKS, ids=lambda p: p.stem)
def test_theano_notebooks_have_no_colab_cell(path):
    assert colab_cell(path) is None, f"{path.name} needs the local Python 3.11 environment, not Colab"


def pip_dry_run(*args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--only-binary=:all:"]
    command += ["--python-version", COLAB_PYTHON, "--target", "/nonexistent-pip-target", "--progress-bar", "off"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_colab_requirements_resolve_on_python_312():
    # Is the package index reachable? A small pure-Python wheel, alone.
    probe = pip_dry_run("--no-deps", "pooch==1.8.2", timeout=300)
    if probe.returncode != 0:
        pytest.skip(f"package index unreachable (pip: {probe.stderr.strip().splitlines()[-1:]})")
    result = pip_dry_run("-r", str(COLAB_REQUIREMENTS))
    assert result.returncode == 0, f"requirements-colab.txt does not resolve for Python {COLAB_PYTHON}:\n" + "\n".join(
        line for line in result.stderr.splitlines() if not line.startswith("WARNING: Location")
    )
    would = re.search(r"^Would install (.*)$", result.stdout, re.M)
    assert would, result.stdout[-2000:]
    installed = dict(item.rsplit("-", 1) for item in would.group(1).split())
    canonical = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in installed.items()}
    for name, version in colab_pins().items():
        assert canonical.get(name) == version, f"{name}: pinned {version}, pip would install {canonical.get(name)}"


def test_colab_setup_installs_the_colab_pins_and_helpers(tmp_path, monkeypatch):
    """scripts/colab_setup.py, run in a copy of the book with pip replaced by a recorder: it installs
    requirements-colab.txt then `helpers`, leaves a marker, and asks for a restart when numpy is loaded;
    a second run installs nothing."""
    import runpy

    import numpy  # noqa: F401 (a library the kernel had loaded before the install)

    book = tmp_path / "book"
    (book / "scripts").mkdir(parents=True)
    (book / "notebooks").mkdir()
    (book / "scripts" / "colab_setup.py").write_text((ROOT / "scripts" / "colab_setup.py").read_text())
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: calls.append(cmd))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="Restart session"):  # numpy is imported in this process
        runpy.run_path(str(book / "scripts" / "colab_setup.py"), run_name="__main__")
    assert calls[0][-2:] == ["-r", str(book / "requirements-colab.txt")]
    assert calls[1][-2:] == ["-e", str(book)] and "--no-deps" in calls[1]
    assert (book / ".colab-installed").exists()
    runpy.run_path(str(book / "scripts" / "colab_setup.py"), run_name="__main__")
    assert len(calls) == 2 and Path.cwd() == book / "notebooks" and sys.path[0] == str(book)
