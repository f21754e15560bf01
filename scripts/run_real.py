"""`make test-real`: every chapter on the real datasets' on-disk layouts, offline, with papermill.

Each pair (notebook x dataset layout) runs with ``EPOCHS=1`` and ``DATA_DIR`` pointing at a sample folder in
the dataset's real layout (``../shared/realdata`` beside the repository, or ``--root``). A pair fails on any
error, including an assertion of the notebook. Its wall time and its headline metric (from the results the
notebook recorded with ``helpers.results.record``) go into ``book/real_runs.json`` and, between the
``<!-- real:runs:start -->`` / ``<!-- real:runs:end -->`` markers, into ``book/real_data_and_gpus.md``, so
the table in the book is the last run's, never typed.

    python scripts/run_real.py [--root ../shared/realdata] [--only 03_show_and_tell] [--write]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS_JSON = ROOT / "book" / "real_runs.json"
PAGE = ROOT / "book" / "real_data_and_gpus.md"

# (notebook, DATASET, folder under the sample root, label)
PAIRS = [
    ("01_search_by_regression", "coco", "coco", "coco"),
    ("01_search_by_regression", "flickr8k", "flickr8k", "flickr8k"),
    ("02_devise_zero_shot", "tiny-imagenet", "tiny-imagenet-200", "tiny-imagenet"),
    ("03_show_and_tell", "coco", "coco", "coco"),
    ("03_show_and_tell", "flickr8k", "flickr8k", "flickr8k"),
    ("03_show_and_tell", "flickr8k", "flickr8k/kaggle", "flickr8k (Kaggle layout)"),
    ("04_attention_solution", "coco", "coco", "coco"),
    ("04_attention_solution", "flickr8k", "flickr8k", "flickr8k"),
    ("04_theano_attention_solution", "coco", "coco", "coco"),
    ("04_theano_attention_solution", "flickr8k", "flickr8k", "flickr8k"),
]
# The headline metric of each chapter: the first recorded key that matches, in this order.
HEADLINE = {
    "01_search_by_regression": [r"^best_recall@5_test_A", r"recall@5"],
    "02_devise_zero_shot": [r"^zeroshot_hit@5_unseen$", r"hit@5"],  # the hinge head (not cosine_...)
    "03_show_and_tell": [r"^bleu4_beam$", r"bleu4"],
    "04_attention_solution": [r"^bleu4$", r"bleu4"],
    "04_theano_attention_solution": [r"^bleu4$", r"bleu4"],
}


# papermill fails a run on any error output, even in a cell tagged `raises-exception`, a tag that nbclient, nbval
# and Jupyter Book honour (a lesson shows an error on purpose there, e.g. chapter 02's unknown word). Its own CLI
# runs here with that tag honoured: such a cell's error output is not counted (it stays in the executed notebook).
PAPERMILL = """
import sys
import papermill.cli
import papermill.execute as execute

strict = execute.raise_for_execution_errors


def honour_raises_exception(nb, output_path):
    tagged = [c for c in nb.cells if "raises-exception" in c.get("metadata", {}).get("tags", [])]
    kept = [c.get("outputs", []) for c in tagged]
    for c in tagged:
        c["outputs"] = [o for o in c.get("outputs", []) if o.get("output_type") != "error"]
    try:
        strict(nb, output_path)
    finally:
        for c, outputs in zip(tagged, kept):
            c["outputs"] = outputs


