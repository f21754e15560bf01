"""The older home of the embedded dataset and its loaders, kept so `helpers.data.<name>` keeps working.

Building and verifying the embedded dataset is in helpers/embedded.py; loading any dataset (embedded or
real) is the data front door, helpers/datasets.py (`helpers.load_captions`, `helpers.load_classes`).
Nothing in `helpers` imports this module.
"""

from .datasets import image_features, load_captions, load_classes, seen_unseen
from .embedded import (
    SCENE_SPLITS,
    VERSION,
    Config,
    _verified,
    build,
    class_split,
    dataset_name,
    dataset_root,
    ensure,
    fingerprint,
    verify,
)
from .formats import DatasetFormatError

__all__ = [
    "Config",
    "build",
    "ensure",
    "load_captions",
    "load_classes",
    "seen_unseen",
    "image_features",
    "verify",
    "dataset_root",
    "dataset_name",
    "fingerprint",
    "DatasetFormatError",
    "class_split",
    "SCENE_SPLITS",
    "VERSION",
    "_verified",
]
