import numpy as np
import pytest

from imsynth.errors import InputError
from imsynth.metrics.rate_distortion import bd_psnr, bd_rate, psnr_ssim

RATES = np.array([0.25, 0.5, 1.0, 2.0])
PSNR = np.array([28.0, 31.0, 34.5, 38.0])


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_bjontegaard_deltas_recover_known_shifts(method):
    assert bd_rate(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0, abs=1e-9)
    assert bd_rate(RATES, PSNR, 0.8 * RATES, PSNR, method=method) == pytest.approx(-20, abs=1e-6)
    assert bd_rate(RATES, PSNR, 1.5 * RATES, PSNR, method=method) == pytest.approx(50, abs=1e-6)
    assert bd_psnr(RATES, PSNR, RATES, PSNR + 1.25, method=method) == pytest.approx(1.25, abs=1e-9)
    # a better codec is better by both measures, and swapping anchor and test flips the sign
    assert (
        bd_rate(RATES, PSNR, RATES, PSNR + 1, method=method) < 0 < bd_rate(RATES, PSNR + 1, RATES, PSNR, method=method)
    )


def test_bjontegaard_refuses_curves_that_do_not_overlap():
    with pytest.raises(InputError, match="do not overlap"):
        bd_rate(RATES, PSNR, RATES, PSNR + 20)
    with pytest.raises(InputError, match="at least 2 points"):
        bd_rate(RATES[:1], PSNR[:1], RATES, PSNR)


def test_psnr_ssim_of_identical_and_noisy_images():
    rng = np.random.default_rng(0)
    image = rng.random((32, 24, 3))
    assert psnr_ssim(image, image)[1] == pytest.approx(1.0)
    noisy = np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1)
    psnr, ssim = psnr_ssim(image, noisy)
    assert 19 < psnr < 21.5 and ssim < 0.95
    assert np.isnan(psnr_ssim(image[:2, :2], noisy[:2, :2])[1])
