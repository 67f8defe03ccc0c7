"""The studio's plumbing by kind of input: uploads that hand the file itself to the library, the hole editor for
masks, clicked control points, optional numbers, and errors shown as the library's one-line message."""

from __future__ import annotations

import functools
import json
import re
import sys
import tempfile
import traceback
from pathlib import Path

import numpy as np

from ..errors import ImsynthError, InputError
from ..image import save_image
from ..masks import mask_from_strokes
from .controls import gr


def _tidy(message: str) -> str:
    """Name files as the user knows them: an upload by its own name, not Gradio's cache folder, and a file the
    studio wrote (points.json, image.png) by its name, not the scratch folder."""
    for root in (gr.utils.get_upload_folder() + "/", tempfile.gettempdir() + "/imsynth-studio-"):
        message = re.sub(re.escape(root) + r"[^/\s'\"]*/(?:tmp[^/\s'\"]+/)?", "", message)
    return message


def guarded(function):
    """Library errors become the page's error message (one line); the server keeps serving."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ImsynthError as error:
            raise gr.Error(_tidy(str(error)), print_exception=False) from None
        except gr.Error:
            raise
        except Exception as error:  # a bug, not the user's mistake: say so, keep the traceback on the console
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"internal error: {type(error).__name__}: {error}", print_exception=False) from None

    return wrapped


def _pass_the_file(payload):
    return None if payload is None else str(payload.path)


def upload(label: str, value=None, **kwargs):
    """An image input that hands the uploaded file itself to the library: no re-encoding (16-bit files stay
    16-bit) and a broken file gets the library's one-line message, not the widget's. (Set on the instance: a
    subclass of a Gradio component makes Gradio write a .pyi stub beside this module.)"""
    found = gr.Image(value=value, type="filepath", label=label, sources=["upload", "clipboard"], **kwargs)
    found.preprocess = _pass_the_file
    return found


def output_image(label: str, elem_id: str | None = None):
    return gr.Image(label=label, format="png", interactive=False, elem_id=elem_id)


def optional_number(label: str, value: str = "", *, info: str | None = None, elem_id: str | None = None):
    """A number that may be left empty (the library's automatic value): gr.Number cannot be empty."""
    return gr.Textbox(value, label=label, info=info, placeholder="automatic", elem_id=elem_id)


def hole_editor(elem_id: str, value, *, brush: int, height: int):
    """An image to paint the hole on: its strokes (any layer, one fixed colour) become the mask."""
    return gr.ImageEditor(
        value=value,
        type="numpy",
        image_mode="RGBA",
        sources=["upload"],
        brush=gr.Brush(colors=["#ff0040"], color_mode="fixed", default_size=brush),
        transforms=[],
        label="image (paint the hole)",
        height=height,
        elem_id=elem_id,
    )


def editor_image(folder: Path, value) -> Path:
    """The editor's background as a PNG (grey when its three channels agree, as an uploaded grey image does)."""
    if not value or value.get("background") is None:
        raise InputError("upload an image to paint on")
    background = np.asarray(value["background"])
    rgb = background[:, :, :3] if background.ndim == 3 else background
    if rgb.ndim == 3 and (rgb == rgb[:, :, :1]).all():
        rgb = rgb[:, :, 0]
    return save_image(folder / "image.png", rgb.astype(np.float32) / 255.0)


def mask_file(folder: Path, value, mask_upload, state) -> Path:
    """The uploaded mask, else the strokes painted in the editor."""
    if mask_upload:
        return Path(state.upload(mask_upload, "a mask"))
    mask = mask_from_strokes([np.asarray(layer) for layer in (value or {}).get("layers") or []])
    return save_image(folder / "mask.png", mask.astype(np.float32))


def points_text(points_text: str, x: float, y: float) -> str:
    """Add a clicked point: to 'src' when both lists are equally long, else to 'dst' (pairs: from, then to)."""
    try:
        points = json.loads(points_text) if points_text and points_text.strip() else {}
    except json.JSONDecodeError as error:
        raise InputError(f"the points are not valid JSON ({error}); clear them to start again") from None
    if not isinstance(points, dict):
        points = {}
    src, dst = list(points.get("src", [])), list(points.get("dst", []))
    (src if len(src) == len(dst) else dst).append([round(x, 1), round(y, 1)])
    return json.dumps({"src": src, "dst": dst})
