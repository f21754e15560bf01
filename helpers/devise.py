"""Older name (chapter 02's utilities before issue 15): each name comes from its home, with a DeprecationWarning."""

from ._older_names import alias_module

__getattr__ = alias_module(
    "devise",
    {
        "normalize": "text",
        "label_vectors": "text",
        "nearest_words": "text",
        "load_word_vectors": "realdata",
        "zero_shot_split": "datasets",
        "sample_photos": "datasets",
        "embed_photos": "features",
        "flat_hits": "metrics",
        "chance_hits": "metrics",
        "search_precision": "metrics",
        "image_grid": "plots.show_images",
    },
)
