"""Click commands made from the action table (``imsynth.apps.actions``): one command per action, one option per
parameter, and one option per option of a table parameter's methods. Nothing here names an action or a method.

Every value, method options included, is taken as text and converted and checked by the table (``Action.bind``,
``Table.check_options``), so the CLI and the studio refuse a value with the same message. No torch here: a
command imports its function only when it runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import click

from ..tables import Action, Param, Table

__all__ = ["action_command"]


def _option_dest(param: Param, option: str) -> str:
    return f"{param.name}__{option}"


def _shown_default(param: Param) -> str | None:
    if param.required or param.default is None or param.type is bool or param.multiple:
        return None
    if isinstance(param.default, tuple):
        return "x".join(map(str, param.default))
    return str(param.default)


def _help(param: Param) -> str:
    table = param.table
    listed = table.help_text() if table is not None else ""
    text = "; ".join(part for part in (param.help, listed) if part)
    default = _shown_default(param)
    return text + (f" [default: {default}]" if default is not None else "")


def _metavar(param: Param) -> str | None:
    if param.metavar:
        return param.metavar
    if param.choices:
        return "[" + "|".join(map(str, param.values())) + "]"
    return {int: "INTEGER", float: "NUMBER"}.get(param.type, "TEXT" if param.kind is None else param.kind.upper())


def _click_params(param: Param) -> list[click.Parameter]:
    if param.positional:
        return [click.Argument([param.name], required=param.required, metavar=param.name.upper().removesuffix("_PATH"))]
    flags = [param.cli_flag]
    if param.type is bool:
        switch = param.cli_flag + "/--no-" + param.cli_flag[2:] if param.default else param.cli_flag
        return [
            click.Option([switch, param.name], is_flag=True, default=param.default, show_default=True, help=param.help)
        ]
    found = [
        click.Option(
            [*flags, param.name],
            type=click.STRING,  # the table converts and checks, with the message the studio shows
            default=None,
            required=param.required,
            multiple=param.multiple,
            metavar=_metavar(param),
            help=_help(param),
        )
    ]
    if param.options:
        found += _method_options(param)
    return found


def _method_options(param: Param) -> list[click.Option]:
    """``--name`` (``--prefix-name``) for every option any method of the parameter's table takes."""
    table: Table = param.table
    found = []
    for name, users in table.options().items():
        first = users[0][1]
        defaults = sorted({f"{entry.name} {option.default}" for entry, option in users if option.default is not None})
        methods = ", ".join(entry.name for entry, _ in users)
        detail = f" [default: {'; '.join(defaults)}]" if defaults else ""
        flag = "--" + (param.prefix + "-" if param.prefix else "") + first.flag[2:]
        found.append(
            click.Option(
                [flag, _option_dest(param, name)],
                type=click.STRING,
                metavar="[" + "|".join(map(str, first.choices)) + "]" if first.choices else None,
                default=None,
                help=f"{methods}: {first.help}{detail}",
            )
        )
    return found


def _chosen_options(action: Action, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Pop each table parameter's method options from ``values``: the ones the user set, typed."""
    chosen: dict[str, dict[str, Any]] = {}
    for param in action.params:
        if not param.options:
            continue
        picked = {}
        for name in param.table.options():
            value = values.pop(_option_dest(param, name), None)
            if value is None:
                continue
            picked[name] = value  # text: the table converts it (Table.check_options)
        chosen[param.name] = picked
    return chosen


def show(result: Any) -> str:
    """What a command prints for its function's result."""
    if isinstance(result, dict):
        return json.dumps(result)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):  # a record (a training's result)
        return json.dumps(dataclasses.asdict(result), default=str)
    if isinstance(result, list):
        return "\n".join(map(str, result))
    return str(result) if isinstance(result, (str, Path, os.PathLike)) else json.dumps(result)


def _help_text(action: Action) -> str:
    text = action.summary + ("\n\n" + action.description if action.description else "")
    if action.examples:
        text += "\n\n\b\nExample:\n" + "\n".join("  " + line for line in action.examples)
    return text


def action_command(action: Action) -> click.Command:
    """The click command of ``action``: its values checked by the table, then its function called."""

    def callback(**values):
        options = _chosen_options(action, values)
        result = action.function(**action.bind(values, options))
        if result is not None and int(os.environ.get("RANK", "0")) == 0:  # under torchrun, one process speaks
            click.echo(show(result))

    params = [made for param in action.params for made in _click_params(param)]
    return click.Command(
        action.name.split()[-1],  # "features train" is the group's command "train"
        params=params,
        callback=callback,
        help=_help_text(action),
        short_help=action.summary,
        context_settings={"max_content_width": 100},
    )
