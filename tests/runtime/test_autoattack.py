"""APGD, Square and the ensemble: they stay in the ball, follow the published schedules, the DLR loss is
scale-free, Square needs no gradients, and the ensemble finds what gradient attacks cannot when a defence masks
its gradients - and says which member did it."""

import pytest
import torch
from torch import nn

from imsynth.errors import InputError
from imsynth.runtime.attacks import ATTACKS, Purified, attack, ensemble, run_attack
from imsynth.runtime.autoattack import checkpoints, dlr, margin, square_fraction, targeted_dlr


def linear_classifier(seed=0, classes=5, pixels=16):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(pixels, classes)).eval().requires_grad_(False)


def correctly_classified(model, seed=0, count=24):
    images = torch.rand(count, 1, 4, 4, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return images, model(images).argmax(1)


def test_apgd_checkpoints_follow_croce_and_hein():
    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06): 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [2, 3, 4, 5, 6, 7, 8, 9]  # whole steps: at least one between checkpoints


def test_square_shrinks_its_windows_on_the_published_schedule():
    # p_init halves at 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000 queries, rescaled to the budget
    assert square_fraction(0.8, 0, 10_000) == 0.8
    assert square_fraction(0.8, 11, 10_000) == 0.4
    assert square_fraction(0.8, 51, 10_000) == 0.2
    assert square_fraction(0.8, 9_000, 10_000) == pytest.approx(0.8 / 512)
    assert square_fraction(0.8, 100, 1_000) == square_fraction(0.8, 1_000, 10_000)


