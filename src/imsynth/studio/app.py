"""The studio's page: one tab per family of work, each action one call into the public API.

Uploads arrive as files and go to the same file-level functions the CLI calls (``inpaint_file``,
``texture_file``, ``write_samples``, ...), so a result here is the CLI's result, byte for byte, and every
check (a corrupt file, a mask of the wrong size, a run of the wrong kind) is the library's, shown in the page
as its one-line message. What is here is glue: turning brush strokes and clicks into the files those
functions take, listing runs, and the page's layout.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import numpy as np

from ..apps.classical import animate_file, blend_files, morph_files, resize_file, texture_file, warp_file
from ..apps.compress import compress_path, decompress_path
from ..apps.explore import MODES, explore, move_along, principal_directions
from ..apps.inpaint import inpaint_file
from ..apps.jobs import TrainingJob, run_status, start_training
from ..apps.restore import corrupt_path, denoise_path
from ..apps.robustness import DEFENCES, evaluate_robustness
from ..apps.sampling import write_samples
from ..apps.stylize import STYLIZERS, stylize_path
from ..apps.text import homotopy, load_text_run, reconstruct, sample_sentences
from ..apps.translate import translate_path
from ..classical.animate import MORPHS
from ..classical.corrupt import CORRUPTIONS
from ..classical.denoise import DENOISERS
from ..classical.inpainting import INPAINTING
from ..classical.resample import RESAMPLING
from ..classical.texture import TEXTURES
from ..classical.warp import WARPS
from ..data import REGISTRY as DATASETS
from ..data import list_datasets
from ..errors import ImsynthError, InputError
from ..evaluate import evaluate_run
from ..image import image_file_size, save_image
from ..masks import mask_from_strokes
from ..models import (
    MODEL_REGISTRY,
    PRESETS,
    Codec,
    LatentFeatures,
    LatentModel,
    TextGenerator,
    Translator,
    get_preset,
    load_run,
)
from ..models.samplers import SAMPLERS
from ..runtime import runs
from ..runtime.attacks import ATTACKS
from . import examples
from .controls import gr, method_controls

CSS = """
.imsynth-note {font-size: 0.9em; opacity: 0.8}
footer {display: none !important}
"""


class StudioState:
    """What the server keeps between requests: where runs and scratch files live, the limits, the jobs."""

    def __init__(self, runs_root: Path, work: Path, max_pixels: int, jobs: int = 1) -> None:
        self.runs_root = runs_root
        self.jobs_limit = jobs  # heavy actions at once, and trainings at once
        self.work = work
        self.max_pixels = max_pixels
        self.jobs: dict[Path, TrainingJob] = {}
        self.lock = threading.Lock()
        self._models: dict[tuple[str, float], object] = {}

    def scratch(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.work))

    def upload(self, path, what: str) -> str:
        """An uploaded image file, refused past the pixel cap before anything decodes it."""
        if not path:
            raise InputError(f"give {what}")
        image_file_size(path, self.max_pixels)
        return str(path)

    def run(self, name) -> Path:
        if not name:
            raise InputError(f"choose a run (runs are read from {self.runs_root})")
        return runs.require_run(runs.run_under(self.runs_root, name))

    def model(self, name):
        """A run's model, loaded once per version of its weights (a run still training is reloaded)."""
        path = self.run(name)
        key = (str(path), (path / runs.WEIGHTS).stat().st_mtime if (path / runs.WEIGHTS).exists() else 0.0)
        with self.lock:
            if key not in self._models:
                self._models = {k: v for k, v in self._models.items() if k[0] != key[0]}
                self._models[key] = load_run(path, device="cpu")[0]
            return self._models[key]

    def run_names(self) -> list[str]:
        return runs.find_runs(self.runs_root)


def _tidy(message: str) -> str:
    """Name files as the user knows them: an upload by its own name, not Gradio's cache folder, and a file the
    studio wrote (points.json, image.png) by its name, not the scratch folder."""
    for root in (gr.utils.get_upload_folder() + "/", tempfile.gettempdir() + "/imsynth-studio-"):
        message = re.sub(re.escape(root) + r"[^/\s'\"]*/(?:tmp[^/\s'\"]+/)?", "", message)
    return message


def action(function):
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


def _upload(label: str, value=None, **kwargs):
    """An image input that hands the uploaded file itself to the library: no re-encoding (16-bit files stay
    16-bit) and a broken file gets the library's one-line message, not the widget's. (Set on the instance: a
    subclass of a Gradio component makes Gradio write a .pyi stub beside this module.)"""
    upload = gr.Image(value=value, type="filepath", label=label, sources=["upload", "clipboard"], **kwargs)
    upload.preprocess = _pass_the_file
    return upload


