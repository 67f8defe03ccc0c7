"""One exception family for everything imsynth refuses to do.

The CLI turns an ``ImsynthError`` into a one-line message and the exit code the class carries: 2 for bad
input (the user can fix it), 1 for a failure of the work itself (training diverged).
"""

from __future__ import annotations


class ImsynthError(Exception):
    """Base of every error imsynth raises on purpose."""

    exit_code = 2
    is_error = True  # False: a requested stop the CLI reports without "error:"


class InputError(ImsynthError, ValueError):
    """An argument, option or file the user gave is not usable."""


class DataError(ImsynthError, ValueError):
    """A dataset is missing, empty, or holds an unreadable file."""


class ImageError(DataError):
    """An image file is corrupt, truncated, empty or too large to decode safely."""


class ConfigError(InputError):
    """A config key or value does not fit the model's or engine's typed config."""


class CheckpointError(ImsynthError):
    """A run directory or checkpoint is missing, damaged, or does not fit the model."""


class TrainingError(ImsynthError):
    """Training could not go on (non-finite loss); the last good checkpoint is kept."""

    exit_code = 1


class TrainingStopped(ImsynthError):
    """Training stopped on SIGINT/SIGTERM after writing a complete checkpoint; the message says how to resume.
    Exit code 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM), as shells report a signalled job."""

    is_error = False

    def __init__(self, message: str, *, signum: int, result=None) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
        self.result = result


class Aborted(KeyboardInterrupt):
    """A second SIGINT/SIGTERM: stop at once (files being written are temporary until renamed, so the last complete
    checkpoint stays as it was)."""

    def __init__(self, message: str, *, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