def test_dlr_is_invariant_to_shifting_and_scaling_the_logits_and_turns_positive_when_the_target_overtakes():
    logits = torch.randn(8, 5, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(8) % 5
    assert torch.allclose(dlr(logits * 7 + 3, labels), dlr(logits, labels), atol=1e-5)
    wrong = dlr(logits, labels) > 0
    assert torch.equal(wrong, logits.argmax(1) != labels)  # positive exactly when misclassified
    targets = (labels + 1) % 5
    loss = targeted_dlr(targets)
    assert torch.allclose(loss(logits * 7 + 3, labels), loss(logits, labels), atol=1e-5)
    overtaken = logits.gather(1, targets[:, None]) > logits.gather(1, labels[:, None])
    assert torch.equal(loss(logits, labels) > 0, overtaken.squeeze(1))  # positive once the target leads the label
    assert torch.equal(margin(logits, labels) < 0, logits.argmax(1) != labels)


@pytest.mark.parametrize(
    "name, options",
    [
        ("apgd-ce", {"steps": 8}),
        ("apgd-dlr", {"steps": 8, "restarts": 2}),
        ("apgd-t", {"steps": 8, "targets": 2}),
        ("square", {"queries": 60}),
        ("auto", {"steps": 5, "queries": 40, "targets": 2}),
    ],
)
def test_new_attacks_stay_in_the_ball_and_the_unit_range_are_seeded_and_fool(name, options):
    model = linear_classifier(1)
    images, labels = correctly_classified(model, 1)
    images[:3] = 0.0  # a corner of the box: projection must clamp
    with torch.no_grad():
        labels[:3] = model(images[:3]).argmax(1)
    adversarial = attack(name, model, images, labels, eps=0.2, **options)
    assert (adversarial - images).abs().max() <= 0.2 + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1
    assert torch.equal(adversarial, attack(name, model, images, labels, eps=0.2, **options))
    with torch.no_grad():
        assert (model(adversarial).argmax(1) != labels).float().mean() >= 0.5  # all start correctly classified


def test_square_needs_no_gradients():
    class NoBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            raise AssertionError("Square asked for a gradient")

    class Opaque(nn.Module):
        def forward(self, x):
            return inner(NoBackward.apply(x))

    inner = linear_classifier(2)
    model = Opaque()
    images, labels = correctly_classified(inner, 2)
    adversarial = attack("square", model, images.requires_grad_(False), labels, eps=0.3, queries=200)
    with torch.no_grad():
        assert (inner(adversarial).argmax(1) != labels).float().mean() >= 0.75
    with pytest.raises(AssertionError, match="asked for a gradient"):
        attack("apgd-ce", model, images, labels, eps=0.3, steps=2)


def test_the_ensemble_sees_through_masked_gradients_and_says_which_member_did():
    # a defence whose exact gradient is zero almost everywhere (4-level quantisation): the gradient members are
    # blind, the gradient-free Square attack is not - the failure of single-attack evaluations the ensemble fixes
    model = linear_classifier(3)
    images, labels = correctly_classified(model, 3, count=40)

    def quantise(x):
        return torch.round(x * 3) / 3

    masked = Purified(model, quantise, gradient="exact")
    with torch.no_grad():
        labels = masked(images).argmax(1)
    result = ensemble(masked, images, labels, eps=0.3, steps=10, queries=150, targets=2)
    after = {name: float(held.float().mean()) for name, held in result.survivors.items()}
    assert list(after) == ["clean", "apgd-ce", "apgd-t", "square", "pgd"]
    assert after["clean"] == 1.0
    assert all(later <= earlier for earlier, later in zip(after.values(), list(after.values())[1:]))
    assert after["apgd-t"] - after["square"] >= 0.3  # Square did the work
    # the images it reports fooled are fooled by the adversarial images it returns
    with torch.no_grad():
        still = masked(result.adversarial).argmax(1) == labels
    assert torch.equal(still, result.survivors["pgd"])
    assert (result.adversarial - images).abs().max() <= 0.3 + 1e-6
    # and through BPDA the gradient members find them too
    bpda = ensemble(Purified(model, quantise, gradient="bpda"), images, labels, eps=0.3, steps=10, queries=150)
    assert float(bpda.survivors["apgd-ce"].float().mean()) <= after["apgd-ce"] - 0.3


def test_run_attack_records_one_attack_as_an_ensemble_of_one_and_attack_skips_the_record():
    inner = linear_classifier(4)
    calls = []

    class Counted(nn.Module):
        def forward(self, x):
            calls.append(len(x))
            return inner(x)

    model = Counted()
    images, labels = correctly_classified(inner, 4)
    result = run_attack("pgd", model, images, labels, eps=0.2, steps=5)
    recorded = len(calls)
    assert list(result.survivors) == ["clean", "pgd"]
    with torch.no_grad():
        assert torch.equal(result.survivors["pgd"], inner(result.adversarial).argmax(1) == labels)
    calls.clear()
    assert torch.equal(attack("pgd", model, images, labels, eps=0.2, steps=5), result.adversarial)
    assert len(calls) == recorded - 2  # the record's two passes (clean, adversarial) are not made for images alone


def test_a_three_class_classifier_skips_the_targeted_member():
    model = linear_classifier(5, classes=3)
    images, labels = correctly_classified(model, 5)
    result = ensemble(model, images, labels, eps=0.2, steps=3, queries=20)
    assert "4 classes" in result.skipped["apgd-t"]
    assert torch.equal(result.survivors["apgd-t"], result.survivors["apgd-ce"])


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("auto", {"alpha": 0.01}, "--alpha is taken by pgd alone, not by the attack 'auto'.*--attack pgd"),
        ("auto", {"restarts": 2}, "--restarts is taken by apgd-ce, pgd alone"),
        ("auto", {"p_init": 0.5}, "--p-init is taken by square alone"),
        ("auto", {"c": 1.0}, "--c does not apply to attack 'auto'"),
        ("apgd-ce", {"eps": 1.5}, "--eps 1.5 exceeds the image range"),
        ("pgd-l2", {"eps": 4.5}, "exceeds the image range: an L2 ball of radius 4"),
        ("apgd-t", {"targets": 5}, "--targets must be in 1..4"),
        ("apgd-dlr", {"rho": 1.5}, "--rho must be in \\(0, 1\\)"),
        ("square", {"queries": 0}, "queries >= 1"),
    ],
)
def test_bad_attack_options_are_one_clear_error(name, options, message):
    model = linear_classifier(6)
    images, labels = correctly_classified(model, 6, count=4)
    with pytest.raises(InputError, match=message):
        ATTACKS.check_options(name, options)
        attack(name, model, images, labels, **options)


def test_a_three_class_classifier_refuses_the_targeted_attack():
    model = linear_classifier(7, classes=3)
    images, labels = correctly_classified(model, 7, count=4)
    with pytest.raises(InputError, match="at least 4 classes; it has 3"):
        attack("apgd-t", model, images, labels)
