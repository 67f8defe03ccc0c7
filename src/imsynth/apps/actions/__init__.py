"""The action table: every thing a user does, declared once.

Each row names the apps function that does the work (imported only when the action runs, so listing actions never
imports torch), its parameters with defaults, ranges and choices (choices from the method tables, by reference),
the kinds of its inputs and outputs, and the capabilities a run must declare to use it. ``imsynth.cli`` makes one
command per row and ``imsynth.studio`` one form per row; from Python, call the function itself, or the row
(``ACTIONS.get("denoise")(source=..., out=...)``) to have the table's checks too.

To add an action: write the function in an apps module and its row in the module of its group here (classical,
generate, video, restore, train); the CLI command, the studio's form and the tests over the whole table (defaults equal
everywhere, fuzzing) pick it up.
"""

from __future__ import annotations

from . import classical, generate, restore, train, video  # noqa: F401  (their rows, in this order: the studio's tabs follow it)
from .base import ACTIONS, BIT_DEPTH, CLASS, DEVICE, SEED, register_action

__all__ = ["ACTIONS", "BIT_DEPTH", "CLASS", "DEVICE", "SEED", "register_action"]
