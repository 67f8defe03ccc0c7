"""The model commands: ``datasets``, ``models``, ``train``, ``sample``, ``eval``, ``explore``, ``inpaint``, ``probe``,
``augment``, ``features``, ``demo``. Choices come from the tables (models, samplers, inpainting methods); each
command is one call into the public API."""

from __future__ import annotations

import json
import os

import click

from ..apps.augment import augmentation_value, write_generated_dataset
from ..apps.demo import run_demo
from ..apps.explore import MODES
from ..apps.explore import explore as run_explore
from ..apps.inpaint import inpaint_file
from ..apps.probe import linear_probe
from ..apps.sampling import write_samples
from ..apps.text import homotopy, load_text_run, require_text_model, sample_sentences, write_lines
from ..apps.text import reconstruct as reconstruct_sentence
from ..classical.inpainting import INPAINTING
from ..config import read_config_file, to_dict
from ..data import list_datasets, load_dataset
from ..errors import InputError
from ..evaluate import evaluate_run
from ..metrics.features import describe_shipped, shipped_path, train_feature_net
from ..models import MODEL_REGISTRY, TextGenerator, get_preset, load_run, presets_for
from ..models.samplers import SAMPLERS
from ..runtime.classifier import ARCHITECTURES
from ..train import describe, train_from_options
from .options import BIT_DEPTH, DEVICE, depth, given, method_choice, table_options


@click.command()
def datasets() -> None:
    """List every dataset, whether it is available here, its size and where it is.

    \b
    Example:
      imsynth datasets
    """
    for row in list_datasets():
        mark = "yes" if row["available"] else "NO "
        click.echo(f"{row['name']:<14} {mark}  {row['size']:<40} {row['where']}")


@click.command()
def models() -> None:
    """List registered models and their default configs.

    \b
    Example:
      imsynth models
    """
    for name, entry in sorted(MODEL_REGISTRY.items()):
        click.echo(f"{name:<12} {entry.description}")
        shown = {
            k: v
            for k, v in to_dict(entry.default_config()).items()
            if k not in ("channels", "image_size", "num_classes", "dataset_size")
        }
        click.echo(f"{'':<12} {json.dumps(shown)}")
        for preset in presets_for(name):
            click.echo(f"{'':<12} --preset {preset.budget}: {' '.join(preset.settings)}")
            click.echo(f"{'':<12}   ({preset.description})")


