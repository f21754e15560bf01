"""Every solution runs (slow): each notebook of ``tests/solutions.py``'s ``RUNS``, executed with papermill.

A run is the notebook as the book has it, plus

* after its Parameters cell, a cell (tagged ``injected-parameters``, as papermill tags its own) setting the
  parameters of the "re-run with other parameters" exercises it covers, and the short schedule of the run;
* at its end, one code cell per solution snippet of the notebook (the ```python fences of its ``{solution}``
  blocks, in the order of the book), unchanged: they run in the state the whole notebook leaves.

It fails on any error, the notebook's own assertions included, and names the exercise whose snippet failed.
The executed notebook and the results (``SEEING_SAYING_RESULTS``) go to a temporary folder: nothing is
written into ``notebooks/``, ``results/`` or the book's jupyter-cache.

Seconds per run on 2 CPU cores, 2026-12-01 (load average 0.7 to 2.4 from other jobs; wall, the CPU time
close to it): 00 27 s, 01 119 s, 02 35 s, 03 in Spanish 215 s (its layout probe 60 s and training 59 s),
Theano 65 s (warm compile cache): about 7.7 minutes in all, over the 6 minutes aimed at. The seed-scale run of
chapter 01 needs a GPU and is skipped without one. ``pytest tests/test_solutions_run.py -m slow -s`` prints
each run's time, its slowest cells and what each snippet printed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from tests import solutions as sol

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SNIPPET_TAG = "solution-snippet"


def _papermill_wrapper() -> str:
    """scripts/run_real.py's papermill command line (it honours the ``raises-exception`` cell tag)."""
    spec = importlib.util.spec_from_file_location("run_real", ROOT / "scripts" / "run_real.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PAPERMILL


def prepared(run: sol.Run):
    """(the notebook to execute, [(label, snippet)]) for one run."""
    nb = nbformat.read(sol.NOTEBOOKS / f"{run.notebook}.ipynb", as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "parameters" in sol.tags(c))
    injected = run.injected()
    if injected:
        source = "# Parameters of this run (tests/solutions.py, RUNS)\n" + "\n".join(
            f"{name} = {value!r}" for name, value in injected.items()
        )
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
        nb.cells.insert(params + 1, cell)
    snippets = [(s.label, code) for s in sol.solutions(nb.cells, run.notebook) for code in s.snippets]
    for label, code in snippets:
        nb.cells.append(nbformat.v4.new_code_cell(code, metadata={"tags": [SNIPPET_TAG], "solution": label}))
    for i, cell in enumerate(nb.cells):  # unique ids (the injected cells have random ones)
        cell.id = cell.get("id") or f"cell-{i}"
    return nb, snippets


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes (the kernel's included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def failure(executed) -> str:
    """What failed in an executed notebook: the first error output outside cells tagged raises-exception."""
    for i, cell in enumerate(executed.cells):
        if cell.cell_type != "code" or "raises-exception" in sol.tags(cell):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                where = (
                    f"the solution snippet of exercise {cell.metadata['solution']!r}"
                    if SNIPPET_TAG in sol.tags(cell)
                    else f"cell {i} of the notebook (before the snippets: {cell.source.splitlines()[0][:60]!r})"
                )
                return f"{where} failed: {out.get('ename')}: {out.get('evalue')}"
    return ""


@pytest.mark.parametrize("run", sol.RUNS, ids=[r.name for r in sol.RUNS])
def test_every_solution_runs(run, tmp_path):
    if run.needs_gpu:
        import torch

        if not torch.cuda.is_available():
            exercises = ", ".join(run.exercises)
            pytest.skip(f"{run.name} ({exercises}) needs a GPU, as its exercise says (tests/solutions.py)")
    nb, snippets = prepared(run)
    source, executed = tmp_path / f"{run.notebook}.ipynb", tmp_path / f"{run.notebook}.out.ipynb"
    nbformat.write(nb, source)
    results = tmp_path / "results"
    results.mkdir()
    env = {
        **os.environ,
        "SEEING_SAYING_RESULTS": str(results),
        "SEEING_SAYING_STATIC": "1",
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-c", _papermill_wrapper(), str(source), str(executed)]
    cmd += ["--cwd", str(sol.NOTEBOOKS), "--no-progress-bar", "--execution-timeout", str(run.timeout)]
    t, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=run.timeout + 300)
    seconds, cpu = time.perf_counter() - t, _children_cpu() - cpu
    covered = sorted({label for label, _ in snippets} | set(run.exercises))
    print(f"\n{run.name}: {seconds:.0f} s ({cpu:.0f} s of CPU), {run.injected()}, exercises {covered}")
    out = nbformat.read(executed, as_version=4) if executed.exists() else None
    if out is not None:
        durations = [(c.metadata.get("papermill", {}).get("duration") or 0, i) for i, c in enumerate(out.cells)]
        print("slowest cells (seconds, index):", [(round(d), i) for d, i in sorted(durations)[::-1][:8]])
    if proc.returncode != 0:
        what = failure(out) if out is not None else ""
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        pytest.fail(f"{run.notebook} with {run.injected()}: {what or 'papermill failed'}\n{tail}")
    ran = [c for c in out.cells if SNIPPET_TAG in sol.tags(c)]
    assert len(ran) == len(snippets) and all(c.execution_count for c in ran), "a snippet did not run"
    for cell in ran:  # what each snippet printed, for the log (-s)
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        print(f"--- {cell.metadata['solution']}\n{text.rstrip()[-1500:]}")
