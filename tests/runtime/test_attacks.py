"""Attacks: FGSM is one signed-gradient step, PGD stays in its ball and in [0, 1], CW stays in range and
finds the boundary, BPDA passes gradients through a purifier that has none."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from imsynth.errors import InputError
from imsynth.runtime.attacks import ATTACKS, Purified, ZeroOne, _gradient, attack, fgsm, pgd


def linear_classifier(seed=0, classes=3, pixels=16):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(pixels, classes)).eval()


def batch(seed=0, count=12):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(count, 1, 4, 4, generator=generator)
    return images, torch.randint(0, 3, (count,), generator=generator)


def test_fgsm_is_one_signed_gradient_step():
    model = linear_classifier()
    images, labels = batch()
    probe = images.clone().requires_grad_(True)
    F.cross_entropy(model(probe), labels, reduction="sum").backward()
    expected = (images + 0.05 * probe.grad.sign()).clamp(0, 1)
    assert torch.equal(fgsm(model, images, labels, eps=0.05), expected)


@pytest.mark.parametrize("name, eps", [("pgd", 0.07), ("pgd-l2", 0.4)])
def test_pgd_never_leaves_the_ball_or_the_unit_range_and_raises_the_loss(name, eps):
    model = linear_classifier(1)
    images, labels = batch(1)
    images[:3] = 0.0  # corners of the box: projection must clamp
    adversarial = attack(name, model, images, labels, eps=eps, steps=10, restarts=2)
    delta = (adversarial - images).flatten(1)
    size = delta.abs().max(1).values if name == "pgd" else delta.norm(dim=1)
    assert (size <= eps + 1e-6).all()
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    with torch.no_grad():
        clean_loss = F.cross_entropy(model(images), labels)
        assert F.cross_entropy(model(adversarial), labels) > clean_loss


def test_pgd_with_a_large_budget_fools_a_linear_model_and_is_seeded():
    model = linear_classifier(2)
    images, labels = batch(2)
    first = pgd(model, images, labels, eps=0.5, steps=20, seed=3)
    assert torch.equal(first, pgd(model, images, labels, eps=0.5, steps=20, seed=3))
    with torch.no_grad():
        assert (model(first).argmax(1) != labels).float().mean() >= 0.9
    assert torch.equal(pgd(model, images, labels, eps=0.0, steps=3), images)


def test_cw_stays_in_range_and_finds_small_successful_perturbations():
    model = linear_classifier(3)
    images, labels = batch(3)
    with torch.no_grad():
        labels = model(images).argmax(1)  # attack correctly classified points
    adversarial = attack("cw-l2", model, images, labels, steps=60, lr=0.05, search_steps=6)
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    with torch.no_grad():
        fooled = model(adversarial).argmax(1) != labels
    assert fooled.float().mean() >= 0.75
    unfooled = ~fooled
    assert torch.allclose(adversarial[unfooled], images[unfooled], atol=1e-5)  # failures return the clean image
    # smaller than the budget PGD-L2 needs for the same images
    pgd_l2 = attack("pgd-l2", model, images, labels, eps=3.0, steps=20)
    assert (adversarial - images)[fooled].flatten(1).norm(dim=1).mean() < (pgd_l2 - images)[fooled].flatten(1).norm(
        dim=1
    ).mean()


def test_bpda_passes_gradients_through_a_purifier_without_any():
    model = linear_classifier(4)
    images, labels = batch(4)

    def quantise(x):  # 2-bit quantisation: zero gradient almost everywhere
        return torch.round(x * 3) / 3

    exact = Purified(model, quantise, gradient="exact")
    bpda = Purified(model, quantise, gradient="bpda")
    for wrapped in (exact, bpda):
        probe = images.clone().requires_grad_(True)
        F.cross_entropy(wrapped(probe), labels, reduction="sum").backward()
        wrapped.grad = probe.grad
    assert exact.grad.abs().max() == 0
    assert bpda.grad.abs().max() > 0
    # the BPDA gradient is the classifier's gradient at the purified point
    at_purified = quantise(images).requires_grad_(True)
    F.cross_entropy(model(at_purified), labels, reduction="sum").backward()
    assert torch.allclose(bpda.grad, at_purified.grad)
    with torch.no_grad():
        assert torch.equal(bpda(images), model(quantise(images)))


def test_eot_averages_the_gradient_of_a_random_defence():
    model = linear_classifier(5)
    images, labels = batch(5)
    generator = torch.Generator().manual_seed(0)

    def noisy(x):  # a random defence: a random gain per image, so each forward pass has its own gradient
        gain = 0.2 + 1.6 * torch.rand(len(x), 1, 1, 1, generator=generator)
        return (x * gain).clamp(0, 1)

    defended = Purified(model, noisy, gradient="exact")

    def spread(eot: int) -> float:  # how much the gradient changes from one call to the next
        grads = torch.stack([_gradient(defended, images, labels, eot) for _ in range(12)])
        return float(grads.var(dim=0).sum())

    # averaging k independent draws divides the variance by about k; a gradient of one draw would not shrink
    assert spread(16) < spread(1) / 6
    adversarial = attack("pgd", defended, images, labels, eps=0.1, steps=5, eot=8)
    assert ((adversarial - images).abs().max() <= 0.1 + 1e-6) and adversarial.shape == images.shape


def test_zero_one_wraps_a_minus_one_one_network():
    net = linear_classifier(6)
    images, _ = batch(6)
    assert torch.equal(ZeroOne(net)(images), net(images * 2 - 1))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x, y: attack("deepfool", m, x, y), "unknown attack 'deepfool'; valid: auto, fgsm, pgd"),
        (lambda m, x, y: attack("pgd", m, x, y, eps=-0.1), "--eps must be a number >= 0"),
        (lambda m, x, y: attack("fgsm", m, x * 2 - 1, y), "images in \\[0, 1\\]"),
        (lambda m, x, y: attack("pgd", m, x, y[:3]), "3 labels for 12 images"),
        (lambda m, x, y: attack("cw-l2", m, x, y, eps=0.1), "does not apply"),
        (lambda m, x, y: attack("pgd", m, x, y, steps=0), "steps >= 1"),
    ],
)
def test_bad_attack_input_is_one_clear_error(call, message):
    images, labels = batch()
    with pytest.raises(InputError, match=message):
        call(linear_classifier(), images, labels)


def test_every_attack_is_in_the_table():
    assert ATTACKS.names() == ("auto", "fgsm", "pgd", "pgd-l2", "apgd-ce", "apgd-dlr", "apgd-t", "square", "cw-l2")
