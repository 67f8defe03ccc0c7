"""Rows of the action table that make, explore and measure what a trained run generates."""

from __future__ import annotations

from ...tables import REQUIRED, Action, Param
from .base import (
    CLASS,
    DEVICE,
    GUIDANCE,
    IMAGE,
    ITERATIVE,
    RUN_ARGUMENT,
    SAMPLER,
    SEED,
    STEPS,
    TEXT,
    out_param,
    register_action,
)

register_action(
    Action(
        "sample",
        "imsynth.apps.sampling:sample",
        "Draw samples from a trained run: images, or sentences from a text run.",
        (
            RUN_ARGUMENT,
            out_param(
                "grid.png, samples.npz (uint8 NxHxWxC + labels) or DIR/ (one PNG each); text runs: sentences.txt "
                "(default: printed); video runs: clips.gif, .mp4, .npz, strip.png or DIR/ (a GIF each)",
                required=False,
            ),
            Param("count", int, 64, "number of samples", flag="-n", low=1),
            SEED,
            CLASS,
            SAMPLER,
            STEPS,
            Param(
                "eta",
                float,
                None,
                "ddim: 0 deterministic .. 1 as stochastic as ddpm (default 0)",
                low=0,
                high=1,
                needs=ITERATIVE,
            ),
            GUIDANCE,
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
        groups=("generate", "video"),
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
            out_param("a .png grid or a .gif animation (image runs)", required=False),
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
            SAMPLER,
            STEPS,
            GUIDANCE,
            Param("importance_samples", int, 500, "importance samples per image for the NLL bound", flag="--k", low=1),
            Param("likelihood_images", int, 1000, "test images for ELBO/NLL", low=1),
            Param(
                "feature_net",
                default=None,
                help="feature network weights (default: the shipped one; for a video run, its clip network's)",
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
            Param(
                "prediction_samples",
                int,
                20,
                "futures per test clip for a video run's best-of-N prediction scores",
                flag="--futures",
                low=1,
                high=1000,
                needs=frozenset({"predictor"}),
            ),
            DEVICE,
        ),
        examples=(
            "imsynth eval runs/vae --n 5000 --k 500",
            "imsynth eval runs/ddpm --sampler dpm++2m --steps 10",
            "imsynth eval runs/ddpm-cond --guidance 1.5",
            "imsynth eval runs/vdm --n 64 --futures 5 --sampler unipc --steps 10",
        ),
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
            out_param("write the generated set: FILE.npz or DIR/ (one folder per class)", required=False),
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
register_action(
    Action(
        "distill",
        "imsynth.apps.distill:distill",
        "Distil a diffusion run into a new run that samples in --steps DDIM steps (progressive distillation).",
        (
            RUN_ARGUMENT,
            Param("out", default=REQUIRED, help="the new run's folder (new or empty)", kind="path", flag="--out"),
            Param("steps", int, 4, "sampling steps of the distilled run", low=1),
            Param(
                "start_steps",
                int,
                None,
                "the first teacher's DDIM steps, halved each round down to --steps (default 4 x --steps)",
                low=2,
            ),
            Param("iterations", int, 400, "batches per round", low=1),
            Param("batch_size", int, 64, "images per batch", low=1),
            Param("lr", float, 2e-4, "Adam learning rate", low=0),
            SEED,
            DEVICE,
        ),
        description="Salimans & Ho 2022: each round, a student learns to take in one step what its teacher takes "
        "in two. The result is an ordinary run; every command accepts it.",
        examples=("imsynth distill runs/ddpm --steps 4 --out runs/ddpm-4",),
        reports=True,
        needs=ITERATIVE,
    )
)