def _output(label: str, elem_id: str | None = None):
    return gr.Image(label=label, format="png", interactive=False, elem_id=elem_id)


def _optional(label: str, value: str = "", elem_id: str | None = None):
    """A number that may be left empty (the library's automatic value): gr.Number cannot be empty."""
    return gr.Textbox(value, label=label, placeholder="automatic", elem_id=elem_id)


def _parse(text, kind: type):
    if text is None or str(text).strip() == "":
        return None
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except ValueError:
        raise InputError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None


def _hole_editor(elem_id: str, value, *, brush: int, height: int):
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


def _write_image(folder: Path, name: str, pixels: np.ndarray) -> Path:
    return save_image(folder / name, pixels.astype(np.float32) / 255.0)


def _editor_image(folder: Path, value) -> Path:
    """The editor's background as a PNG (grey when its three channels agree, as an uploaded grey image does)."""
    if not value or value.get("background") is None:
        raise InputError("upload an image to paint on")
    background = np.asarray(value["background"])
    rgb = background[:, :, :3] if background.ndim == 3 else background
    if rgb.ndim == 3 and (rgb == rgb[:, :, :1]).all():
        rgb = rgb[:, :, 0]
    return _write_image(folder, "image.png", rgb)


def _mask_file(folder: Path, value, mask_upload, state: StudioState) -> Path:
    if mask_upload:
        return Path(state.upload(mask_upload, "a mask"))
    mask = mask_from_strokes([np.asarray(layer) for layer in (value or {}).get("layers") or []])
    return save_image(folder / "mask.png", mask.astype(np.float32))


def _json_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text or "", encoding="utf-8")
    return path


def _points_text(points_text: str, x: float, y: float) -> str:
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


def build_studio(runs_root: str | os.PathLike = "runs", *, max_pixels: int = 16_000_000, jobs: int = 1):
    """The studio's ``gr.Blocks`` (not started): ``runs_root`` is the only folder runs are read from and written
    to; ``max_pixels`` caps uploaded images; ``jobs`` heavy actions run at once (the rest wait in a queue)."""
    if gr is None:
        raise InputError("the studio needs Gradio: pip install 'imsynth[studio]'")
    root = Path(runs_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="imsynth-studio-"))
    state = StudioState(root, work, max_pixels, jobs)
    sample = examples.write_examples(work / "examples")
    heavy = dict(concurrency_limit=jobs, concurrency_id="work")

    def run_choices():
        names = state.run_names()
        return gr.Dropdown(choices=names, value=names[0] if names else None)

    with gr.Blocks(title="imsynth studio", analytics_enabled=False) as page:
        gr.Markdown(
            "# imsynth studio\nEvery action calls the same library as the `imsynth` command. "
            f"Runs are read from and written to `{root}`."
        )
        with gr.Tab("Classical", id="classical"):
            _classical_tab(state, sample, heavy)
        with gr.Tab("Deform", id="deform"):
            _deform_tab(state, sample, heavy)
        with gr.Tab("Generate", id="generate"):
            _generate_tab(state, heavy, run_choices)
        with gr.Tab("Restore and edit", id="restore"):
            _restore_tab(state, sample, heavy, run_choices)
        with gr.Tab("Train", id="train"):
            _train_tab(state, run_choices)
        with gr.Tab("Runs", id="runs"):
            _runs_tab(state, heavy, run_choices)
    page.imsynth_state = state
    return page