@click.command()
@click.argument("model", type=click.Choice(MODEL_REGISTRY.names()), metavar="MODEL")
@click.option(
    "--data", "data_name", help="dataset name (see `imsynth datasets`); default digits, or the run's own with --resume"
)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option("--steps", type=int, help="stop after this many optimisation steps")
@click.option("--epochs", type=float, help="stop after this many passes over the train split")
@click.option("--minutes", type=float, help="stop after this much wall time")
@click.option("--resume", is_flag=True, help="continue the run in --out exactly where it stopped")
@click.option(
    "--init",
    "init",
    type=click.Path(file_okay=False),
    help="fine-tune: start from this run's weights and model config (same model; --set may change the rest)",
)
@click.option("--seed", type=int, help="random seed (default 0)")
@DEVICE
@click.option("--image-size", type=int, help="resize images to this square size")
@click.option("--limit", type=int, help="use only the first N train/test images")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="override a model or train config field, e.g. --set beta=4 --set train.lr=2e-3 (all are applied, "
    "then checked together)",
)
@click.option(
    "--preset",
    help="settings tuned for a budget, e.g. cpu-30min (see `imsynth models`); --config and --set come after",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="a config file (best.json of imsynth tune); its settings come first, --set after",
)
@click.option(
    "--dry-run", is_flag=True, help="check the options, data and model, print the resolved config, do not train"
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(
    model,
    data_name,
    out,
    steps,
    epochs,
    minutes,
    resume,
    init,
    seed,
    device,
    image_size,
    limit,
    assignments,
    preset,
    config_file,
    dry_run,
    quiet,
):
    """Train MODEL on a dataset into a run directory. Ctrl-C (or SIGTERM) finishes the step, writes a checkpoint
    and prints the --resume command (exit 130 / 143); a second one aborts at once.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 30
      imsynth train beta-tcvae --data shapes --out runs/tc --steps 5000 --set beta=6
      imsynth train dcgan --out runs/wgan --set loss=wasserstein --set gp_weight=10 --set d_norm=none --dry-run
      torchrun --nproc_per_node 2 -m imsynth.cli train vae --data digits --out runs/ddp --steps 500
      imsynth train hyperprior --data photos --init runs/hp-gpu --out runs/hp-tuned --minutes 30
      imsynth train dcgan --data fashion-mnist --config tune/best.json --out runs/tuned --minutes 30
      imsynth train vae --data fashion-mnist --preset cpu-30min --out runs/vae-cpu --minutes 30
    """
    if config_file:
        assignments = (*read_config_file(config_file, model), *assignments)
    if preset:
        assignments = (*get_preset(model, preset).settings, *assignments)
    result = train_from_options(
        model,
        out,
        data=data_name,
        steps=steps,
        epochs=epochs,
        minutes=minutes,
        resume=resume,
        init=init,
        seed=seed,
        device=device,
        image_size=image_size,
        limit=limit,
        assignments=assignments,
        quiet=quiet,
        dry_run=dry_run,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(json.dumps(result) if dry_run else describe(result))


@click.command()
@click.argument("run", type=click.Path())
@click.option("-n", "count", default=64, show_default=True, type=int, help="number of samples")
@click.option(
    "-o",
    "out",
    type=click.Path(),
    help="grid.png, samples.npz (uint8 NxHxWxC + labels) or DIR/ (one PNG each); text runs: sentences.txt "
    "(default: printed)",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--class", "class_index", type=int, help="class to sample (conditional models)")
@click.option(
    "--sampler",
    type=click.Choice(SAMPLERS.names()),
    help=f"diffusion runs (default: the run's own, ddim): {SAMPLERS.help_text()}",
)
@click.option("--steps", type=int, help="diffusion runs: sampling steps, 1..training timesteps (default 50)")
@click.option("--eta", type=float, help="ddim: 0 deterministic .. 1 as stochastic as ddpm (default 0)")
@click.option("--guidance", type=float, help="conditional diffusion runs: classifier-free guidance scale (1 = none)")
@click.option("--temperature", type=float, help="text runs: softmax temperature (default 1)")
@click.option(
    "--top-p", type=float, help="text runs: nucleus sampling, the smallest token set of this mass (default 1)"
)
@click.option("--greedy", is_flag=True, help="text runs: the most likely token at every step")
@DEVICE
def sample(run, count, out, seed, class_index, sampler, steps, eta, guidance, temperature, top_p, greedy, device):
    """Draw samples from a trained run: images, or sentences from a text run.

    \b
    Example:
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth sample runs/cvae -n 16 --class 3 -o threes.png
      imsynth sample runs/vae -n 1000 -o samples.npz
      imsynth sample runs/ddpm -n 64 -o grid.png --sampler ddim --steps 50
      imsynth sample runs/ddpm-cond -n 16 --class 3 --guidance 3.0 -o threes.png
      imsynth sample runs/text-vae -n 10 --top-p 0.9
    """
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
        click.echo(str(write_lines(out, lines)) if out else "\n".join(lines))
        return
    if temperature is not None or top_p is not None or greedy:
        raise InputError(f"{run}: --temperature, --top-p and --greedy apply to text runs; this is an image run")
    if out is None:
        raise InputError(f"{run}: an image run needs -o (grid.png, samples.npz or DIR/)")
    options = {"sampler": sampler, "steps": steps, "eta": eta, "guidance": guidance}
    path = write_samples(run, out, count=count, seed=seed, class_index=class_index, device=device, sampling=options)
    click.echo(str(path))


@click.command()
@click.argument("run", type=click.Path())
@click.argument("sentence")
@click.option("--samples", default=0, show_default=True, type=int, help="also decode this many posterior draws")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@DEVICE
def reconstruct(run, sentence, samples, seed, device):
    """Encode SENTENCE with a text-vae run and decode it again (greedy, from the posterior mean); prints JSON.

    \b
    Example:
      imsynth reconstruct runs/text-vae "you will meet a tall, dark stranger."
    """
    model, _ = load_text_run(run, device=device, encoder=True)
    click.echo(json.dumps(reconstruct_sentence(model, sentence, samples=samples, seed=seed)))


@click.command("eval")
@click.argument("run", type=click.Path())
@click.option("--data", "data_name", help="dataset to compare with (default: the run's own)")
@click.option("--n", "count", default=5000, show_default=True, type=int, help="images for sample-quality metrics")
@click.option(
    "--k",
    "importance_samples",
    default=500,
    show_default=True,
    type=int,
    help="importance samples per image for the NLL bound",
)
@click.option("--likelihood-images", default=1000, show_default=True, type=int, help="test images for ELBO/NLL")
@click.option("--feature-net", type=click.Path(), help="feature network weights (default: the shipped one)")
@click.option("--inception", type=click.Path(), help="locally present Inception weights (never downloaded)")
@DEVICE
def evaluate(run, data_name, count, importance_samples, likelihood_images, feature_net, inception, device):
    """Print one JSON object with every metric that applies to RUN.

    \b
    Example:
      imsynth eval runs/vae --n 5000 --k 500
    """
    click.echo(
        json.dumps(
            evaluate_run(
                run,
                data=data_name,
                n=count,
                importance_samples=importance_samples,
                likelihood_images=likelihood_images,
                feature_net=feature_net,
                inception=inception,
                device=device,
            )
        )
    )


@click.command()
@click.argument("run", type=click.Path())
@click.option("-o", "out", type=click.Path(), help="a .png grid or a .gif animation (image runs)")
@click.option("--from", "start", help="text runs: the sentence the path starts at (default: a prior draw)")
@click.option("--to", "end", help="text runs: the sentence it ends at (default: a prior draw)")
@click.option(
    "--mode",
    default="slerp",
    show_default=True,
    type=click.Choice(MODES),
    help="interpolation, random walk, or principal directions (GANSpace-like)",
)
@click.option("--rows", default=6, show_default=True, type=int, help="grid rows (interpolations or walks)")
@click.option("--steps", default=8, show_default=True, type=int, help="images per row")
@click.option("--frames", default=48, show_default=True, type=int, help="frames of a .gif")
@click.option("--components", default=8, show_default=True, type=int, help="directions shown with --mode pca")
@click.option("--span", default=2.0, show_default=True, type=float, help="how far along each direction (std)")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--class", "class_index", type=int, help="class to explore (conditional models)")
@DEVICE
def explore(run, out, start, end, mode, rows, steps, frames, components, span, seed, class_index, device):
    """Explore the latent space of a GAN, VAE, diffusion or text-vae run: interpolations, random walks, principal
    directions (GAN/VAE). A diffusion run's latent is its initial noise, decoded by deterministic DDIM. A text-vae
    run prints the sentences along the path between --from and --to (Bowman et al.'s homotopies).

    \b
    Example:
      imsynth explore runs/dcgan -o slerp.png --mode slerp --rows 6 --steps 10
      imsynth explore runs/dcgan -o walk.gif --mode walk --frames 60
      imsynth explore runs/vae -o directions.png --mode pca --components 8
      imsynth explore runs/ddpm -o ddim-slerp.png --mode slerp --rows 4 --steps 8
      imsynth explore runs/text-vae --mode lerp --from "i love you." --to "go away." --steps 8
    """
    model, _ = load_run(run, device=device)
    if isinstance(model, TextGenerator):
        require_text_model(model, run, encoder=True)
        click.echo("\n".join(homotopy(model, start, end, steps=steps, mode=mode, seed=seed)))
        return
    if start is not None or end is not None:
        raise InputError(f"{run}: --from and --to are sentences for text runs; this is an image run")
    if out is None:
        raise InputError(f"{run}: an image run needs -o (a .png grid or a .gif animation)")
    click.echo(
        json.dumps(
            run_explore(
                model,
                out,
                mode=mode,
                rows=rows,
                steps=steps,
                frames=frames,
                components=components,
                span=span,
                seed=seed,
                class_index=class_index,
            )
        )
    )


@click.command()
@click.argument("image", type=click.Path())
@click.argument("mask", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@method_choice(INPAINTING, required=True)
@click.option("--model", "run", type=click.Path(), help="trained run for the model methods")
@click.option("--class", "class_index", type=int, help="the image's class (conditional models)")
@table_options(INPAINTING)
@BIT_DEPTH
@DEVICE
def inpaint(image, mask, out, method, run, class_index, bit_depth, device, **values):
    """Fill the hole of IMAGE where MASK (a PNG, nonzero = hole) is set.

    \b
    Example:
      imsynth inpaint shirt.png hole.png -o filled.png --method gan --model runs/dcgan
      imsynth inpaint shirt.png hole.png -o filled.png --method diffusion --model runs/ddpm
      imsynth inpaint photo.png hole.png -o filled.png --method patchmatch --source grass.png
      imsynth inpaint scan16.png hole.png -o filled.png --method biharmonic   (16 bits in, 16 bits out)
    """
    click.echo(
        str(
            inpaint_file(
                image,
                mask,
                out,
                method=method,
                run=run,
                class_index=class_index,
                device=device,
                bit_depth=depth(bit_depth),
                **given(INPAINTING, values),
            )
        )
    )


@click.command()
@click.argument("run", type=click.Path())
@click.option("--train-images", default=10000, show_default=True, type=int, help="labelled images to fit the probe")
@click.option("--test-images", default=10000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@DEVICE
def probe(run, train_images, test_images, seed, device):
    """Linear-probe accuracy of a run's frozen features (GAN discriminator, VAE encoder), against the same
    network untrained and raw pixels.

    \b
    Example:
      imsynth probe runs/dcgan --train-images 10000
    """
    click.echo(
        json.dumps(linear_probe(run, train_images=train_images, test_images=test_images, seed=seed, device=device))
    )


@click.command()
@click.argument("run", type=click.Path())
@click.option("-o", "out", type=click.Path(), help="write the generated set: FILE.npz or DIR/ (one folder per class)")
@click.option("-n", "count", default=10000, show_default=True, type=int, help="images to generate")
@click.option("--evaluate", is_flag=True, help="also measure the augmentation gain and the CAS")
@click.option("--real", default=1000, show_default=True, type=int, help="labelled real images for --evaluate")
@click.option("--generated", default=5000, show_default=True, type=int, help="generated images for --evaluate")
@click.option("--steps", default=600, show_default=True, type=int, help="classifier steps for --evaluate")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@DEVICE
def augment(run, out, count, evaluate, real, generated, steps, seed, device):
    """Generated images as training data: write them as a dataset and/or measure their value.

    \b
    Example:
      imsynth augment runs/cgan -o generated.npz -n 10000
      imsynth train vae --data npz:generated.npz --out runs/on-generated
      imsynth augment runs/cgan --evaluate --real 1000 --generated 5000
    """
    if out is None and not evaluate:
        raise InputError("say what to do: -o OUT to write the set, --evaluate to measure it, or both")
    if out is not None:
        click.echo(str(write_generated_dataset(run, out, count=count, seed=seed, device=device)))
    if evaluate:
        click.echo(
            json.dumps(augmentation_value(run, real=real, generated=generated, steps=steps, seed=seed, device=device))
        )


@click.group()
def features() -> None:
    """In-domain feature networks for FID/KID/precision-recall."""


@features.command("train")
@click.option("--data", "data_name", required=True, help="a labelled dataset")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(), help="weights file (default: the package's shipped location)")
@click.option(
    "--adversarial-eps", default=0.0, show_default=True, type=float, help="PGD adversarial training (0-1 scale)"
)
@click.option(
    "--adversarial-steps", default=7, show_default=True, type=click.IntRange(min=1), help="PGD steps per batch"
)
@click.option(
    "--architecture",
    type=click.Choice(ARCHITECTURES),
    default="vgg",
    show_default=True,
    help="vgg: the first shipped network; resnet: the second (another architecture, trained independently)",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--quiet", is_flag=True)
def features_train(data_name, epochs, out, adversarial_eps, adversarial_steps, architecture, seed, quiet):
    """Train a feature network (a classifier) on a dataset's train split and report test accuracy.

    \b
    Example:
      imsynth features train --data fashion-mnist --epochs 10
      imsynth features train --data fashion-mnist --adversarial-eps 0.1 --out robust.safetensors
      imsynth features train --data fashion-mnist --architecture resnet --seed 1   # the second shipped network
    """
    if adversarial_eps < 0:
        raise InputError(f"--adversarial-eps must be >= 0, got {adversarial_eps}")
    if adversarial_eps > 0 and out is None:
        raise InputError("an adversarially trained network is no feature network for FID: give --out")
    dataset = load_dataset(data_name)
    _, info = train_feature_net(
        dataset,
        out or shipped_path(data_name, architecture),
        epochs=epochs,
        seed=seed,
        architecture=architecture,
        quiet=quiet,
        adversarial_eps=adversarial_eps,
        adversarial_steps=adversarial_steps,
    )
    click.echo(json.dumps(info))


@features.command("list")
def features_list() -> None:
    """Show the shipped feature networks and their test accuracy."""
    for row in describe_shipped():
        click.echo(json.dumps(row))


@click.command()
@click.option("--out", default="demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--steps", default=3000, show_default=True, type=int)
@click.option("--quiet", is_flag=True)
def demo(out, steps, quiet):
    """Train a VAE on the bundled digits (about a minute) and write pictures and metrics to --out.

    \b
    Example:
      imsynth demo --out demo && open demo/index.html
    """
    index = run_demo(out, steps=steps, quiet=quiet)
    click.echo(f"wrote {index}")
