"""Training: ``imsynth train`` (and the studio's Train tab, which starts the same command in the background) and
``imsynth tune``."""

from __future__ import annotations

from ...tables import REQUIRED, Action, Param
from .base import DEVICE, register_action

MODEL = Param(
    "model",
    default=REQUIRED,
    help="the model family (`imsynth models` lists each one's config)",
    choices="imsynth.models:MODEL_REGISTRY",
    positional=True,
    example="vae",
)
LIMIT = Param("limit", int, None, "use only the first N train/test images", low=1)

TRAIN = register_action(
    Action(
        "train",
        "imsynth.train:train_from_options",
        "Train MODEL on a dataset into a run directory.",
        (
            MODEL,
            Param(
                "data",
                default=None,
                help="dataset name (see `imsynth datasets`), or folder:PATH, npz:PATH, text:PATH; default digits, or "
                "the run's own with --resume",
                suggest="imsynth.data:REGISTRY",
                example="digits",
            ),
            Param("out", default=REQUIRED, help="run directory", kind="path", flag="--out"),
            Param("steps", int, None, "stop after this many optimisation steps", low=1),
            Param("epochs", float, None, "stop after this many passes over the train split"),
            Param("minutes", float, None, "stop after this much wall time", example=1),
            Param("resume", bool, False, "continue the run in --out exactly where it stopped", studio=False),
            Param(
                "init",
                default=None,
                help="fine-tune: start from this run's weights and model config (same model, or text-vae from a "
                "text-lm run; --set may change the rest, a codec's lambdas too)",
                kind="run",
                studio=False,
            ),
            Param("seed", int, None, "random seed (default 0)", low=0, example=0),
            DEVICE,
            Param("image_size", int, None, "resize images to this square size", low=4),
            LIMIT,
            Param(
                "assignments",
                default=(),
                help="override a model or train config field, e.g. --set beta=4 --set train.lr=2e-3 (all are "
                "applied, then checked together)",
                flag="--set",
                multiple=True,
                metavar="KEY=VALUE",
            ),
            Param(
                "preset",
                default=None,
                help="settings tuned for a budget (see `imsynth models`); --config and --set come after",
                choices="imsynth.models:preset_budgets",
            ),
            Param(
                "config",
                default=None,
                help="a config file (best.json of imsynth tune); its settings come first, --set after",
                kind="json",
                studio=False,
            ),
            Param(
                "dry_run",
                bool,
                False,
                "check the options, data and model, print the resolved config, do not train",
                studio=False,
            ),
            Param("quiet", bool, False, "no progress bar", studio=False),
        ),
        description="Ctrl-C (or SIGTERM) finishes the step, writes a checkpoint and prints the --resume command "
        "(exit 130 / 143); a second one aborts at once.",
        examples=(
            "imsynth train vae --data fashion-mnist --out runs/vae --minutes 30",
            "imsynth train beta-tcvae --data shapes --out runs/tc --steps 5000 --set beta=6",
            "imsynth train dcgan --out runs/wgan --set loss=wasserstein --set gp_weight=10 --set d_norm=none --dry-run",
            "torchrun --nproc_per_node 2 -m imsynth.cli train vae --data digits --out runs/ddp --steps 500",
            "imsynth train hyperprior --data photos --init runs/hp-gpu --out runs/hp-tuned --minutes 30",
            "imsynth train dcgan --data fashion-mnist --config tune/best.json --out runs/tuned --minutes 30",
            "imsynth train vae --data fashion-mnist --preset cpu-30min --out runs/vae-cpu --minutes 30",
        ),
        reports=True,
    )
)

