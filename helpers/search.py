"""Older name (chapter 01's utilities before issue 15): each name comes from its home, with a DeprecationWarning."""

from ._older_names import alias_module

__getattr__ = alias_module(
    "search",
    {
        "tokenize_all": "text",
        "centroids": "text",
        "WordTable": "text",
        "cached_fasttext": "text",
        "cached_arrays": "array_cache",
        "evaluate": "metrics",
        "top_k": "metrics",
        "RunLog": "results",
    },
)
