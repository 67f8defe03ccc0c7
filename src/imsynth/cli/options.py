"""Click options generated from the method tables, so no method name or option is spelled in the CLI.

``method_choice(table)`` makes ``--method`` with the table's names as choices and its descriptions as help;
``table_options(table)`` adds one ``--option`` per option any method of the table takes (type, choices and each
method's default from the table); ``given(table, values)`` collects the ones the user set, typed, for the
library call, which refuses an option the chosen method does not take. No torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from ..errors import InputError
from ..tables import Option, Table

BIT_DEPTH = click.option(
    "--bit-depth",
    type=click.Choice(["auto", "8", "16"]),
    default="auto",
    show_default=True,
    help="bits per channel of the output: auto = the input's where the format allows (16-bit "
    "PNG/TIFF in, 16-bit PNG/TIFF out)",
)


DEVICE = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps")


def _click_type(option: Option):
    if option.name == "seed":
        return click.IntRange(min=0)  # numpy's generators take no negative seeds
    if option.choices:
        return click.Choice([str(choice) for choice in option.choices])
    return {int: click.INT, float: click.FLOAT, str: click.STRING, bool: click.BOOL}.get(option.type, click.STRING)


def method_choice(table: Table, *, default: str | None = None, required: bool = False) -> Callable:
    lines = "; ".join(f"{entry.name}: {entry.description}" for entry in table)
    return click.option(
        "--method",
        type=click.Choice(table.names()),
        default=default,
        required=required,
        show_default=default is not None,
        help=lines,
    )


def table_options(table: Table, *, prefix: str = "") -> Callable:
    """Decorator adding ``--name`` (``--prefix-name``) for every option of ``table``'s methods (default None: "the
    method's own"). A prefix keeps two tables' options apart in one command (attack vs defence ``--steps``)."""

    def decorate(function: Callable) -> Callable:
        for name, users in reversed(list(table.options().items())):
            first = users[0][1]
            defaults = sorted(
                {f"{entry.name} {option.default}" for entry, option in users if option.default is not None}
            )
            methods = ", ".join(entry.name for entry, _ in users)
            detail = f" [default: {'; '.join(defaults)}]" if defaults else ""
            flag = "--" + (prefix + "-" if prefix else "") + first.flag[2:]
            dest = (prefix.replace("-", "_") + "_" if prefix else "") + name
            function = click.option(
                flag, dest, type=_click_type(first), default=None, help=f"{methods}: {first.help}{detail}"
            )(function)
        return function

    return decorate


def given(table: Table, values: dict[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Pop the table's options from a command's ``values``; return those the user set, converted to their type."""
    chosen = {}
    for name, users in table.options().items():
        value = values.pop((prefix.replace("-", "_") + "_" if prefix else "") + name, None)
        if value is None:
            continue
        option = users[0][1]
        if option.choices and option.type is not str:
            value = option.type(value)
        chosen[name] = value
    return chosen


def size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 256x256), got {text!r}")
    return int(parts[0]), int(parts[1])


def depth(text: str) -> int | str:
    return text if text == "auto" else int(text)
