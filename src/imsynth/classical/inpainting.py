"""The inpainting table: every method that fills a hole, by name. Classical methods are registered here;
model-based ones (``gan``, ``diffusion``) are added by ``imsynth.apps.inpaint``, tagged ``model``.

A method is called as ``function(image, mask, **options)`` with a float image in [0, 1] and a checked boolean
mask (True = hole); it returns the filled image with the known pixels unchanged.
"""

from __future__ import annotations

from ..tables import Table, method
from . import exemplar, fill, interpolate, pyramid

INPAINTING: Table = Table("inpainting method")
for _entry in (
    method(
        "fill-constant", fill.fill_constant, "a constant grey (0.5); works on a fully masked image", tags=("full-mask",)
    ),
    method("fill-mean", fill.fill_mean, "the mean of the known pixels"),
    method("fill-nearest", fill.fill_nearest, "each hole pixel takes its nearest known pixel"),
    method(
        "interp-nearest",
        interpolate.scattered_fill,
        "nearest-neighbour interpolation from the hole's border band",
        options={"band": "width of the known border band used, in pixels"},
        method="nearest",
    ),
    method(
        "interp-linear",
        interpolate.scattered_fill,
        "linear (Delaunay) interpolation from the border band",
        options={"band": "width of the known border band used, in pixels"},
        method="linear",
    ),
    method(
        "interp-cubic",
        interpolate.scattered_fill,
        "cubic (Clough-Tocher) interpolation from the border band",
        options={"band": "width of the known border band used, in pixels"},
        method="cubic",
    ),
    method(
        "rbf",
        interpolate.rbf_fill,
        "thin-plate radial basis functions from the border band",
        options={
            "band": "width of the known border band used, in pixels",
            "neighbors": "nearest known pixels per evaluation",
        },
    ),
    method("harmonic", interpolate.harmonic_fill, "membrane: solves Laplace's equation (smooth, no texture)"),
    method("biharmonic", interpolate.biharmonic_fill, "thin plate: solves the biharmonic equation (smoother slopes)"),
    method("push-pull", pyramid.push_pull_fill, "pyramid push-pull (Gortler et al. 1996): fast smooth fill"),
    method(
        "exemplar",
        exemplar.criminisi_inpaint,
        "Criminisi et al. 2004: copies patches along the structure",
        options={"patch": "odd patch size"},
    ),
    method(
        "patchmatch",
        exemplar.patchmatch_inpaint,
        "multi-scale PatchMatch (Barnes et al. 2009): texture fill",
        options={
            "patch": "odd patch size",
            "iterations": "PatchMatch passes per level",
            "seed": "random seed",
            "source": "take patches from this image instead of the image itself",
        },
        paths=("source",),
    ),
):
    INPAINTING.add(_entry)
