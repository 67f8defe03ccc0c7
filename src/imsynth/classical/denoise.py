"""Classical denoisers, each through the library that does it well: the baselines a learned restorer must beat.

- ``nl-means``: non-local means (scikit-image, fast mode, patch 5 / distance 6, h = 0.8 sigma);
- ``wavelet``: BayesShrink soft thresholding of db1 wavelets over 3 levels (scikit-image; YCbCr for colour);
- ``tv``: total-variation (Chambolle), weight 0.8 sigma (scikit-image);
- ``median``: a median filter (OpenCV; SciPy for sizes OpenCV's float path does not take);
- ``fast-nl-means``: OpenCV's fastNlMeansDenoising(Colored) on 8 bits, h = 255 sigma;
- ``bm3d``: block-matching and 3D filtering (PyPI ``bm3d``, Makinen et al. 2020).

``sigma`` is the noise standard deviation on the [0, 1] scale; by default it is estimated from the image
(scikit-image's wavelet MAD estimator, ``estimate_sigma``). Images are float HxW or HxWxC in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage import restoration

from ..errors import InputError
from ..tables import Table, method
from ._checks import channels_last, check_image


def noise_sigma(image: np.ndarray) -> float:
    """The Gaussian noise level of ``image`` (HxWxC, [0, 1]), averaged over channels (wavelet MAD)."""
    return float(np.mean(restoration.estimate_sigma(image, channel_axis=-1)))


def _sigma(image: np.ndarray, sigma: float | None) -> float:
    if sigma is None:
        return max(noise_sigma(image), 1e-3)
    if not np.isfinite(sigma) or sigma <= 0:
        raise InputError(f"--sigma must be a positive number (noise level on the 0-1 scale), got {sigma}")
    return float(sigma)


def _colour(image: np.ndarray) -> int | None:
    return -1 if image.shape[2] > 1 else None


def _planes(result: np.ndarray, image: np.ndarray) -> np.ndarray:
    return result.reshape(image.shape).astype(np.float32)


def nl_means(image, *, sigma: float | None = None, patch: int = 5, distance: int = 6) -> np.ndarray:
    sigma = _sigma(image, sigma)
    plane = image if image.shape[2] > 1 else image[:, :, 0]
    result = restoration.denoise_nl_means(
        plane, h=0.8 * sigma, sigma=sigma, patch_size=patch, patch_distance=distance, fast_mode=True,
        channel_axis=_colour(image),
    )  # fmt: skip
    return _planes(result, image)


def wavelet(image, *, sigma: float | None = None) -> np.ndarray:
    plane = image if image.shape[2] > 1 else image[:, :, 0]
    result = restoration.denoise_wavelet(
        plane, sigma=sigma, method="BayesShrink", mode="soft", wavelet_levels=3, channel_axis=_colour(image),
        convert2ycbcr=image.shape[2] == 3, rescale_sigma=True,
    )  # fmt: skip
    return _planes(np.clip(result, 0, 1), image)


def total_variation(image, *, sigma: float | None = None) -> np.ndarray:
    sigma = _sigma(image, sigma)
    plane = image if image.shape[2] > 1 else image[:, :, 0]
    return _planes(restoration.denoise_tv_chambolle(plane, weight=0.8 * sigma, channel_axis=_colour(image)), image)


def median(image, *, size: int = 3) -> np.ndarray:
    if size < 1 or size % 2 == 0:
        raise InputError(f"--size must be an odd number >= 1, got {size}")
    if size <= 5:  # OpenCV's float median takes 3 and 5
        return _planes(cv2.medianBlur(np.ascontiguousarray(image), size), image)
    return _planes(ndimage.median_filter(image, size=(size, size, 1), mode="reflect"), image)


def fast_nl_means(image, *, sigma: float | None = None, patch: int = 7, distance: int = 21) -> np.ndarray:
    sigma = _sigma(image, sigma)
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    strength = float(255 * sigma)
    if image.shape[2] == 3:
        bgr = cv2.fastNlMeansDenoisingColored(
            np.ascontiguousarray(pixels[:, :, ::-1]), None, strength, strength, patch, distance
        )
        result = bgr[:, :, ::-1]
    else:
        result = cv2.fastNlMeansDenoising(np.ascontiguousarray(pixels[:, :, 0]), None, strength, patch, distance)
    return _planes(result.astype(np.float32) / 255, image)


BM3D_BLOCK = 8


def bm3d(image, *, sigma: float | None = None) -> np.ndarray:
    import bm3d as library  # 0.8-0.9 s to import; only this method needs it

    if min(image.shape[:2]) <= BM3D_BLOCK:  # the library crashes the process (a segfault) at 8 pixels, refuses below
        raise InputError(
            f"bm3d needs images over {BM3D_BLOCK} pixels a side (its {BM3D_BLOCK}x{BM3D_BLOCK} blocks); "
            f"got {image.shape[1]}x{image.shape[0]}"
        )
    sigma = _sigma(image, sigma)
    if image.shape[2] == 3:
        result = library.bm3d_rgb(image, sigma)
    else:
        result = library.bm3d(image[:, :, 0], sigma)
    return _planes(np.clip(result, 0, 1), image)


SIGMA = "noise level on the 0-1 scale (default: estimated from the image)"
DENOISERS: Table = Table("denoising method")
DENOISERS.add(
    method("nl-means", nl_means, "non-local means (scikit-image)", options={"sigma": SIGMA}, tags=("classical",))
)
DENOISERS.add(
    method("wavelet", wavelet, "BayesShrink wavelet (scikit-image)", options={"sigma": SIGMA}, tags=("classical",))
)
DENOISERS.add(
    method(
        "tv",
        total_variation,
        "total variation, Chambolle (scikit-image)",
        options={"sigma": SIGMA},
        tags=("classical",),
    )
)
DENOISERS.add(
    method("median", median, "median filter (OpenCV)", options={"size": "window side (odd)"}, tags=("classical",))
)
DENOISERS.add(
    method(
        "fast-nl-means",
        fast_nl_means,
        "non-local means on 8 bits (OpenCV)",
        options={"sigma": SIGMA},
        tags=("classical",),
    )
)
DENOISERS.add(method("bm3d", bm3d, "BM3D (PyPI bm3d)", options={"sigma": SIGMA}, tags=("classical",)))


def denoise(image: np.ndarray, method_name: str = "nl-means", **options) -> np.ndarray:
    """``image`` (float HxW or HxWxC in [0, 1]) restored by a classical method of ``DENOISERS``."""
    entry = DENOISERS.get(method_name)
    if "model" in entry.needs:
        raise InputError(f"method {method_name!r} needs a trained run: use imsynth.apps.restore.restore")
    DENOISERS.check_options(method_name, options)
    flat = np.ndim(image) == 2
    out = entry(channels_last(check_image(image, where="image", min_side=3)), **options)
    return out[:, :, 0] if flat else out
