"""Helpers for the book "Seeing and Saying": data, features, devices, text, metrics, plots, results.

Notebooks use the short names re-exported here, e.g. `helpers.load_captions("train", "es")`,
`helpers.image_features(data)`, `helpers.pick_device()`, `helpers.ranks(...)`, `helpers.record(...)`.

The package is lazy: a name (or a module, `helpers.results`) is imported on first use, so
`import helpers.formats` loads no torch. The first use that loads torch also caps torch's thread pool
at the container's CPU quota (`helpers.device.limit_threads`), as `helpers.device` does when imported.
"""

import importlib
import importlib.util
import sys

_HOMES = {
    "datasets": [
        "detect_layout",
        "image_features",
        "load_captions",
        "load_classes",
        "seen_unseen",
        "subset",
        "test_sets",
    ],
    "embedded": ["Config", "build", "class_split", "ensure"],
    "device": ["cpu_count", "limit_threads", "num_workers", "pick_device", "seed_everything", "torch_threads"],
    "formats": ["CaptionData", "ClassData", "DatasetFormatError"],
    "caption_metrics": ["attention_in_box", "box_cell_fraction", "semantic_scores"],
    "metrics": ["bleu", "chance_metrics", "oracle_metrics", "ranks", "retrieval_metrics"],
    "paths": ["cache_dir", "repo_root"],
    "results": ["record"],
    "text": ["UnknownWordError", "Vocabulary", "glove", "lookup", "phrase_vector", "tokenize", "train_fasttext"],
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [*_HOME, "results"]


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f".{name}", __name__)  # a module: helpers.results, helpers.download, ...
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if sys.modules.get("torch") is not None and f"{__name__}.device" not in sys.modules:
        importlib.import_module(".device", __name__)  # caps torch's threads (limit_threads) on import
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
