"""Rows of the action table that restore, defend, compress, translate and stylise images."""

from __future__ import annotations

from ...tables import Action, Param
from .base import (
    BIT_DEPTH,
    DEVICE,
    SEED,
    input_param,
    out_param,
    register_action,
    run_param,
)

# -------------------------------------------------------------------------------------------------- restore
register_action(
    Action(
        "corrupt",
        "imsynth.apps.restore:corrupt_path",
        "Damage SOURCE (an image, a folder of images, or a dataset name) reproducibly.",
        (
            input_param("source", help_text="an image, a folder or a dataset name", example="camera_small"),
            out_param("output image, folder (for a folder) or .npz"),
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
            input_param("source", help_text="an image, a folder, or npz:FILE"),
            out_param("output image, folder for a folder, .npz for npz:"),
            Param(
                "method_name",
                default=None,
                choices="imsynth.apps.restore:RESTORERS",
                options="**",
                flag="--method",
            ),
            run_param("trained run for the model methods"),
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
            run_param("trained run for the model defences"),
            Param(
                "attack_name", default="auto", choices="imsynth.runtime.attacks:ATTACKS", options="**", flag="--attack"
            ),
            Param(
                "gradient",
                default="auto",
                choices=("auto", "exact", "bpda"),
                help="how the adaptive attack goes through the defence: exact where it is differentiable (auto), or "
                "BPDA (the identity backward)",
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
        "differentiable defence - the VAEs, the diffusion chain, the unrolled GAN inversion - BPDA through others, "
        "EOT over random ones). The default attack, auto, is an ensemble (APGD-CE, APGD-T, Square, PGD, each on the "
        "images still correct); the report gives the accuracy after each.",
        examples=(
            "imsynth robustness --defence none --eps 0.1",
            "imsynth robustness --defence vae --model runs/dvae --eps 0.1 --steps 100",
            "imsynth robustness --defence diffusion --model runs/ddpm --defence-strength 0.15 --steps 20 --eot 2",
            "imsynth robustness --defence jpeg --attack pgd --eps 0.1 --steps 40",
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
        "Compress SOURCE (an image or a folder of images) into .isz streams with a learned codec.",
        (
            input_param("source", help_text="an image or a folder"),
            out_param("output .isz file, or a folder for a folder"),
            run_param("a trained codec run (factorized, hyperprior, or a VAE); default: the codec imsynth ships"),
            Param("quality", int, None, "1 (smallest file) .. the codec's highest; default the middle one", low=1),
            DEVICE,
        ),
        description="Prints the number of files, bytes and bits per pixel as JSON. Without --model, the hyperprior "
        "that ships with imsynth (trained on photographs) codes the images.",
        examples=(
            "imsynth compress photo.jpg -o photo.isz",
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
            input_param("source", "bitstream", "an .isz file or a folder of them"),
            out_param("output image (suffix picks the format), or a folder"),
            run_param("the codec run that made the stream"),
            Param(
                "runs",
                default="runs",
                help="without --model: find the run here by fingerprint",
                kind="runs",
            ),
            DEVICE,
        ),
        description="Without --model, the stream's header names its codec: imsynth's shipped default codec (of "
        "this version), or a run looked for under --runs by the fingerprint of its weights.",
        examples=(
            "imsynth decompress photo.isz -o photo.png",
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
            input_param("source", help_text="an image or a folder"),
            out_param("output image, or a folder (ending in /) for a folder"),
            run_param("a trained translation run (pix2pix: a2b; cyclegan: a2b or b2a)", required=True),
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
            input_param("content_path", help_text="the content image", example="astronaut_small"),
            input_param("style_path", help_text="the style image", example="brick_small"),
            out_param("output image"),
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
