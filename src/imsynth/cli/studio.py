"""``imsynth studio``: the local web app (an optional extra: ``pip install 'imsynth[studio]'``).

Its command is made from its row like every action's; the row lives here, not in the action table, because the
studio is the layer above the actions (it serves them) and is not one of the things it offers."""

from __future__ import annotations

from ..tables import Action, Param
from .actions import action_command

STUDIO = Action(
    "studio",
    "imsynth.studio:serve",
    "Serve the imsynth studio: every capability in a browser, offline, on this machine.",
    (
        Param(
            "runs",
            default="runs",
            help="the only folder runs are read from and trained into",
            kind="runs",
            flag="--runs",
        ),
        Param(
            "host",
            default="127.0.0.1",
            help="interface to serve on; anything but the local one is reachable by others (a warning says so)",
        ),
        Param("port", int, 7860, "port to serve on", low=1, high=65535),
        Param(
            "password",
            default=None,
            help="ask for user 'imsynth' and this password (default: IMSYNTH_STUDIO_PASSWORD, if set)",
        ),
        Param("max_upload_mb", float, 50.0, "largest upload accepted"),
        Param("max_megapixels", float, 16.0, "largest image accepted"),
        Param("jobs", int, 1, "heavy actions run at once; the rest wait in a queue", low=1),
    ),
    examples=(
        "imsynth studio --runs runs",
        "imsynth studio --host 0.0.0.0 --password secret   # reachable from other machines",
    ),
)

studio = action_command(STUDIO)
