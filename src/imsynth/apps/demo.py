"""``imsynth demo``: the main job on the embedded default data, with pictures.

Trains a VAE on scikit-learn's bundled digits (about a minute on 2 CPU cores), then writes sample grids,
reconstructions, latent traversals, an interpolation GIF, training curves, the metrics JSON and an
index.html that shows them all.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import torch

from ..clips import save_gif
from ..data import load_dataset
from ..evaluate import evaluate_run
from ..image import atomic_path, make_grid
from ..models import load_run
from ..runtime.tensors import save_tensor_grid, tensor_to_numpy, to_model
from ..train import TrainConfig, train

SCALE = 8  # 8x8 digits are shown 8x larger, nearest-neighbour


def run_demo(out: str | Path = "demo", *, steps: int = 3000, quiet: bool = False) -> Path:
    out = Path(out)
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)  # the demo always starts afresh
    dataset = load_dataset("digits")
    config = TrainConfig(
        steps=steps,
        batch_size=128,
        lr=2e-3,
        sample_every=max(1, steps // 4),
        checkpoint_every=max(1, steps // 4),
        log_every=25,
    )
    result = train("vae", dataset, run, train_config=config, quiet=quiet)
    model, _ = load_run(run, device="cpu")
    generator = torch.Generator().manual_seed(0)
    save_tensor_grid(out / "samples.png", model.sample(100, generator=generator), nrow=10, scale=SCALE)
    originals = to_model(dataset.test_images[:10])
    with torch.no_grad():
        reconstructions = model.reconstruct(originals)
    save_tensor_grid(out / "reconstructions.png", torch.cat([originals, reconstructions]), nrow=10, scale=SCALE)
    # Show the latents the model uses: rank dimensions by their mean KL on the test set (unused ones have ~0).
    with torch.no_grad():
        mean, log_var = model.encode(to_model(dataset.test_images))
    kl_per_dim = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).mean(0)
    active = kl_per_dim.argsort(descending=True)[:8].tolist()
    save_tensor_grid(
        out / "traversals.png", model.traverse(originals[:1], dims=active, values=11), nrow=11, scale=SCALE
    )
    # Interpolate through a loop of different digits and back, so the GIF plays seamlessly.
    ends = [originals[i : i + 1] for i in (0, 1, 2, 3, 0)]
    frames = torch.cat([model.interpolate(a, b, steps=12)[:-1] for a, b in zip(ends[:-1], ends[1:])])
    save_gif(
        out / "interpolation.gif",
        [make_grid(tensor_to_numpy(f[None]), padding=0).repeat(SCALE * 2, 0).repeat(SCALE * 2, 1) for f in frames],
        duration_ms=90,
    )
    shutil.copyfile(run / "curves.png", out / "curves.png")
    metrics = evaluate_run(
        run,
        n=len(dataset.test_images),
        importance_samples=200,
        likelihood_images=len(dataset.test_images),
        device="cpu",
    )
    metrics["training"] = {"steps": result.step, "img_per_s": round(result.images_per_second, 1)}
    with atomic_path(out / "metrics.json") as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    return write_index(out, metrics)


def write_index(out: Path, metrics: dict) -> Path:
    likelihood = metrics.get("likelihood", {})
    quality = metrics.get("sample_quality", {})
    rows = [
        ("test ELBO (nats)", likelihood.get("elbo")),
        (f"IW-NLL, k={likelihood.get('iw_samples')} (nats)", likelihood.get("iw_nll")),
        ("FID (in-domain features)", quality.get("fid")),
        ("FID floor, train vs test", quality.get("fid_floor_train_vs_test")),
        ("KID", quality.get("kid")),
        (
            "precision / recall",
            f"{quality.get('precision', float('nan')):.3f} / {quality.get('recall', float('nan')):.3f}",
        ),
        (
            "density / coverage",
            f"{quality.get('density', float('nan')):.3f} / {quality.get('coverage', float('nan')):.3f}",
        ),
    ]
    table = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{value:.3f}</td></tr>"
        if isinstance(value, float)
        else f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(value))}</td></tr>"
        for name, value in rows
    )
    net = quality.get("feature_net", {})
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>imsynth demo</title>
<style>body{{font-family:sans-serif;max-width:960px;margin:2em auto}} img{{image-rendering:pixelated;max-width:100%}}
figure{{display:inline-block;margin:1em}} td{{padding:2px 12px}}</style></head><body>
<h1>imsynth demo: a VAE on scikit-learn's digits</h1>
<figure><img src="samples.png"><figcaption>100 samples from the prior</figcaption></figure>
<figure><img src="reconstructions.png"><figcaption>test images (top) and reconstructions (bottom)</figcaption></figure>
<figure><img src="traversals.png"><figcaption>latent traversals: the 8 most-used latents (by KL), one row each, -3 to +3</figcaption></figure>
<figure><img src="interpolation.gif"><figcaption>slerp between test digits' codes</figcaption></figure>
<figure><img src="curves.png"><figcaption>training curves</figcaption></figure>
<h2>Metrics (test split)</h2><table>{table}</table>
<p>Feature network: {html.escape(str(net.get("name")))} (test accuracy {net.get("test_accuracy", float("nan")):.3f}).
Full numbers in <a href="metrics.json">metrics.json</a>.</p></body></html>
"""
    path = out / "index.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page)
    return path
