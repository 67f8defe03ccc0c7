"""``imsynth studio``: the local web app (an optional extra: ``pip install 'imsynth[studio]'``)."""

from __future__ import annotations

import click

from ..studio import serve


@click.command()
@click.option(
    "--runs",
    "runs_root",
    default="runs",
    show_default=True,
    type=click.Path(file_okay=False),
    help="the only folder runs are read from and trained into",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="interface to serve on; anything but the local one is reachable by others (a warning says so)",
)
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--password",
    envvar="IMSYNTH_STUDIO_PASSWORD",
    help="ask for user 'imsynth' and this password (or set IMSYNTH_STUDIO_PASSWORD)",
)
@click.option("--max-upload-mb", default=50.0, show_default=True, type=float, help="largest upload accepted")
@click.option("--max-megapixels", default=16.0, show_default=True, type=float, help="largest image accepted")
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="heavy actions run at once; the rest wait in a queue",
)
def studio(runs_root, host, port, password, max_upload_mb, max_megapixels, jobs):
    """Serve the imsynth studio: every capability in a browser, offline, on this machine.

    \b
    Example:
      imsynth studio --runs runs
      imsynth studio --host 0.0.0.0 --password secret   # reachable from other machines
    """
    serve(
        runs_root,
        host=host,
        port=port,
        password=password,
        max_upload_mb=max_upload_mb,
        max_megapixels=max_megapixels,
        jobs=jobs,
    )
