"""Standard Inception FID, only from weights the user already has on disk (nothing is downloaded).

torchmetrics computes it with torch-fidelity's Inception-v3 port; ``PATH`` is that network's weights file
(``pt_inception-2015-12-05-6726825d.pth``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchmetrics.image.fid import FrechetInceptionDistance

from ..errors import InputError
from ..runtime.tensors import from_model


def check_inception(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such Inception weights file (imsynth never downloads it)")
    try:
        import torch_fidelity  # noqa: F401  (optional dependency)
    except ImportError:
        raise InputError(f"{path}: --inception needs the torch-fidelity package (pip install torch-fidelity)") from None
    return path


def inception_fid(real: torch.Tensor, fake: torch.Tensor, path: str | Path) -> dict:
    """FID of uint8 NCHW ``real`` against NCHW [-1, 1] ``fake`` on the Inception weights at ``path``."""
    path = check_inception(path)
    metric = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(path))
    for images, is_real in ((real, True), (from_model(fake), False)):
        for start in range(0, len(images), 100):
            batch = images[start : start + 100]
            metric.update(batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch, real=is_real)
    return {"fid": float(metric.compute()), "weights": str(path), "n": len(real)}
