"""Compress images into files and back with a trained codec (or a VAE) — real bits, a checked file format.

File layout (version 1), all integers little-endian::

    magic      4 bytes   b"\\x89ISZ"  (a non-ASCII first byte, as PNG does, so no tool takes it for text)
    version    1 byte    1
    model      4 bytes   fingerprint: the first bytes of SHA-256 over the codec's weights
    channels   1 byte    channels of the original image (1: grey, coded by an RGB codec as three equal planes)
    quality    1 byte    1..Q
    height     varint    LEB128
    width      varint    LEB128
    check      4 bytes   CRC32 of the tables and scale indices the encoder fed the coder
    payload    ...       ANS-coded symbols, 32-bit words
    crc        4 bytes   CRC32 of everything before it

``HEADER_BYTES`` is the fixed part (magic through check, plus the CRC) for sides under 128 pixels; each side of
128-16383 pixels adds one byte.
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

from ..errors import ImsynthError, InputError
from ..image import atomic_path, convert_channels, file_pairs, read_image, save_image, to_float
from ..models import Codec, load_run
from ..models.codec import default_quality
from ..runtime.coding import Checksum, StreamError, SymbolReader, SymbolWriter
from ..runtime.tensors import numpy_to_tensor, tensor_to_numpy

MAGIC = b"\x89ISZ"
VERSION = 1
SUFFIX = ".isz"
HEADER_BYTES = 4 + 1 + 4 + 1 + 1 + 1 + 1 + 4 + 4
MAX_SIDE = 1 << 16


def fingerprint(model: torch.nn.Module) -> bytes:
    """4 bytes of SHA-256 over the weights (names, dtypes, shapes and values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
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

    def pack(self) -> bytes:
        return (
            MAGIC
            + bytes([VERSION])
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
    if data[4] != VERSION:
        raise StreamError(f"stream version {data[4]} is not supported (this imsynth reads version {VERSION})")
    if len(data) < HEADER_BYTES:
        raise StreamError(f"the stream is truncated ({len(data)} bytes, the header alone is {HEADER_BYTES})")
    (stored,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != stored:
        raise StreamError("the stream is damaged or truncated (CRC32 mismatch)")
    fingerprint_bytes, (channels, quality) = data[5:9], data[9:11]
    height, position = _read_varint(data, 11)
    width, position = _read_varint(data, position)
    if position + 4 > len(data) - 4:
        raise StreamError("the stream is truncated")
    (check,) = struct.unpack("<I", data[position : position + 4])
    if channels not in (1, 3) or not height or not width:
        raise StreamError(f"the header is not valid ({channels} channels, {width}x{height})")
    return Header(fingerprint_bytes, channels, quality, height, width, check), data[position + 4 : -4]


class ImageCodec:
    """A codec model ready to code: ``encode(image) -> bytes`` and ``decode(bytes) -> image``.

    Images are numpy HxW (grey) or HxWx3, float in [0, 1] (as ``imsynth.image.read_image`` returns them), uint8
    or uint16.
    A grey image coded by an RGB codec is coded as three equal planes and decoded back to grey."""

    def __init__(self, model: torch.nn.Module, *, name: str = "codec") -> None:
        if not isinstance(model, Codec):
            raise InputError(f"{name}: model {getattr(model, 'registered_name', '?')!r} is not a codec")
        self.model, self.name = model.eval(), name
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
        header = Header(self.fingerprint, channels, quality, tensor.shape[-2], tensor.shape[-1], check.value)
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


def load_codec(run: str | os.PathLike, *, device: str = "auto") -> ImageCodec:
    model, _ = load_run(run, device=device)
    return ImageCodec(model, name=str(run))


# -- files and folders ----------------------------------------------------------------------------------


def compress_path(source, out, run, *, quality: int | None = None, device: str = "auto") -> dict:
    """Compress an image or a folder of images to ``.isz`` files; returns sizes and bits per pixel."""
    pairs, out = file_pairs(source, out, out_suffixes=(SUFFIX,), out_suffix=SUFFIX)
    codec = load_codec(run, device=device)
    total_bytes = total_pixels = 0
    for image_path, target in pairs:
        image, _ = read_image(image_path)
        try:
            data = codec.encode(image, quality)
        except InputError as error:
            raise InputError(f"{image_path}: {error}") from None
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        total_bytes += len(data)
        total_pixels += image.shape[0] * image.shape[1]
    return {
        "files": len(pairs),
        "bytes": total_bytes,
        "bpp": round(8 * total_bytes / total_pixels, 4),
        "quality": codec.default_quality if quality is None else quality,
        "out": str(out),
    }


def find_codec_run(data: bytes, runs: str | os.PathLike, *, device: str = "auto") -> ImageCodec:
    """The run under ``runs`` whose weights made the stream ``data`` (by fingerprint)."""
    header, _ = parse(data)
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
    """Decompress an ``.isz`` file or a folder of them to images (the output suffix picks the format)."""
    pairs, out = file_pairs(source, out, suffixes=(SUFFIX,))
    codec = load_codec(run, device=device) if run is not None else None
    for stream_path, target in pairs:
        data = stream_path.read_bytes()
        try:
            codec = codec or find_codec_run(data, runs, device=device)
            image = codec.decode(data)
        except InputError as error:  # a StreamError too: name the file
            raise type(error)(f"{stream_path}: {error}") from None
        save_image(target, image)
    return {"files": len(pairs), "out": str(out)}
