"""`make bench`: execute every notebook cold and warm; write the wall times into the book.

Cold: a fresh, empty cache folder (``SEEING_SAYING_CACHE``): the embedded dataset and its features are built
(``python -m helpers build``, timed on its own row), then every notebook runs once in numbered order, so each
pays for its own first-time work (Theano compilation, feature caches, ...). Warm: every notebook runs again
with that cache. papermill sets each notebook's ``DEVICE`` parameter and nbclient (the book's executor) runs
it, so the benchmark also proves that each notebook takes its parameters. The ``EXTRA_RUNS`` (a notebook with
other parameters, such as chapter 01's ``SEED_SCALE = True``) run once after the warm runs; only the results
file each records is kept, for the notebook to read back from ``book/bench.json``.

Measurements are kept per device in ``book/bench.json`` (a CPU run and a GPU run fill different columns) and
rendered into ``book/performance.md`` and ``book/intro.md`` between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->`` marker comments. The headline metrics the notebooks recorded with
``helpers.results.record`` go into the quality table, and the ones in ``HEADLINES`` into a table that puts
each model's main metric beside its reference point (a ceiling, a baseline or chance) and the notebook's time.

    python scripts/bench.py --write book/performance.md [--device cuda] [--only 01_search_by_regression]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_JSON = ROOT / "book" / "bench.json"
INTRO = ROOT / "book" / "intro.md"

# (notebook, what is measured, recorded key, reference point, its recorded key): one row each in the
# headline table; a row whose keys a notebook did not record (an older run) is left out. A reference recorded
# by another notebook is named "notebook:key".
HEADLINES = [
    (
        "01_search_by_regression",
        "Recall@5 test_A en, regression",
        "best_recall@5_test_A_en",
        "oracle",
        "oracle_recall@5_test_A_en",
    ),
    (
        "01_search_by_regression",
        "Recall@5 test_A en, contrastive",
        "contrastive_recall@5_test_A_en",
        "oracle",
        "oracle_recall@5_test_A_en",
    ),
    (
        "01_search_by_regression",
        "Recall@5 test_A es, regression",
        "best_recall@5_test_A_es",
        "oracle",
        "oracle_recall@5_test_A_en",
    ),
    (
        "01_search_by_regression",
        "Recall@5 test_A es, contrastive",
        "contrastive_recall@5_test_A_es",
        "oracle",
        "oracle_recall@5_test_A_en",
    ),
    (
        "02_devise_zero_shot",
        "zero-shot hit@5, unseen classes",
        "zeroshot_hit@5_unseen",
        "chance",
        "chance_hit@5_unseen",
    ),
    (
        "02_devise_zero_shot",
        "zero-shot hit@5, unseen classes, ConSE",
        "conse_zeroshot_hit@5_unseen",
        "chance",
        "chance_hit@5_unseen",
    ),
    ("03_show_and_tell", "BLEU-4 vs 4 refs, beam", "bleu4_beam_vs_4_refs", "human ceiling", "bleu4_ceiling"),
    ("03_show_and_tell", "BLEU-4, beam", "bleu4_beam", "nearest neighbour", "bleu4_nearest_neighbour"),
    ("03_show_and_tell", "CIDEr-D vs 4 refs, beam", "cider_beam_vs_4_refs", "human ceiling", "cider_ceiling"),
    ("03_show_and_tell", "object recall, beam", "object_recall", "human captions", "object_recall_ceiling"),
    (
        "03_show_and_tell",
        "relation accuracy, beam",
        "relation_accuracy",
        "nearest neighbour",
        "relation_accuracy_nearest_neighbour",
    ),
    ("04_attention_solution", "attention-in-box", "attention_in_box", "uniform attention", "attention_in_box_uniform"),
    (
        "04_attention_solution",
        "BLEU-4, beam",
        "beam_bleu4",
        "human ceiling (chapter 03)",
        "03_show_and_tell:bleu4_ceiling",
    ),
    (
        "04_attention_solution",
        "object recall, greedy",
        "object_recall",
        "human captions (chapter 03)",
        "03_show_and_tell:object_recall_ceiling",
    ),
    (
        "04_attention_solution",
        "relation accuracy, greedy",
        "relation_accuracy",
        "nearest neighbour",
        "nearest_relation_accuracy",
    ),
    (
        "04_attention_solution",
        "relation accuracy, greedy",
        "relation_accuracy",
        "the same decoder without attention",
        "no_attention_relation_accuracy",
    ),
    (
        "04_attention_solution",
        "BLEU-4, beam",
        "beam_bleu4",
        "the same decoder without attention",
        "no_attention_beam_bleu4",
    ),
    (
        "04_theano_attention_solution",
        "attention-in-box",
        "attention_in_box",
        "uniform attention",
        "attention_in_box_uniform",
    ),
]

# Runs too long for a notebook's default parameters: (notebook, parameters, the results file it records).
# Each runs once, after the warm runs, with its own results folder; only that results file is kept (into the
# quality table and book/bench.json, where the notebook reads it back), and its time counts for no notebook.
EXTRA_RUNS = [
    ("01_search_by_regression", {"SEED_SCALE": True}, "01_search_by_regression_seed_scale"),
]


def toc_notebooks() -> list[str]:
    import yaml

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    yield from walk(child)

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [Path(f).name for f in walk(toc) if f.startswith("notebooks/")]


def device_label(device: str) -> tuple[str, str]:
    import torch

    if device != "cpu" and torch.cuda.is_available():
        return "gpu", f"GPU: {torch.cuda.get_device_name(0)}"
    return "cpu", f"CPU: {os.cpu_count()} cores"


def run_notebook(
    stem: str,
    device: str,
    outdir: Path,
    env: dict,
    limit_s: int = 900,
    parameters: dict | None = None,
    allow_errors: bool = False,
) -> float:
    """Execute one notebook in a subprocess (so the environment applies); wall seconds.

    The executed notebook is written to ``outdir / f"{stem}.out.ipynb"``. With ``allow_errors`` (nbclient's
    option) a cell that raises does not stop the run: its error is kept in the output notebook and the next
    cells run (``scripts/seed_spread.py`` reads what such a run recorded).

    papermill writes the `DEVICE` parameter into the notebook (its `parameters` cell mechanism); nbclient, the
    executor Jupyter Book uses, runs it with the book's per-cell timeout. (`papermill.execute_notebook` itself
    once hung here with both the kernel and the client idle, as in papermill issue #711; a hard limit per
    notebook turns such a hang into a clear failure instead of a stalled benchmark.) `parameters`: more of the
    notebook's parameters, set the same way.
    """
    code = (
        "import json, sys, nbformat; from nbclient import NotebookClient; "
        "from papermill.iorw import load_notebook_node; from papermill.parameterize import parameterize_notebook; "
        "nb = parameterize_notebook(load_notebook_node(sys.argv[1]), "
        "{'DEVICE': sys.argv[3], **json.loads(sys.argv[5])}, "
        "kernel_name='python3', language='python'); "
        "NotebookClient(nb, timeout=600, kernel_name='python3', allow_errors=sys.argv[6] == '1', "
        "resources={'metadata': {'path': sys.argv[4]}}).execute(); nbformat.write(nb, sys.argv[2])"
    )
    src = ROOT / "notebooks" / f"{stem}.ipynb"
    start = time.perf_counter()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                code,
                str(src),
                str(outdir / f"{stem}.out.ipynb"),
                device,
                str(src.parent),
                json.dumps(parameters or {}),
                "1" if allow_errors else "0",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit_s,
        )
    except subprocess.TimeoutExpired:
        raise SystemExit(f"bench: {stem} did not finish in {limit_s} s") from None
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"bench: {stem} failed (see above); output notebook in {outdir}")
    return seconds


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def replace_block(path: Path, name: str, body: str) -> None:
    text = path.read_text()
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"bench: {path} has no {start} ... {end} markers")
    path.write_text(pattern.sub(lambda _: f"{start}\n{body.rstrip()}\n{end}", text))


def render(data: dict) -> dict[str, str]:
    runs = {k: v for k, v in data.get("runs", {}).items() if v}
    stems = toc_notebooks()
    # Wall times, one column pair per device that was measured.
    head = "| Notebook | " + " | ".join(f"{r['label']} cold | {r['label']} warm" for r in runs.values()) + " |"
    rule = "|---|" + "---:|---:|" * len(runs)
    rows = []
    for stem in ["data build (python -m helpers build)"] + stems:
        cells = []
        for r in runs.values():
            t = r["times"].get(stem.split(" ")[0] if stem.startswith("data") else stem, {})
            cells += [fmt_seconds(t.get("cold")), fmt_seconds(t.get("warm"))]
        rows.append(f"| {stem} | " + " | ".join(cells) + " |")
    totals = []
    for r in runs.values():
        for kind in ("cold", "warm"):
            totals.append(fmt_seconds(sum(t.get(kind) or 0 for t in r["times"].values())))
    rows.append("| **all** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    meta = []
    for r in runs.values():
        meta.append(f"- {r['label']}: measured {r['date']} with Python {r['python']}, torch {r['torch']}.")
        by_date: dict[str, list[str]] = {}  # rows a later `--only` run measured again, by its date
        dates = r.get("dates", {})
        for stem in ["data", *stems, *sorted(set(dates) - {"data", *stems})]:  # the table's order
            if stem in dates:
                by_date.setdefault(dates[stem], []).append("data build" if stem == "data" else stem)
        for date, stems_then in sorted(by_date.items()):
            versions = f", {r['versions'][date]}" if date in r.get("versions", {}) else ""
            meta.append(f"  - measured again on {date} (`--only`{versions}): {', '.join(stems_then)}.")
    times = "\n".join([head, rule, *rows, "", *meta]) if runs else "Not measured yet: run `make bench`."
    # Intro: time per chapter on a first (cold) run, what a reader sees the first time through.
    intro_rows = ["| Chapter | " + " | ".join(r["label"] for r in runs.values()) + " |", "|---|" + "---:|" * len(runs)]
    for stem in stems:
        intro_rows.append(
            f"| {stem} | " + " | ".join(fmt_seconds(r["times"].get(stem, {}).get("cold")) for r in runs.values()) + " |"
        )
    intro = "\n".join(intro_rows) if runs else "Not measured yet: run `make bench`."
    # Quality: what each notebook recorded (results/<stem>.json), from the latest run.
    quality_rows = ["| Notebook | Metric | Value |", "|---|---|---:|"]
    for stem, metrics in sorted(data.get("quality", {}).items()):
        for key, value in metrics.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            quality_rows.append(f"| {stem} | `{key}` | {shown} |")
    quality = "\n".join(quality_rows) if data.get("quality") else "Not measured yet: run `make bench`."
    # Headlines: the main metric of each model beside its reference point and the notebook's first-run time.
    recorded, cpu = data.get("quality", {}), runs.get("cpu", next(iter(runs.values()), {"times": {}}))
    head_rows = [
        "| Notebook | Metric | Value | Reference | Its value | Ratio | Cold time |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for stem, what, key, ref_name, ref_key in HEADLINES:
        mine = recorded.get(stem, {})
        ref_stem, _, ref_key = ref_key.rpartition(":")
        ref = recorded.get(ref_stem or stem, {}).get(ref_key)
        if key not in mine or ref is None:
            continue
        ratio = f"{mine[key] / ref:.2f}" if ref else "–"
        cold = fmt_seconds(cpu["times"].get(stem, {}).get("cold"))
        head_rows.append(f"| {stem} | {what} | {mine[key]:.3f} | {ref_name} | {ref:.3f} | {ratio} | {cold} |")
    headlines = "\n".join(head_rows) if len(head_rows) > 2 else "Not measured yet: run `make bench`."
    return {"times": times, "intro": intro, "quality": quality, "headlines": headlines}


def merge_run(data: dict, key: str, run: dict, partial: bool) -> None:
    """Put ``run`` (one device's times) into ``data["runs"][key]``, in place.

    A full run replaces the device's entry. A partial run (``--only``) replaces only the rows it measured
    and, when its date is not the entry's, records each such row's own date under ``"dates"`` (the times
    table names them), so that a table mixing two days says which rows come from which; a Python or torch
    version that differs from the entry's is kept for that date under ``"versions"``.
    """
    kept = data.setdefault("runs", {}).get(key)
    if not partial or kept is None:
        data["runs"][key] = run
        return
    kept["times"].update(run["times"])
    same_day = run["date"] == kept["date"]
    dates = kept.setdefault("dates", {})  # a row's own date, where it is not the run's
    for stem in run["times"]:
        if same_day:
            dates.pop(stem, None)
        else:
            dates[stem] = run["date"]
    versions = kept.setdefault("versions", {})  # a later day's Python and torch, where they differ
    if (run["python"], run["torch"]) != (kept["python"], kept["torch"]):
        versions[run["date"]] = f"Python {run['python']}, torch {run['torch']}"
    for date in set(versions) - set(dates.values()):  # no row of that day left (or the run's own day)
        del versions[date]
    for field in ("dates", "versions"):
        if not kept[field]:
            del kept[field]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", type=Path, default=ROOT / "book" / "performance.md", help="page to update")
    parser.add_argument("--device", default="auto", help="the notebooks' DEVICE parameter (auto, cpu, cuda)")
    parser.add_argument("--only", nargs="*", help="notebook stems to run (default: all, in order)")
    parser.add_argument("--render-only", action="store_true", help="only re-render the pages from bench.json")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="a quick check of the benchmark itself: reuse the current cache (not cold), write nothing",
    )
    args = parser.parse_args(argv)

    data = json.loads(BENCH_JSON.read_text()) if BENCH_JSON.exists() else {"runs": {}, "quality": {}}
    if not args.render_only:
        import torch

        key, label = device_label(args.device)
        stems = args.only or toc_notebooks()
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            tmp = Path(tmp)
            results = tmp / "results"
            env = dict(os.environ, SEEING_SAYING_RESULTS=str(results))
            if not args.dry_run:
                env["SEEING_SAYING_CACHE"] = str(tmp / "cache")
            times: dict[str, dict[str, float]] = {}
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "helpers", "build"], env=env, cwd=ROOT, check=True)
            times["data"] = {"cold": time.perf_counter() - start}
            print(f"bench: data build {times['data']['cold']:.1f} s", flush=True)
            for kind in ("cold", "warm"):
                for stem in stems:
                    seconds = run_notebook(stem, args.device, tmp, env)
                    times.setdefault(stem, {})[kind] = round(seconds, 1)
                    print(f"bench: {stem} {kind} {seconds:.1f} s", flush=True)
            quality = {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*.json"))}
            for stem, parameters, record in EXTRA_RUNS:
                if stem not in stems:
                    continue
                extra = tmp / f"results-{record}"
                seconds = run_notebook(
                    stem, args.device, tmp, dict(env, SEEING_SAYING_RESULTS=str(extra)), 3600, parameters
                )
                quality[record] = json.loads((extra / f"{record}.json").read_text())
                print(f"bench: {stem} with {parameters} {seconds:.1f} s (recorded as {record})", flush=True)
        run = {
            "label": label,
            "date": dt.date.today().isoformat(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "times": {k: {kk: round(vv, 1) for kk, vv in v.items()} for k, v in times.items()},
        }
        if args.dry_run:
            print(json.dumps({"run": run, "quality": quality}, indent=1))
            print(render({"runs": {key: run}, "quality": quality})["times"])
            return 0
        merge_run(data, key, run, partial=bool(args.only))
        data.setdefault("quality", {}).update(quality)
        BENCH_JSON.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    blocks = render(data)
    replace_block(args.write, "times", blocks["times"])
    replace_block(args.write, "quality", blocks["quality"])
    replace_block(args.write, "headlines", blocks["headlines"])
    if INTRO.exists() and "<!-- bench:intro:start -->" in INTRO.read_text():
        replace_block(INTRO, "intro", blocks["intro"])
    print(
        f"bench: wrote {args.write.resolve().relative_to(ROOT)}"
        + ("" if args.render_only else f" and {BENCH_JSON.relative_to(ROOT)}")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
