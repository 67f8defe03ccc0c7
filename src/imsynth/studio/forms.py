"""One form per action, made from its row of the action table: a control per parameter by its kind and type, the
method controls of a table parameter, a button, and outputs for what the action makes. Nothing here names an
action; a row added to the table appears in its groups' tabs.

Values go through ``Action.bind``, the CLI's checks, so a value out of range or choices gets the CLI's message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..image import IMAGE_SUFFIXES
from ..tables import Action, Param
from .controls import gr, method_controls
from .widgets import (
    editor_image,
    guarded,
    hole_editor,
    mask_file,
    optional_number,
    output_image,
    points_text,
    upload,
)

__all__ = ["Form", "action_form", "title", "value_control"]

SHOWN_AS_IMAGE = (*IMAGE_SUFFIXES, ".gif")  # what the page shows as a picture (a GIF animates)
FILE_KINDS = ("bitstream", "npz", "clip")


@dataclass
class Form:
    """An action's form: its tab, and the controls to show or hide by what the chosen run can do."""

    action: Action
    tab: Any
    by_capability: list[tuple[Any, frozenset[str]]] = field(default_factory=list)

    def updates(self, capabilities: frozenset[str] | None) -> list:
        """Visibility of the tab and of each capability-bound control for a run with ``capabilities``."""
        usable = capabilities is None or self.action.needs <= capabilities
        return [gr.update(visible=usable)] + [
            gr.update(visible=capabilities is None or needs <= capabilities) for _, needs in self.by_capability
        ]

    @property
    def components(self) -> list:
        return [self.tab] + [component for component, _ in self.by_capability]


def title(action: Action) -> str:
    return action.name.capitalize()


def _id(prefix: str, param: Param) -> str:
    return f"{prefix}-{param.name.removesuffix('_path').removesuffix('_name')}"


def _needs_of(table) -> set[str]:
    return {need for entry in table for need in getattr(entry, "needs", ())}


