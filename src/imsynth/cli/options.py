"""Options shared by the commands that are not actions (the actions' options come from the action table)."""

from __future__ import annotations

import click

from ..apps.actions import DEVICE as _DEVICE

DEVICE = click.option("--device", default=_DEVICE.default, show_default=True, help=_DEVICE.help)
