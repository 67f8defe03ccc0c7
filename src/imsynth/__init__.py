"""imsynth: image synthesis from templates, deformations and deep generative models."""

__version__ = "0.1.0"
