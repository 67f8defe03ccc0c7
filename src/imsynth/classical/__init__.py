"""Classical, training-free synthesis: numpy in, numpy out (float32 in [0, 1], HxW or HxWxC; masks bool HxW with
True = hole). Every function refuses integer arrays, NaN/inf and mismatched masks with a ``ValueError``
(``imsynth.errors.InputError``) naming the problem, and never changes known pixels. No torch in this layer.

Submodules load on first use (``lazy_loader``), so a command that resizes does not pay for numba and the
PatchMatch kernels.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "exemplar": ["criminisi_inpaint", "patchmatch_inpaint"],
        "fill": ["fill_constant", "fill_mean", "fill_nearest"],
        "inpainting": ["INPAINTING"],
        "interpolate": ["biharmonic_fill", "harmonic_fill", "rbf_fill", "scattered_fill"],
        "pyramid": ["blend", "gaussian_pyramid", "laplacian_pyramid", "push_pull_fill", "reconstruct"],
        "resample": ["RESAMPLING", "resize"],
        "texture": ["TEXTURES", "efros_leung", "multiscale_texture", "quilt", "synthesize"],
        "warp": ["WARPS", "warp"],
        "animate": ["MORPHS", "animate", "morph"],
    },
)
