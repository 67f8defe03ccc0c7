"""Seeded, composable image corruptions with a severity scale 0-5 (0 = the image unchanged).

Each kind draws its random structure (noise field, drop positions, shadow line, block places, ...) from the
generator first and only then scales it by the severity's parameters, so for one seed a higher severity is the
same damage made stronger: mean squared error grows monotonically with severity. Parameters per severity are
in ``LEVELS`` (the table's ``info["levels"]``, shown by ``imsynth corrupt --help``); spatial sizes are fractions
of the shorter image side, so a rain streak looks the same on a 28 px and a 512 px image.

- ``gaussian``: additive N(0, sigma^2); ``shot``: Poisson photon noise with ``photons`` per unit intensity;
  ``impulse``: salt-and-pepper on a fraction ``amount`` of pixels; ``speckle``: multiplicative x (1 + N(0, s^2)).
- ``rain``: drops covering a fraction ``density`` of the image, motion-blurred along one wind angle (+-25 degrees of vertical,
  each streak jittered by a few degrees) into streaks of ``length`` (a fraction of the side, each streak 0.6-1.4
  times that) and a width of 1 px per 128 px of side, added in brightness with strength ``brightness`` - the
  recipe of synthetic rain sets (Rain100L/H, Rain800: streak layer = motion-blurred sparse noise, then added).
- ``lighting``: a smooth multiplicative illumination field 1 - ``strength`` x (linear gradient, vignetting,
  a soft-edged cast shadow), plus additive glare spots (Gaussian, radius 5-15% of the side).
- ``blocks``: up to ``count`` occluding rectangles of side ``size`` (fraction of the side), one grey per image.
- ``blur``: Gaussian blur of ``sigma`` pixels per 128 px of side (at least the listed sigma).
- ``jpeg``: JPEG compression at ``quality`` (OpenCV's encoder, 8 bits).

Images are float32 HxW or HxWxC in [0, 1]; the result has the same shape. ``corrupt(image, "rain+gaussian")``
applies several kinds in order, each with its own stream of the seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import InputError
from ..tables import Table, method
from ._checks import channels_last, check_image

MAX_SEVERITY = 5


def _side(image: np.ndarray) -> int:
    return min(image.shape[:2])


def gaussian(image, rng, *, sigma: float) -> np.ndarray:
    return image + sigma * rng.standard_normal(image.shape, dtype=np.float32)


def shot(image, rng, *, photons: float) -> np.ndarray:
    # one uniform field drives every severity (inverse CDF), so for a seed the counts at more photons are the
    # same draw at a finer scale
    from scipy.stats import poisson  # scipy.stats costs 0.3-0.8 s to import; only shot noise needs it

    uniform = rng.random(image.shape)
    return (poisson.ppf(uniform, np.maximum(image, 0) * photons) / photons).astype(np.float32)


def impulse(image, rng, *, amount: float) -> np.ndarray:
    hit = rng.random(image.shape[:2]) < amount
    salt = rng.random(image.shape[:2]) < 0.5
    out = image.copy()
    out[hit] = salt[hit, None].astype(np.float32)
    return out


def speckle(image, rng, *, sigma: float) -> np.ndarray:
    return image * (1 + sigma * rng.standard_normal(image.shape, dtype=np.float32))


def rain_layer(shape: tuple[int, int], rng, *, density: float, length: float, brightness: float) -> np.ndarray:
    """The streak layer (HxW, [0, brightness]) of ``rain``; ``density`` is the fraction of pixels streaks would
    cover without overlap, so it means the same at every image size."""
    height, width = shape
    side = min(height, width)
    wind = rng.uniform(-25, 25)
    positions = rng.random(shape)
    drops_intensity = rng.uniform(0.6, 1.0, shape)
    count = 6  # streak lengths and angles come in a few groups: one motion-blur kernel per group
    group = rng.integers(0, count, shape)
    scales = rng.uniform(0.6, 1.4, count)
    jitter = rng.uniform(-4, 4, count)
    thickness = max(1, round(side / 128))
    layer = np.zeros(shape, np.float32)
    drops = positions < density / (max(2.0, length * side) * thickness)
    for index in range(count):
        seeds = np.where(drops & (group == index), drops_intensity, 0).astype(np.float32)
        if not seeds.any():
            continue
        streak = max(2.0, length * side * scales[index])
        size = int(np.ceil(streak)) | 1
        kernel = np.zeros((size, size), np.float32)
        angle = np.deg2rad(wind + jitter[index])
        dx, dy = np.sin(angle) * (size - 1) / 2, np.cos(angle) * (size - 1) / 2
        centre = (size - 1) / 2
        shift = 4  # sub-pixel line end points (cv2 fixed point)
        cv2.line(
            kernel,
            (round((centre - dx) * 16), round((centre - dy) * 16)),
            (round((centre + dx) * 16), round((centre + dy) * 16)),
            1.0,
            thickness,
            cv2.LINE_AA,
            shift,
        )
        layer += cv2.filter2D(seeds, -1, kernel, borderType=cv2.BORDER_CONSTANT)
    layer = cv2.GaussianBlur(layer, (0, 0), 0.5 * thickness)
    return brightness * np.clip(layer, 0, 1)


def rain(image, rng, *, density: float, length: float, brightness: float) -> np.ndarray:
    layer = rain_layer(image.shape[:2], rng, density=density, length=length, brightness=brightness)
    return image + layer[:, :, None]


def lighting_field(shape: tuple[int, int], rng, *, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """(multiplicative field in [1 - strength, 1], additive glare in [0, strength]) of ``lighting``, each HxW."""
    height, width = shape
    side = min(height, width)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / max(height - 1, 1), x / max(width - 1, 1)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * (x - 0.5) + np.sin(angle) * (y - 0.5)
    gradient = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    cx, cy = rng.uniform(0.3, 0.7, 2)
    vignette = np.clip(((x - cx) ** 2 + (y - cy) ** 2) / 0.5, 0, 1)
    normal = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(-0.25, 0.25)
    signed = np.cos(normal) * (x - 0.5) + np.sin(normal) * (y - 0.5) - offset
    softness = rng.uniform(0.02, 0.08)
    shadow = 1 / (1 + np.exp(-signed / softness))
    weights = rng.uniform(0.3, 1.0, 3) * (rng.random(3) < (1.0, 0.6, 0.6))  # gradient always, the others often
    darkening = weights[0] * gradient + weights[1] * vignette + weights[2] * shadow
    darkening = darkening / max(float(darkening.max()), 1e-6)
    spots = rng.integers(0, 3)
    glare = np.zeros(shape, np.float32)
    for _ in range(spots):
        sx, sy = rng.uniform(0.1, 0.9, 2)
        radius = rng.uniform(0.05, 0.15) * side / max(height - 1, 1)
        glare += np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / (2 * radius**2)).astype(np.float32)
    return (1 - strength * darkening).astype(np.float32), strength * np.clip(glare, 0, 1)


def lighting(image, rng, *, strength: float) -> np.ndarray:
    field, glare = lighting_field(image.shape[:2], rng, strength=strength)
    return image * field[:, :, None] + glare[:, :, None]


def blocks(image, rng, *, count: int, size: float) -> np.ndarray:
    height, width = image.shape[:2]
    side = _side(image)
    centres = rng.random((MAX_SEVERITY, 2)) * (height, width)
    aspects = rng.uniform(0.5, 2.0, MAX_SEVERITY)
    grey = rng.choice([0.0, rng.uniform(0, 1)])
    out = image.copy()
    for (cy, cx), aspect in zip(centres[:count], aspects[:count]):
        half_h = max(0.5, size * side * np.sqrt(aspect) / 2)
        half_w = max(0.5, size * side / np.sqrt(aspect) / 2)
        top, bottom = int(max(0, round(cy - half_h))), int(min(height, round(cy + half_h)))
        left, right = int(max(0, round(cx - half_w))), int(min(width, round(cx + half_w)))
        out[top:bottom, left:right] = grey
    return out


def blur(image, rng, *, sigma: float) -> np.ndarray:
    sigma = sigma * max(1.0, _side(image) / 128)
    blurred = cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return blurred.reshape(image.shape)


def jpeg(image, rng, *, quality: int) -> np.ndarray:
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    bgr = pixels[:, :, ::-1] if pixels.shape[2] == 3 else pixels
    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    decoded = decoded[:, :, None] if decoded.ndim == 2 else decoded[:, :, ::-1]
    return decoded.astype(np.float32) / 255


# kind -> (function, description, parameters at severity 1..5)
LEVELS = {
    "gaussian": (gaussian, "additive Gaussian noise", [{"sigma": s} for s in (0.04, 0.08, 0.12, 0.18, 0.26)]),
    "shot": (shot, "Poisson (shot) noise", [{"photons": p} for p in (80, 35, 16, 8, 4)]),
    "impulse": (impulse, "salt-and-pepper noise", [{"amount": a} for a in (0.01, 0.03, 0.06, 0.10, 0.17)]),
    "speckle": (speckle, "multiplicative speckle noise", [{"sigma": s} for s in (0.1, 0.2, 0.35, 0.45, 0.6)]),
    "rain": (
        rain,
        "rain streaks: motion-blurred drops added in brightness",
        [
            {"density": d, "length": n, "brightness": b}
            for d, n, b in zip((0.04, 0.07, 0.1, 0.14, 0.2), (0.15, 0.2, 0.25, 0.3, 0.35), (0.5, 0.6, 0.7, 0.8, 0.9))
        ],
    ),
    "lighting": (
        lighting,
        "lighting blemishes: gradient, vignetting, cast shadow, glare",
        [{"strength": s} for s in (0.15, 0.3, 0.45, 0.6, 0.75)],
    ),
    "blocks": (
        blocks,
        "occluding blocks",
        [{"count": c, "size": s} for c, s in zip((1, 2, 3, 4, 5), (0.15, 0.2, 0.25, 0.3, 0.35))],
    ),
    "blur": (blur, "Gaussian blur", [{"sigma": s} for s in (0.6, 1.0, 1.5, 2.2, 3.0)]),
    "jpeg": (jpeg, "JPEG compression artefacts", [{"quality": q} for q in (60, 35, 20, 12, 7)]),
}

CORRUPTIONS: Table = Table("corruption")
for _name, (_function, _description, _levels) in LEVELS.items():
    CORRUPTIONS.add(method(_name, _function, _description, info={"levels": tuple(_levels)}))


def parse_kinds(kind: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"rain+gaussian"`` or a list -> checked kind names, in order."""
    names = kind.split("+") if isinstance(kind, str) else list(kind)
    if not names or any(not name for name in names):
        raise InputError(f"no corruption kind in {kind!r}; valid: {', '.join(CORRUPTIONS.names())}")
    for name in names:
        CORRUPTIONS.get(name)
    return names


