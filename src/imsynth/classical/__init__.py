"""Classical, training-free synthesis: numpy in, numpy out (float32 in [0, 1], HxW or HxWxC; masks bool HxW with
True = hole). Every function refuses integer arrays, NaN/inf and mismatched masks with a ``ValueError``
(``imsynth.errors.InputError``) naming the problem, and never changes known pixels."""

from .exemplar import criminisi_inpaint, patchmatch_inpaint
from .fill import fill_constant, fill_mean, fill_nearest
from .interpolate import biharmonic_fill, harmonic_fill, rbf_fill, scattered_fill
from .pyramid import blend, gaussian_pyramid, laplacian_pyramid, push_pull_fill, reconstruct
from .resample import resize
from .texture import efros_leung, multiscale_texture, quilt, synthesize

__all__ = ["biharmonic_fill", "blend", "criminisi_inpaint", "efros_leung", "fill_constant", "fill_mean", "fill_nearest",
           "gaussian_pyramid", "harmonic_fill", "laplacian_pyramid", "multiscale_texture", "patchmatch_inpaint",
           "push_pull_fill", "quilt", "rbf_fill", "reconstruct", "resize", "scattered_fill", "synthesize"]