# --------------------------------------------------------------------------------------------------- classical
def _classical_tab(state: StudioState, sample: dict, heavy: dict) -> None:
    with gr.Tab("Inpaint"):
        gr.Markdown("Paint the hole with the brush (or upload a mask: nonzero = hole), pick a method, fill.")
        with gr.Row():
            editor = _hole_editor(
                "inpaint-editor",
                {"background": sample["astronaut"], "layers": [sample["astronaut_strokes"]], "composite": None},
                brush=24,
                height=560,
            )
            result = _output("filled", "inpaint-result")
        with gr.Row():
            mask_upload = _upload("or a mask file (optional)", height=160, elem_id="inpaint-mask")
            fill_controls = method_controls(INPAINTING, default="patchmatch", elem_id="inpaint-method")
        button = gr.Button("Fill", variant="primary")

        @action
        def fill(value, mask, method, *options):
            folder = state.scratch()
            image = _editor_image(folder, value)
            mask_path = _mask_file(folder, value, mask, state)
            return str(
                inpaint_file(
                    image, mask_path, folder / "filled.png", method=method, **fill_controls.chosen(method, *options)
                )
            )

        button.click(fill, [editor, mask_upload, *fill_controls.inputs], result, **heavy)

    with gr.Tab("Texture"):
        with gr.Row():
            texture_sample = _upload("sample", sample["brick"], elem_id="texture-sample")
            result = _output("texture", "texture-result")
        with gr.Row():
            width = gr.Number(192, label="width", precision=0)
            height = gr.Number(192, label="height", precision=0)
            texture_controls = method_controls(TEXTURES, default="quilting", elem_id="texture-method")
        button = gr.Button("Synthesise", variant="primary")

        @action
        def texture(path, w, h, method, *options):
            out = state.scratch() / "texture.png"
            size = (int(w or 0), int(h or 0))
            return str(
                texture_file(
                    state.upload(path, "a sample image"),
                    out,
                    size=size,
                    method=method,
                    **texture_controls.chosen(method, *options),
                )
            )

        button.click(texture, [texture_sample, width, height, *texture_controls.inputs], result, **heavy)

    with gr.Tab("Resize"):
        with gr.Row():
            image = _upload("image", sample["camera"], elem_id="resize-image")
            result = _output("resized", "resize-result")
        with gr.Row():
            scale = gr.Number(0.5, label="scale (0.5 halves)")
            resize_controls = method_controls(RESAMPLING, default="bicubic", elem_id="resize-method")
        button = gr.Button("Resize", variant="primary")

        @action
        def resize(path, factor, method, *options):
            out = state.scratch() / "resized.png"
            return str(resize_file(state.upload(path, "an image"), out, scale=factor, method=method))

        button.click(resize, [image, scale, *resize_controls.inputs], result, **heavy)

    with gr.Tab("Blend"):
        gr.Markdown("Multiband blend: B where the mask is nonzero, A elsewhere (the same size, all three).")
        with gr.Row():
            a = _upload("A", sample["blend_a"])
            b = _upload("B", sample["blend_b"])
            mask = _upload("mask", sample["blend_mask"])
        with gr.Row():
            levels = _optional("levels (empty: as many as fit)")
            result = _output("blended", "blend-result")
        button = gr.Button("Blend", variant="primary")

        @action
        def blend(path_a, path_b, path_mask, count):
            out = state.scratch() / "blended.png"
            files = [
                state.upload(p, what) for p, what in ((path_a, "image A"), (path_b, "image B"), (path_mask, "a mask"))
            ]
            return str(blend_files(*files, out, levels=_parse(count, int)))

        button.click(blend, [a, b, mask, levels], result, **heavy)


