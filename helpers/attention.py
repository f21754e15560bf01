"""Older name (chapter 04's utilities before issue 15): each name comes from its home, with a DeprecationWarning."""

from ._older_names import alias_module

__getattr__ = alias_module(
    "attention",
    {
        "object_lexicon": "grammar",
        "object_mentions": "grammar",
        "attention_in_boxes": "caption_metrics",
        "summarise_attention_in_box": "caption_metrics.summarize_attention_in_box",
        "plot_attention_steps": "plots",
        "word_stepper": "widgets",
    },
)
