"""Generative models by name. Importing this package registers every model."""

from . import diffusion, gan, vae  # noqa: F401  (registers vae, beta-vae, beta-tcvae, cvae, dcgan, wgan-gp, sngan, ddpm, ddpm-cond)
from .base import MODEL_REGISTRY, GenerativeModel, LossOutput, build_model, fit_config_to_data, get_entry

__all__ = ["MODEL_REGISTRY", "GenerativeModel", "LossOutput", "build_model", "fit_config_to_data", "get_entry"]