def action_form(action: Action, state, sample: dict, heavy: dict, run=None, *, prefix: str | None = None) -> Form:
    """The form of ``action`` inside the current Blocks context; ``run`` is the group's run chooser (or None).
    Element ids: ``PREFIX-PARAM`` for a control, ``PREFIX-result`` / ``-report`` / ``-lines`` / ``-file`` for
    the outputs (``PREFIX``: the action's name, or ``prefix`` where it appears a second time)."""
    name = prefix or action.name
    if prefix:  # a second appearance works on the user's own images (a run's size): no bundled examples
        sample = {}
    readers: list[tuple[int, Callable]] = []  # (how many inputs it reads, reader(values, folder, chosen) -> None)
    inputs: list = []
    form = Form(action, None)
    tables = {param.name: param.table for param in action.params if param.table is not None}
    methods = {param.name: param for param in action.params if param.table is not None}
    images = [param for param in action.params if param.kind == "image"]
    painted = next((p for p in action.params if p.kind == "mask" and p.example is None), None)
    with gr.Tab(title(action) + (" with a run" if prefix else ""), id=f"{name}-tab") as tab:
        form.tab = tab
        gr.Markdown(action.summary, elem_classes="imsynth-note")
        with gr.Row():
            for param in action.params:
                if not param.studio:
                    continue
                if param.kind in ("image", "mask") and not (param.kind == "mask" and param is painted):
                    if painted is not None and param is images[0]:
                        background = sample.get(param.example)
                        strokes = sample.get(f"{param.example}_strokes")
                        example = {"background": background, "layers": [strokes] if strokes else [], "composite": None}
                        editor = hole_editor(f"{name}-editor", example if background else None, brush=24, height=480)
                        inputs.append(editor)
                        readers.append((1, _editor_reader(param, editor)))
                        continue
                    component = upload(param.help or param.name, sample.get(param.example), elem_id=_id(name, param))
                    inputs.append(component)
                    readers.append((1, _upload_reader(param, state)))
                elif param.kind in FILE_KINDS:
                    component = gr.File(label=param.help or param.name, elem_id=_id(name, param))
                    inputs.append(component)
                    readers.append((1, _file_reader(param)))
            results = _outputs(action, name)
        if painted is not None:
            mask = upload("or a mask file (optional)", None, height=160, elem_id=f"{name}-mask")
            inputs.append(mask)
            readers.append((1, _mask_reader(painted, state)))
        with gr.Row():
            for param in action.params:
                if not param.studio or param.kind in ("image", "mask", "out", *FILE_KINDS):
                    continue
                if param.kind == "runs":
                    readers.append((0, _runs_reader(param, state)))
                    continue
                if param.kind == "run":
                    if run is not None:
                        inputs.append(run)
                        if not param.required:  # an optional run is used when asked (a classical method else)
                            use = gr.Checkbox(
                                False, label=f"use the chosen run ({param.help})", elem_id=_id(name, param)
                            )
                            inputs.append(use)
                        readers.append((1 if param.required else 2, _run_reader(param, state)))
                    continue
                if param.table is not None:
                    controls = method_controls(
                        param.table,
                        default=param.example or (None if param.required else param.default),
                        label=param.name.removesuffix("_name").replace("_", " "),
                        elem_id=_id(name, param),
                        usable=None if run is not None else (lambda entry: "model" not in entry.needs),
                        optional=param.default is None,
                    )
                    inputs.extend(controls.inputs)
                    readers.append((len(controls.inputs), _method_reader(param, controls)))
                    continue
                component = value_control(param, name, sample)
                if param.needs:
                    form.by_capability.append((component, param.needs))
                inputs.append(component)
                readers.append((1, _value_reader(param, tables, methods)))
                if param.kind == "points" and images:
                    inputs[0].select(_add_point, component, component, queue=False)
                    clear = gr.Button("Clear points")
                    clear.click(lambda: json.dumps({"src": [], "dst": []}), None, component, queue=False)
        button = gr.Button(action.button or title(action), variant="primary", elem_id=f"{name}-button")

    def run_action(*values):
        folder = state.scratch()
        chosen: dict[str, Any] = {}
        options: dict[str, dict] = {}
        position = 0
        for count, reader in readers:
            reader(values[position : position + count], folder, chosen)
            position += count
        for param in action.params:
            if param.kind == "out":
                capabilities = chosen.get("__capabilities__")
                if param.required or capabilities is None or capabilities & {"image", "clips"}:
                    chosen[param.name] = folder / f"{name}{action.studio_suffix}"
        picked = {key: value for key, value in chosen.items() if not key.startswith("__")}
        for key in list(picked):
            if key.endswith("__options"):
                options[key.removesuffix("__options")] = picked.pop(key)
        result = action.function(**action.bind(picked, options))
        return _shown(result, results)

    button.click(guarded(run_action), inputs, [component for component in results.values()], **heavy)
    return form


def _outputs(action: Action, name: str) -> dict[str, Any]:
    made = {}
    has_out = any(param.kind == "out" for param in action.params)
    if has_out and action.studio_suffix in SHOWN_AS_IMAGE:
        made["image"] = output_image(action.button or action.name, f"{name}-result")
    elif has_out:
        made["file"] = gr.File(label="written file", interactive=False, elem_id=f"{name}-file")
    if any("text" in param.needs for param in action.params):
        made["lines"] = gr.Textbox(label="sentences", lines=8, interactive=False, elem_id=f"{name}-lines")
    if action.reports:
        made["json"] = gr.JSON(label="result", elem_id=f"{name}-report")
    return made


def _shown(result, results: dict) -> tuple:
    """The outputs for a function's result: an image file, a JSON object (and the image it names), sentences."""
    shown = dict.fromkeys(results)
    path = result.get("out") if isinstance(result, dict) else result if isinstance(result, (str, Path)) else None
    if path is not None and "image" in results and Path(path).suffix.lower() in SHOWN_AS_IMAGE:
        shown["image"] = str(path)
    elif path is not None and "file" in results:
        shown["file"] = str(path)
    if isinstance(result, dict) and "json" in results:
        shown["json"] = result
    if isinstance(result, list) and "lines" in results:
        shown["lines"] = "\n".join(result)
    return tuple(shown[key] for key in results) if len(results) > 1 else shown[next(iter(results))]


