"""The action table: every thing a user does, declared once.

Each row names the apps function that does the work (imported only when the action runs, so listing actions never
imports torch), its parameters with defaults, ranges and choices (choices from the method tables, by reference),
the kinds of its inputs and outputs, and the capabilities a run must declare to use it. ``imsynth.cli`` makes one
command per row and ``imsynth.studio`` one form per row; from Python, call the function itself, or the row
(``ACTIONS.get("denoise")(source=..., out=...)``) to have the table's checks too.

To add an action: write the function in an apps module, add its row here; the CLI command, the studio's form and
the tests over the whole table (defaults equal everywhere, fuzzing) pick it up.
"""

from __future__ import annotations

from ..errors import InputError
from ..tables import REQUIRED, Action, Param, Table

__all__ = ["ACTIONS", "register_action"]

ACTIONS: Table[Action] = Table("action")  # in the order written: the studio shows its tabs so


def register_action(action: Action) -> Action:
    return ACTIONS.add(action)


def _size(text: str) -> tuple[int, int]:
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


def _out(help_text: str, *, required: bool = True) -> Param:
    return Param("out", default=REQUIRED if required else None, help=help_text, kind="out", flag="-o")


def _run(help_text: str = "a trained run", *, required: bool = False) -> Param:
    return Param("run", default=REQUIRED if required else None, help=help_text, kind="run", flag="--model")


def _input(name: str, kind: str = "image", help_text: str = "", example: str | None = None) -> Param:
    return Param(name, default=REQUIRED, help=help_text, kind=kind, positional=True, example=example)


RUN_ARGUMENT = Param("run", default=REQUIRED, help="a trained run", kind="run", positional=True)

# ------------------------------------------------------------------------------------------------ classical
register_action(
    Action(
        "inpaint",
        "imsynth.apps.inpaint:inpaint_file",
        "Fill the hole of IMAGE where MASK (a PNG, nonzero = hole) is set.",
        (
            _input("image_path", example="astronaut"),
            _input("mask_path", "mask", "nonzero = hole"),
            _out("output image"),
            Param(
                "method",
                default=REQUIRED,
                choices="imsynth.apps.inpaint:INPAINT_METHODS",
                options="**",
                example="patchmatch",
            ),
            _run("trained run for the model methods"),
            Param("class_index", int, None, "the image's class (conditional models)", flag="--class"),
            BIT_DEPTH,
            DEVICE,
        ),
        examples=(
            "imsynth inpaint shirt.png hole.png -o filled.png --method gan --model runs/dcgan",
            "imsynth inpaint shirt.png hole.png -o filled.png --method diffusion --model runs/ddpm",
            "imsynth inpaint photo.png hole.png -o filled.png --method patchmatch --source grass.png",
            "imsynth inpaint scan16.png hole.png -o filled.png --method biharmonic   (16 bits in, 16 bits out)",
        ),
        groups=("classical", "restore"),
        button="Fill",
    )
)

