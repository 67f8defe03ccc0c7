"""Exact gradients through the purifiers an adaptive attack must go through: the diffusion purifier's whole
reverse chain (checkpointed) and the GAN projection's unrolled inversion give the derivative finite differences
measure, and they are what the defences declare."""

import pytest
import torch

from imsynth.apps.purify import PURIFIERS
from imsynth.apps.robustness import make_defence
from imsynth.models import load_run


def image_shape(model):
    return (model.config.channels, model.config.image_size, model.config.image_size)


def directional_check(purify, images, seed=0, step=1e-3):
    """(autograd's derivative along a random direction, the central finite difference along it)."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(images.shape, generator=generator)
    weights = torch.randn(images.shape, generator=generator)
    probe = images.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad((purify(probe) * weights).sum(), probe)
    with torch.no_grad():
        ahead = (purify(images + step * direction) * weights).sum()
        behind = (purify(images - step * direction) * weights).sum()
    return float((gradient * direction).sum()), float((ahead - behind) / (2 * step))


def test_diffusion_purification_is_differentiable_through_its_whole_chain(ddpm_run):
    model = load_run(ddpm_run)[0]
    images = torch.rand(3, *image_shape(model), generator=torch.Generator().manual_seed(1))
    images = images * 0.6 + 0.2  # inside the range, so the final clamp is not what the check measures

    def purify(x):  # a fixed noise draw, so the function is deterministic and finite differences mean something
        entry = PURIFIERS.get("diffusion")
        return entry(model=model, strength=0.3, steps=3, sampler="ddpm", seed=5).purify(x)

    exact, measured = directional_check(purify, images)
    assert abs(exact) > 1e-6
    assert exact == pytest.approx(measured, rel=0.03)
    assert make_defence("diffusion", model=model).differentiable
    with torch.no_grad():  # without gradients it keeps no graph (restoration, BPDA)
        assert not purify(images).requires_grad


def test_gan_projection_unrolls_its_inversion_for_exact_gradients(gan_run):
    # Adam's normalised steps make the map sharply curved (its first step is nearly a sign, g / (|g| + eps)), so
    # the finite difference needs double precision and a step that straddles no gradient component crossing zero:
    # which step that is depends on the trained weights (seen: 1e-4 agreeing within 2% for one fixture, and off by
    # 28% for another whose 1e-3 agreed to 0.9%), so the exact derivative must match one of two; a wrong one would
    # have to match a finite difference by chance
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = load_run(gan_run)[0].double()
        images = torch.rand(2, *image_shape(model), generator=torch.Generator().manual_seed(2))

        def purify(x):
            return PURIFIERS.get("projection")(model=model, steps=4, restarts=2, seed=3).purify(x)

        checks = [directional_check(purify, images, step=step) for step in (1e-3, 1e-4)]
        with torch.no_grad():
            plain = purify(images)
        unrolled = purify(images)
    finally:
        torch.set_default_dtype(previous)
    exact = checks[0][0]
    assert abs(exact) > 1e-6
    assert any(exact == pytest.approx(measured, rel=0.02) for _, measured in checks), checks
    assert torch.allclose(unrolled, plain, atol=1e-6)  # unrolled or not, the projection is the same function
