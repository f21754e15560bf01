"""scripts/seed_spread.py (`make seeds`): the tables of how far the seed alone moves the chapters' metrics."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    sys.path.insert(0, str(ROOT / "scripts"))  # seed_spread imports bench from its own folder
    try:
        spec = importlib.util.spec_from_file_location("seed_spread", ROOT / "scripts" / "seed_spread.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return module


seeds = _load()


def test_every_key_is_one_its_notebook_records():
    # A renamed metric would otherwise show as "–" in every column, silently.
    quality = json.loads((ROOT / "book" / "bench.json").read_text())["quality"]
    wanted = {(stem, key) for stem, _, key in seeds.METRICS}
    wanted |= {(stem, key) for stem, _, a, b in seeds.CLAIMS for key in (a, b)}
    missing = sorted((stem, key) for stem, key in wanted if key not in quality.get(stem, {}))
    assert not missing, f"keys no notebook records (book/bench.json): {missing}"
    assert {stem for stem, _ in wanted} <= set(seeds.NOTEBOOKS)


def _table_row(text: str, label: str, stem: str = "04_attention_solution") -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {stem} | {label} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_render_spreads_claims_and_errors():
    stem = "04_attention_solution"
    seed0 = {stem: {"attention_in_box": 0.70, "beam_bleu4": 0.40, "no_attention_beam_bleu4": 0.39}}
    runs = {
        "2": {stem: {"metrics": {"attention_in_box": 0.75, "beam_bleu4": 0.38, "no_attention_beam_bleu4": 0.39}}},
        "1": {stem: {"metrics": {"attention_in_box": 0.66}, "error": "AssertionError: the prose no longer holds"}},
    }
    text = seeds.render(runs, seed0)
    # columns in seed order, the spread over the seeds that recorded the metric
    assert "| seed 0 | seed 1 | seed 2 | spread |" in text
    assert _table_row(text, "attention-in-box")[2:] == ["0.700", "0.660", "0.750", "0.090"]
    assert _table_row(text, "BLEU-4, beam")[2:] == ["0.400", "–", "0.380", "0.020"]
    assert _table_row(text, "relation accuracy, greedy")[2:] == ["–", "–", "–", "–"]
    # a claim is judged only where both metrics were recorded, and holds when a > b
    row = _table_row(text, "attention beats no attention on beam BLEU-4")
    assert row[2:] == ["0.400 > 0.390", "–", "0.380 ≤ 0.390", "1 of 2"]
    assert "- 04_attention_solution, seed 1: `AssertionError: the prose no longer holds`" in text


def test_first_error_is_the_first_error_output_on_one_line():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": "x"},
            {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "fine"}]},
            {"cell_type": "code", "outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "a\n  b"}]},
            {"cell_type": "code", "outputs": [{"output_type": "error", "ename": "NameError", "evalue": "later"}]},
        ]
    }
    assert seeds.first_error(nb) == "AssertionError: a b"
    # a cell that shows an error on purpose (the book's raises-exception tag) is not a failure
    nb["cells"][2]["metadata"] = {"tags": ["raises-exception"]}
    assert seeds.first_error(nb) == "NameError: later"
    assert seeds.first_error({"cells": [nb["cells"][1]]}) is None
    long = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "error", "ename": "E", "evalue": "x" * 500}]}]}
    assert len(seeds.first_error(long)) == 200


def test_seed_zero_is_refused(capsys):
    with pytest.raises(SystemExit):
        seeds.main(["--seeds", "0", "1", "--render-only"])
    assert "seed 0 is make bench's run" in capsys.readouterr().err