# ------------------------------------------------------------------------------------------------- generate
register_action(
    Action(
        "texture",
        "imsynth.apps.classical:texture_file",
        "Synthesise a texture of --size from a SAMPLE image.",
        (
            _input("sample_path", help_text="the sample texture", example="brick"),
            _out("output image"),
            Param("size", default=REQUIRED, help="WIDTHxHEIGHT of the result", convert=_size, example="192x192"),
            Param("method", default="quilting", choices="imsynth.classical.texture:TEXTURES", options="**"),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth texture brick.png -o wall.png --size 256x256 --method quilting --block 24",
            "imsynth texture grass.png -o lawn.png --size 512x256 --method multiscale --seed 3",
        ),
        groups=("classical",),
        button="Synthesise",
    )
)
register_action(
    Action(
        "resize",
        "imsynth.apps.classical:resize_file",
        "Resize IMAGE (pixel centres at i + 0.5; anti-aliased when shrinking).",
        (
            _input("image_path", example="camera"),
            _out("output image"),
            Param("scale", float, None, "factor for both sides (0.5 halves)", example=0.5),
            Param("size", default=None, help="WIDTHxHEIGHT instead of --scale", convert=_size),
            Param("method", default="bicubic", choices="imsynth.classical.resample:RESAMPLING"),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth resize photo.png -o half.png --scale 0.5 --method area",
            "imsynth resize icon.png -o big.png --size 512x512 --method lanczos",
        ),
        groups=("classical",),
        button="Resize",
    )
)
register_action(
    Action(
        "blend",
        "imsynth.apps.classical:blend_files",
        "Multiband (Laplacian pyramid) blend: B where MASK is nonzero, A elsewhere.",
        (
            _input("a_path", help_text="image A", example="blend_a"),
            _input("b_path", help_text="image B", example="blend_b"),
            _input("mask_path", "mask", "nonzero = take B", example="blend_mask"),
            _out("output image"),
            Param("levels", int, None, "pyramid levels (default: as many as fit)", low=1),
            BIT_DEPTH,
        ),
        examples=("imsynth blend apple.png orange.png left-half.png -o orapple.png --levels 6",),
        groups=("classical",),
        button="Blend",
    )
)
register_action(
    Action(
        "warp",
        "imsynth.apps.classical:warp_file",
        "Warp IMAGE so control points move from src to dst (coordinates (x, y) in pixels).",
        (
            _input("image_path", example="astronaut"),
            _out("output image"),
            Param("method", default=REQUIRED, choices="imsynth.classical.warp:WARPS", options="**", example="tps"),
            Param(
                "points_path",
                default=None,
                help='JSON {"src": [[x, y], ...], "dst": [[x, y], ...]}',
                kind="points",
                flag="--points",
                example="warp_points",
            ),
            BIT_DEPTH,
        ),
        examples=(
            "imsynth warp face.png -o bent.png --method mls-rigid --points drag.json",
            "imsynth warp photo.png -o swirl.png --method swirl --strength 4",
        ),
        groups=("deform",),
        button="Warp",
    )
)
register_action(
    Action(
        "animate",
        "imsynth.apps.classical:animate_file",
        "Animate IMAGE by warping it through keyframed control points.",
        (
            _input("image_path", example="astronaut_small"),
            Param(
                "keyframes_path",
                default=REQUIRED,
                help="keyframes JSON (see docs)",
                kind="json",
                flag="--keyframes",
                example="keyframes",
            ),
            _out("OUT.gif, OUT.mp4 or a folder/ of PNG frames"),
            Param("fps", float, None, "frames per second (default: the keyframe file's, else 12)", low=0),
        ),
        examples=("imsynth animate face.png --keyframes nod.json -o nod.gif",),
        groups=("deform",),
        button="Animate",
        studio_suffix=".gif",
    )
)
register_action(
    Action(
        "morph",
        "imsynth.apps.classical:morph_files",
        "Morph image A into B (B is resized to A's size when they differ).",
        (
            _input("a_path", help_text="image A", example="morph_a"),
            _input("b_path", help_text="image B", example="morph_b"),
            _out("OUT.gif, OUT.mp4 or a folder/ of PNG frames"),
            Param("frames", int, 30, "frames of the morph", low=2),
            Param("method", default=None, choices="imsynth.classical.animate:MORPHS"),
            Param(
                "points_path", default=None, help='JSON {"a": [[x, y], ...], "b": [...]}', kind="json", flag="--points"
            ),
            Param(
                "lines_path",
                default=None,
                help='JSON {"lines_a": [[[x1, y1], [x2, y2]], ...], "lines_b": [...]}',
                kind="json",
                flag="--lines",
            ),
            Param("fps", float, 12.0, "frames per second", low=0),
        ),
        description="Default method: mesh with --points, beier-neely with --lines, else dissolve.",
        examples=(
            "imsynth morph cat.png dog.png -o morph.gif --frames 30 --points pairs.json",
            "imsynth morph a.png b.png -o morph.mp4 --lines features.json --method beier-neely",
        ),
        groups=("deform",),
        button="Morph",
        studio_suffix=".gif",
    )
)
register_action(
    Action(
        "sample",
        "imsynth.apps.sampling:sample",
        "Draw samples from a trained run: images, or sentences from a text run.",
        (
            RUN_ARGUMENT,
            _out(
                "grid.png, samples.npz (uint8 NxHxWxC + labels) or DIR/ (one PNG each); text runs: sentences.txt "
                "(default: printed)",
                required=False,
            ),
            Param("count", int, 64, "number of samples", flag="-n", low=1),
            SEED,
            CLASS,
            Param(
                "sampler",
                default=None,
                choices="imsynth.models.samplers:SAMPLERS",
                help="diffusion runs (default: the run's own, ddim)",
                needs=ITERATIVE,
            ),
            Param(
                "steps",
                int,
                None,
                "diffusion runs: sampling steps, 1..training timesteps (default 50)",
                needs=ITERATIVE,
            ),
            Param(
                "eta",
                float,
                None,
                "ddim: 0 deterministic .. 1 as stochastic as ddpm (default 0)",
                low=0,
                high=1,
                needs=ITERATIVE,
            ),
            Param(
                "guidance",
                float,
                None,
                "conditional diffusion runs: classifier-free guidance scale (1 = none)",
                low=0,
                needs=ITERATIVE,
            ),
            Param("temperature", float, None, "text runs: softmax temperature (default 1)", low=0, needs=TEXT),
            Param(
                "top_p",
                float,
                None,
                "text runs: nucleus sampling, the smallest token set of this mass (default 1)",
                low=0,
                high=1,
                needs=TEXT,
            ),
            Param("greedy", bool, False, "text runs: the most likely token at every step", needs=TEXT),
            DEVICE,
        ),
        examples=(
            "imsynth sample runs/vae -n 64 -o grid.png",
            "imsynth sample runs/cvae -n 16 --class 3 -o threes.png",
            "imsynth sample runs/vae -n 1000 -o samples.npz",
            "imsynth sample runs/ddpm -n 64 -o grid.png --sampler ddim --steps 50",
            "imsynth sample runs/ddpm-cond -n 16 --class 3 --guidance 3.0 -o threes.png",
            "imsynth sample runs/text-vae -n 10 --top-p 0.9",
        ),
        needs=frozenset({"sample"}),
        groups=("generate",),
        button="Sample",
    )
)
register_action(
    Action(
        "explore",
        "imsynth.apps.explore:explore_run",
        "Explore the latent space of a GAN, VAE, diffusion or text-vae run: interpolations, random walks, principal "
        "directions (GAN/VAE).",
        (
            RUN_ARGUMENT,
            _out("a .png grid or a .gif animation (image runs)", required=False),
            Param(
                "start",
                default=None,
                help="text runs: the sentence the path starts at (default: a prior draw)",
                flag="--from",
                needs=TEXT,
            ),
            Param(
                "end",
                default=None,
                help="text runs: the sentence it ends at (default: a prior draw)",
                flag="--to",
                needs=TEXT,
            ),
            Param(
                "mode",
                default="slerp",
                choices="imsynth.apps.explore:MODES",
                help="interpolation, random walk, or principal directions (GANSpace-like)",
            ),
            Param("rows", int, 6, "grid rows (interpolations or walks)", low=1, needs=IMAGE),
            Param("steps", int, 8, "images (or sentences) per row", low=1),
            Param("frames", int, 48, "frames of a .gif", low=1, needs=IMAGE),
            Param("components", int, 8, "directions shown with --mode pca", low=1, needs=IMAGE),
            Param("span", float, 2.0, "how far along each direction (std)", low=0, needs=IMAGE),
            SEED,
            CLASS,
            DEVICE,
        ),
        description="A diffusion run's latent is its initial noise, decoded by deterministic DDIM. A text-vae run "
        "prints the sentences along the path between --from and --to (Bowman et al.'s homotopies).",
        examples=(
            "imsynth explore runs/dcgan -o slerp.png --mode slerp --rows 6 --steps 10",
            "imsynth explore runs/dcgan -o walk.gif --mode walk --frames 60",
            "imsynth explore runs/vae -o directions.png --mode pca --components 8",
            "imsynth explore runs/ddpm -o ddim-slerp.png --mode slerp --rows 4 --steps 8",
            'imsynth explore runs/text-vae --mode lerp --from "i love you." --to "go away." --steps 8',
        ),
        needs=frozenset({"sample"}),
        groups=("generate",),
        button="Explore",
    )
)
register_action(
    Action(
        "reconstruct",
        "imsynth.apps.text:reconstruct_run",
        "Encode SENTENCE with a text-vae run and decode it again (greedy, from the posterior mean).",
        (
            RUN_ARGUMENT,
            Param("sentence", default=REQUIRED, help="the sentence", kind="text", positional=True),
            Param("samples", int, 0, "also decode this many posterior draws", low=0),
            SEED,
            DEVICE,
        ),
        examples=('imsynth reconstruct runs/text-vae "you will meet a tall, dark stranger."',),
        reports=True,
        needs=frozenset({"sentence-encoder"}),
        groups=("generate",),
        button="Reconstruct",
    )
)
register_action(
    Action(
        "eval",
        "imsynth.evaluate:evaluate_run",
        "Print one JSON object with every metric that applies to RUN.",
        (
            RUN_ARGUMENT,
            Param("data", default=None, help="dataset to compare with (default: the run's own)"),
            Param("n", int, 5000, "images for sample-quality metrics", low=1),
            Param("importance_samples", int, 500, "importance samples per image for the NLL bound", flag="--k", low=1),
            Param("likelihood_images", int, 1000, "test images for ELBO/NLL", low=1),
            Param(
                "feature_net",
                default=None,
                help="feature network weights (default: the shipped one)",
                kind="path",
                studio=False,
            ),
            Param(
                "inception",
                default=None,
                help="locally present Inception weights (never downloaded)",
                kind="path",
                studio=False,
            ),
            DEVICE,
        ),
        examples=("imsynth eval runs/vae --n 5000 --k 500",),
        reports=True,
        button="Evaluate",
    )
)
register_action(
    Action(
        "probe",
        "imsynth.apps.probe:linear_probe",
        "Linear-probe accuracy of a run's frozen features (GAN discriminator, VAE encoder), against the same network "
        "untrained and raw pixels.",
        (
            RUN_ARGUMENT,
            Param("train_images", int, 10000, "labelled images to fit the probe", low=10),
            Param("test_images", int, 10000, "test images", low=10),
            SEED,
            DEVICE,
        ),
        examples=("imsynth probe runs/dcgan --train-images 10000",),
        reports=True,
        needs=frozenset({"representation"}),
    )
)
register_action(
    Action(
        "augment",
        "imsynth.apps.augment:augment",
        "Generated images as training data: write them as a dataset and/or measure their value.",
        (
            RUN_ARGUMENT,
            _out("write the generated set: FILE.npz or DIR/ (one folder per class)", required=False),
            Param("count", int, 10000, "images to generate", flag="-n", low=1),
            Param("evaluate", bool, False, "also measure the augmentation gain and the CAS"),
            Param("real", int, 1000, "labelled real images for --evaluate", low=1),
            Param("generated", int, 5000, "generated images for --evaluate", low=1),
            Param("steps", int, 600, "classifier steps for --evaluate", low=1),
            SEED,
            DEVICE,
        ),
        examples=(
            "imsynth augment runs/cgan -o generated.npz -n 10000",
            "imsynth train vae --data npz:generated.npz --out runs/on-generated",
            "imsynth augment runs/cgan --evaluate --real 1000 --generated 5000",
        ),
        reports=True,
        needs=frozenset({"sample"}),
    )
)