def value_control(param: Param, name: str, sample: dict):
    """The control of a plain parameter (not a file, run or method table) of the form ``name``."""
    label = param.name.replace("_", " ")
    elem_id = _id(name, param)
    shown = param.example if param.example is not None else param.default
    if param.multiple:
        text = "\n".join(map(str, shown or ()))
        return gr.Textbox(text, label=f"{param.cli_flag}, one per line", info=param.help, lines=3, elem_id=elem_id)
    if param.suggest:
        values = [str(value) for value in param.suggestions()]
        return gr.Dropdown(values, value=shown, label=label, info=param.help, allow_custom_value=True, elem_id=elem_id)
    if param.kind in ("json", "points"):
        return gr.Code(
            sample.get(param.example, "") or "", language="json", label=f"{label}: {param.help}", elem_id=elem_id
        )
    if param.choices:
        values = [str(value) for value in param.values()]
        return gr.Dropdown(
            ([""] if param.default is None else []) + values,
            value="" if shown is None else str(shown),
            label=label,
            info=param.help,
            elem_id=elem_id,
        )
    if param.type is bool:
        return gr.Checkbox(value=bool(param.default), label=label, info=param.help, elem_id=elem_id)
    # a number box cannot be emptied: an optional value (None: not given) gets a text box
    if param.type in (int, float) and shown is not None and param.default is not None and not param.convert:
        return gr.Number(
            shown, label=label, info=param.help, precision=0 if param.type is int else None, elem_id=elem_id
        )
    if param.type in (int, float):
        return optional_number(label, "" if shown is None else str(shown), info=param.help, elem_id=elem_id)
    text = "" if shown in (None, "") else "x".join(map(str, shown)) if isinstance(shown, tuple) else str(shown)
    return gr.Textbox(text, label=label, info=param.help, elem_id=elem_id)


# readers: each takes its inputs' values, the call's scratch folder and the dict of chosen values it fills
def _upload_reader(param: Param, state):
    def read(values, folder, chosen):
        if values[0] or param.required:
            chosen[param.name] = state.upload(values[0], param.help or param.name)

    return read


def _file_reader(param: Param):
    def read(values, folder, chosen):
        if not values[0] and param.required:
            raise InputError(f"give {param.help or param.name}")
        chosen[param.name] = values[0] or None

    return read


def _editor_reader(param: Param, editor):
    def read(values, folder, chosen):
        chosen[param.name] = editor_image(folder, values[0])
        chosen["__editor__"] = values[0]

    return read


def _mask_reader(param: Param, state):
    def read(values, folder, chosen):
        chosen[param.name] = mask_file(folder, chosen.get("__editor__"), values[0], state)

    return read


def _run_reader(param: Param, state):
    def read(values, folder, chosen):
        if values[0] and (param.required or values[1]):
            chosen[param.name] = state.run(values[0])
            chosen["__capabilities__"] = state.capabilities(values[0])
        elif param.required:
            state.run(values[0])  # the message that asks for a run

    return read


def _runs_reader(param: Param, state):
    def read(values, folder, chosen):
        chosen[param.name] = str(state.runs_root)

    return read


def _method_reader(param: Param, controls):
    def read(values, folder, chosen):
        method = values[0] or None
        chosen[param.name] = method
        if param.options and method is not None:
            chosen[f"{param.name}__options"] = controls.chosen(method, *values[1:])

    return read


def _value_reader(param: Param, tables: dict, methods: dict):
    """A value; a JSON text becomes a file, given only when the chosen method needs that kind of file."""

    def read(values, folder, chosen):
        value = values[0]
        if param.kind in ("json", "points"):
            need = param.name.removesuffix("_path")
            for owner, table in tables.items():
                if need in _needs_of(table):
                    method = chosen.get(owner) or methods[owner].default
                    if method is None or need not in table.get(method).needs:
                        return
            if not (value or "").strip():
                return
            path = folder / f"{need}.json"
            path.write_text(value, encoding="utf-8")
            value = path
        chosen[param.name] = value

    return read


@guarded
def _add_point(text, event: gr.SelectData):
    x, y = event.index
    return points_text(text, float(x), float(y))