# ------------------------------------------------------------------------------------------------------ deform
def _deform_tab(state: StudioState, sample: dict, heavy: dict) -> None:
    with gr.Tab("Warp"):
        gr.Markdown(
            "Click on the image to place control points: first where a point is, then where it should go. "
            "Or edit the JSON (`src` and `dst` lists of [x, y])."
        )
        with gr.Row():
            image = _upload("image (click to add points)", sample["astronaut"], elem_id="warp-image")
            result = _output("warped", "warp-result")
        with gr.Row():
            points = gr.Code(sample["warp_points"], language="json", label="points", elem_id="warp-points")
            warp_controls = method_controls(WARPS, default="tps", elem_id="warp-method")
        with gr.Row():
            clear = gr.Button("Clear points")
            button = gr.Button("Warp", variant="primary")

        @action
        def add_point(text, event: gr.SelectData):
            x, y = event.index
            return _points_text(text, float(x), float(y))

        image.select(add_point, points, points, queue=False)
        clear.click(lambda: json.dumps({"src": [], "dst": []}), None, points, queue=False)

        @action
        def warp(path, text, method, *options):
            folder = state.scratch()
            points_path = _json_file(folder, "points.json", text) if "points" in WARPS.get(method).needs else None
            return str(
                warp_file(
                    state.upload(path, "an image"),
                    folder / "warped.png",
                    method=method,
                    points_path=points_path,
                    **warp_controls.chosen(method, *options),
                )
            )

        button.click(warp, [image, points, *warp_controls.inputs], result, **heavy)

    with gr.Tab("Animate"):
        gr.Markdown("Keyframes move control points over time; the image is warped through them (a GIF).")
        with gr.Row():
            image = _upload("image", sample["astronaut_small"])
            result = gr.Image(label="animation (GIF)", interactive=False, elem_id="animate-result")
        keyframes = gr.Code(sample["keyframes"], language="json", label="keyframes")
        button = gr.Button("Animate", variant="primary")

        @action
        def animate(path, text):
            folder = state.scratch()
            return str(
                animate_file(
                    state.upload(path, "an image"), _json_file(folder, "keyframes.json", text), folder / "animation.gif"
                )
            )

        button.click(animate, [image, keyframes], result, **heavy)

    with gr.Tab("Morph"):
        with gr.Row():
            a = _upload("A", sample["morph_a"])
            b = _upload("B", sample["morph_b"])
        with gr.Row():
            method = gr.Dropdown(
                list(MORPHS.names()),
                value="dissolve",
                label="method",
                info="; ".join(f"{e.name}: {e.description}" for e in MORPHS),
            )
            frames = gr.Slider(2, 60, value=12, step=1, label="frames")
            fps = gr.Number(12.0, label="frames per second")
            kind = gr.Radio(["gif", "mp4"], value="gif", label="file")
        correspondences = gr.Code(
            "", language="json", label="points or lines JSON (mesh: src/dst points; beier-neely: lines)"
        )
        button = gr.Button("Morph", variant="primary")
        with gr.Row():
            gif = gr.Image(label="morph (GIF)", interactive=False, elem_id="morph-result")
            video = gr.Video(label="morph (MP4)", interactive=False)

        @action
        def morph(path_a, path_b, name, count, rate, suffix, text):
            folder = state.scratch()
            needs = MORPHS.get(name).needs
            given = {f"{kind}_path": _json_file(folder, f"{kind}.json", text) for kind in needs}
            out = morph_files(
                state.upload(path_a, "image A"),
                state.upload(path_b, "image B"),
                folder / f"morph.{suffix}",
                frames=int(count),
                method=name,
                fps=float(rate),
                **given,
            )
            return (str(out), None) if suffix == "gif" else (None, str(out))

        button.click(morph, [a, b, method, frames, fps, kind, correspondences], [gif, video], **heavy)


# ---------------------------------------------------------------------------------------------------- generate
def _describe(model) -> str:
    abilities = [
        name
        for name, kind in (
            ("latent space", LatentModel),
            ("PCA directions", LatentFeatures),
            ("translation", Translator),
            ("text", TextGenerator),
            ("compression", Codec),
        )
        if isinstance(model, kind)
    ]
    return f"**{model.registered_name}**" + (f" — {', '.join(abilities)}" if abilities else "")


