"""The training engine shared by every model family."""

from ..runtime.train_config import TrainConfig
from .entry import TrainResult, run_dataset, train, train_from_options

__all__ = ["TrainConfig", "TrainResult", "run_dataset", "train", "train_from_options"]
