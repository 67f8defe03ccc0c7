"""imsynth studio: a local web app for every capability (``imsynth studio``), on Gradio.

The studio holds no logic: its controls are built from the method tables and each action is one call into the
public API (``imsynth.apps``), so it gives the command line's results. Install with
``pip install 'imsynth[studio]'``.
"""

import importlib

from .serve import serve

__all__ = ["build_studio", "serve"]


def __getattr__(name: str):
    # the page's builder imports Gradio (seconds): only when asked for, so `imsynth studio` listens before that
    if name == "build_studio":
        return importlib.import_module(".app", __name__).build_studio
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