def _generate_tab(state: StudioState, heavy: dict, run_choices) -> None:
    with gr.Row():
        run = gr.Dropdown(state.run_names(), value=None, label="run", scale=4, elem_id="generate-run")
        refresh = gr.Button("Refresh runs", scale=1)
    about = gr.Markdown("", elem_id="generate-about")
    refresh.click(run_choices, None, run, queue=False)

    @action
    def describe(name):
        return _describe(state.model(name)) if name else ""

    run.change(describe, run, about)

    with gr.Tab("Sample"):
        with gr.Row():
            count = gr.Slider(1, 256, value=64, step=1, label="images")
            seed = gr.Number(0, label="seed", precision=0, elem_id="sample-seed")
            class_index = _optional("class (conditional runs)")
        with gr.Row():
            sampler = gr.Dropdown(["", *SAMPLERS.names()], value="", label="sampler (diffusion; empty: the run's)")
            steps = _optional("sampling steps (diffusion)")
            guidance = _optional("guidance (conditional diffusion)")
        button = gr.Button("Sample", variant="primary")
        grid = _output("samples", "sample-result")

        @action
        def draw(name, n, s, c, chosen, k, g):
            out = state.scratch() / "samples.png"
            sampling = {"sampler": chosen or None, "steps": _parse(k, int), "guidance": _parse(g, float)}
            path = write_samples(
                state.run(name),
                out,
                count=int(n),
                seed=int(s or 0),
                class_index=_parse(c, int),
                device="cpu",
                sampling=sampling,
            )
            return str(path)

        button.click(draw, [run, count, seed, class_index, sampler, steps, guidance], grid, **heavy)

    with gr.Tab("Explore"):
        with gr.Row():
            mode = gr.Dropdown(list(MODES), value="slerp", label="mode")
            rows = gr.Number(4, label="rows", precision=0)
            steps = gr.Number(8, label="steps", precision=0)
            seed = gr.Number(0, label="seed", precision=0)
            animated = gr.Checkbox(False, label="animation (GIF)")
        button = gr.Button("Explore", variant="primary")
        picture = gr.Image(label="exploration", interactive=False, elem_id="explore-result")

        @action
        def wander(name, chosen, r, k, s, gif):
            out = state.scratch() / ("explore.gif" if gif else "explore.png")
            explore(state.model(name), out, mode=chosen, rows=int(r), steps=int(k), seed=int(s or 0))
            return str(out)

        button.click(wander, [run, mode, rows, steps, seed, animated], picture, **heavy)

    with gr.Tab("Directions"):
        gr.Markdown("Principal directions of the generator (GANSpace-style); each slider moves along one.")
        directions = gr.State(None)
        with gr.Row():
            seed = gr.Number(0, label="seed", precision=0)
            find = gr.Button("Find directions", variant="primary")
        sliders = [gr.Slider(-3, 3, value=0, step=0.1, label=f"direction {i + 1}") for i in range(6)]
        picture = gr.Image(label="image", interactive=False, height=256, elem_id="directions-result")

        @action
        def compute(name, s):
            found = principal_directions(state.model(name), components=len(sliders), seed=int(s or 0))
            variance = [f"{100 * float(v):.1f}%" for v in found.explained_variance]
            labels = [
                gr.update(value=0, label=f"direction {i + 1} ({variance[i]} of the variance)")
                if i < len(variance)
                else gr.update(visible=False)
                for i in range(len(sliders))
            ]
            return [found, *labels]

        @action
        def move(name, found, s, *amounts):
            if found is None:
                raise InputError("find the directions first")
            pixels = move_along(state.model(name), found, amounts[: len(found.vectors)], seed=int(s or 0))
            return _write_image(state.scratch(), "moved.png", pixels).as_posix()

        find.click(compute, [run, seed], [directions, *sliders], **heavy).then(
            move, [run, directions, seed, *sliders], picture
        )
        for slider in sliders:
            slider.release(move, [run, directions, seed, *sliders], picture, **heavy)

    with gr.Tab("Text"):
        gr.Markdown("Sentences from a text run (`text-vae`, `text-lm`); reconstruction needs a `text-vae`.")
        with gr.Row():
            count = gr.Slider(1, 50, value=10, step=1, label="sentences")
            seed = gr.Number(0, label="seed", precision=0)
            temperature = gr.Number(1.0, label="temperature")
            top_p = gr.Number(1.0, label="top-p")
            greedy = gr.Checkbox(False, label="greedy")
        button = gr.Button("Sample sentences", variant="primary")
        sentences = gr.Textbox(label="sentences", lines=10, elem_id="text-result")
        sentence = gr.Textbox("you will meet a tall, dark stranger.", label="a sentence to reconstruct")
        again = gr.Button("Reconstruct")
        rebuilt = gr.JSON(label="reconstruction")
        with gr.Row():
            start = gr.Textbox(
                "there is no time like the present.", label="from (empty: a random code)", elem_id="homotopy-from"
            )
            end = gr.Textbox(
                "you will be successful in your work.", label="to (empty: a random code)", elem_id="homotopy-to"
            )
            way = gr.Radio(["lerp", "slerp"], value="lerp", label="path")
        walk = gr.Button("Homotopy")
        path = gr.Textbox(label="sentences along the path", lines=8, elem_id="homotopy-result")

        @action
        def speak(name, n, s, t, p, g):
            model, _ = load_text_run(state.run(name), device="cpu")
            return "\n".join(
                sample_sentences(model, int(n), seed=int(s or 0), temperature=float(t), top_p=float(p), greedy=bool(g))
            )

        @action
        def echo(name, text):
            model, _ = load_text_run(state.run(name), device="cpu", encoder=True)
            return reconstruct(model, text, samples=3)

        @action
        def between(name, first, last, chosen):
            model, _ = load_text_run(state.run(name), device="cpu", encoder=True)
            return "\n".join(homotopy(model, first or None, last or None, steps=8, mode=chosen))

        button.click(speak, [run, count, seed, temperature, top_p, greedy], sentences, **heavy)
        again.click(echo, [run, sentence], rebuilt, **heavy)
        walk.click(between, [run, start, end, way], path, **heavy)