TUNE = register_action(
    Action(
        "tune",
        "imsynth.apps.tune:tune",
        "Search MODEL's hyperparameters on DATA with Optuna (TPE; median or Hyperband pruning), resumable.",
        (
            MODEL,
            Param("data", default=None, help="dataset name (see `imsynth datasets`)", suggest="imsynth.data:REGISTRY"),
            Param("out", default=None, help="folder for trials, best.json, pictures", kind="path", flag="--out"),
            Param(
                "study",
                default=None,
                help="study file: NAME.db (SQLite, one process) or any other name (Optuna journal, shareable)",
                kind="path",
            ),
            Param("trials", int, 20, "trials in the study, counting earlier ones", low=1),
            Param("steps_per_trial", int, None, "each trial's budget in optimisation steps", low=1),
            Param("minutes_per_trial", float, None, "each trial's budget in wall time"),
            Param("space", default=None, help="search space JSON (default: the model's)", kind="json"),
            Param(
                "pruner", default="median", help="when to stop a poor trial early", choices="imsynth.apps.tune:PRUNERS"
            ),
            Param("prune_after", int, 3, "median pruner: finished trials before any trial is pruned", low=0),
            Param(
                "seeds",
                int,
                0,
                "retrain the best config and the defaults on this many seeds; report mean and spread",
                low=0,
            ),
            LIMIT,
            Param("show_space", bool, False, "print the model's default search space and exit"),
        ),
        description="Trial 0 is the model's defaults. Scored by test -ELBO (VAEs), validation NLL bound (text) or "
        "in-domain FID (GANs, diffusion); lower is better. Writes OUT/best.json for `imsynth train --config`, "
        "history.png and importances.png. Ctrl-C stops the study; run the same command again to resume it. "
        "Optional live view: pip install optuna-dashboard; optuna-dashboard sqlite:///STUDY.db",
        examples=(
            "imsynth tune vae --data fashion-mnist --trials 30 --steps-per-trial 2000 --study vae.db --out tune/vae",
            "imsynth tune dcgan --show-space",
            "imsynth train vae --data fashion-mnist --config tune/vae/best.json --out runs/vae-tuned --minutes 30",
        ),
        reports=True,
    )
)

FEATURES_TRAIN = register_action(
    Action(
        "features train",
        "imsynth.apps.features:train_features",
        "Train a feature network (a classifier) on a dataset's train split and report test accuracy.",
        (
            Param("data", default=REQUIRED, help="a labelled dataset (see `imsynth datasets`)", example="digits"),
            Param("epochs", int, 10, "passes over the train split", low=1),
            Param(
                "out",
                default=None,
                help="weights file (default: the package's shipped location)",
                kind="path",
                flag="--out",
            ),
            Param("adversarial_eps", float, 0.0, "PGD adversarial training (0-1 scale)", low=0, high=1),
            Param("adversarial_steps", int, 7, "PGD steps per batch", low=1),
            Param(
                "architecture",
                default="vgg",
                help="vgg: the first shipped network; resnet: the second (another architecture, trained apart)",
                choices="imsynth.runtime.classifier:ARCHITECTURES",
            ),
            Param("seed", int, 0, "random seed", low=0),
            LIMIT,
            Param("quiet", bool, False, "no progress bar"),
        ),
        description="A clip dataset trains the 3D network of the video metrics (FVD, swaps), one head per known "
        "factor. In-domain feature networks are what FID/KID/precision-recall are measured under here.",
        examples=(
            "imsynth features train --data fashion-mnist --epochs 10",
            "imsynth features train --data fashion-mnist --adversarial-eps 0.1 --out robust.safetensors",
            "imsynth features train --data fashion-mnist --architecture resnet --seed 1   # the second network",
            "imsynth features train --data 'moving-fashion?stochastic=1&train=8000' --epochs 6   # the clip network",
        ),
        reports=True,
    )
)

FEATURES_LIST = register_action(
    Action(
        "features list",
        "imsynth.apps.features:list_features",
        "Show the shipped feature networks and their test accuracy.",
        (),
    )
)

DEMO = register_action(
    Action(
        "demo",
        "imsynth.apps.demo:run_demo",
        "Train a VAE on the bundled digits (about a minute) and write pictures and metrics to --out.",
        (
            Param("out", default="demo", help="folder for pictures, run and index.html", kind="path", flag="--out"),
            Param("steps", int, 3000, "optimisation steps", low=1),
            Param("quiet", bool, False, "no progress bar"),
        ),
        examples=("imsynth demo --out demo && open demo/index.html",),
    )
)
