"""Sentence models on the shared engine: a sentence VAE (Bowman et al. 2016) and its language-model baseline.

Both share one autoregressive decoder (GRU, LSTM or a small causal Transformer) over a ``TextDataset``'s token
rows (``[BOS] w1 .. wn [EOS] [PAD] ..``). The VAE adds a bidirectional GRU encoder; its code ``z`` sets the
decoder's initial state and is fed at every step. The known remedies for posterior collapse are config options:
word dropout (Bowman: decoder inputs replaced by ``[UNK]``), KL annealing (``linear`` warm-up, or ``cyclical``:
Fu et al. 2019, four ramps over ``kl_warmup`` steps), free bits (Kingma et al. 2016: each dimension's batch-mean KL
counted as at least ``free_bits`` nats) and BN-VAE (Zhu et al. 2020: batch norm with a fixed scale on the posterior
means, which bounds the expected KL from below). ``advice`` tells the engine's log when the code goes unused.

Measures (``text_measures``): the importance-weighted NLL (Burda et al. 2016) with ``k`` samples and its perplexity,
the ELBO, its reconstruction and KL, the mutual information between x and z (Hoffman & Johnson's aggregate-posterior
estimate, as in He et al. 2019) and active units (Burda et al.: Cov_x E_q[z] > 0.01 per dimension).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..data.text import BOS, EOS, PAD, UNK
from ..errors import CheckpointError, InputError
from .base import DataShape, GenerativeModel, LossOutput, Noise, register_model, require
from .kl import ANNEALING, collapse_advice, free_bits_kl, kl_weight

DECODERS = ("gru", "lstm", "transformer")
LOG_2PI = math.log(2 * math.pi)


@dataclass
class TextConfig(DataShape):
    search_space: ClassVar[dict] = {
        "train.lr": {"low": 3e-4, "high": 3e-3, "log": True},
        "hidden": {"choices": [128, 256, 512]},
        "word_dropout": {"low": 0.0, "high": 0.4},
        "free_bits": {"low": 0.0, "high": 0.5},
    }
    vocab_size: int = 0  # from the dataset's tokenizer
    embed_dim: int = 256
    hidden: int = 256
    latent_dim: int = 32  # 0: no code (the language-model baseline)
    decoder: str = "gru"  # gru | lstm | transformer
    layers: int = 1
    heads: int = 4  # transformer decoder only
    dropout: float = 0.3  # on embeddings and decoder outputs
    word_dropout: float = 0.25
    kl_anneal: str = "cyclical"  # none | linear | cyclical
    kl_warmup: int = 2000  # steps of the linear ramp, or of the four cyclical ramps together
    free_bits: float = 0.125  # nats per latent dimension (0: off)
    bn_vae: bool = False
    bn_gamma: float = 0.6  # BN-VAE's fixed scale of the posterior means

    def __post_init__(self) -> None:
        require(self.decoder in DECODERS, f"decoder must be one of {', '.join(DECODERS)}, got {self.decoder!r}")
        require(self.kl_anneal in ANNEALING, f"kl_anneal must be one of {', '.join(ANNEALING)}")
        require(self.embed_dim >= 1 and self.hidden >= 1 and self.layers >= 1, "embed_dim, hidden, layers >= 1")
        require(self.latent_dim >= 0 and self.kl_warmup >= 0, "latent_dim and kl_warmup must be >= 0")
        require(0 <= self.word_dropout < 1 and 0 <= self.dropout < 1, "dropouts must be in [0, 1)")
        require(self.free_bits >= 0 and self.bn_gamma > 0, "free_bits must be >= 0 and bn_gamma > 0")
        require(self.decoder != "transformer" or self.embed_dim % self.heads == 0, "embed_dim must divide by heads")

    @property
    def max_length(self) -> int:
        return self.image_size  # a text dataset's row length (max_tokens + 2)


class SentenceDecoder(nn.Module):
    """Tokens (B, T) and a code (B, latent) -> next-token logits (B, T, vocab); ``state`` carries an RNN across
    calls (a Transformer re-reads the whole prefix instead)."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.kind, latent = config.decoder, config.latent_dim
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD)
        self.drop = nn.Dropout(config.dropout)
        if self.kind == "transformer":
            width = config.embed_dim
            self.position = nn.Embedding(config.max_length, width)
            self.code = nn.Linear(latent, width) if latent else None
            layer = nn.TransformerEncoderLayer(
                width, config.heads, config.hidden, config.dropout, batch_first=True, norm_first=True
            )
            self.body = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        else:
            rnn = nn.GRU if self.kind == "gru" else nn.LSTM
            self.body = rnn(config.embed_dim + latent, config.hidden, config.layers, batch_first=True)
            self.initial = nn.Linear(latent, config.hidden * config.layers) if latent else None
            width = config.hidden
        self.out = nn.Linear(width, config.vocab_size)
        self.layers, self.hidden = config.layers, config.hidden

    def forward(self, tokens: torch.Tensor, z: torch.Tensor | None, state=None):
        x = self.drop(self.embed(tokens))
        if self.kind == "transformer":
            length = tokens.shape[1]
            x = x + self.position(torch.arange(length, device=tokens.device))
            if z is not None and self.code is not None:
                x = x + self.code(z)[:, None]
            mask = nn.Transformer.generate_square_subsequent_mask(length, device=tokens.device)
            return self.out(self.drop(self.body(x, mask=mask, is_causal=True))), None
        if z is not None and z.shape[1]:
            x = torch.cat([x, z[:, None].expand(-1, x.shape[1], -1)], dim=2)
            if state is None:
                h = torch.tanh(self.initial(z)).view(len(z), self.layers, self.hidden).transpose(0, 1).contiguous()
                state = (h, torch.zeros_like(h)) if self.kind == "lstm" else h
        output, state = self.body(x, state)
        return self.out(self.drop(output)), state