def check_severity(severity: int) -> int:
    if isinstance(severity, bool) or int(severity) != severity or not 0 <= severity <= MAX_SEVERITY:
        raise InputError(f"severity must be an integer from 0 to {MAX_SEVERITY}, got {severity}")
    return int(severity)


def parameters(kind: str, severity: int) -> dict:
    """The parameters of ``kind`` at ``severity`` (1-5); {} at 0."""
    severity = check_severity(severity)
    return {} if severity == 0 else dict(CORRUPTIONS.get(kind).info["levels"][severity - 1])


def corrupt(image: np.ndarray, kind: str | list[str] = "gaussian", severity: int = 3, *, seed: int = 0) -> np.ndarray:
    """``image`` (float HxW or HxWxC in [0, 1]) damaged by ``kind`` (a name, ``a+b`` or a list, applied in
    order) at ``severity`` 0-5, reproducibly for ``seed``. Severity 0 returns a copy."""
    kinds = parse_kinds(kind)
    severity = check_severity(severity)
    flat = np.ndim(image) == 2
    out = channels_last(check_image(image, where="image")).astype(np.float32, copy=True)
    if severity:
        streams = np.random.SeedSequence(seed).spawn(len(kinds))
        for name, stream in zip(kinds, streams):
            entry = CORRUPTIONS.get(name)
            out = np.clip(entry(out, np.random.default_rng(stream), **parameters(name, severity)), 0, 1)
    out = out.astype(np.float32)
    return out[:, :, 0] if flat else out
