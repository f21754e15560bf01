"""Helpers for the book "Seeing and Saying": data, features, devices, text, metrics, plots, results.

Notebooks use the short names re-exported here, e.g. `helpers.load_captions("train", "es")`,
`helpers.image_features(data)`, `helpers.pick_device()`, `helpers.ranks(...)`, `helpers.record(...)`.
"""
from .datasets import detect_layout, image_features, load_captions, load_classes, seen_unseen, subset, test_sets
from .embedded import Config, build, class_split, ensure
from .device import cpu_count, limit_threads, num_workers, pick_device, seed_everything
from .formats import CaptionData, ClassData, DatasetFormatError
from .caption_metrics import attention_in_box, bleu, box_cell_fraction, semantic_scores
from .metrics import chance_metrics, oracle_metrics, ranks, retrieval_metrics
from . import results
from .paths import cache_dir, repo_root
from .results import record
from .text import UnknownWordError, Vocabulary, glove, lookup, phrase_vector, tokenize, train_fasttext

__all__ = [
    "Config", "build", "class_split", "ensure", "image_features", "load_captions", "load_classes", "seen_unseen",
    "detect_layout", "subset", "test_sets",
    "cpu_count", "num_workers", "pick_device", "seed_everything", "CaptionData", "ClassData", "DatasetFormatError",
    "attention_in_box", "bleu", "box_cell_fraction", "chance_metrics", "oracle_metrics", "ranks",
    "retrieval_metrics", "semantic_scores", "cache_dir", "repo_root", "UnknownWordError", "Vocabulary", "glove",
    "lookup", "phrase_vector", "tokenize", "train_fasttext", "record", "results",
]

limit_threads()  # a container's CPU quota, not the host's core count, sets torch's thread pool