def _targets(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoder inputs, next-token targets and the mask of real targets (EOS included, padding not)."""
    return tokens[:, :-1], tokens[:, 1:], tokens[:, 1:] != PAD


class _SentenceModel(GenerativeModel):
    """What the VAE and the LM share: the decoder, the reconstruction term, sampling."""

    capabilities = frozenset({"sample", "text"})

    config_class = TextConfig
    modality = "text"

    def __init__(self, config: TextConfig) -> None:
        super().__init__(config)
        require(config.vocab_size >= 4, "text models need a text dataset (text:PATH or fortunes)")
        self.decoder = SentenceDecoder(config)
        self.tokenizer = None  # set by the engine or load_run from the run's tokenizer.json

    @property
    def code_dim(self) -> int:
        return self.config.latent_dim

    def token_nll(self, tokens: torch.Tensor, z: torch.Tensor | None, inputs: torch.Tensor | None = None):
        """-log p(x | z) per sentence (nats), and the number of predicted tokens per sentence."""
        given, targets, mask = _targets(tokens)
        logits, _ = self.decoder(given if inputs is None else inputs, z)
        nll = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
        return (nll * mask).sum(1), mask.sum(1)

    def word_dropped(self, tokens: torch.Tensor, uniform: Noise | None) -> torch.Tensor:
        rate = self.config.word_dropout
        given = tokens[:, :-1]
        if rate <= 0 or not self.training or uniform is None:
            return given
        drop = (uniform(tuple(given.shape)) < rate) & (given != PAD) & (given != BOS)
        return given.masked_fill(drop, UNK)

    def sample(self, count: int, *, labels=None, generator=None) -> torch.Tensor:
        raise InputError(
            f"model {self.registered_name!r} makes text, not images: imsynth sample RUN prints its sentences"
        )

    def preview(self, dataset, count: int):
        """Sentences for the engine's samples/ folder (as text, not a grid)."""
        generator = torch.Generator().manual_seed(1234)
        return self.sample_tokens(min(count, 16), generator=generator), None

    @torch.no_grad()
    def sample_tokens(
        self,
        count: int,
        *,
        z: torch.Tensor | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> list[list[int]]:
        """Token ids (without BOS/EOS) of ``count`` sentences; codes from the prior unless ``z`` is given."""
        if temperature <= 0 or not 0 < top_p <= 1:
            raise InputError(f"temperature must be > 0 and top-p in (0, 1], got {temperature} and {top_p}")
        device = next(self.parameters()).device
        if self.code_dim:
            if z is None:
                z = torch.randn(count, self.code_dim, generator=generator)
            z = z.to(device)
            count = len(z)
        tokens = torch.full((count, 1), BOS, dtype=torch.long, device=device)
        finished = torch.zeros(count, dtype=torch.bool, device=device)
        state, step_input = None, tokens
        for _ in range(self.config.max_length - 2):  # at most max_tokens words, as in training
            if self.config.decoder == "transformer":
                logits, _ = self.decoder(tokens, z)
            else:
                logits, state = self.decoder(step_input, z, state)
            logits = logits[:, -1].float()
            logits[:, PAD] = logits[:, BOS] = -math.inf
            if greedy:
                chosen = logits.argmax(1)
            else:
                probs = torch.softmax(logits / temperature, dim=1)
                if top_p < 1:
                    ordered, order = probs.sort(dim=1, descending=True)
                    keep = ordered.cumsum(1) - ordered < top_p  # the smallest set whose mass reaches top_p
                    probs = torch.zeros_like(probs).scatter(1, order, ordered * keep)
                chosen = torch.multinomial(probs.cpu(), 1, generator=generator)[:, 0].to(device)
            chosen = chosen.masked_fill(finished, PAD)
            tokens = torch.cat([tokens, chosen[:, None]], dim=1)
            step_input = chosen[:, None]
            finished |= chosen == EOS
            if finished.all():
                break
        return [[int(t) for t in row[1:] if t > EOS or t == UNK] for row in tokens.cpu()]


@register_model(
    "text-lm",
    data="text",
    # no code: word dropout and free bits mean nothing here
    search_space={k: v for k, v in TextConfig.search_space.items() if k not in ("word_dropout", "free_bits")},
    latent_dim=0,
    word_dropout=0.0,
    free_bits=0.0,
    kl_anneal="none",
    tiny={"embed_dim": 8, "hidden": 8},
    description="language model: the sentence VAE's decoder alone, its baseline (data: text:PATH, fortunes)",
    train_defaults={"batch_size": 32, "lr": 1e-3, "precision": "fp32", "fid_every": 0, "grad_clip": 5.0},
)
class TextLM(_SentenceModel):
    def loss(self, images, labels=None, *, step=0, noise=None, uniform=None) -> LossOutput:
        nll, count = self.token_nll(images, None, self.word_dropped(images, uniform))
        loss = nll.mean()
        return LossOutput(loss, {"rec": loss.detach(), "tokens": count.float().mean()})

    @torch.no_grad()
    def text_measures(self, tokens: torch.Tensor, *, importance_samples: int = 500, batch_size: int = 64) -> dict:
        """Exact test NLL (nats per sentence) and perplexity per token (EOS included)."""
        total, count = 0.0, 0
        for start in range(0, len(tokens), batch_size):
            nll, n = self.token_nll(tokens[start : start + batch_size], None)
            total, count = total + float(nll.sum()), count + int(n.sum())
        nll = total / len(tokens)
        return {"nll": nll, "perplexity": math.exp(total / count), "sentences": len(tokens)}


@register_model(
    "text-vae",
    data="text",
    tiny={"embed_dim": 8, "hidden": 8, "latent_dim": 4, "kl_warmup": 4},
    description="sentence VAE (Bowman et al. 2016): GRU encoder and decoder, word dropout, cyclical KL annealing, "
    "free bits, optional BN-VAE (data: text:PATH, fortunes)",
    train_defaults={"batch_size": 32, "lr": 1e-3, "precision": "fp32", "fid_every": 0, "grad_clip": 5.0},
)
class TextVAE(_SentenceModel):
    capabilities = _SentenceModel.capabilities | {"sentence-encoder"}
    # from a language model: no word dropout or KL annealing (remedies for a decoder that ignores the code from
    # the start; a trained one learns to use it under the full KL) and a higher step size for the fresh encoder,
    # chosen on the Debian FAQ, checked on fortunes and the Debian Reference (docs/benchmarks.md, "The sentence VAE
    # started from its language model")
    starts_from = MappingProxyType({"text-lm": ("word_dropout=0", "kl_anneal=none", "train.lr=2e-3")})

    def __init__(self, config: TextConfig) -> None:
        super().__init__(config)
        require(config.latent_dim >= 1, "text-vae needs latent_dim >= 1 (text-lm is the model without a code)")
        self.encoder_embed = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=PAD)
        self.encoder = nn.GRU(config.embed_dim, config.hidden, batch_first=True, bidirectional=True)
        self.posterior = nn.Linear(2 * config.hidden, 2 * config.latent_dim)
        # BN-VAE: batch norm of the means with a fixed scale (the learnable shift stays)
        self.mean_norm = nn.BatchNorm1d(config.latent_dim, affine=False) if config.bn_vae else None
        self.mean_shift = nn.Parameter(torch.zeros(config.latent_dim)) if config.bn_vae else None

    def start_from(
        self, family: str, tensors: dict[str, torch.Tensor], source, model_config: dict | None = None
    ) -> None:
        """From a ``text-lm`` run: its decoder, with the code's inputs starting at zero (the first layer's input
        columns for z, the initial state from z, a Transformer's code projection), so that training starts from
        exactly that language model; the encoder starts afresh. The remedy of a decoder initialised from a
        trained LM (Bowman et al. 2016; Li et al. 2019)."""
        if family != "text-lm":
            return super().start_from(family, tensors, source, model_config)
        own = self.state_dict()
        taken = {}
        for name, tensor in tensors.items():
            target = own.get(name)
            if target is None:
                raise CheckpointError(f"{source}: weight {name} has no place in a text-vae")
            if tensor.shape != target.shape and not (
                name.startswith("decoder.body.weight_ih_l0")
                and tensor.shape[0] == target.shape[0]
                and tensor.shape[1] + self.config.latent_dim == target.shape[1]
            ):
                raise CheckpointError(
                    f"{source}: weight {name} has shape {tuple(tensor.shape)}, this text-vae's is {tuple(target.shape)}"
                    " (train it with the language model's embed_dim, hidden, decoder and layers)"
                )
            taken[name] = torch.zeros_like(target)
            taken[name][tuple(slice(0, n) for n in tensor.shape)] = tensor.to(target.dtype)
        for name in own:
            if name.startswith(("decoder.initial.", "decoder.code.")):
                taken[name] = torch.zeros_like(own[name])
        self.load_state_dict({**own, **taken})

    def encode_tokens(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token rows -> the posterior's mean and log-variance (B, latent_dim)."""
        lengths = (tokens != PAD).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.encoder_embed(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, final = self.encoder(packed)
        mean, log_var = self.posterior(torch.cat([final[0], final[1]], dim=1)).float().chunk(2, dim=1)
        if self.mean_norm is not None:
            mean = self.config.bn_gamma * self.mean_norm(mean) + self.mean_shift
        return mean, log_var.clamp(-12, 8)

    def loss(self, images, labels=None, *, step=0, noise=None, uniform=None) -> LossOutput:
        mean, log_var = self.encode_tokens(images)
        eps = noise(tuple(mean.shape)) if noise is not None else torch.randn_like(mean)
        z = mean + (0.5 * log_var).exp() * eps
        rec, count = self.token_nll(images, z, self.word_dropped(images, uniform))
        kl = 0.5 * (mean.square() + log_var.exp() - 1 - log_var)
        beta = kl_weight(step, self.config.kl_warmup, self.config.kl_anneal)
        loss = rec.mean() + beta * free_bits_kl(kl, self.config.free_bits)
        kl_sentence = kl.sum(1).mean()
        return LossOutput(
            loss,
            {
                "rec": rec.mean().detach(),
                "kl": kl_sentence.detach(),
                "beta": torch.tensor(beta),
                "elbo_nll": (rec.mean() + kl_sentence).detach(),
                "tokens": count.float().mean(),
            },
        )

    def advice(self, logged: dict, step: int) -> str | None:
        remedies = "word_dropout=0.25, free_bits=0.125, kl_anneal=cyclical, bn_vae=true"
        return collapse_advice(float(logged.get("kl", 1.0)), step, self.config.kl_warmup, remedies)

    @torch.no_grad()
    def text_measures(self, tokens: torch.Tensor, *, importance_samples: int = 500, batch_size: int = 64) -> dict:
        """IW-NLL with k = ``importance_samples`` (nats per sentence), perplexity, ELBO, reconstruction, KL, mutual
        information and active units over ``tokens``."""
        k = importance_samples
        if k < 1:
            raise InputError(f"importance samples must be >= 1, got {k}")
        generator = torch.Generator().manual_seed(0)
        means, log_vars, iw, rec_total, kl_total, count = [], [], 0.0, 0.0, 0.0, 0
        for start in range(0, len(tokens), batch_size):
            batch = tokens[start : start + batch_size]
            mean, log_var = self.encode_tokens(batch)
            means.append(mean), log_vars.append(log_var)
            std = (0.5 * log_var).exp()
            kl = 0.5 * (mean.square() + log_var.exp() - 1 - log_var).sum(1)
            rec, n = self.token_nll(batch, mean + std * torch.randn(mean.shape, generator=generator).to(mean))
            rec_total, kl_total, count = rec_total + float(rec.sum()), kl_total + float(kl.sum()), count + int(n.sum())
            for index in range(len(batch)):
                row = batch[index : index + 1, : int((batch[index] != PAD).sum())]  # no padding: 40% less work
                weights = []
                for chunk in range(0, k, batch_size * 4):
                    size = min(batch_size * 4, k - chunk)
                    eps = torch.randn(size, mean.shape[1], generator=generator).to(mean)
                    z = mean[index] + std[index] * eps
                    nll, _ = self.token_nll(row.expand(size, -1), z)
                    log_prior = -0.5 * (z.square() + LOG_2PI).sum(1)
                    log_q = -0.5 * (eps.square() + LOG_2PI + log_var[index]).sum(1)
                    weights.append(-nll + log_prior - log_q)
                iw += float(-(torch.logsumexp(torch.cat(weights), 0) - math.log(k)))
        mean, log_var = torch.cat(means), torch.cat(log_vars)
        sentences = len(tokens)
        return {
            "nll": iw / sentences,
            "perplexity": math.exp(iw / count),
            "elbo": -(rec_total + kl_total) / sentences,
            "rec": rec_total / sentences,
            "kl": kl_total / sentences,
            "mutual_information": mutual_information(mean, log_var, generator),
            "active_units": active_units(mean),
            "latent_dim": self.code_dim,
            "importance_samples": k,
            "sentences": sentences,
        }


def active_units(means: torch.Tensor, threshold: float = 0.01) -> int:
    """Dimensions whose posterior mean varies across the data by more than ``threshold`` (Burda et al. 2016)."""
    return int((means.float().var(dim=0) > threshold).sum()) if len(means) > 1 else 0


def mutual_information(mean: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None) -> float:
    """I(x; z) under q(z|x) with x uniform over the given posteriors: E[log q(z|x)] - E[log q(z)], q(z) the
    aggregate posterior (the estimate of Hoffman & Johnson 2016 used by He et al. 2019), one z per x."""
    mean, log_var = mean.double(), log_var.double()
    dims = mean.shape[1]
    negative_entropy = float((-0.5 * dims * LOG_2PI - 0.5 * (1 + log_var).sum(1)).mean())
    eps = torch.randn(mean.shape, generator=generator, dtype=torch.float64)
    z = mean + (0.5 * log_var).exp() * eps
    deviation = z[:, None] - mean[None]  # (z index, posterior index, D)
    log_density = (
        -0.5 * (deviation.square() / log_var.exp()[None]).sum(2) - 0.5 * (dims * LOG_2PI + log_var.sum(1))[None]
    )
    log_aggregate = torch.logsumexp(log_density, dim=1) - math.log(len(mean))
    return negative_entropy - float(log_aggregate.mean())