execute.raise_for_execution_errors = honour_raises_exception
sys.argv[0] = "papermill"
papermill.cli.papermill()
"""


def headline(stem: str, metrics: dict) -> tuple[str, float] | tuple[None, None]:
    for pattern in HEADLINE.get(stem, []):
        for key in sorted(metrics):
            if re.search(pattern, key):
                return key, metrics[key]
    return None, None


def run_pair(stem: str, dataset: str, data_dir: Path, label: str, out: Path, limit_s: int) -> dict:
    results = out / "results" / re.sub(r"\W+", "_", f"{stem}_{label}")
    results.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SEEING_SAYING_RESULTS": str(results), "SEEING_SAYING_STATIC": "1", "PYTHONUNBUFFERED": "1"}
    executed = out / f"{results.name}.ipynb"  # (no backslash inside an f-string: Python 3.11)
    cmd = [
        sys.executable,
        "-c",
        PAPERMILL,
        str(ROOT / "notebooks" / f"{stem}.ipynb"),
        str(executed),
        "-p",
        "DATASET",
        dataset,
        "-p",
        "DATA_DIR",
        str(data_dir),
        "-p",
        "EPOCHS",
        "1",
        "--cwd",
        str(ROOT / "notebooks"),
        "--no-progress-bar",
        "--execution-timeout",
        str(limit_s),
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit_s + 120)
    seconds = time.perf_counter() - t
    row = {
        "notebook": stem,
        "dataset": dataset,
        "layout": label,
        "data_dir": os.path.relpath(data_dir, ROOT),
        "seconds": round(seconds, 1),
        "ok": proc.returncode == 0,
    }
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-25:]
        row["error"] = "\n".join(tail)
        return row
    files = list(results.glob("*.json"))
    metrics = json.loads(files[0].read_text()) if files else {}
    row["metric"], row["value"] = headline(stem, metrics)
    if row["metric"] is None:
        row["ok"], row["error"] = False, f"the notebook recorded no headline metric ({sorted(metrics)})"
    return row


def render(runs: dict) -> str:
    lines = [
        f"Last `make test-real`: {runs['date']}, {runs['machine']}, `EPOCHS=1`, sample folders in the real "
        f"layouts (`../shared/realdata`; their photos stand in for the real ones, so the metrics test the code "
        f"path, not the method).",
        "",
        "| chapter | dataset (layout) | time | headline metric |",
        "|---|---|---:|---|",
    ]
    for r in runs["pairs"]:
        metric = f"{r['metric']} = {r['value']:.3f}" if r.get("ok") else "failed"
        lines.append(f"| {r['notebook']} | {r['layout']} | {r['seconds']:.0f} s | {metric} |")
    return "\n".join(lines)


def write_page(runs: dict) -> None:
    text = PAGE.read_text(encoding="utf-8")
    start, end = "<!-- real:runs:start -->", "<!-- real:runs:end -->"
    if start not in text:
        raise SystemExit(f"{PAGE} has no {start} marker")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    PAGE.write_text(f"{head}{start}\n{render(runs)}\n{end}{tail}", encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=str(ROOT.parent / "shared" / "realdata"), help="the sample folders")
    p.add_argument("--only", nargs="+", help="notebook stems (e.g. 03_show_and_tell) to run")
    p.add_argument("--write", action="store_true", help="write book/real_runs.json and the table in the book")
    p.add_argument("--limit", type=int, default=600, help="seconds per pair")
    a = p.parse_args()
    root = Path(os.path.abspath(a.root))  # not resolved: ../shared may be a link, the table names it as given
    if not root.is_dir():
        print(
            f"make test-real: no sample folder at {root} (put the shared realdata folder there or pass --root)",
            file=sys.stderr,
        )
        return 2
    pairs = [x for x in PAIRS if not a.only or x[0] in a.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="test-real-") as tmp:
        for stem, dataset, folder, label in pairs:
            print(f"::: {stem} on {label} ({folder})", flush=True)
            row = run_pair(stem, dataset, root / folder, label, Path(tmp), a.limit)
            rows.append(row)
            status = f"{row['metric']} = {row['value']:.3f}" if row["ok"] else "FAILED"
            print(f"    {row['seconds']:.0f} s, {status}", flush=True)
            if not row["ok"]:
                print("    " + row["error"].replace("\n", "\n    "), flush=True)
    import platform

    runs = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU",
        "pairs": rows,
    }
    if a.write and not a.only:
        RUNS_JSON.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
        write_page(runs)
    failed = [f"{r['notebook']} on {r['layout']}" for r in rows if not r["ok"]]
    total = sum(r["seconds"] for r in rows)
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    print(f"make test-real: {len(rows)} runs in {total:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
