"""imsynth studio: a local web app for every capability (``imsynth studio``), on Gradio.

The studio holds no logic: its controls are built from the method tables and each action is one call into the
public API (``imsynth.apps``), so it gives the command line's results. Install with
``pip install 'imsynth[studio]'``.
"""

from .app import build_studio
from .serve import serve

__all__ = ["build_studio", "serve"]