# ----------------------------------------------------------------------------------------------------- restore
def _restore_tab(state: StudioState, sample: dict, heavy: dict, run_choices) -> None:
    with gr.Row():
        run = gr.Dropdown(
            state.run_names(), value=None, label="run (where the action uses a model)", scale=4, elem_id="restore-run"
        )
        refresh = gr.Button("Refresh runs", scale=1)
    refresh.click(run_choices, None, run, queue=False)

    with gr.Tab("Model inpainting"):
        gr.Markdown("Fill a painted hole with a trained model (a GAN, VAE or diffusion run of the image's size).")
        with gr.Row():
            editor = _hole_editor("model-fill-editor", None, brush=4, height=420)
            result = _output("filled", "model-fill-result")
        with gr.Row():
            mask_upload = _upload("or a mask file (optional)", height=160, elem_id="model-fill-mask")
            model_fill_controls = method_controls(INPAINTING, default="patchmatch", elem_id="model-fill-method")
            class_index = _optional("class (conditional runs)")
        button = gr.Button("Fill with the model", variant="primary")

        @action
        def fill(name, value, mask, method, c, *options):
            folder = state.scratch()
            image = _editor_image(folder, value)
            mask_path = _mask_file(folder, value, mask, state)
            out = inpaint_file(
                image,
                mask_path,
                folder / "filled.png",
                method=method,
                run=state.run(name) if name else None,
                class_index=_parse(c, int),
                device="cpu",
                **model_fill_controls.chosen(method, *options),
            )
            return str(out)

        button.click(
            fill,
            [run, editor, mask_upload, *model_fill_controls.inputs[:1], class_index, *model_fill_controls.inputs[1:]],
            result,
            **heavy,
        )

    with gr.Tab("Corrupt and denoise"):
        with gr.Row():
            clean = _upload("image", sample["camera_small"], elem_id="denoise-clean")
            damaged = _upload("damaged (make one, or upload)", elem_id="denoise-damaged")
            restored = _output("restored", "denoise-result")
        with gr.Row():
            kind = gr.Dropdown(
                list(CORRUPTIONS.names()), value="gaussian", label="damage", info=CORRUPTIONS.help_text()
            )
            severity = gr.Slider(1, 5, value=3, step=1, label="severity")
            damage = gr.Button("Damage")
        with gr.Row():
            denoise_controls = method_controls(DENOISERS, default="nl-means", elem_id="denoise-method")
            use_model = gr.Checkbox(False, label="restore with the chosen run instead")
            button = gr.Button("Restore", variant="primary")

        @action
        def hurt(path, name, level):
            out = state.scratch() / "damaged.png"
            return str(corrupt_path(state.upload(path, "an image"), out, kind=name, severity=int(level)))

        @action
        def heal(path, name, with_model, method, *options):
            out = state.scratch() / "restored.png"
            source = state.upload(path, "a damaged image")
            if with_model:
                return str(denoise_path(source, out, run=state.run(name), device="cpu"))
            return str(denoise_path(source, out, method_name=method, **denoise_controls.chosen(method, *options)))

        damage.click(hurt, [clean, kind, severity], damaged, **heavy)
        button.click(heal, [damaged, run, use_model, *denoise_controls.inputs], restored, **heavy)

    with gr.Tab("Purification"):
        gr.Markdown(
            "Accuracy of the shipped Fashion-MNIST classifier under attack, with and without a defence "
            "(a generative run purifies for the `vae`, `gan` and `diffusion` defences)."
        )
        with gr.Row():
            attack = method_controls(ATTACKS, default="fgsm", label="attack", elem_id="attack-method")
        with gr.Row():
            defence = gr.Dropdown(list(DEFENCES.names()), value="jpeg", label="defence", info=DEFENCES.help_text())
            images = gr.Number(100, label="test images", precision=0, elem_id="purify-images")
        button = gr.Button("Measure", variant="primary")
        report = gr.JSON(label="robust accuracy", elem_id="purify-report")

        @action
        def measure(name, chosen_defence, count, attack_name, *options):
            needs_model = "model" in DEFENCES.get(chosen_defence).needs
            return evaluate_robustness(
                defence=chosen_defence,
                attack_name=attack_name,
                run=state.run(name) if needs_model else None,
                images=int(count),
                device="cpu",
                **attack.chosen(attack_name, *options),
            )

        button.click(measure, [run, defence, images, *attack.inputs], report, **heavy)

    with gr.Tab("Translate"):
        with gr.Row():
            source = _upload("image", elem_id="translate-image")
            result = _output("translated", "translate-result")
        direction = gr.Radio(["a2b", "b2a"], value="a2b", label="direction")
        button = gr.Button("Translate", variant="primary")

        @action
        def translate(name, path, way):
            out = state.scratch() / "translated.png"
            translate_path(state.upload(path, "an image"), out, state.run(name), direction=way, device="cpu")
            return str(out)

        button.click(translate, [run, source, direction], result, **heavy)

    with gr.Tab("Stylize"):
        with gr.Row():
            content = _upload("content", sample["astronaut_small"])
            style = _upload("style", sample["brick_small"])
            result = _output("stylised", "stylize-result")
        style_controls = method_controls(STYLIZERS, default="quilt", elem_id="stylize-method")
        button = gr.Button("Stylize", variant="primary")
        report = gr.JSON(label="measures")

        @action
        def stylize(path_content, path_style, method, *options):
            out = state.scratch() / "stylised.png"
            measures = stylize_path(
                state.upload(path_content, "a content image"),
                state.upload(path_style, "a style image"),
                out,
                method_name=method,
                device="cpu",
                **style_controls.chosen(method, *options),
            )
            return str(out), measures

        button.click(stylize, [content, style, *style_controls.inputs], [result, report], **heavy)

    with gr.Tab("Compress"):
        gr.Markdown("A codec run (`factorized`, `hyperprior` or any VAE) writes a real `.isz` bitstream.")
        with gr.Row():
            source = _upload("image", elem_id="compress-image")
            result = _output("decoded from the file", "compress-result")
        with gr.Row():
            quality = _optional("quality (empty: the run's default)")
            button = gr.Button("Compress", variant="primary")
        size = gr.Markdown("", elem_id="compress-size")
        bitstream = gr.File(label="bitstream (.isz)", interactive=False)

        @action
        def squeeze(name, path, q):
            folder = state.scratch()
            stem = Path(path).stem if path else "image"
            coded = compress_path(
                state.upload(path, "an image"),
                folder / f"{stem}.isz",
                state.run(name),
                quality=_parse(q, int),
                device="cpu",
            )
            decoded = decompress_path(coded["out"], folder / f"{stem}.png", state.run(name), device="cpu")
            note = f"**{coded['bytes']:,} bytes**, {coded['bpp']} bits per pixel, quality {coded['quality']}"
            return decoded["out"], note, coded["out"]

        button.click(squeeze, [run, source, quality], [result, size, bitstream], **heavy)
        gr.Markdown("Decompress an `.isz` file: the run whose weights wrote it is found among the runs.")
        with gr.Row():
            stream = gr.File(label=".isz file", file_types=[".isz"], elem_id="decompress-file")
            unpacked = _output("decompressed", "decompress-result")
        unpack = gr.Button("Decompress")

        @action
        def expand(path):
            if not path:
                raise InputError("give an .isz file")
            out = state.scratch() / (Path(path).stem + ".png")
            return decompress_path(path, out, runs=str(state.runs_root), device="cpu")["out"]

        unpack.click(expand, stream, unpacked, **heavy)


