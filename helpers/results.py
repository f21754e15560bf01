"""The results contract: every notebook records its headline metrics as flat JSON, one file per notebook.

    from helpers.results import record
    record("01_search_by_regression", {"recall_at_5": 0.41, "mean_rank": 12.3, "train_seconds": 48.0})

writes ``results/01_search_by_regression.json`` at the repository root (the folder is git-ignored), so that
instructors, ``make bench`` and CI can compare runs. ``SEEING_SAYING_RESULTS`` moves the folder elsewhere.
Values must be finite numbers (``bool`` is refused: record 0/1 if you mean it); keys must be non-empty
strings. The file is written atomically (temporary file + ``os.replace``), so a reader never sees half a
file.

``RunLog`` is the other record of an experiment: optional TensorBoard logging of one training run (scalars and
rank histograms, as seed 000 did with tensorboardX).
"""

from __future__ import annotations

import datetime
import json
import math
import numbers
import os
import tempfile
from pathlib import Path

from helpers.paths import cache_dir, new_file_mode, repo_root

__all__ = ["RESULTS_ENV", "results_dir", "results_path", "record", "load", "RunLog"]

#: Environment variable that overrides the results folder.
RESULTS_ENV = "SEEING_SAYING_RESULTS"


def results_dir() -> Path:
    """``$SEEING_SAYING_RESULTS`` or ``<repo>/results`` (not created here)."""
    override = os.environ.get(RESULTS_ENV)
    return Path(override).expanduser() if override else repo_root() / "results"


def _stem(notebook: str | os.PathLike) -> str:
    name = Path(os.fspath(notebook)).name
    for suffix in (".ipynb", ".json", ".py"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if not name or name in (".", ".."):
        raise ValueError(f"cannot make a results file name from {notebook!r}")
    return name


def results_path(notebook: str | os.PathLike) -> Path:
    """Where :func:`record` writes the metrics of ``notebook`` (a stem, a file name or a path); ValueError: no name."""
    return results_dir() / f"{_stem(notebook)}.json"


def _clean(metrics: dict) -> dict[str, float | int]:
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must be a dict of name -> number, not {type(metrics).__name__}")
    if not metrics:
        raise ValueError("metrics is empty: record at least one number")
    clean: dict[str, float | int] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"metric names must be non-empty strings, got {key!r}")
        # numpy and torch scalars: take the Python number out.
        if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"metric {key!r} must be a real number, got {type(value).__name__}: {value!r}")
        if isinstance(value, numbers.Integral):
            clean[key] = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"metric {key!r} is {value}: only finite numbers can be recorded")
            clean[key] = value
    return clean


def record(notebook: str | os.PathLike, metrics: dict) -> Path:
    """Write ``metrics`` (flat: name -> finite number) to ``results/<notebook stem>.json``; return the path.

    A second call for the same notebook replaces the file. Raises TypeError for metrics that are not a dict,
    a name that is not a non-empty string or a value that is not a real number (``bool`` included), ValueError
    for an empty dict or a value that is NaN or infinite.

    Taught in: notebooks/00_data_features_devices.ipynb § Recording this chapter's numbers
    """
    clean = _clean(metrics)
    path = results_path(notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), new_file_mode())  # mkstemp's 0600 -> what open() would give
            json.dump(clean, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(notebook: str | os.PathLike) -> dict[str, float | int]:
    """Read back what :func:`record` wrote for ``notebook`` (``FileNotFoundError`` if it never ran)."""
    path = results_path(notebook)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no results recorded for {_stem(notebook)!r}: {path} does not exist") from None
    return json.loads(text)


class RunLog:
    """TensorBoard logging for one training run, or nothing at all when `enabled` is False.

    Runs go to `<log_root>/<name>-<YYYYmmddHHMMSS>` (seed 000's naming; `log_root` defaults to
    `cache_dir('runs')`), so each experiment is one run in TensorBoard: `tensorboard --logdir <log_root>`.

    Taught in: notebooks/01_search_by_regression.ipynb § Watching training in TensorBoard
    """

    def __init__(self, name: str, enabled: bool = False, log_root: str | Path | None = None):
        self.writer = None
        self.log_dir = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            root = Path(log_root) if log_root else cache_dir("runs")
            stamp = datetime.datetime.now().strftime("%Y%m%d%H%M%S")
            self.log_dir = root / f"{name}-{stamp}"
            self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def scalar(self, tag: str, value: float, step: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, float(value), step)

    def histogram(self, tag: str, values, step: int) -> None:
        if self.writer is not None:
            import numpy as np

            self.writer.add_histogram(tag, np.asarray(values), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
