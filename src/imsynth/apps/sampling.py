"""Writing samples of a trained run as a grid, an .npz or a folder of PNGs."""

from __future__ import annotations

from pathlib import Path

from ..data import run_dataset
from ..errors import InputError
from ..image import IMAGE_SUFFIXES, check_output, is_folder_output, save_image
from ..models import TextGenerator, Translator, load_run
from ..runtime.tensors import save_tensor_grid, tensor_to_uint8
from .npz import write_npz
from .text import sample_sentences, write_lines
from .video import sample_clips

SAMPLE_OUTPUTS = (*IMAGE_SUFFIXES, ".npz")


def write_samples(
    run,
    out,
    *,
    count: int = 64,
    seed: int = 0,
    class_index: int | None = None,
    device: str = "auto",
    sampling: dict | None = None,
) -> Path:
    """``out`` ending in .png/.jpg/...: one grid; .npz: uint8 NxHxWxC ``images`` + ``labels``; ending in '/'
    or an existing folder: one PNG per sample. ``sampling``: sampler options for diffusion runs
    (``sampler``, ``steps``, ``eta``, ``guidance``). A translation run draws its test inputs translated instead:
    rows of (input | output | target) for pix2pix, (input | output | cycle back) both ways for CycleGAN."""
    folder = is_folder_output(out)
    out = check_output(out, suffixes=SAMPLE_OUTPUTS, folder_ok=True)
    model, _ = load_run(run, device=device)
    if isinstance(model, Translator):
        if folder or out.suffix.lower() == ".npz":
            raise InputError(f"{out}: a translation run writes a grid of its test translations (use a .png)")
        images, columns = model.preview(run_dataset(run), count)
        return save_tensor_grid(out, images, nrow=columns, scale=max(1, 96 // images.shape[-1]))
    labels = model.class_labels(count, class_index=class_index, layout="rows")
    images = model.generate(count, seed=seed, labels=labels, sampling=sampling)
    if folder:
        for index, picture in enumerate(tensor_to_uint8(images)):
            save_image(out / f"sample-{index:05d}.png", picture)
        return out
    if out.suffix.lower() == ".npz":
        return write_npz(out, tensor_to_uint8(images), labels)
    scale = max(1, 96 // images.shape[-1])
    return save_tensor_grid(out, images, nrow=model.grid_columns(count, class_index), scale=scale)


def sample(
    run,
    out=None,
    *,
    count: int = 64,
    seed: int = 0,
    class_index: int | None = None,
    sampler: str | None = None,
    steps: int | None = None,
    eta: float | None = None,
    guidance: float | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    device: str = "auto",
) -> Path | list[str]:
    """Samples of any run: an image run writes ``out`` (see ``write_samples``); a text run returns its sentences,
    or writes them to ``out`` (.txt) when given."""
    model, _ = load_run(run, device=device)
    if isinstance(model, TextGenerator):
        lines = sample_sentences(
            model,
            count,
            seed=seed,
            temperature=1.0 if temperature is None else temperature,
            top_p=1.0 if top_p is None else top_p,
            greedy=greedy,
        )
        return write_lines(out, lines) if out else lines
    if temperature is not None or top_p is not None or greedy:
        raise InputError(f"{run}: --temperature, --top-p and --greedy apply to text runs; this is an image run")
    if "clips" in type(model).capabilities:
        if out is None:
            raise InputError(f"{run}: a video run needs -o (clips.gif, clips.mp4, clips.npz, strip.png or DIR/)")
        if guidance is not None or class_index is not None:
            raise InputError(f"{run}: --guidance and --class do not apply to this video run")
        options = {"sampler": sampler, "steps": steps, "eta": eta}
        return Path(sample_clips(model, run, out, count=count, seed=seed, sampling=options)["out"])
    if out is None:
        raise InputError(f"{run}: an image run needs -o (grid.png, samples.npz or DIR/)")
    options = {"sampler": sampler, "steps": steps, "eta": eta, "guidance": guidance}
    return write_samples(run, out, count=count, seed=seed, class_index=class_index, device=device, sampling=options)
