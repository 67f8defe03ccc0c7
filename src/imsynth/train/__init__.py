"""The training engine shared by every model family."""

from .engine import TrainConfig, TrainResult, load_run, train

__all__ = ["TrainConfig", "TrainResult", "load_run", "train"]
