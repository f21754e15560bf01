"""Readers and writers for the on-disk formats of the datasets the book uses, under one name.

The embedded dataset is written in the same formats as the real datasets, so one reader serves both:
- COCO captions / instances JSON (`captions_*.json`, `instances_*.json`) plus an image folder;
- the Tiny ImageNet tree (`wnids.txt`, `words.txt`, `train/<wnid>/images/`, `val/val_annotations.txt`).

Every reader returns one of two plain structures: `CaptionData` (images + captions) or `ClassData`
(labelled images). The code lives by concern: `helpers.formats_core` (the structures, errors, careful
file reading, atomic writing), `helpers.caption_formats` (COCO, Flickr8k, seed 000, Karpathy) and
`helpers.class_formats` (Tiny ImageNet); this module re-exports them (each is
documented in its home). None of them imports torch.
"""

from .caption_formats import (  # noqa: F401
    FLICKR8K_SPLITS,
    FLICKR8K_TOKENS,
    IMAGE_SUFFIXES,
    SEED000_DIM,
    read_coco_captions,
    read_flickr8k,
    read_flickr8k_csv,
    read_flickr8k_tokens,
    read_karpathy_captions,
    read_seed000,
    read_seed000_vectors,
    seed000_files,
    write_coco_captions,
)
from .class_formats import read_tiny_imagenet, write_tiny_imagenet_index  # noqa: F401
from .formats_core import (  # noqa: F401
    CaptionData,
    ClassData,
    DatasetFormatError,
    DatasetWarning,
    _read_json_object,
    check_images,
    clean_caption,
    has_words,
    missing_images,
    read_image_list,
    read_text,
    subset,
    summarize_captions,
    summarize_classes,
    text_lines,
    write_atomic,
    write_text_atomic,
)
