"""Generative models by name. Importing this package registers every model in ``MODEL_REGISTRY`` (a table)."""

from . import codec, cyclegan, diffusion, dvae, gan, text, translation, vae, video, video_diffusion  # noqa: F401  (registers every model)
from .base import (
    MODEL_REGISTRY,
    GenerativeModel,
    LossOutput,
    ModelEntry,
    build_model,
    config_for_dataset,
    fit_config_to_data,
    get_entry,
)
from .capabilities import (
    Codec,
    ContentMotion,
    Encoder,
    Inpainter,
    Interpolator,
    IterativeSampler,
    LatentFeatures,
    LatentModel,
    LikelihoodModel,
    Predictor,
    Purifier,
    Representation,
    SentenceEncoder,
    TextGenerator,
    Translator,
)
from .loading import load_run
from .presets import PRESETS, Preset, get_preset, presets_for

__all__ = [
    "Codec",
    "ContentMotion",
    "Interpolator",
    "Predictor",
    "MODEL_REGISTRY",
    "PRESETS",
    "Preset",
    "Encoder",
    "GenerativeModel",
    "Inpainter",
    "IterativeSampler",
    "LatentFeatures",
    "LatentModel",
    "LikelihoodModel",
    "LossOutput",
    "Purifier",
    "ModelEntry",
    "Representation",
    "SentenceEncoder",
    "TextGenerator",
    "Translator",
    "build_model",
    "config_for_dataset",
    "fit_config_to_data",
    "get_entry",
    "get_preset",
    "load_run",
    "presets_for",
]