# -------------------------------------------------------------------------------------------------- restore
register_action(
    Action(
        "corrupt",
        "imsynth.apps.restore:corrupt_path",
        "Damage SOURCE (an image, a folder of images, or a dataset name) reproducibly.",
        (
            _input("source", help_text="an image, a folder or a dataset name", example="camera_small"),
            _out("output image, folder (for a folder) or .npz"),
            Param(
                "kind",
                default="gaussian",
                help="a corruption; a+b applies both in order",
                choices="imsynth.classical.corrupt:CORRUPTIONS",
                joined="+",
            ),
            Param("severity", int, 3, "0 (none) to 5", low=0, high=5),
            SEED,
            Param("limit", int, None, "datasets: only the first N train and test images", low=1, studio=False),
            BIT_DEPTH,
        ),
        description="A dataset becomes an .npz with the damaged images, the clean originals and the labels (train it "
        "with --data npz:OUT).",
        examples=(
            "imsynth corrupt photo.png -o rainy.png --kind rain --severity 4 --seed 1",
            "imsynth corrupt scans/ -o noisy/ --kind shot+jpeg --severity 2",
            "imsynth corrupt fashion-mnist -o rain3.npz --kind rain --severity 3",
        ),
        groups=("restore",),
        button="Damage",
    )
)
register_action(
    Action(
        "denoise",
        "imsynth.apps.restore:denoise_source",
        "Restore SOURCE (an image, a folder of images, or npz:FILE from `imsynth corrupt`): a classical method, or a "
        "trained run (--model).",
        (
            _input("source", help_text="an image, a folder, or npz:FILE"),
            _out("output image, folder for a folder, .npz for npz:"),
            Param(
                "method_name",
                default=None,
                choices="imsynth.apps.restore:RESTORERS",
                options="**",
                flag="--method",
            ),
            _run("trained run for the model methods"),
            BIT_DEPTH,
            DEVICE,
        ),
        description="Without --method: nl-means, or with --model the run's own (encode-decode for VAE runs, diffusion "
        "for diffusion runs, projection for GAN runs). An npz: source restores its test split and prints PSNR/SSIM "
        "against the clean originals as JSON.",
        examples=(
            "imsynth denoise noisy.png -o clean.png --method bm3d",
            "imsynth denoise rainy/ -o restored/ --model runs/dvae",
            "imsynth denoise noisy.png -o clean.png --model runs/ddpm --strength 0.1",
            "imsynth corrupt fashion-mnist -o rain.npz --kind rain && imsynth denoise npz:rain.npz -o out.npz "
            "--model runs/dvae",
        ),
        groups=("restore",),
        button="Restore",
    )
)
register_action(
    Action(
        "robustness",
        "imsynth.apps.robustness:evaluate_robustness",
        "Accuracy of a classifier under attack, with and without a purification defence; prints one JSON object.",
        (
            Param(
                "classifier",
                default="fashion-mnist",
                help="a shipped classifier (dataset name) or a .safetensors file",
                studio=False,
            ),
            Param(
                "defence",
                default="none",
                choices="imsynth.apps.robustness:DEFENCES",
                options="defence_options",
                prefix="defence",
            ),
            _run("trained run for the model defences"),
            Param(
                "attack_name", default="pgd", choices="imsynth.runtime.attacks:ATTACKS", options="**", flag="--attack"
            ),
            Param("data", default=None, help="test data (default: the classifier's dataset)", studio=False),
            Param("images", int, 500, "test images attacked", low=1),
            Param("adaptive", bool, True, "also attack through the defence (BPDA/EOT)"),
            Param("batch_size", int, 250, "images per batch", low=1),
            Param("seed", int, 0, "which test images", flag="--sample-seed", low=0),
            DEVICE,
        ),
        description="Reports clean accuracy, accuracy behind the defence, and robust accuracy under the attack made "
        "against the classifier alone (unaware) and against classifier+defence (adaptive: exact gradients through a "
        "differentiable defence, BPDA through others, EOT over random ones).",
        examples=(
            "imsynth robustness --defence none --attack pgd --eps 0.1",
            "imsynth robustness --defence vae --model runs/dvae --attack pgd --eps 0.1 --steps 40",
            "imsynth robustness --defence diffusion --model runs/ddpm --defence-strength 0.15 --attack pgd --eot 4",
            "imsynth robustness --classifier robust.safetensors --attack cw-l2 --images 200",
        ),
        reports=True,
        groups=("restore",),
        button="Measure",
    )
)
register_action(
    Action(
        "compress",
        "imsynth.apps.compress:compress_path",
        "Compress SOURCE (an image or a folder of images) into .isz streams with a trained codec.",
        (
            _input("source", help_text="an image or a folder"),
            _out("output .isz file, or a folder for a folder"),
            _run("a trained codec run (factorized, hyperprior, or a VAE)", required=True),
            Param("quality", int, None, "1 (smallest file) .. the codec's highest; default the middle one", low=1),
            DEVICE,
        ),
        description="Prints the number of files, bytes and bits per pixel as JSON.",
        examples=(
            "imsynth train hyperprior --data photos --out runs/hp --minutes 60",
            "imsynth compress photo.png -o photo.isz --model runs/hp --quality 4",
            "imsynth compress scans/ -o packed/ --model runs/hp",
        ),
        reports=True,
        needs=frozenset({"codec"}),
        groups=("restore",),
        button="Compress",
        studio_suffix=".isz",
    )
)
register_action(
    Action(
        "decompress",
        "imsynth.apps.compress:decompress_path",
        "Decompress SOURCE (an .isz file or a folder of them) back to images.",
        (
            _input("source", "bitstream", "an .isz file or a folder of them"),
            _out("output image (suffix picks the format), or a folder"),
            _run("the codec run that made the stream"),
            Param(
                "runs",
                default="runs",
                help="without --model: find the run here by fingerprint",
                kind="runs",
            ),
            DEVICE,
        ),
        description="Without --model, the run whose weights made the stream is looked for under --runs (the stream "
        "carries a fingerprint of the codec's weights).",
        examples=(
            "imsynth decompress photo.isz -o photo.png --model runs/hp",
            "imsynth decompress packed/ -o unpacked/",
        ),
        reports=True,
        groups=("restore",),
        button="Decompress",
    )
)
register_action(
    Action(
        "translate",
        "imsynth.apps.translate:translate_path",
        "Translate SOURCE (an image or a folder of images) from one domain to the other.",
        (
            _input("source", help_text="an image or a folder"),
            _out("output image, or a folder (ending in /) for a folder"),
            _run("a trained translation run (pix2pix: a2b; cyclegan: a2b or b2a)", required=True),
            Param("direction", default="a2b", choices=("a2b", "b2a")),
            DEVICE,
        ),
        examples=(
            'imsynth train pix2pix --data "pairs:fashion-mnist~edges" --out runs/p2p --minutes 30',
            "imsynth translate edges.png -o item.png --model runs/p2p",
        ),
        reports=True,
        needs=frozenset({"translator"}),
        groups=("restore",),
        button="Translate",
    )
)
register_action(
    Action(
        "stylize",
        "imsynth.apps.stylize:stylize_path",
        "Redraw CONTENT in the look of STYLE, with no pretrained network.",
        (
            _input("content_path", help_text="the content image", example="astronaut_small"),
            _input("style_path", help_text="the style image", example="brick_small"),
            _out("output image"),
            Param(
                "method_name", default="gram", choices="imsynth.apps.stylize:STYLIZERS", options="**", flag="--method"
            ),
            DEVICE,
        ),
        description="gram optimises the image against Gram statistics of random multi-scale features (Gatys et al. "
        "without VGG); quilt rebuilds it from blocks of the style guided by the content's luminance (Efros & Freeman). "
        "Prints the output path and seconds as JSON.",
        examples=(
            "imsynth stylize photo.png bricks.png -o bricky.png --method gram --strength 10",
            "imsynth stylize photo.png bricks.png -o quilted.png --method quilt --block 32",
        ),
        reports=True,
        groups=("restore",),
        button="Stylize",
    )
)
