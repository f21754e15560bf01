"""Older name (chapter 03's utilities before issue 15): each name comes from its home, with a DeprecationWarning."""

from ._older_names import alias_module

__getattr__ = alias_module(
    "captioning",
    {
        **dict.fromkeys(
            [
                "encode_captions",
                "BucketBatchSampler",
                "CaptionBatch",
                "CaptionBatches",
                "references_per_image",
                "masked_cross_entropy",
            ],
            "batching",
        ),
        **dict.fromkeys(
            ["map_state", "greedy_decode", "beam_search", "sequence_log_prob", "ids_to_tokens", "Decoded"], "decoding"
        ),
        **dict.fromkeys(["Checkpoint", "save_checkpoint", "load_checkpoint"], "checkpoints"),
        **dict.fromkeys(["nearest_neighbour_captions", "human_ceiling", "evaluate_captions"], "caption_metrics"),
        "bleu_scores": "metrics.bleu",
    },
)
