"""The restoration commands: ``corrupt``, ``denoise`` and ``robustness``. Names come from the tables
(corruptions, denoisers, attacks, defences); each command is one call into the public API."""

from __future__ import annotations

import json

import click

from ..apps.restore import corrupt_path, denoise_dataset, denoise_path
from ..apps.robustness import DEFENCES, evaluate_robustness
from ..classical.corrupt import CORRUPTIONS, MAX_SEVERITY
from ..classical.denoise import DENOISERS
from ..runtime.attacks import ATTACKS
from .options import BIT_DEPTH, DEVICE, depth, given, method_choice, table_options


def _levels() -> str:
    lines = []
    for entry in CORRUPTIONS:
        levels = entry.info["levels"]
        keys = list(levels[0])
        values = "; ".join(f"{key} {', '.join(str(level[key]) for level in levels)}" for key in keys)
        lines.append(f"{entry.name}: {entry.description} ({values})")
    return "\n".join(lines)


@click.command(epilog="Kinds and their parameters at severity 1..5:\n\n\b\n" + _levels())
@click.argument("source")
@click.option("-o", "out", required=True, type=click.Path(), help="output image, folder (for a folder) or .npz")
@click.option(
    "--kind",
    default="gaussian",
    show_default=True,
    help=f"{', '.join(CORRUPTIONS.names())}; a+b applies both in order",
)
@click.option("--severity", default=3, show_default=True, type=int, help=f"0 (none) to {MAX_SEVERITY}")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--limit", type=int, help="datasets: only the first N train and test images")
@BIT_DEPTH
def corrupt(source, out, kind, severity, seed, limit, bit_depth):
    """Damage SOURCE (an image, a folder of images, or a dataset name) reproducibly.

    A dataset becomes an .npz with the damaged images, the clean originals and the labels (train it with
    --data npz:OUT).

    \b
    Example:
      imsynth corrupt photo.png -o rainy.png --kind rain --severity 4 --seed 1
      imsynth corrupt scans/ -o noisy/ --kind shot+jpeg --severity 2
      imsynth corrupt fashion-mnist -o rain3.npz --kind rain --severity 3
    """
    click.echo(
        str(corrupt_path(source, out, kind=kind, severity=severity, seed=seed, limit=limit, bit_depth=depth(bit_depth)))
    )


@click.command()
@click.argument("source", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image, folder for a folder, .npz for npz:")
@method_choice(DENOISERS)
@click.option("--model", "run", type=click.Path(), help="trained run for the model methods")
@table_options(DENOISERS)
@BIT_DEPTH
@DEVICE
def denoise(source, out, method, run, bit_depth, device, **values):
    """Restore SOURCE (an image, a folder of images, or npz:FILE from `imsynth corrupt`): a classical method,
    or a trained run (--model).

    Without --method: nl-means, or with --model the run's own (encode-decode for VAE runs, diffusion for
    diffusion runs, projection for GAN runs). An npz: source restores its test split and prints PSNR/SSIM
    against the clean originals as JSON.

    \b
    Example:
      imsynth denoise noisy.png -o clean.png --method bm3d
      imsynth denoise rainy/ -o restored/ --model runs/dvae
      imsynth denoise noisy.png -o clean.png --model runs/ddpm --strength 0.1
      imsynth corrupt fashion-mnist -o rain.npz --kind rain && imsynth denoise npz:rain.npz -o out.npz --model runs/dvae
    """
    if source.startswith("npz:"):
        options = given(DENOISERS, values)
        click.echo(json.dumps(denoise_dataset(source, out, method_name=method, run=run, device=device, **options)))
        return
    click.echo(
        str(
            denoise_path(
                source,
                out,
                method_name=method,
                run=run,
                device=device,
                bit_depth=depth(bit_depth),
                **given(DENOISERS, values),
            )
        )
    )


@click.command()
@click.option(
    "--classifier",
    default="fashion-mnist",
    show_default=True,
    help="a shipped classifier (dataset name) or a .safetensors file",
)
@click.option(
    "--defence",
    default="none",
    show_default=True,
    type=click.Choice(DEFENCES.names()),
    help="; ".join(f"{e.name}: {e.description}" for e in DEFENCES),
)
@click.option("--model", "run", type=click.Path(), help="trained run for the model defences")
@click.option(
    "--attack",
    "attack_name",
    default="pgd",
    show_default=True,
    type=click.Choice(ATTACKS.names()),
    help="; ".join(f"{e.name}: {e.description}" for e in ATTACKS),
)
@table_options(ATTACKS)
@table_options(DEFENCES, prefix="defence")
@click.option("--data", help="test data (default: the classifier's dataset)")
@click.option("--images", default=500, show_default=True, type=int, help="test images attacked")
@click.option(
    "--adaptive/--no-adaptive", default=True, show_default=True, help="also attack through the defence (BPDA/EOT)"
)
@click.option("--batch-size", default=250, show_default=True, type=click.IntRange(min=1))
@click.option("--sample-seed", default=0, show_default=True, type=click.IntRange(min=0), help="which test images")
@DEVICE
def robustness(
    classifier, defence, run, attack_name, data, images, adaptive, batch_size, sample_seed, device, **values
):
    """Accuracy of a classifier under attack, with and without a purification defence; prints one JSON object.

    Reports clean accuracy, accuracy behind the defence, and robust accuracy under the attack made against the
    classifier alone (unaware) and against classifier+defence (adaptive: exact gradients through a
    differentiable defence, BPDA through others, EOT over random ones).

    \b
    Example:
      imsynth robustness --defence none --attack pgd --eps 0.1
      imsynth robustness --defence vae --model runs/dvae --attack pgd --eps 0.1 --steps 40
      imsynth robustness --defence diffusion --model runs/ddpm --defence-strength 0.15 --attack pgd --eot 4
      imsynth robustness --classifier robust.safetensors --attack cw-l2 --images 200
    """
    attack_options = given(ATTACKS, values)
    defence_options = given(DEFENCES, values, prefix="defence")
    result = evaluate_robustness(
        classifier=classifier,
        defence=defence,
        attack_name=attack_name,
        run=run,
        data=data,
        images=images,
        adaptive=adaptive,
        batch_size=batch_size,
        seed=sample_seed,
        device=device,
        defence_options=defence_options,
        **attack_options,
    )
    click.echo(json.dumps(result))
