"""Standard Inception FID, only from weights the user already has on disk (nothing is downloaded).

torchmetrics computes it with torch-fidelity's Inception-v3 port; ``PATH`` is that network's weights file
(``pt_inception-2015-12-05-6726825d.pth``).
"""

from __future__ import annotations

from pathlib import Path


from ..errors import InputError


def check_inception(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such Inception weights file (imsynth never downloads it)")
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        raise InputError(f"{path}: --inception needs the torch-fidelity package (pip install torch-fidelity)") from None
    return path


def inception_fid(run, path: str | Path, *, n: int = 5000, device: str = "cpu") -> dict:
    from torchmetrics.image.fid import FrechetInceptionDistance

    from ..data import from_model, load_dataset
    from ..evaluate import generate
    from ..train import load_run

    path = check_inception(path)
    model, saved = load_run(run, device=device)
    dataset = load_dataset(saved["data"]["name"], image_size=model.config.image_size)
    metric = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(path))
    real = dataset.test_images[:n]
    fake = from_model(generate(model, len(real)))
    for images, is_real in ((real, True), (fake, False)):
        for start in range(0, len(images), 100):
            batch = images[start:start + 100]
            metric.update(batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch, real=is_real)
    return {"fid": float(metric.compute()), "weights": str(path), "n": len(real)}