# ------------------------------------------------------------------------------------------------------- train
def _train_tab(state: StudioState, run_choices) -> None:
    with gr.Row():
        model = gr.Dropdown(
            list(MODEL_REGISTRY.names()), value="vae", label="model", info="see `imsynth models` for each one's config"
        )
        data = gr.Dropdown(
            list(DATASETS.names()),
            value="digits",
            label="dataset",
            allow_custom_value=True,
            info="or folder:PATH, npz:PATH, text:PATH on this machine",
        )
        name = gr.Textbox("studio-vae", label="run name (a folder under the runs folder)", elem_id="train-name")
    with gr.Row():
        minutes = _optional("minutes (empty: use steps)", "1", elem_id="train-minutes")
        steps = _optional("steps", elem_id="train-steps")
        seed = gr.Number(0, label="seed", precision=0)
    with gr.Row():
        preset = gr.Dropdown(
            ["", *sorted({p.budget for p in PRESETS})],
            value="",
            label="preset (settings tuned for a budget; see `imsynth models`)",
            scale=1,
        )
        settings = gr.Textbox(
            "", label="--set options, one KEY=VALUE per line (after the preset)", lines=3, elem_id="train-set", scale=3
        )
    with gr.Row():
        start = gr.Button("Start", variant="primary")
        stop = gr.Button("Stop (writes a checkpoint)")
        resume = gr.Button("Resume")
    with gr.Accordion("Datasets on this machine (imsynth datasets)", open=False):
        gr.Dataframe(
            [[row["name"], "yes" if row["available"] else "no", row["size"], row["where"]] for row in list_datasets()],
            headers=["dataset", "here", "size", "where (or how to get it)"],
            interactive=False,
        )
    progress = gr.Markdown("", elem_id="train-progress")
    with gr.Row():
        samples = gr.Image(label="latest samples", interactive=False, elem_id="train-samples")
        curves = gr.Image(label="curves", interactive=False)
    log = gr.Textbox(label="log", lines=6, max_lines=12)
    timer = gr.Timer(2.0)

    def run_path(text: str) -> Path:
        return runs.run_under(state.runs_root, (text or "").strip())

    @action
    def begin(chosen_model, chosen_data, text, m, k, s, budget, lines, again=False):
        path = run_path(text)
        with state.lock:
            job = state.jobs.get(path)
            if job is not None and job.running:
                raise InputError(f"{path}: this run is already training here; stop it first")
            running = sum(job.running for job in state.jobs.values())
            if running >= state.jobs_limit:
                raise InputError(
                    f"{running} training(s) already running (the studio's limit, --jobs {state.jobs_limit}); "
                    "stop one first"
                )
            assignments = [line.strip() for line in (lines or "").splitlines() if line.strip()]
            if budget:
                assignments = [*get_preset(chosen_model, budget).settings, *assignments]
            state.jobs[path] = start_training(
                chosen_model,
                path,
                resume=again,
                data=None if again else chosen_data,
                minutes=_parse(m, float),
                steps=_parse(k, int),
                seed=None if again else int(s or 0),
                assignments=() if again else assignments,
                wait=3.0,
            )
        return show(text)

    @action
    def halt(text):
        path = run_path(text)
        job = state.jobs.get(path)
        if job is None or not job.running:
            raise InputError(f"{path}: no training of this run is running here")
        job.stop()
        return show(text)

    def show(text):
        try:
            path = run_path(text)
        except ImsynthError:
            return "", None, None, ""
        job = state.jobs.get(path)
        status = job.status() if job is not None else run_status(path)
        budget = ", ".join(f"{k} {v}" for k, v in status["budget"].items()) or "no budget yet"
        running = status.get("running", status["held_by"] is not None)
        line = f"**{'training' if running else 'not training'}** — step {status['step']} ({budget})"
        last = status["last"]
        shown = [
            f"{k} {v:.4g}" for k, v in last.items() if isinstance(v, float) and k.startswith(("loss", "fid", "kl"))
        ]
        if shown:
            line += " — " + ", ".join(shown[:4])
        if status.get("exit_code") not in (None, 0):
            line += f" — exited with code {status['exit_code']}"
        return line, status["samples"], status["curves"], status.get("log", "")

    outputs = [progress, samples, curves, log]
    # "multiple": a second click while the first start is still settling is answered (with the refusal)
    start.click(begin, [model, data, name, minutes, steps, seed, preset, settings], outputs, trigger_mode="multiple")
    resume.click(
        functools.partial(begin, again=True), [model, data, name, minutes, steps, seed, preset, settings], outputs
    )
    stop.click(halt, name, outputs)
    timer.tick(show, name, outputs, queue=False)


