"""`make seeds`: run the chapters that train models with other seeds; how far the seed alone moves the metrics.

Every chapter fixes ``SEED = 0``, so a rerun gives the same bytes, and the text compares numbers of that one
run (attention against no attention, beam against greedy, ...). A different seed draws other initial weights,
batch orders and dropout masks: this script runs each notebook again with ``SEED = 1, 2, ...`` (a papermill
parameter; ``scripts/bench.py``'s runner, with the user's data cache), reads the metrics each run records
with ``helpers.results.record``, and writes

* ``book/seeds.json``: the recorded metrics per seed and notebook, and the errors of any run that failed;
* two tables into ``book/performance.md`` (between ``<!-- bench:seeds:start -->`` and
  ``<!-- bench:seeds:end -->``): each headline metric per seed with its spread (largest minus smallest), and
  each comparison the chapters' text makes, with the seeds it holds on.

Seed 0 is not run again: it is the CPU run of ``make bench`` (``book/bench.json``), the same code and data.
A run that fails (a quality floor or a claim the notebook asserts) goes on with ``allow_errors``, so that
what it records is still read; its first error is shown in the table. The idea of reporting the spread over
seeds rather than one run is the usual one in the field (e.g. Henderson et al., "Deep Reinforcement
Learning that Matters", AAAI 2018; Bouthillier et al., "Accounting for Variance in Machine Learning
Benchmarks", MLSys 2021).

    python scripts/seed_spread.py --seeds 1 2 --write book/performance.md [--only 04_attention_solution]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (scripts/bench.py: the book's notebook runner and table writer)

ROOT = bench.ROOT
SEEDS_JSON = ROOT / "book" / "seeds.json"
NOTEBOOKS = [
    "01_search_by_regression",
    "02_devise_zero_shot",
    "03_show_and_tell",
    "04_attention_solution",
    "04_theano_attention_solution",
]

# (notebook, metric as the tables name it, recorded key): one row each in the spread table.
METRICS = [
    ("01_search_by_regression", "Recall@5 test_A en, best regression", "best_recall@5_test_A_en"),
    ("01_search_by_regression", "Recall@5 test_A en, contrastive", "contrastive_recall@5_test_A_en"),
    ("01_search_by_regression", "Recall@5 test_A es, contrastive", "contrastive_recall@5_test_A_es"),
    ("02_devise_zero_shot", "zero-shot hit@5, unseen classes", "zeroshot_hit@5_unseen"),
    ("02_devise_zero_shot", "zero-shot hit@5, unseen classes, ConSE", "conse_zeroshot_hit@5_unseen"),
    ("03_show_and_tell", "BLEU-4, beam", "bleu4_beam"),
    ("03_show_and_tell", "object recall, beam", "object_recall"),
    ("03_show_and_tell", "relation accuracy, beam", "relation_accuracy"),
    ("04_attention_solution", "attention-in-box", "attention_in_box"),
    ("04_attention_solution", "BLEU-4, beam", "beam_bleu4"),
    ("04_attention_solution", "BLEU-4, beam, no attention", "no_attention_beam_bleu4"),
    ("04_attention_solution", "object recall, greedy", "object_recall"),
    ("04_attention_solution", "relation accuracy, greedy", "relation_accuracy"),
    ("04_attention_solution", "relation accuracy, greedy, no attention", "no_attention_relation_accuracy"),
    ("04_theano_attention_solution", "attention-in-box", "attention_in_box"),
    ("04_theano_attention_solution", "BLEU-4, greedy", "bleu4"),
    ("04_theano_attention_solution", "object recall, greedy", "object_recall"),
]

# (notebook, the claim as the text makes it, key a, key b): the claim is "a > b" on that run's metrics.
CLAIMS = [
    (
        "01_search_by_regression",
        "contrastive beats the best regression, en",
        "contrastive_recall@5_test_A_en",
        "best_recall@5_test_A_en",
    ),
    ("02_devise_zero_shot", "DeViSE (hinge loss) beats ConSE", "zeroshot_hit@5_unseen", "conse_zeroshot_hit@5_unseen"),
    (
        "02_devise_zero_shot",
        "DeViSE (cosine loss) beats ConSE",
        "cosine_zeroshot_hit@5_unseen",
        "conse_zeroshot_hit@5_unseen",
    ),
    ("03_show_and_tell", "beam beats greedy on BLEU-4", "bleu4_beam", "bleu4_greedy"),
    ("03_show_and_tell", "beam beats the nearest neighbour on BLEU-4", "bleu4_beam", "bleu4_nearest_neighbour"),
    (
        "03_show_and_tell",
        "relation accuracy above the nearest neighbour (a goal, not a claim)",
        "relation_accuracy",
        "relation_accuracy_nearest_neighbour",
    ),
    ("04_attention_solution", "attention beats no attention on beam BLEU-4", "beam_bleu4", "no_attention_beam_bleu4"),
    ("04_attention_solution", "attention beats no attention on greedy BLEU-4", "bleu4", "no_attention_bleu4"),
    (
        "04_attention_solution",
        "attention beats no attention on object recall",
        "object_recall",
        "no_attention_object_recall",
    ),
    (
        "04_attention_solution",
        "attention beats the nearest neighbour on relation accuracy",
        "relation_accuracy",
        "nearest_relation_accuracy",
    ),
    (
        "04_attention_solution",
        "no attention has the higher relation accuracy",
        "no_attention_relation_accuracy",
        "relation_accuracy",
    ),
    (
        "04_theano_attention_solution",
        "greedy BLEU-4 beats the nearest neighbour (its results table)",
        "bleu4",
        "bleu4_nearest_neighbour",
    ),
]


def first_error(notebook: dict) -> str | None:
    """The first error a run left in its output notebook, as one line ("AssertionError: ..."), or None.

    ``notebook``: an executed notebook as a dict (nbformat JSON); errors are the ``output_type == "error"``
    outputs that nbclient writes with ``allow_errors=True``, outside the cells tagged ``raises-exception``
    (the chapters' demonstrations of an error message). The line is cut to 200 characters.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code" or "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                line = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
                line = " ".join(line.split())
                return line if len(line) <= 200 else line[:199] + "…"
    return None


def run_seed(stem: str, seed: int, workdir: Path, limit_s: int = 1200) -> dict:
    """Run one notebook with ``SEED = seed`` on the CPU; {"metrics", "error", "seconds"}.

    ``metrics`` is what the notebook recorded (empty if it recorded nothing), ``error`` its first error or
    None. Raises SystemExit if the run does not finish within ``limit_s`` seconds or the kernel dies.
    """
    outdir = workdir / f"seed{seed}"
    outdir.mkdir(parents=True, exist_ok=True)
    results = outdir / "results"
    env = dict(os.environ, SEEING_SAYING_RESULTS=str(results))
    seconds = bench.run_notebook(stem, "cpu", outdir, env, limit_s, {"SEED": seed}, allow_errors=True)
    path = results / f"{stem}.json"
    return {
        "metrics": json.loads(path.read_text()) if path.exists() else {},
        "error": first_error(json.loads((outdir / f"{stem}.out.ipynb").read_text())),
        "seconds": round(seconds, 1),
    }


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def render(seeds: dict, seed0: dict) -> str:
    """Markdown for the seeds block: the spread table, then the claims table.

    ``seeds``: {"1": {stem: {"metrics", "error", "seconds"}}, ...} (``book/seeds.json``'s "seeds");
    ``seed0``: {stem: metrics} (``book/bench.json``'s "quality"). A metric a run did not record is "–"; the
    spread is over the seeds that recorded it. A claim holds on a seed when its two metrics were recorded and
    the first is strictly larger.
    """
    order = sorted(seeds, key=int)
    columns = ["0", *order]

    def metrics_of(seed: str, stem: str) -> dict:
        return seed0.get(stem, {}) if seed == "0" else seeds[seed].get(stem, {}).get("metrics", {})

    head = "| Notebook | Metric | " + " | ".join(f"seed {s}" for s in columns) + " | spread |"
    lines = [head, "|---|---|" + "---:|" * (len(columns) + 1)]
    for stem, label, key in METRICS:
        values = [metrics_of(s, stem).get(key) for s in columns]
        got = [v for v in values if v is not None]
        spread = f"{max(got) - min(got):.3f}" if len(got) > 1 else "–"
        lines.append(f"| {stem} | {label} | " + " | ".join(_fmt(v) for v in values) + f" | {spread} |")
    lines += ["", "| Notebook | The text says | " + " | ".join(f"seed {s}" for s in columns) + " | holds on |"]
    lines.append("|---|---|" + "---|" * (len(columns) + 1))
    for stem, claim, a, b in CLAIMS:
        cells, held, judged = [], 0, 0
        for s in columns:
            m = metrics_of(s, stem)
            if a in m and b in m:
                judged += 1
                holds = m[a] > m[b]
                held += holds
                cells.append(f"{m[a]:.3f} {'>' if holds else '≤'} {m[b]:.3f}")
            else:
                cells.append("–")
        lines.append(f"| {stem} | {claim} | " + " | ".join(cells) + f" | {held} of {judged} |")
    failed = [
        f"- {stem}, seed {s}: `{run['error']}`"
        for s in order
        for stem, run in sorted(seeds[s].items())
        if run.get("error")
    ]
    if failed:
        lines += ["", "Runs that stopped at an error (what they recorded before it is in the tables):", *failed]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="seeds other than 0 (default: 1 2)")
    parser.add_argument("--only", nargs="+", choices=NOTEBOOKS, help="these notebooks only (default: all, in order)")
    parser.add_argument("--write", type=Path, help="the page whose seeds block to fill (book/performance.md)")
    parser.add_argument("--render-only", action="store_true", help="run nothing: render book/seeds.json again")
    args = parser.parse_args(argv)
    if any(s == 0 for s in args.seeds):
        parser.error("seed 0 is make bench's run (book/bench.json): give other seeds")
    data = json.loads(SEEDS_JSON.read_text()) if SEEDS_JSON.exists() else {"seeds": {}}
    if not args.render_only:
        with tempfile.TemporaryDirectory(prefix="seeds-") as tmp:
            for seed in args.seeds:
                for stem in args.only or NOTEBOOKS:
                    run = run_seed(stem, seed, Path(tmp))
                    data["seeds"].setdefault(str(seed), {})[stem] = run
                    data["date"] = dt.date.today().isoformat()
                    # after every run, so that a later run that stops the script loses only itself
                    SEEDS_JSON.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
                    note = f", error: {run['error']}" if run["error"] else ""
                    print(f"seeds: {stem} SEED={seed} {run['seconds']:.0f} s{note}", flush=True)
    seed0 = json.loads(bench.BENCH_JSON.read_text()).get("quality", {}) if bench.BENCH_JSON.exists() else {}
    body = render(data["seeds"], seed0)
    if args.write:
        bench.replace_block(args.write, "seeds", body)
    else:
        print(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
