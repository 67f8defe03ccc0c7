"""Compress images into files and back with a trained codec (or a VAE) — real bits, a checked file format.

File layout (version 2), all integers little-endian::

    magic      4 bytes   b"\\x89ISZ"  (a non-ASCII first byte, as PNG does, so no tool takes it for text)
    version    1 byte    2
    codec      1 byte    0: a codec run (found by fingerprint); N: imsynth's shipped default codec, version N
    model      4 bytes   fingerprint: the first bytes of SHA-256 over the codec's weights
    channels   1 byte    channels of the original image (1: grey, coded by an RGB codec as three equal planes)
    quality    1 byte    1..Q
    height     varint    LEB128
    width      varint    LEB128
    check      4 bytes   CRC32 of the tables and scale indices the encoder fed the coder
    payload    ...       ANS-coded symbols, 32-bit words
    crc        4 bytes   CRC32 of everything before it

``HEADER_BYTES`` is the fixed part (magic through check, plus the CRC) for sides under 128 pixels; each side of
128-16383 pixels adds one byte. Version 1 streams (no codec byte: always a run) are still read.

With no ``--model``, ``compress`` uses the codec that ships inside the package (``DEFAULT_CODEC``: a hyperprior
trained on photographs, weights in float16 safetensors), and ``decompress`` uses it for streams whose codec byte
names its version; a stream of another shipped version is refused with both versions named.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError, ImsynthError, InputError
from ..image import all_or_nothing, atomic_path, convert_channels, file_pairs, read_image, save_image, to_float
from ..models import Codec, load_run
from ..models.codec import default_quality
from ..runtime import runs
from ..runtime.coding import Checksum, StreamError, SymbolReader, SymbolWriter
from ..runtime.tensors import numpy_to_tensor, tensor_to_numpy

MAGIC = b"\x89ISZ"
VERSION = 2
READS = (1, 2)  # stream versions this imsynth decodes
SUFFIX = ".isz"
HEADER_BYTES = 4 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 4 + 4
DEFAULT_CODEC = Path(__file__).parent / "weights" / "codec"
"""The shipped codec: a run folder (config.json with its ``version`` and ``fingerprint``, model.safetensors)."""
MAX_SIDE = 1 << 16


def fingerprint(model: torch.nn.Module) -> bytes:
    """4 bytes of SHA-256 over the weights (names, dtypes, shapes and values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        # flattened first: a 0-dim tensor (batch norm's step count, in a vae-gan's discriminator) cannot be viewed
        # as bytes; for every other tensor the bytes are the same as before, so old streams keep their fingerprint
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.digest()[:4]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(3):
        if position >= len(data):
            raise StreamError("the header is truncated")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position
    raise StreamError("the header holds an image side over 2^21 pixels (damaged?)")


@dataclass(frozen=True)
class Header:
    fingerprint: bytes
    channels: int
    quality: int
    height: int
    width: int
    check: int
    codec: int = 0  # 0: a run; N: the shipped default codec's version N

    def pack(self) -> bytes:
        return (
            MAGIC
            + bytes([VERSION, self.codec])
            + self.fingerprint
            + bytes([self.channels, self.quality])
            + _varint(self.height)
            + _varint(self.width)
            + struct.pack("<I", self.check)
        )


def parse(data: bytes) -> tuple[Header, bytes]:
    """The header and payload of a stream, after checking magic, version and CRC (nothing else needs a model)."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise StreamError("not an imsynth compressed stream (the magic bytes do not match)")
    if len(data) < len(MAGIC) + 1:
        raise StreamError("the stream is truncated")
    version = data[4]
    if version not in READS:
        raise StreamError(
            f"stream version {version} is not supported (this imsynth reads versions {', '.join(map(str, READS))})"
        )
    fixed = HEADER_BYTES - (version == 1)  # version 1 had no codec byte
    if len(data) < fixed:
        raise StreamError(f"the stream is truncated ({len(data)} bytes, the header alone is {fixed})")
    (stored,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != stored:
        raise StreamError("the stream is damaged or truncated (CRC32 mismatch)")
    codec, start = (0, 5) if version == 1 else (data[5], 6)
    fingerprint_bytes, (channels, quality) = data[start : start + 4], data[start + 4 : start + 6]
    height, position = _read_varint(data, start + 6)
    width, position = _read_varint(data, position)
    if position + 4 > len(data) - 4:
        raise StreamError("the stream is truncated")
    (check,) = struct.unpack("<I", data[position : position + 4])
    if channels not in (1, 3) or not height or not width:
        raise StreamError(f"the header is not valid ({channels} channels, {width}x{height})")
    return Header(fingerprint_bytes, channels, quality, height, width, check, codec), data[position + 4 : -4]


class ImageCodec:
    """A codec model ready to code: ``encode(image) -> bytes`` and ``decode(bytes) -> image``.

    Images are numpy HxW (grey) or HxWx3, float in [0, 1] (as ``imsynth.image.read_image`` returns them), uint8
    or uint16.
    A grey image coded by an RGB codec is coded as three equal planes and decoded back to grey."""

    def __init__(self, model: torch.nn.Module, *, name: str = "codec", version: int = 0) -> None:
        if not isinstance(model, Codec):
            raise InputError(f"{name}: model {getattr(model, 'registered_name', '?')!r} is not a codec")
        self.model, self.name, self.version = model.eval(), name, version
        self.fingerprint = fingerprint(model)
        self.channels = int(model.config.channels)

    @property
    def qualities(self) -> int:
        return self.model.qualities

    @property
    def default_quality(self) -> int:
        return default_quality(self.qualities)

    def _tensor(self, image: np.ndarray) -> tuple[torch.Tensor, int]:
        image = to_float(image)  # uint8 / uint16 / float, as the class docstring allows
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[..., 0]
        channels = 1 if image.ndim == 2 else image.shape[2]
        if image.ndim not in (2, 3) or channels not in (1, 3):
            raise InputError(f"can code grey (HxW) or RGB (HxWx3) images; got shape {image.shape} (drop alpha first)")
        if not image.size:
            raise InputError(f"the image is empty ({image.shape}); there is nothing to code")
        if max(image.shape[:2]) >= MAX_SIDE:
            raise InputError(f"image sides must be under {MAX_SIDE} pixels, got {image.shape[1]}x{image.shape[0]}")
        if channels == 3 and self.channels == 1:
            raise InputError("this codec codes grey images; the image is RGB (convert it to grey first)")
        image = convert_channels(image, self.channels)
        device = next(self.model.parameters()).device
        return numpy_to_tensor(np.clip(image, 0, 1)).to(device), channels

    def encode(self, image: np.ndarray, quality: int | None = None) -> bytes:
        """One image -> a complete stream (header, payload, CRC)."""
        return self.encode_with_estimate(image, quality)[0]

    def encode_with_estimate(self, image: np.ndarray, quality: int | None = None) -> tuple[bytes, float]:
        """The stream and the model's rate estimate for its payload in bits (for checking file size = estimate)."""
        quality = self.default_quality if quality is None else int(quality)  # the model checks the range
        tensor, channels = self._tensor(image)
        writer, check = SymbolWriter(), Checksum()
        estimate = self.model.compress(tensor, quality, writer, check)
        header = Header(
            self.fingerprint, channels, quality, tensor.shape[-2], tensor.shape[-1], check.value, self.version
        )
        body = header.pack() + writer.finish()
        return body + struct.pack("<I", zlib.crc32(body)), estimate

    def decode(self, data: bytes) -> np.ndarray:
        """A stream -> the image, float32 HxW or HxWx3 in [0, 1]."""
        header, payload = parse(data)
        if header.fingerprint != self.fingerprint:
            raise StreamError(
                f"made by a different codec model (fingerprint {header.fingerprint.hex()}, "
                f"{self.name} has {self.fingerprint.hex()})"
            )
        if not 1 <= header.quality <= self.qualities:
            raise StreamError(f"quality {header.quality} is outside this codec's 1..{self.qualities}")
        reader, check = SymbolReader(payload), Checksum()
        decoded = self.model.decompress(reader, (self.channels, header.height, header.width), header.quality, check)
        reader.finish()
        if check.value != header.check:
            raise StreamError(
                "the coding distributions computed on this machine differ from the encoder's (different "
                "floating-point arithmetic); decode where it was encoded"
            )
        image = tensor_to_numpy(decoded)[0]
        return image.mean(axis=2) if header.channels == 1 else image


def load_codec(run: str | os.PathLike | None, *, device: str = "auto") -> ImageCodec:
    """The codec of ``run``, or the shipped default codec when ``run`` is None."""
    if run is None:
        return default_codec(device=device)
    model, _ = load_run(run, device=device)
    return ImageCodec(model, name=str(run))


def default_codec(*, device: str = "auto", folder: Path | None = None) -> ImageCodec:
    """The codec shipped in the package. A missing or damaged file is named, with what to do: its weights must
    hash to the fingerprint its config records, so a changed file cannot code streams no one else can read."""
    folder = DEFAULT_CODEC if folder is None else folder
    where = f"imsynth's default codec ({folder})"
    try:
        model, saved = load_run(folder, device=device)
        version, expected = int(saved["version"]), str(saved["fingerprint"])
    except (ImsynthError, KeyError, ValueError) as error:
        raise CheckpointError(f"{where}: {error}; reinstall imsynth, or pass --model RUN") from None
    codec = ImageCodec(model, name=f"the default codec v{version}", version=version)
    if codec.fingerprint.hex() != expected:
        raise CheckpointError(
            f"{where}: damaged (its weights hash to {codec.fingerprint.hex()}, not the shipped {expected}); "
            "reinstall imsynth, or pass --model RUN"
        )
    return codec


def ship_codec(run: str | os.PathLike, *, version: int, folder: Path | None = None) -> dict:
    """Package a trained codec run as the default codec: its weights in float16 (half the size; the fingerprint
    is of the weights as loaded back), its config with ``version`` and ``fingerprint`` added. ``make codec``
    trains the run and calls this."""
    if not 1 <= version <= 255:
        raise InputError(f"a default codec version is 1..255, got {version}")
    folder = DEFAULT_CODEC if folder is None else folder
    model, saved = load_run(run, device="cpu")
    if not isinstance(model, Codec):
        raise InputError(f"{run}: model {saved.get('model')!r} is not a codec")
    halves = {
        name: tensor.detach().half() if tensor.is_floating_point() else tensor
        for name, tensor in model.state_dict().items()
    }
    overflow = [name for name, tensor in halves.items() if tensor.is_floating_point() and not tensor.isfinite().all()]
    if overflow:
        raise InputError(f"{run}: weights {overflow[:3]} do not fit in float16")
    model.load_state_dict({name: tensor.float() for name, tensor in halves.items()})
    folder.mkdir(parents=True, exist_ok=True)
    runs.write_tensors(folder / runs.WEIGHTS, halves)
    shipped = {**saved, "version": version, "fingerprint": fingerprint(model).hex(), "source": str(run)}
    runs.write_json(folder / runs.CONFIG, shipped)
    return {
        "version": version,
        "fingerprint": shipped["fingerprint"],
        "megabytes": round((folder / runs.WEIGHTS).stat().st_size / 1e6, 2),
        "folder": str(folder),
    }


# -- files and folders ----------------------------------------------------------------------------------


def compress_path(source, out, run=None, *, quality: int | None = None, device: str = "auto") -> dict:
    """Compress an image or a folder of images to ``.isz`` files (with the codec of ``run``, or the shipped
    default codec); returns sizes and bits per pixel."""
    pairs, out = file_pairs(source, out, out_suffixes=(SUFFIX,), out_suffix=SUFFIX)
    codec = load_codec(run, device=device)
    total_bytes = total_pixels = 0
    with all_or_nothing() as batch:
        for image_path, target in pairs:
            image, _ = read_image(image_path)
            try:
                data = codec.encode(image, quality)
            except InputError as error:
                raise InputError(f"{image_path}: {error}") from None
            with atomic_path(batch.path(target)) as tmp:
                tmp.write_bytes(data)
            total_bytes += len(data)
            total_pixels += image.shape[0] * image.shape[1]
    return {
        "files": len(pairs),
        "bytes": total_bytes,
        "bpp": round(8 * total_bytes / total_pixels, 4),
        "quality": codec.default_quality if quality is None else quality,
        "codec": codec.name,
        "out": str(out),
    }


def find_codec_run(data: bytes, runs: str | os.PathLike, *, device: str = "auto") -> ImageCodec:
    """The codec that made the stream ``data``: the shipped default codec when its codec byte says so (another
    shipped version is refused, both named), else the run under ``runs`` whose weights match its fingerprint."""
    header, _ = parse(data)
    if header.codec:
        shipped = default_codec(device=device)
        if header.codec != shipped.version:
            raise StreamError(
                f"made by imsynth's default codec version {header.codec}; this imsynth ships version "
                f"{shipped.version} (decode it with an imsynth that ships version {header.codec})"
            )
        return shipped
    folder = Path(runs)
    candidates = sorted(p.parent for p in folder.glob("*/model.safetensors")) if folder.is_dir() else []
    for candidate in candidates:
        try:
            codec = load_codec(candidate, device=device)
        except ImsynthError:  # not a run, not a codec, damaged: not the one
            continue
        if codec.fingerprint == header.fingerprint:
            return codec
    raise InputError(
        f"no codec under {folder} made this stream (fingerprint {header.fingerprint.hex()}); pass --model RUN"
    )


def decompress_path(source, out, run=None, *, runs: str = "runs", device: str = "auto") -> dict:
    """Decompress an ``.isz`` file or a folder of them to images (the output suffix picks the format); without
    ``run``, each stream's codec is the shipped one or a run under ``runs`` (``find_codec_run``)."""
    pairs, out = file_pairs(source, out, suffixes=(SUFFIX,))
    chosen = load_codec(run, device=device) if run is not None else None
    found: dict[tuple[int, bytes], ImageCodec] = {}  # streams of one folder may come from different codecs
    with all_or_nothing() as batch:
        for stream_path, target in pairs:
            data = stream_path.read_bytes()
            try:
                codec = chosen
                if codec is None:
                    header, _ = parse(data)
                    key = (header.codec, header.fingerprint)
                    if key not in found:
                        found[key] = find_codec_run(data, runs, device=device)
                    codec = found[key]
                image = codec.decode(data)
            except InputError as error:  # a StreamError too: name the file
                raise type(error)(f"{stream_path}: {error}") from None
            save_image(batch.path(target), image)
    return {"files": len(pairs), "out": str(out)}
