"""scripts/bench.py (`make bench`): how a partial run (`--only`) merges into book/bench.json and the times table."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

STEM = "02_devise_zero_shot"
OTHER = "03_show_and_tell"


def _run(date: str, times: dict) -> dict:
    return {"label": "CPU: 2 cores", "date": date, "python": "3.11.7", "torch": "2.14.1", "times": times}


def _full() -> dict:
    times = {"data": {"cold": 100.0}, STEM: {"cold": 60.0, "warm": 50.0}, OTHER: {"cold": 190.0, "warm": 180.0}}
    return {"runs": {"cpu": _run("2026-12-01", times)}, "quality": {}}


def test_partial_run_on_another_day_names_its_rows_in_the_table():
    data = _full()
    partial = _run("2026-12-02", {"data": {"cold": 130.0}, STEM: {"cold": 70.0, "warm": 65.0}})
    bench.merge_run(data, "cpu", partial, partial=True)
    kept = data["runs"]["cpu"]
    assert kept["date"] == "2026-12-01", "a partial run keeps the full run's date"
    assert kept["times"][STEM] == {"cold": 70.0, "warm": 65.0}
    assert kept["times"][OTHER] == {"cold": 190.0, "warm": 180.0}, "rows it did not run stay"
    assert kept["dates"] == {"data": "2026-12-02", STEM: "2026-12-02"}
    times = bench.render(data)["times"]
    assert "measured 2026-12-01" in times
    assert f"measured again on 2026-12-02 (`--only`): data build, {STEM}." in times
    assert OTHER not in times.split("measured again", 1)[1]


def test_partial_run_on_the_runs_own_day_needs_no_second_date():
    data = _full()
    before = copy.deepcopy(data)
    bench.merge_run(data, "cpu", _run("2026-12-02", {STEM: {"cold": 70.0, "warm": 65.0}}), partial=True)
    bench.merge_run(data, "cpu", _run("2026-12-01", {STEM: {"cold": 61.0, "warm": 51.0}}), partial=True)
    assert "dates" not in data["runs"]["cpu"], "the row is measured on the run's day again"
    assert "measured again" not in bench.render(data)["times"]
    assert data["runs"]["cpu"]["times"][OTHER] == before["runs"]["cpu"]["times"][OTHER]


def test_full_run_replaces_the_entry_and_its_row_dates():
    data = _full()
    bench.merge_run(data, "cpu", _run("2026-12-02", {STEM: {"cold": 70.0}}), partial=True)
    assert "dates" in data["runs"]["cpu"]
    full = _run("2026-12-03", {"data": {"cold": 99.0}, STEM: {"cold": 59.0, "warm": 49.0}})
    bench.merge_run(data, "cpu", full, partial=False)
    assert data["runs"]["cpu"] == full
    assert "measured again" not in bench.render(data)["times"]


def test_first_partial_run_of_a_device_becomes_its_entry():
    data = {"runs": {}, "quality": {}}
    run = _run("2026-12-02", {STEM: {"cold": 70.0, "warm": 65.0}})
    bench.merge_run(data, "cuda", run, partial=True)
    assert data["runs"]["cuda"] == run


def test_two_partial_runs_on_two_later_days_keep_their_own_dates_and_versions():
    data = _full()
    bench.merge_run(data, "cpu", _run("2026-12-02", {STEM: {"cold": 70.0}}), partial=True)
    later = dict(_run("2026-12-03", {OTHER: {"cold": 200.0}}), torch="2.15.0")
    bench.merge_run(data, "cpu", later, partial=True)
    kept = data["runs"]["cpu"]
    assert kept["dates"] == {STEM: "2026-12-02", OTHER: "2026-12-03"}
    assert kept["versions"] == {"2026-12-03": "Python 3.11.7, torch 2.15.0"}
    times = bench.render(data)["times"]
    assert f"measured again on 2026-12-02 (`--only`): {STEM}." in times
    assert f"measured again on 2026-12-03 (`--only`, Python 3.11.7, torch 2.15.0): {OTHER}." in times
    # The row of the later day measured again on the first partial run's day: its versions go with it.
    bench.merge_run(data, "cpu", _run("2026-12-02", {OTHER: {"cold": 195.0}}), partial=True)
    assert kept["dates"] == {STEM: "2026-12-02", OTHER: "2026-12-02"}
    assert "versions" not in kept
