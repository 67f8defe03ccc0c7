"""The ``imsynth`` command line. It parses options and calls the public API; it holds no logic.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error or a failure of the
work itself (for example a diverged training run). IMSYNTH_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys

import click

from .errors import ImsynthError


def _fail(message: str, code: int) -> None:
    click.echo(f"imsynth: error: {message}".replace("\n", " "), err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="imsynth")
def cli() -> None:
    """Image synthesis: classical templates, deformation and deep generative models.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 10
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth eval runs/vae
    """


@cli.command()
def datasets() -> None:
    """List every dataset, whether it is available here, its size and where it is.

    \b
    Example:
      imsynth datasets
    """
    from .data import list_datasets

    for row in list_datasets():
        mark = "yes" if row["available"] else "NO "
        click.echo(f"{row['name']:<14} {mark}  {row['size']:<40} {row['where']}")


@cli.command()
def models() -> None:
    """List registered models and their default configs.

    \b
    Example:
      imsynth models
    """
    from .config import to_dict
    from .models import MODEL_REGISTRY

    for name, entry in sorted(MODEL_REGISTRY.items()):
        click.echo(f"{name:<12} {entry.description}")
        shown = {k: v for k, v in to_dict(entry.default_config()).items()
                 if k not in ("channels", "image_size", "num_classes", "dataset_size")}
        click.echo(f"{'':<12} {json.dumps(shown)}")


@cli.command()
@click.argument("model")
@click.option("--data", "data_name", help="dataset name (see `imsynth datasets`); default digits, or the run's own with --resume")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="run directory")
@click.option("--steps", type=int, help="stop after this many optimisation steps")
@click.option("--epochs", type=float, help="stop after this many passes over the train split")
@click.option("--minutes", type=float, help="stop after this much wall time")
@click.option("--resume", is_flag=True, help="continue the run in --out exactly where it stopped")
@click.option("--seed", type=int, help="random seed (default 0)")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N or mps")
@click.option("--image-size", type=int, help="resize images to this square size")
@click.option("--limit", type=int, help="use only the first N train/test images")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="override a model or train config field, e.g. --set beta=4 --set train.lr=2e-3")
@click.option("--quiet", is_flag=True, help="no progress bar")
def train(model, data_name, out, steps, epochs, minutes, resume, seed, device, image_size, limit, assignments, quiet):
    """Train MODEL on a dataset into a run directory.

    \b
    Example:
      imsynth train vae --data fashion-mnist --out runs/vae --minutes 30
      imsynth train beta-tcvae --data shapes --out runs/tc --steps 5000 --set beta=6
      torchrun --nproc_per_node 2 -m imsynth.cli train vae --data digits --out runs/ddp --steps 500
    """
    import dataclasses

    from .config import apply_overrides
    from .data import load_dataset
    from .errors import InputError
    from .models import get_entry
    from .train import train as run_training
    from .train.engine import describe

    entry = get_entry(model)
    if resume and assignments:
        raise InputError("--set cannot change a run being resumed; it continues with its own config.json")
    configs = apply_overrides({"model": entry.default_config(), "train": entry.default_train_config()},
                              list(assignments))
    budget = {k: v for k, v in {"steps": steps, "epochs": epochs, "minutes": minutes, "seed": seed}.items() if v is not None}
    train_config = dataclasses.replace(configs["train"], **budget)
    if resume and data_name is None:
        from .train.checkpoint import CONFIG, read_json, require_run

        saved = read_json(require_run(out) / CONFIG)["data"]
        data_name, image_size = saved["name"], image_size or saved["image_size"]
    dataset = load_dataset(data_name or "digits", image_size=image_size, limit=limit)
    result = run_training(model, dataset, out, model_config=configs["model"], train_config=train_config,
                          resume=resume, device=device, quiet=quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        click.echo(describe(result))


@cli.command()
@click.argument("run", type=click.Path())
@click.option("-n", "count", default=64, show_default=True, type=int, help="number of samples")
@click.option("-o", "out", required=True, type=click.Path(),
              help="grid.png, samples.npz (uint8 NxHxWxC + labels) or DIR/ (one PNG each)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--class", "class_index", type=int, help="class to sample (conditional models)")
@click.option("--sampler", help="diffusion runs: ddpm or ddim (default: the run's, ddim)")
@click.option("--steps", type=int, help="diffusion runs: sampling steps, 1..training timesteps (default 50)")
@click.option("--eta", type=float, help="ddim: 0 deterministic .. 1 as stochastic as ddpm (default 0)")
@click.option("--guidance", type=float, help="conditional diffusion runs: classifier-free guidance scale (1 = none)")
@click.option("--device", default="auto", show_default=True)
def sample(run, count, out, seed, class_index, sampler, steps, eta, guidance, device):
    """Draw samples from a trained run.

    \b
    Example:
      imsynth sample runs/vae -n 64 -o grid.png
      imsynth sample runs/cvae -n 16 --class 3 -o threes.png
      imsynth sample runs/vae -n 1000 -o samples.npz
      imsynth sample runs/ddpm -n 64 -o grid.png --sampler ddim --steps 50
      imsynth sample runs/ddpm-cond -n 16 --class 3 --guidance 3.0 -o threes.png
    """
    from .apps.sampling import write_samples

    options = {"sampler": sampler, "steps": steps, "eta": eta, "guidance": guidance}
    path = write_samples(run, out, count=count, seed=seed, class_index=class_index, device=device, sampling=options)
    click.echo(str(path))


@cli.command("eval")
@click.argument("run", type=click.Path())
@click.option("--data", "data_name", help="dataset to compare with (default: the run's own)")
@click.option("--n", "count", default=5000, show_default=True, type=int, help="images for sample-quality metrics")
@click.option("--k", "importance_samples", default=500, show_default=True, type=int,
              help="importance samples per image for the NLL bound")
@click.option("--likelihood-images", default=1000, show_default=True, type=int, help="test images for ELBO/NLL")
@click.option("--feature-net", type=click.Path(), help="feature network weights (default: the shipped one)")
@click.option("--inception", type=click.Path(), help="locally present Inception weights (never downloaded)")
@click.option("--device", default="auto", show_default=True)
def evaluate(run, data_name, count, importance_samples, likelihood_images, feature_net, inception, device):
    """Print one JSON object with every metric that applies to RUN.

    \b
    Example:
      imsynth eval runs/vae --n 5000 --k 500
    """
    from .errors import InputError
    from .evaluate import evaluate_run

    if count < 2 or importance_samples < 1 or likelihood_images < 1:
        raise InputError("--n must be >= 2, --k and --likelihood-images >= 1")
    if inception is not None:
        from .metrics.inception import check_inception

        check_inception(inception)
    report = evaluate_run(run, data=data_name, n=count, importance_samples=importance_samples,
                          likelihood_images=likelihood_images, feature_net=feature_net, device=device)
    if inception is not None:
        from .metrics.inception import inception_fid

        report["inception_fid"] = inception_fid(run, inception, n=count, device=device)
    click.echo(json.dumps(report))


@cli.command()
@click.argument("run", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="a .png grid or a .gif animation")
@click.option("--mode", default="slerp", show_default=True, type=click.Choice(["lerp", "slerp", "walk", "pca"]),
              help="interpolation, random walk, or principal directions (GANSpace-like)")
@click.option("--rows", default=6, show_default=True, type=int, help="grid rows (interpolations or walks)")
@click.option("--steps", default=8, show_default=True, type=int, help="images per row")
@click.option("--frames", default=48, show_default=True, type=int, help="frames of a .gif")
@click.option("--components", default=8, show_default=True, type=int, help="directions shown with --mode pca")
@click.option("--span", default=2.0, show_default=True, type=float, help="how far along each direction (std)")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--class", "class_index", type=int, help="class to explore (conditional models)")
@click.option("--device", default="auto", show_default=True)
def explore(run, out, mode, rows, steps, frames, components, span, seed, class_index, device):
    """Explore the latent space of a GAN, VAE or diffusion run: interpolations, random walks, principal
    directions (GAN/VAE). A diffusion run's latent is its initial noise, decoded by deterministic DDIM.

    \b
    Example:
      imsynth explore runs/dcgan -o slerp.png --mode slerp --rows 6 --steps 10
      imsynth explore runs/dcgan -o walk.gif --mode walk --frames 60
      imsynth explore runs/vae -o directions.png --mode pca --components 8
      imsynth explore runs/ddpm -o ddim-slerp.png --mode slerp --rows 4 --steps 8
    """
    from .apps.explore import explore as run_explore
    from .train import load_run

    model, _ = load_run(run, device=device)
    click.echo(json.dumps(run_explore(model, out, mode=mode, rows=rows, steps=steps, frames=frames,
                                      components=components, span=span, seed=seed, class_index=class_index)))


@cli.command()
@click.argument("image", type=click.Path())
@click.argument("mask", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--method", required=True,
              help="classical: fill-constant, fill-mean, fill-nearest, interp-nearest, interp-linear, interp-cubic, "
                   "rbf, harmonic, biharmonic, push-pull, exemplar (Criminisi), patchmatch; model-based: gan (needs "
                   "--model: a GAN or VAE run), diffusion (needs --model: a diffusion run)")
@click.option("--model", "run", type=click.Path(), help="trained run for model-based methods")
@click.option("--class", "class_index", type=int, help="the image's class (conditional models)")
@click.option("--steps", type=int, help="gan: inversion steps (300); diffusion: reverse steps (100)")
@click.option("--restarts", default=4, show_default=True, type=int, help="gan: random starts, best kept")
@click.option("--jump", "jump_length", default=10, show_default=True, type=int,
              help="diffusion: RePaint jump length (steps gone back up each time)")
@click.option("--resamplings", default=5, show_default=True, type=int,
              help="diffusion: RePaint passes over each segment (1 = plain replacement)")
@click.option("--patch", type=int, help="exemplar/patchmatch: odd patch size (defaults 9 and 7)")
@click.option("--source", "source_path", type=click.Path(), help="patchmatch: take patches from this image instead")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
def inpaint(image, mask, out, method, run, class_index, steps, restarts, jump_length, resamplings, patch, source_path,
            seed, device):
    """Fill the hole of IMAGE where MASK (a PNG, nonzero = hole) is set.

    \b
    Example:
      imsynth inpaint shirt.png hole.png -o filled.png --method gan --model runs/dcgan
      imsynth inpaint shirt.png hole.png -o filled.png --method diffusion --model runs/ddpm
      imsynth inpaint photo.png hole.png -o filled.png --method patchmatch
      imsynth inpaint photo.png hole.png -o filled.png --method patchmatch --source grass.png
      imsynth inpaint photo.png hole.png -o filled.png --method biharmonic
    """
    from .apps.inpaint import inpaint_file
    from .errors import InputError

    if steps is not None and steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    click.echo(str(inpaint_file(image, mask, out, method=method, run=run, class_index=class_index, steps=steps,
                                restarts=restarts, jump_length=jump_length, resamplings=resamplings, seed=seed,
                                patch=patch, source_path=source_path, device=device)))


def _size(text: str) -> tuple[int, int]:
    from .errors import InputError

    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise InputError(f"--size must look like WIDTHxHEIGHT (e.g. 256x256), got {text!r}")
    return int(parts[0]), int(parts[1])


@cli.command()
@click.argument("sample", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--size", required=True, help="WIDTHxHEIGHT of the result")
@click.option("--method", default="quilting", show_default=True,
              type=click.Choice(["efros-leung", "quilting", "multiscale"]))
@click.option("--patch", type=int, help="window (efros-leung, 11), block (quilting, 32) or patch (multiscale, 7)")
@click.option("--seed", default=0, show_default=True, type=int)
def texture(sample, out, size, method, patch, seed):
    """Synthesise a texture of --size from a SAMPLE image.

    \b
    Example:
      imsynth texture brick.png -o wall.png --size 256x256 --method quilting
      imsynth texture grass.png -o lawn.png --size 512x256 --method multiscale --seed 3
    """
    from .apps.classical import texture_file

    click.echo(str(texture_file(sample, out, size=_size(size), method=method, patch=patch, seed=seed)))


@cli.command()
@click.argument("image", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--scale", type=float, help="factor for both sides (0.5 halves)")
@click.option("--size", help="WIDTHxHEIGHT instead of --scale")
@click.option("--method", default="bicubic", show_default=True,
              type=click.Choice(["nearest", "bilinear", "bicubic", "lanczos", "area"]))
def resize(image, out, scale, size, method):
    """Resize IMAGE (pixel centres at i + 0.5; anti-aliased when shrinking).

    \b
    Example:
      imsynth resize photo.png -o half.png --scale 0.5 --method area
      imsynth resize icon.png -o big.png --size 512x512 --method lanczos
    """
    from .apps.classical import resize_file

    click.echo(str(resize_file(image, out, scale=scale, size=None if size is None else _size(size), method=method)))


@cli.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.argument("mask", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--levels", type=int, help="pyramid levels (default: as many as fit)")
def blend(a, b, mask, out, levels):
    """Multiband (Laplacian pyramid) blend: B where MASK is nonzero, A elsewhere.

    \b
    Example:
      imsynth blend apple.png orange.png left-half.png -o orapple.png --levels 6
    """
    from .apps.classical import blend_files

    click.echo(str(blend_files(a, b, mask, out, levels=levels)))


@cli.command()
@click.argument("run", type=click.Path())
@click.option("--train-images", default=10000, show_default=True, type=int, help="labelled images to fit the probe")
@click.option("--test-images", default=10000, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
def probe(run, train_images, test_images, seed, device):
    """Linear-probe accuracy of a run's frozen features (GAN discriminator, VAE encoder), against the same
    network untrained and raw pixels.

    \b
    Example:
      imsynth probe runs/dcgan --train-images 10000
    """
    from .apps.probe import linear_probe

    click.echo(json.dumps(linear_probe(run, train_images=train_images, test_images=test_images, seed=seed,
                                       device=device)))


@cli.command()
@click.argument("run", type=click.Path())
@click.option("-o", "out", type=click.Path(), help="write the generated set: FILE.npz or DIR/ (one folder per class)")
@click.option("-n", "count", default=10000, show_default=True, type=int, help="images to generate")
@click.option("--evaluate", is_flag=True, help="also measure the augmentation gain and the CAS")
@click.option("--real", default=1000, show_default=True, type=int, help="labelled real images for --evaluate")
@click.option("--generated", default=5000, show_default=True, type=int, help="generated images for --evaluate")
@click.option("--steps", default=600, show_default=True, type=int, help="classifier steps for --evaluate")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--device", default="auto", show_default=True)
def augment(run, out, count, evaluate, real, generated, steps, seed, device):
    """Generated images as training data: write them as a dataset and/or measure their value.

    \b
    Example:
      imsynth augment runs/cgan -o generated.npz -n 10000
      imsynth train vae --data npz:generated.npz --out runs/on-generated
      imsynth augment runs/cgan --evaluate --real 1000 --generated 5000
    """
    from .apps.augment import augmentation_value, write_generated_dataset
    from .errors import InputError

    if out is None and not evaluate:
        raise InputError("say what to do: -o OUT to write the set, --evaluate to measure it, or both")
    if out is not None:
        click.echo(str(write_generated_dataset(run, out, count=count, seed=seed, device=device)))
    if evaluate:
        click.echo(json.dumps(augmentation_value(run, real=real, generated=generated, steps=steps, seed=seed,
                                                 device=device)))


@cli.command("warp")
@click.argument("image", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="output image")
@click.option("--method", required=True, type=click.Choice(["affine", "similarity", "projective", "tps", "mls-affine",
                                                            "mls-similarity", "mls-rigid", "swirl", "elastic", "mesh"]))
@click.option("--points", "points_path", type=click.Path(), help='JSON {"src": [[x, y], ...], "dst": [[x, y], ...]}')
@click.option("--order", default=1, show_default=True, type=click.Choice(["0", "1", "3"]),
              help="interpolation: 0 nearest, 1 bilinear, 3 bicubic")
@click.option("--mode", default="constant", show_default=True, type=click.Choice(["constant", "edge", "reflect", "wrap"]),
              help="what lies outside the image")
@click.option("--grid", default=4, show_default=True, type=int, help="tps/mls: evaluate the map every N pixels")
@click.option("--strength", default=3.0, show_default=True, type=float, help="swirl: turns; elastic: displacement")
@click.option("--radius", type=float, help="swirl radius in pixels (default: a quarter of the smaller side)")
@click.option("--sigma", default=8.0, show_default=True, type=float, help="elastic: smoothing in pixels")
@click.option("--seed", default=0, show_default=True, type=int, help="elastic: random seed")
def warp_command(image, out, method, points_path, order, mode, grid, strength, radius, sigma, seed):
    """Warp IMAGE so control points move from src to dst (coordinates (x, y) in pixels).

    \b
    Example:
      imsynth warp face.png -o bent.png --method mls-rigid --points drag.json
      imsynth warp photo.png -o swirl.png --method swirl --strength 4
    """
    from .apps.classical import warp_file

    click.echo(str(warp_file(image, out, method=method, points_path=points_path, order=int(order), mode=mode, grid=grid,
                             strength=strength, radius=radius, sigma=sigma, seed=seed)))


@cli.command()
@click.argument("image", type=click.Path())
@click.option("--keyframes", "keyframes_path", required=True, type=click.Path(), help="keyframes JSON (see docs)")
@click.option("-o", "out", required=True, type=click.Path(), help="OUT.gif, OUT.mp4 or a folder/ of PNG frames")
@click.option("--fps", type=float, help="frames per second (default: the keyframe file's, else 12)")
def animate(image, keyframes_path, out, fps):
    """Animate IMAGE by warping it through keyframed control points.

    \b
    Example:
      imsynth animate face.png --keyframes nod.json -o nod.gif
    """
    from .apps.classical import animate_file

    click.echo(str(animate_file(image, keyframes_path, out, fps=fps)))


@cli.command()
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("-o", "out", required=True, type=click.Path(), help="OUT.gif, OUT.mp4 or a folder/ of PNG frames")
@click.option("--frames", default=30, show_default=True, type=int)
@click.option("--method", type=click.Choice(["mesh", "beier-neely", "dissolve"]),
              help="default: mesh with --points, beier-neely with --lines, else dissolve")
@click.option("--points", "points_path", type=click.Path(), help='JSON {"a": [[x, y], ...], "b": [[x, y], ...]}')
@click.option("--lines", "lines_path", type=click.Path(),
              help='JSON {"lines_a": [[[x1, y1], [x2, y2]], ...], "lines_b": [...]}')
@click.option("--fps", default=12.0, show_default=True, type=float)
def morph(a, b, out, frames, method, points_path, lines_path, fps):
    """Morph image A into B (B is resized to A's size when they differ).

    \b
    Example:
      imsynth morph cat.png dog.png -o morph.gif --frames 30 --points pairs.json
      imsynth morph a.png b.png -o morph.mp4 --lines features.json --method beier-neely
    """
    from .apps.classical import morph_files

    click.echo(str(morph_files(a, b, out, frames=frames, method=method, points_path=points_path,
                               lines_path=lines_path, fps=fps)))


@cli.group()
def features() -> None:
    """In-domain feature networks for FID/KID/precision-recall."""


@features.command("train")
@click.option("--data", "data_name", required=True, help="a labelled dataset")
@click.option("--epochs", default=10, show_default=True, type=int)
@click.option("--out", type=click.Path(), help="weights file (default: the package's shipped location)")
@click.option("--quiet", is_flag=True)
def features_train(data_name, epochs, out, quiet):
    """Train a feature network on a dataset's train split and report test accuracy.

    \b
    Example:
      imsynth features train --data fashion-mnist --epochs 10
    """
    from .data import load_dataset
    from .metrics.features import shipped_path, train_feature_net

    dataset = load_dataset(data_name)
    _, info = train_feature_net(dataset, out or shipped_path(data_name), epochs=epochs, quiet=quiet)
    click.echo(json.dumps(info))


@features.command("list")
def features_list() -> None:
    """Show the shipped feature networks and their test accuracy."""
    from .metrics.features import describe_shipped

    for row in describe_shipped():
        click.echo(json.dumps(row))


@cli.command()
@click.option("--out", default="demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--steps", default=3000, show_default=True, type=int)
@click.option("--quiet", is_flag=True)
def demo(out, steps, quiet):
    """Train a VAE on the bundled digits (about a minute) and write pictures and metrics to --out.

    \b
    Example:
      imsynth demo --out demo && open demo/index.html
    """
    from .apps.demo import run_demo

    index = run_demo(out, steps=steps, quiet=quiet)
    click.echo(f"wrote {index}")


def _leave_torchrun_worker() -> None:
    """End a finished torchrun worker without interpreter teardown.

    Seen here about once in ten launches under load: after a complete run (every file written, the process
    group destroyed), a worker aborted at exit with "terminate called without an active exception" (a C++
    thread of torch.distributed destroyed while joinable), and torchrun reported the whole run as failed.
    Everything is already on disk, so a finished worker exits at once instead.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="imsynth", standalone_mode=False)
        _leave_torchrun_worker()
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        _fail("aborted", 130)
    except click.ClickException as error:
        _fail(error.format_message(), 2)
    except ImsynthError as error:
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:  # an internal error: one line unless debugging
        if os.environ.get("IMSYNTH_DEBUG"):
            raise
        _fail(f"internal error: {type(error).__name__}: {error} (set IMSYNTH_DEBUG=1 for a traceback)", 1)


if __name__ == "__main__":
    main()
