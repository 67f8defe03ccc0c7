"""The ``imsynth`` command line. It parses options and calls the public API; it holds no logic.

Every action of the action table (``imsynth.apps.actions``) is a command made from its row (``actions``), which
imports the action's function only when it runs, so ``imsynth resize`` never imports torch; the few commands that
are not actions (datasets, models, studio) live in modules loaded on demand. Exit codes: 0
success, 2 bad input (one line on stderr, no traceback), 1 internal error or a failure of the work itself (a
diverged training run), 128 + N when a signal N stopped training (130 Ctrl-C, 143 SIGTERM). IMSYNTH_DEBUG=1 shows
tracebacks.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from ..apps.actions import ACTIONS
from ..errors import ImsynthError
from .actions import action_command

# the commands that are not actions: command -> "module:function" of this package (imported on first use); every
# action of imsynth.apps.actions is a command too, made from its row
COMMANDS = {"datasets": "models:datasets", "models": "models:models", "studio": "studio:studio"}
# actions named "GROUP NAME" are the commands of a group: its help
GROUPS = {"features": "In-domain feature networks for FID/KID/precision-recall and the video distance."}


class LazyGroup(click.Group):
    """A click group whose commands are imported on first use (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *(name.split()[0] for name in ACTIONS.names())})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in ACTIONS:
            return action_command(ACTIONS.get(name))
        members = [action for action in ACTIONS if action.name.split()[0] == name]
        if members:
            return click.Group(name, {action.name.split()[-1]: action_command(action) for action in members},
                               help=GROUPS.get(name))  # fmt: skip
        if name not in COMMANDS:
            return None
        module, function = COMMANDS[name].split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), function)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="imsynth")
def cli() -> None:
    """Image synthesis: classical templates, deformation and deep generative models.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 10
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth eval runs/vae
    """


def _say(message: str, code: int, *, error: bool = True) -> None:
    prefix = "imsynth: error: " if error else "imsynth: "
    click.echo(prefix + message.replace("\n", " "), err=True)
    sys.exit(code)


def _leave_torchrun_worker() -> None:
    """End a finished torchrun worker without interpreter teardown.

    Seen here about once in ten launches under load: after a complete run (every file written, the process
    group destroyed), a worker aborted at exit with "terminate called without an active exception" (a C++
    thread of torch.distributed destroyed while joinable), and torchrun reported the whole run as failed.
    Everything is already on disk, so a finished worker exits at once instead.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="imsynth", standalone_mode=False)
        _leave_torchrun_worker()
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        _say("aborted", 130)
    except click.exceptions.NoArgsIsHelpError as asked:  # `imsynth` or a group alone: its help, as --help shows it
        click.echo(asked.format_message())
        sys.exit(0)
    except click.ClickException as error:
        _say(error.format_message(), 2)
    except ImsynthError as error:
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _say(str(error), error.exit_code, error=error.is_error)
    except KeyboardInterrupt as stop:
        _say(str(stop) or "interrupted", getattr(stop, "exit_code", 130))
    except Exception as error:  # an internal error: one line unless debugging
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _say(f"internal error: {type(error).__name__}: {error} (set IMSYNTH_DEBUG=1 for a traceback)", 1)
