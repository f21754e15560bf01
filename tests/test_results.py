"""helpers.results: the metrics contract (results/<notebook stem>.json)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from helpers import results


@pytest.fixture(autouse=True)
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RESULTS_ENV, str(tmp_path / "results"))
    return tmp_path / "results"


def test_record_and_load_round_trip(results_dir):
    path = results.record("01_search_by_regression", {"recall_at_5": 0.41, "mean_rank": 12, "seconds": 3.5})
    assert path == results_dir / "01_search_by_regression.json"
    assert json.loads(path.read_text()) == {"recall_at_5": 0.41, "mean_rank": 12, "seconds": 3.5}
    assert results.load("01_search_by_regression") == {"recall_at_5": 0.41, "mean_rank": 12, "seconds": 3.5}


@pytest.mark.parametrize("name", ["03_show_and_tell", "03_show_and_tell.ipynb", "notebooks/03_show_and_tell.ipynb"])
def test_stem_from_name_or_path(results_dir, name):
    assert results.record(name, {"bleu4": 0.2}) == results_dir / "03_show_and_tell.json"
    assert results.load(name) == {"bleu4": 0.2}


def test_default_folder_is_results_at_the_repo_root(monkeypatch):
    monkeypatch.delenv(results.RESULTS_ENV)
    from helpers.paths import repo_root

    assert results.results_path("00_x") == repo_root() / "results" / "00_x.json"


def test_numpy_and_torch_scalars(results_dir):
    results.record("x", {"a": np.float32(0.5), "b": np.int64(3), "c": torch.tensor(0.25)})
    assert results.load("x") == {"a": 0.5, "b": 3, "c": 0.25}
    assert isinstance(results.load("x")["b"], int)


@pytest.mark.parametrize(
    "metrics, error, words",
    [
        ({"acc": math.nan}, ValueError, "finite"),
        ({"acc": math.inf}, ValueError, "finite"),
        ({"acc": True}, TypeError, "real number"),
        ({"acc": "0.5"}, TypeError, "real number"),
        ({"acc": {"nested": 1}}, TypeError, "real number"),
        ({"acc": [1, 2]}, TypeError, "real number"),
        ({"acc": np.ones(2)}, TypeError, "real number"),
        ({1: 0.5}, TypeError, "non-empty strings"),
        ({"": 0.5}, TypeError, "non-empty strings"),
        ({}, ValueError, "empty"),
        ([("acc", 0.5)], TypeError, "dict"),
    ],
)
def test_bad_metrics_are_refused_clearly(results_dir, metrics, error, words):
    with pytest.raises(error, match=words):
        results.record("bad", metrics)
    assert not (results_dir / "bad.json").exists()


def test_write_is_atomic(results_dir, monkeypatch):
    results.record("nb", {"v": 1})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        results.record("nb", {"v": 2})
    monkeypatch.undo()
    monkeypatch.setenv(results.RESULTS_ENV, str(results_dir))  # undo() dropped it; setenv is undone again
    assert results.load("nb") == {"v": 1}, "a failed write must leave the old file as it was"
    assert sorted(p.name for p in results_dir.iterdir()) == ["nb.json"], "no temporary file left behind"


def test_load_of_a_notebook_that_never_ran(results_dir):
    with pytest.raises(FileNotFoundError, match="no results recorded for '04_x'"):
        results.load("04_x")
