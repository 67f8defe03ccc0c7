"""What an application needs from a model, declared as small runtime-checkable Protocols.

Applications and evaluation ask ``isinstance(model, LatentModel)``, never ``hasattr``: a new model family
reads here what it must provide for each of them.

| capability        | used by                                         |
|-------------------|-------------------------------------------------|
| LatentModel       | explore (lerp/slerp/walk), GAN inversion, inpaint --method gan |
| LatentFeatures    | explore --mode pca (GANSpace directions)        |
| Encoder           | disentanglement metrics, VAE restoration        |
| Representation    | probe (linear-probe features)                   |
| Inpainter         | inpaint --method diffusion (RePaint)            |
| LikelihoodModel   | eval: ELBO / importance-weighted NLL            |
| IterativeSampler  | sample/eval sampler options (--sampler, --steps, --eta, --guidance) |
| Purifier          | denoise --model, robustness purification defences |
| Codec             | compress / decompress, eval's rate-distortion   |
| Translator        | translate (image-to-image models on two-domain data) |
| TextGenerator     | sample / eval of text runs (sentences, NLL, perplexity) |
| SentenceEncoder   | reconstruct, explore --from/--to, eval's KL / MI / active units |
| Predictor         | predict (the frames after a context clip), eval's prediction SSIM/PSNR |
| ContentMotion     | swap (the content of one clip with the motion of another) |
| Interpolator      | interpolate (the frames between two frames)     |
| Autoencoded       | eval's floor for a model that samples through an autoencoder (its round trip's FID) |
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import torch

from ..errors import InputError

CAPABILITIES = {
    # a family declares these in ``capabilities`` (a class attribute); the contract test checks each declared
    # Protocol holds, and each Protocol that holds is declared
    "latent": "LatentModel",
    "latent-features": "LatentFeatures",
    "encoder": "Encoder",
    "representation": "Representation",
    "inpainter": "Inpainter",
    "likelihood": "LikelihoodModel",
    "iterative-sampler": "IterativeSampler",
    "purifier": "Purifier",
    "codec": "Codec",
    "translator": "Translator",
    "text": "TextGenerator",
    "sentence-encoder": "SentenceEncoder",
    "predictor": "Predictor",
    "content-motion": "ContentMotion",
    "interpolator": "Interpolator",
    "autoencoded": "Autoencoded",
    # no Protocol: what the family makes
    "sample": None,  # imsynth sample draws from it (images, sentences, or a translation preview)
    "image": None,  # it works on images
    "clips": None,  # it works on clips (frames x channels x height x width)
}


@runtime_checkable
class LatentModel(Protocol):
    """A Gaussian latent of ``latent_dim`` dimensions decoded to images."""

    @property
    def latent_dim(self) -> int: ...

    def decode_latents(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """latents (B, latent_dim) -> images (B, C, H, W) in [-1, 1], differentiable."""


@runtime_checkable
class LatentMap(Protocol):
    """A latent whose (B, latent_dim) vectors are flattened (channels, side, side) maps, channel-major (a spatial
    autoencoder's); None for a vector latent. A latent diffusion denoises such a latent with convolutions."""

    @property
    def latent_map(self) -> tuple[int, int, int] | None: ...


@runtime_checkable
class LatentFeatures(Protocol):
    """The generator's first hidden layer for a latent (principal directions are found there)."""

    def latent_features(self, latents: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class Encoder(Protocol):
    """An amortised posterior: images -> (mean, log-variance), each (B, latent_dim)."""

    def encode(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class Representation(Protocol):
    """Frozen features of images for a linear probe: images (B, C, H, W) in [-1, 1] -> (B, F)."""

    def represent(self, images: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Inpainter(Protocol):
    """Fills ``hole`` (B, 1, H, W) bool, True = unknown, of ``images`` in [-1, 1] by the model's own sampler."""

    def inpaint(
        self,
        images: torch.Tensor,
        hole: torch.Tensor,
        *,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
        **options: Any,
    ) -> torch.Tensor: ...

    def inpaint_steps(self, **options: Any) -> int:
        """Network evaluations an ``inpaint`` call with these options makes (for the progress bar)."""


@runtime_checkable
class LikelihoodModel(Protocol):
    """Test-set likelihood bounds in nats (ELBO, importance-weighted NLL)."""

    def likelihood(
        self,
        images: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        importance_samples: int = 500,
        generator: torch.Generator | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict: ...


@runtime_checkable
class Autoencoded(Protocol):
    """Samples made through a frozen autoencoder (latent diffusion): its round trip bounds their quality."""

    def autoencoder_round_trip(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, C, H, W) in [-1, 1] -> their reconstructions, the same."""


@runtime_checkable
class IterativeSampler(Protocol):
    """Sampling by a reverse process with named samplers and options (diffusion)."""

    def sampler(self, name: str | None = None, steps: int | None = None, eta: float | None = None) -> Any: ...


@runtime_checkable
class Guided(Protocol):
    """Classifier-free guidance (a conditional diffusion run): the scale to sample with, checked (1 = none)."""

    def guidance_scale(self, guidance: float | None) -> float: ...


@runtime_checkable
class Purifier(Protocol):
    """Projects images (B, C, H, W) in [-1, 1] onto what the model has learnt: restoration and adversarial
    purification. ``strength`` is the damage to remove, as a noise standard deviation on the [0, 1] scale
    (None: the model's own choice); differentiable where the model is, when the caller enables gradients."""

    def purify(
        self,
        images: torch.Tensor,
        *,
        strength: float | None = None,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...


@runtime_checkable
class Codec(Protocol):
    """Lossy compression of images (1, C, H, W) in [-1, 1] of any size into integer symbols coded under the
    model's own entropy model, at quality 1..``qualities`` (1: the lowest rate). ``compress`` and
    ``decompress`` feed a ``Checksum`` with every table and scale index they hand the coder, so a decoder
    whose arithmetic differs from the encoder's is caught."""

    @property
    def qualities(self) -> int: ...

    def code(self, images: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward pass, no coder: (reconstructions, estimated bits per image)."""

    def compress(self, images: torch.Tensor, quality: int, writer: Any, check: Any) -> float:
        """Write one image's symbols to a ``SymbolWriter``; returns the estimated bits."""

    def decompress(self, reader: Any, shape: tuple[int, int, int], quality: int, check: Any) -> torch.Tensor:
        """Read one image of ``shape`` (C, H, W) back from a ``SymbolReader``."""


@runtime_checkable
class Translator(Protocol):
    """Maps images of one domain to another: ``translate(inputs, direction)`` with ``direction`` one of
    ``directions`` ("a2b", and "b2a" for a two-way model); inputs (B, C, H, W) in [-1, 1] of any size."""

    directions: tuple[str, ...]

    def translate(self, inputs: torch.Tensor, direction: str = "a2b") -> torch.Tensor: ...


@runtime_checkable
class TextGenerator(Protocol):
    """Makes sentences: token ids through ``tokenizer`` (a ``tokenizers.Tokenizer``); ``text_measures`` reports
    NLL and perplexity of token rows."""

    tokenizer: Any

    def sample_tokens(self, count: int, **options: Any) -> list[list[int]]: ...

    def text_measures(self, tokens: torch.Tensor, *, importance_samples: int = 500) -> dict: ...


@runtime_checkable
class SentenceEncoder(Protocol):
    """A code for a sentence: ``encode_tokens(rows)`` -> (mean, log_var) of (B, code_dim), decoded by
    ``sample_tokens(count, z=codes)``."""

    code_dim: int

    def encode_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@runtime_checkable
class Predictor(Protocol):
    """Continues clips: the frames that come after a context."""

    @property
    def context_frames(self) -> int:
        """The context length it was trained to condition on."""

    def predict(self, context: torch.Tensor, frames: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """context (B, k, C, H, W) in [-1, 1] -> the next ``frames`` frames (B, frames, C, H, W); stochastic
        predictors draw a new future per call."""


@runtime_checkable
class ContentMotion(Protocol):
    """Holds what a clip shows apart from how it moves."""

    def swap(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """Clips with the content of ``content`` and the motion of ``motion`` (B x T x C x H x W each)."""


@runtime_checkable
class Interpolator(Protocol):
    """Fills in the frames between given frames."""

    def interpolate_frames(
        self, first: torch.Tensor, last: torch.Tensor, frames: int, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``frames`` frames (B, frames, C, H, W) between ``first`` and ``last`` (B x k x C x H x W each)."""


def sampling_config(
    model: Any, sampler: str | None = None, steps: int | None = None, guidance: float | None = None
) -> Any:
    """The model's config with ``sampler``, ``steps`` and ``guidance`` as its sampling defaults, checked first: an
    unknown sampler, steps beyond the schedule or guidance for an unconditional run raise InputError, as do options
    given to a run that samples in one pass."""
    config = model.config
    if guidance is not None:
        if not isinstance(model, Guided):
            raise InputError(f"--guidance applies to conditional diffusion runs; {model.registered_name!r} has none")
        config = dataclasses.replace(config, guidance=model.guidance_scale(guidance))
    if sampler is None and steps is None:
        return config
    if not isinstance(model, IterativeSampler):
        raise InputError(
            f"--sampler and --steps apply to diffusion runs; model {model.registered_name!r} samples in one pass"
        )
    chosen = model.sampler(sampler, steps)
    return dataclasses.replace(config, sampler=chosen.name, sample_steps=steps or config.sample_steps)


@contextmanager
def sampling_defaults(model: Any, sampler: str | None = None, steps: int | None = None) -> Iterator[None]:
    """Within the block an iterative run samples with ``sampler`` and ``steps`` wherever it would use its own
    (predict, interpolate), so an action takes --sampler/--steps without threading them through every call."""
    saved, model.config = model.config, sampling_config(model, sampler, steps)
    try:
        yield
    finally:
        model.config = saved
