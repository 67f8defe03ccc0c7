"""The action table itself and the parameters many actions share (the rows are in the sibling modules)."""

from __future__ import annotations

from ...errors import InputError
from ...tables import REQUIRED, Action, Param, Table

ACTIONS: Table[Action] = Table("action")  # in the order written: the studio shows its tabs so


def register_action(action: Action) -> Action:
    return ACTIONS.add(action)


def parse_size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 256x256), got {text!r}")
    return int(parts[0]), int(parts[1])


# parameters many actions share
DEVICE = Param("device", default="auto", help="auto, cpu, cuda, cuda:N or mps", studio=False)
BIT_DEPTH = Param(
    "bit_depth",
    default="auto",
    choices=("auto", 8, 16),
    help="bits per channel of the output: auto = the input's where the format allows (16-bit PNG/TIFF in, "
    "16-bit PNG/TIFF out)",
    studio=False,
)
SEED = Param("seed", int, 0, "random seed", low=0)
CLASS = Param("class_index", int, None, "class (conditional models)", flag="--class", needs=frozenset({"image"}))
ITERATIVE = frozenset({"iterative-sampler"})
TEXT = frozenset({"text"})
IMAGE = frozenset({"image"})
SAMPLER = Param(
    "sampler",
    default=None,
    choices="imsynth.models.samplers:SAMPLERS",
    help="diffusion runs (default: the run's own; unipc for new ddpm runs); dpm++2m and unipc need about 10 steps",
    needs=ITERATIVE,
)
STEPS = Param(
    "steps",
    int,
    None,
    "diffusion runs: sampling steps, 1..training timesteps (default: the run's); heun costs 2 evaluations each",
    needs=ITERATIVE,
)
GUIDANCE = Param(
    "guidance",
    float,
    None,
    "conditional diffusion runs: classifier-free guidance scale (1 = none; default: the run's)",
    low=0,
    needs=ITERATIVE,
)


def out_param(help_text: str, *, required: bool = True) -> Param:
    return Param("out", default=REQUIRED if required else None, help=help_text, kind="out", flag="-o")


def run_param(help_text: str = "a trained run", *, required: bool = False) -> Param:
    return Param("run", default=REQUIRED if required else None, help=help_text, kind="run", flag="--model")


def input_param(name: str, kind: str = "image", help_text: str = "", example: str | None = None) -> Param:
    return Param(name, default=REQUIRED, help=help_text, kind=kind, positional=True, example=example)


RUN_ARGUMENT = Param("run", default=REQUIRED, help="a trained run", kind="run", positional=True)
