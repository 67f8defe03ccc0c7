"""Datasets by name (the ``REGISTRY`` table), all held in memory as uint8 tensors (see ``ImageDataset``)."""

from . import clips, pages, pairs, photos, shapes, sources, text  # noqa: F401  (registers the datasets)
from .base import (
    DATA_KINDS,
    REGISTRY,
    DatasetSpec,
    Factors,
    ImageDataset,
    from_model,
    load_dataset,
    resize_uint8,
    to_model,
)
from .runs import run_dataset, run_tokenizer
from .text import TextDataset, detokenize

__all__ = [
    "DATA_KINDS",
    "REGISTRY",
    "DatasetSpec",
    "Factors",
    "ImageDataset",
    "TextDataset",
    "detokenize",
    "from_model",
    "list_datasets",
    "load_dataset",
    "resize_uint8",
    "run_dataset",
    "run_tokenizer",
    "to_model",
]


def list_datasets() -> list[dict]:
    """One row per dataset: name, kind, description, available here, size, where it is (or how to get it)."""
    return [
        {
            "name": spec.shown_name,
            "kind": spec.kind,
            "description": spec.description,
            "available": spec.available(),
            "size": spec.size,
            "where": spec.where(),
        }
        for spec in REGISTRY
    ]
