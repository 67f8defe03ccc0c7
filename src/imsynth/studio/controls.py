"""Controls built from the method tables: a method dropdown and one control per option, shown for the methods
that take it and reset to the chosen method's default, so a method added to a table appears here with no
studio code. Values go back to the library exactly as the CLI would send them (only what the user set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..tables import Option, Table, typed

try:
    import gradio as gr
except ImportError:  # an optional extra: `pip install 'imsynth[studio]'`; serve() says so
    gr = None


@dataclass
class MethodControls:
    table: Table
    method: Any  # the dropdown
    options: dict[str, Any]  # option name -> control

    @property
    def inputs(self) -> list:
        return [self.method, *self.options.values()]

    def chosen(self, method: str, *values) -> dict:
        """The options ``method`` takes that the user set, converted to their declared types."""
        if not method:
            return {}
        # table.get: an unknown name is the table's one-line error
        takes = {option.name: option for option in getattr(self.table.get(method), "options", ())}
        chosen = {}
        for name, value in zip(self.options, values):
            if name not in takes or value is None or value == "":
                continue
            chosen[name] = typed(takes[name].type, value, takes[name].name)
        return chosen


def _control(option: Option, visible: bool, elem_id: str | None = None):
    label, info = option.name.replace("_", " "), option.help
    if option.choices:
        return gr.Dropdown(
            [str(c) for c in option.choices],
            value=_shown(option),
            label=label,
            info=info,
            visible=visible,
            elem_id=elem_id,
        )
    if option.type is bool:
        return gr.Checkbox(value=bool(option.default), label=label, info=info, visible=visible, elem_id=elem_id)
    if option.type in (int, float) and option.optional:  # gr.Number cannot be left empty ("automatic")
        return gr.Textbox(
            value="" if option.default is None else str(option.default),
            label=label,
            info=info,
            placeholder="automatic",
            visible=visible,
            elem_id=elem_id,
        )
    if option.type in (int, float):
        return gr.Number(
            value=option.default,
            label=label,
            info=info,
            precision=0 if option.type is int else None,
            visible=visible,
            elem_id=elem_id,
        )
    return gr.Textbox(value=option.default or "", label=label, info=info, visible=visible, elem_id=elem_id)


def _shown(option: Option):
    if option.default is None:
        return "" if option.optional and not option.choices else None
    return str(option.default) if option.choices or option.optional else option.default


def method_controls(
    table: Table,
    *,
    default: str | None = None,
    label: str = "method",
    elem_id: str | None = None,
    usable: Callable[[Any], bool] | None = None,
    optional: bool = False,
) -> MethodControls:
    """A dropdown of ``table``'s methods (those ``usable`` keeps; with ``optional`` an empty first choice: the
    library's automatic method) with their descriptions as its help, and every option of those methods."""
    entries = [entry for entry in table if usable is None or usable(entry)]
    names = [entry.name for entry in entries]
    first = default if default in names else ("" if optional else names[0])
    described = table.get(first).description if first else "empty: the automatic choice"
    method = gr.Dropdown(([""] if optional else []) + names, value=first, label=label, info=described, elem_id=elem_id)
    controls = {}
    for name, users in table.options().items():
        users = [(entry, option) for entry, option in users if entry.name in names]
        if not users or users[0][1].path:  # a file on the server: never named from a browser
            continue
        option = users[0][1]
        owner = {entry.name: own for entry, own in users}
        shown = owner.get(first, option)
        controls[name] = _control(shown, visible=first in owner, elem_id=elem_id and f"{elem_id}-{name}")
    found = MethodControls(table, method, controls)

    def switch(chosen: str):
        if not chosen:
            return [gr.update(info="empty: the automatic choice")] + [gr.update(visible=False) for _ in controls]
        entry = table.get(chosen)
        takes = {option.name: option for option in getattr(entry, "options", ())}
        return [gr.update(info=entry.description)] + [
            gr.update(visible=True, value=_shown(takes[name])) if name in takes else gr.update(visible=False)
            for name in controls
        ]

    method.change(switch, method, [method, *controls.values()], queue=False)
    return found
