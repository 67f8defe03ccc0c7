"""Rate-distortion summaries: Bjontegaard-delta rate and PSNR (VCEG-M33), and PSNR/SSIM of image pairs.

``bd_rate`` is the average bitrate difference, in percent, of a test curve against an anchor at equal
quality (negative: the test codec needs fewer bits); ``bd_psnr`` the average quality difference in dB at equal
rate. Both integrate over the range where the two curves overlap. ``method="pchip"`` interpolates piecewise
cubic and monotone (the JVET common-test-conditions variant, robust to curves with few or uneven points);
``"cubic"`` fits the third-order polynomial of the original proposal.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from skimage.metrics import structural_similarity

from ..errors import InputError


def _curve(rates, qualities, name: str) -> tuple[np.ndarray, np.ndarray]:
    rates, qualities = np.asarray(rates, dtype=np.float64), np.asarray(qualities, dtype=np.float64)
    if rates.shape != qualities.shape or rates.ndim != 1 or len(rates) < 2:
        raise InputError(f"{name}: need matching 1-D rate and quality arrays of at least 2 points")
    if (rates <= 0).any() or not np.isfinite(qualities).all():
        raise InputError(f"{name}: rates must be positive and qualities finite")
    return np.log(rates), qualities


def _integral(x: np.ndarray, y: np.ndarray, low: float, high: float, method: str) -> float:
    order = np.argsort(x)
    x, y = x[order], y[order]
    if method == "cubic":
        polynomial = np.polyint(np.polyfit(x, y, min(3, len(x) - 1)))
        return float(np.polyval(polynomial, high) - np.polyval(polynomial, low))
    if method == "pchip":
        keep = np.concatenate([[True], np.diff(x) > 0])  # equal x values: keep the first
        return float(PchipInterpolator(x[keep], y[keep]).integrate(low, high))
    raise InputError(f"unknown interpolation {method!r}; valid: pchip, cubic")


def _overlap(a: np.ndarray, b: np.ndarray, what: str) -> tuple[float, float]:
    low, high = max(a.min(), b.min()), min(a.max(), b.max())
    if high <= low:
        raise InputError(f"the two curves do not overlap in {what}; Bjontegaard deltas need a common range")
    return low, high


def bd_rate(anchor_rates, anchor_psnr, test_rates, test_psnr, *, method: str = "pchip") -> float:
    """Average rate difference of the test codec against the anchor at equal PSNR, in percent."""
    log_a, quality_a = _curve(anchor_rates, anchor_psnr, "anchor")
    log_t, quality_t = _curve(test_rates, test_psnr, "test")
    low, high = _overlap(quality_a, quality_t, "quality")
    difference = (_integral(quality_t, log_t, low, high, method) - _integral(quality_a, log_a, low, high, method)) / (
        high - low
    )
    return float((np.exp(difference) - 1) * 100)


def bd_psnr(anchor_rates, anchor_psnr, test_rates, test_psnr, *, method: str = "pchip") -> float:
    """Average PSNR difference (dB) of the test codec against the anchor at equal rate."""
    log_a, quality_a = _curve(anchor_rates, anchor_psnr, "anchor")
    log_t, quality_t = _curve(test_rates, test_psnr, "test")
    low, high = _overlap(log_a, log_t, "rate")
    return (_integral(log_t, quality_t, low, high, method) - _integral(log_a, quality_a, low, high, method)) / (
        high - low
    )


def psnr_ssim(reference: np.ndarray, decoded: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of a decoded image against its reference, both float in [0, 1] (HxW or HxWxC)."""
    mse = float(np.mean((np.asarray(reference, np.float64) - np.asarray(decoded, np.float64)) ** 2))
    psnr = 10 * float(np.log10(1 / mse)) if mse > 0 else float("inf")
    small = min(reference.shape[:2])
    window = min(7, small if small % 2 else small - 1)
    if window < 3:
        return psnr, float("nan")  # SSIM needs a window of at least 3 pixels
    channel_axis = 2 if reference.ndim == 3 else None
    ssim = structural_similarity(reference, decoded, data_range=1.0, channel_axis=channel_axis, win_size=window)
    return psnr, float(ssim)