# -------------------------------------------------------------------------------------------------------- runs
def _runs_tab(state: StudioState, heavy: dict, run_choices) -> None:
    with gr.Row():
        run = gr.Dropdown(state.run_names(), value=None, label="run", scale=4, elem_id="runs-run")
        refresh = gr.Button("Refresh runs", scale=1)
    refresh.click(run_choices, None, run, queue=False)
    with gr.Row():
        samples = gr.Image(label="latest samples", interactive=False, elem_id="runs-samples")
        curves = gr.Image(label="curves", interactive=False)
    with gr.Row():
        config = gr.JSON(label="config.json")
        events = gr.JSON(label="guard and advice events")
    with gr.Row():
        count = gr.Number(500, label="images for sample quality", precision=0)
        importance = gr.Number(50, label="importance samples for the NLL", precision=0)
        evaluate = gr.Button("Evaluate (imsynth eval)", variant="primary")
    metrics = gr.JSON(label="metrics", elem_id="runs-metrics")

    @action
    def report(name):
        if not name:
            return None, None, None, None, None
        path = state.run(name)
        status = run_status(path)
        evaluation = path / "eval.json"
        saved = json.loads(evaluation.read_text()) if evaluation.is_file() else None
        return status["samples"], status["curves"], runs.read_json(path / runs.CONFIG), status["events"], saved

    @action
    def measure(name, n, k):
        path = state.run(name)
        found = evaluate_run(
            path, n=int(n), importance_samples=int(k), likelihood_images=min(int(n), 500), device="cpu"
        )
        runs.write_json(path / "eval.json", found)
        return found

    run.change(report, run, [samples, curves, config, events, metrics])
    evaluate.click(measure, [run, count, importance], metrics, **heavy)
