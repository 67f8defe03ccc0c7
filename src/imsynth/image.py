"""The one place that touches image files and converts numpy images for them. No torch here.

Representations:
- numpy: float32, HxW or HxWxC, values in [0, 1] (classical methods); ``imsynth.runtime.tensors`` converts to
  and from the models' torch NCHW [-1, 1].
- files: read at their full precision (8- and 16-bit PNG/TIFF, 32-bit integer and float TIFF) into float32,
  and written at 8 or 16 bits per channel (16 where the format allows: PNG, TIFF).

Files are read by Pillow (decompression-bomb limit on, EXIF orientation applied; 16-bit colour PNG/TIFF by OpenCV,
which Pillow cuts to 8 bits) and written atomically (a temporary file, then a rename): never half-written.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import ImageError, InputError

__all__ = [
    "IMAGE_SUFFIXES",
    "READABLE_SUFFIXES",
    "image_files",
    "MAX_PIXELS",
    "all_or_nothing",
    "atomic_path",
    "check_allocation",
    "check_output",
    "check_pixels",
    "image_file_size",
    "convert_channels",
    "file_pairs",
    "fit_square",
    "is_folder_output",
    "load_image",
    "make_grid",
    "output_depth",
    "read_image",
    "save_grid",
    "save_image",
    "save_npz",
    "to_float",
    "to_pil",
]

_UMASK = os.umask(0o022)
os.umask(_UMASK)

# suffix -> Pillow format: every image file imsynth writes; it reads these and READ_ONLY_SUFFIXES (a GIF would
# lose colours to a palette, PPM/PGM are inputs from other tools). The one list of image suffixes.
IMAGE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
}
READ_ONLY_SUFFIXES = (".gif", ".ppm", ".pgm")
READABLE_SUFFIXES = (*IMAGE_SUFFIXES, *READ_ONLY_SUFFIXES)
SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
# Outputs larger than this are refused before anything is allocated (Pillow refuses to *read* images over
# 2 x its MAX_IMAGE_PIXELS, 179 MP, so a larger output could not even be opened again).
MAX_PIXELS = int(os.environ.get("IMSYNTH_MAX_PIXELS", 2 * Image.MAX_IMAGE_PIXELS))


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def check_pixels(width: int, height: int, *, where: str = "size") -> None:
    """Refuse an output of ``width`` x ``height`` before allocating it, naming the limit."""
    if width < 1 or height < 1:
        raise InputError(f"{where}: {width}x{height} is empty; both sides must be >= 1")
    if width * height > MAX_PIXELS:
        raise InputError(
            f"{where}: {width}x{height} is {width * height:,} pixels; the limit is {MAX_PIXELS:,} "
            "(set IMSYNTH_MAX_PIXELS to change it)"
        )


def check_allocation(values: int, *, where: str, bytes_per_value: int = 4) -> None:
    """Refuse work whose arrays alone would take more than half of this machine's memory."""
    limit = _memory_bytes() // 2
    if values * bytes_per_value > limit:
        raise InputError(
            f"{where}: needs {values * bytes_per_value / 2**30:,.1f} GiB for its arrays; the limit "
            f"here is {limit / 2**30:,.1f} GiB (half of this machine's memory)"
        )


def is_folder_output(path: str | os.PathLike) -> bool:
    """An output path meant as a folder of files: it ends in '/' (or '\\') or is an existing folder."""
    return os.fspath(path).endswith(("/", "\\")) or Path(path).is_dir()


def check_output(
    path: str | os.PathLike, *, suffixes: Sequence[str] = tuple(IMAGE_SUFFIXES), folder_ok: bool = False
) -> Path:
    """Check an output path before the work starts: a known suffix, and a folder that can be made and written.
    ``folder_ok`` also accepts a folder of outputs (see ``is_folder_output``)."""
    is_folder = folder_ok and is_folder_output(path)
    path = Path(path)
    if not is_folder and path.suffix.lower() not in suffixes:
        shown = path.suffix or "no suffix"
        kinds = ", ".join(suffixes) + (", or a folder ending in /" if folder_ok else "")
        raise InputError(f"{path}: unknown output format ({shown}); supported: {kinds}")
    folder = path if is_folder else path.parent
    _writable_folder(folder)
    return path


def image_files(
    root: str | os.PathLike, *, suffixes: Sequence[str] = READABLE_SUFFIXES, recursive: bool = True
) -> list[Path]:
    """The image files under ``root`` (recursive unless told), sorted: the one folder scan of the package."""
    found = Path(root).rglob("*") if recursive else Path(root).iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in suffixes)


def file_pairs(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    suffixes: Sequence[str] = READABLE_SUFFIXES,
    out_suffixes: Sequence[str] = tuple(IMAGE_SUFFIXES),
    out_suffix: str = ".png",
) -> tuple[list[tuple[Path, Path]], Path]:
    """(input, output) paths for a command that maps files to files, every output checked before any work.

    A file gives one pair: ``out`` itself, or ``out/STEM{out_suffix}`` when ``out`` is a folder (ends in '/' or
    exists). A folder gives every file under it with one of ``suffixes`` (recursive, sorted), mirrored under the
    output folder with ``out_suffix``."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    if not source.is_dir():
        target = Path(out) / (source.stem + out_suffix) if is_folder_output(out) else Path(out)
        return [(source, check_output(target, suffixes=out_suffixes))], Path(out)
    files = image_files(source, suffixes=suffixes)
    if not files:
        raise InputError(f"{source}: no {', '.join(sorted(suffixes))} files in this folder")
    out = Path(out)
    if not is_folder_output(out) and out.suffix:
        raise InputError(f"{out}: a folder of inputs needs an output folder (end it with /)")
    _writable_folder(out)
    return [(file, (out / file.relative_to(source)).with_suffix(out_suffix)) for file in files], out


def _writable_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"{folder}: cannot create the output folder ({error.strerror or error})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: the output folder is not writable")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    _writable_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as error:
        raise InputError(f"{path.parent}: cannot write here ({error.strerror or error})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs should follow the user's umask
    try:
        yield tmp_path
        try:
            os.replace(tmp_path, path)
        except IsADirectoryError:
            raise InputError(f"{path}: is a folder; give a file name") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class _Batch:
    def __init__(self) -> None:
        self.pending: list[tuple[Path, Path]] = []
        self.made: list[Path] = []

    def path(self, target: str | os.PathLike) -> Path:
        """Where to write ``target`` for now: a hidden name beside it, renamed onto it when the batch succeeds."""
        target = Path(target)
        self.made += [folder for folder in target.parents if not folder.exists() and folder not in self.made]
        pending = target.with_name(f".{target.stem}.pending{target.suffix}")
        self.pending.append((pending, target))
        return pending


@contextlib.contextmanager
def all_or_nothing() -> Iterator[_Batch]:
    """Outputs of a command that maps many files, written all or none: each is written to ``batch.path(target)``
    and all are renamed into place once every one is written. On an error the pending files and the folders the
    batch made are removed, so a folder whose tenth file is damaged leaves the output as it was."""
    batch = _Batch()
    try:
        yield batch
    except BaseException:
        for pending, _ in batch.pending:
            pending.unlink(missing_ok=True)
        for folder in sorted(batch.made, key=lambda f: len(f.parts), reverse=True):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: never what the user had
        raise
    for pending, target in batch.pending:
        try:
            os.replace(pending, target)
        except IsADirectoryError:
            pending.unlink(missing_ok=True)
            raise InputError(f"{target}: is a folder; give a file name") from None


def to_float(image: np.ndarray) -> np.ndarray:
    """Explicitly convert a uint8/uint16/bool/float image to float32 in [0, 1]."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.floating):
        return image.astype(np.float32, copy=False)
    raise InputError(f"unsupported image dtype {image.dtype}; expected uint8, uint16, bool or float")


def _quantise(image: np.ndarray, bit_depth: int) -> np.ndarray:
    array = np.asarray(image)
    if bit_depth == 8 and array.dtype == np.uint8:
        return array
    if bit_depth == 16 and array.dtype == np.uint16:
        return array
    top = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(to_float(array), 0.0, 1.0) * top).astype(dtype)


def _planes(array: np.ndarray) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise InputError(f"cannot make a picture of an array of shape {array.shape}")
    return array


def to_pil(image: np.ndarray) -> Image.Image:
    """HxW or HxWxC (C in 1, 3, 4) float [0,1] or uint8 array -> 8-bit PIL image."""
    return Image.fromarray(_planes(_quantise(image, 8)))


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as handle:
        header = handle.read(26)
    return header[24] if len(header) >= 25 and header[:8] == b"\x89PNG\r\n\x1a\n" else 8


def _file_bit_depth(path: Path, picture: Image.Image) -> int:
    """Bits per channel the file stores (Pillow reports 16-bit colour as 8-bit RGB)."""
    if picture.format == "PNG":
        return _png_bit_depth(path)
    if picture.format == "TIFF":
        bits = picture.tag_v2.get(258, (8,))
        return int(max(bits) if isinstance(bits, tuple) else bits)
    return 8


def _read_sixteen_bit_colour(path: Path) -> np.ndarray:
    import cv2  # only for 16-bit colour files: Pillow reduces them to 8 bits

    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.dtype != np.uint16:
        raise ImageError(f"{path}: could not read its 16-bit colour pixels")
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return pixels.astype(np.float32) / 65535.0


def _existing_file(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    return path


def image_file_size(path: str | os.PathLike, limit: int) -> tuple[int, int]:
    """(width, height) of an image file, read from its header: a file of more than ``limit`` pixels is refused
    before anything decodes it (a server's cap on uploads). ``ImageError`` names the file."""
    path = _existing_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit below decides
            with Image.open(path) as opened:
                width, height = opened.size
    except Image.DecompressionBombError:
        raise ImageError(f"{path}: image too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None
    if width * height > limit:
        raise ImageError(
            f"{path}: {width}x{height} is {width * height / 1e6:.1f} megapixels, more than the limit of "
            f"{limit / 1e6:.1f}"
        )
    return width, height


def read_image(path: str | os.PathLike, *, mode: str | None = None) -> tuple[np.ndarray, int]:
    """Read an image file at full precision: (float32 HxW or HxWxC in [0, 1], bits per channel of the file).

    8-bit files give multiples of 1/255, 16-bit PNG/TIFF multiples of 1/65535 (exact in float32); 32-bit
    integer images are scaled by 1/(2^32 - 1) and float images kept as they are. ``mode`` ('L', 'RGB',
    'RGBA') converts; by default grey stays HxW, palette/other modes become RGB (RGBA when they carry
    transparency). Raises ``ImageError`` naming the file for missing, empty, corrupt, truncated or oversized
    images.
    """
    path = _existing_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow warns before the hard limit; treat any bomb warning as an error too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()
                picture = ImageOps.exif_transpose(opened)
                file_format, depth = opened.format, _file_bit_depth(path, opened)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageError(f"{path}: image too large to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError) as error:
        raise ImageError(f"{path}: not a readable image ({error})") from None
    if picture.mode.startswith("I;16") or (picture.mode == "I" and file_format == "PNG"):
        pixels, depth = np.asarray(picture).astype(np.float32) / 65535.0, 16
    elif picture.mode == "I":
        pixels, depth = (np.asarray(picture).astype(np.float64) % 2**32 / (2**32 - 1)).astype(np.float32), 32
    elif picture.mode == "F":
        pixels, depth = np.asarray(picture, dtype=np.float32), 32
    elif depth > 8 and picture.mode in ("RGB", "RGBA") and file_format in ("PNG", "TIFF"):
        pixels = _read_sixteen_bit_colour(path)
        if pixels.shape[:2] != (picture.height, picture.width):
            raise ImageError(f"{path}: its 16-bit pixels do not match its header")
    else:
        depth = min(depth, 8)
        if mode is None:
            if picture.mode in ("L", "1"):
                mode = "L"
            elif picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                mode = "RGBA"
            else:
                mode = "RGB"
        try:
            picture = picture.convert(mode)
        except ValueError as error:
            raise ImageError(f"{path}: cannot convert to {mode} ({error})") from None
        return np.asarray(picture, dtype=np.float32) / 255.0, depth
    return _convert_float(pixels, mode, path), depth


def _convert_float(pixels: np.ndarray, mode: str | None, path: Path) -> np.ndarray:
    """A colour conversion of float pixels (so 16-bit data keep their precision)."""
    if mode is None:
        return pixels
    grey = pixels.ndim == 2
    if mode in ("L", "RGB"):
        return convert_channels(pixels, 1 if mode == "L" else 3)
    if mode == "RGBA":
        rgb = convert_channels(pixels, 3)
        alpha = pixels[:, :, 3:4] if not grey and pixels.shape[2] == 4 else np.ones_like(rgb[:, :, :1])
        return np.concatenate([rgb, alpha], axis=2)
    raise InputError(f"{path}: unknown mode {mode!r}; valid: L, RGB, RGBA")


LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
"""Rec. 601 luma weights: the one RGB -> grey conversion (Pillow's "L" uses the same)."""


def convert_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A float HxW / HxWxC image as grey (``channels`` 1: HxW, luma of RGB) or RGB (3: grey repeated); alpha is
    dropped. Other channel counts pass unchanged when they already match."""
    image = np.asarray(image)
    planes = image if image.ndim == 3 else image[:, :, None]
    if planes.shape[2] in (2, 4):  # grey + alpha, RGB + alpha
        planes = planes[:, :, : planes.shape[2] - 1]
    if channels == 1:
        grey = planes[:, :, 0] if planes.shape[2] == 1 else planes[:, :, :3] @ LUMA
        return grey.astype(np.float32, copy=False)
    if channels == 3:
        rgb = np.repeat(planes, 3, axis=2) if planes.shape[2] == 1 else planes[:, :, :3]
        return np.ascontiguousarray(rgb, dtype=np.float32)
    if planes.shape[2] != channels:
        raise InputError(f"cannot convert a {planes.shape[2]}-channel image to {channels} channels")
    return planes


def load_image(path: str | os.PathLike, *, mode: str | None = None) -> np.ndarray:
    """Read an image file as float32 in [0, 1], HxW (grey) or HxWxC, at full precision (see ``read_image``)."""
    return read_image(path, mode=mode)[0]


def output_depth(path: str | os.PathLike, requested: int | str | None, source_depth: int = 8) -> int:
    """Bits per channel for an output: ``requested`` 8 or 16, or None/'auto' for the input's depth where the
    format holds it (16-bit inputs give 16-bit PNG/TIFF, 8 bits elsewhere)."""
    suffix = Path(path).suffix.lower()
    if requested in (None, "auto"):
        return 16 if source_depth > 8 and suffix in SIXTEEN_BIT_SUFFIXES else 8
    depth = int(requested)
    if depth not in (8, 16):
        raise InputError(f"--bit-depth must be 8, 16 or auto, got {requested}")
    if depth == 16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        raise InputError(f"{path}: 16-bit output needs one of {', '.join(SIXTEEN_BIT_SUFFIXES)}")
    return depth


def save_image(path: str | os.PathLike, image: np.ndarray, *, bit_depth: int = 8) -> Path:
    """Write an HxW or HxWxC float [0,1] / uint8 / uint16 array atomically at 8 or 16 bits per channel; the
    format follows the suffix (unknown suffixes are refused, listing the supported ones)."""
    path = check_output(path)
    bit_depth = output_depth(path, bit_depth)
    array = _planes(_quantise(image, bit_depth))
    image_format = IMAGE_SUFFIXES[path.suffix.lower()]
    with atomic_path(path) as tmp:
        if bit_depth == 16 and array.ndim == 3:
            import cv2  # Pillow cannot write 16-bit colour

            code = cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR
            # the temporary name ends in the output's suffix, which OpenCV reads as the format
            if not cv2.imwrite(str(tmp), cv2.cvtColor(array, code)):
                raise InputError(f"{path}: could not write a 16-bit image")
        else:
            picture = Image.fromarray(array)
            if image_format == "JPEG" and picture.mode == "RGBA":
                picture = picture.convert("RGB")  # JPEG has no alpha
            picture.save(tmp, format=image_format)
    return path


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Named arrays as a compressed .npz, atomically (never pickled objects: load with allow_pickle=False)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


def fit_square(picture: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` and crop the centre square (bicubic up, Lanczos down)."""
    width, height = picture.size
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    picture = picture.resize(new_size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    return picture.crop((left, top, left + size, top + size))


def make_grid(images: np.ndarray, *, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile N images (NxHxWxC or NxHxW numpy in [0, 1]) into one HxWxC float [0, 1] array; ``nrow`` is images
    per row (default: about square)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise InputError(f"a grid needs NxHxWxC images, got shape {images.shape}")
    count, height, width, channels = images.shape
    if count == 0:
        raise InputError("cannot make a grid of zero images")
    nrow = nrow or max(1, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / nrow)
    grid = np.full(
        (rows * (height + padding) + padding, nrow * (width + padding) + padding, channels), pad_value, dtype=np.float32
    )
    for index in range(count):
        top = padding + (index // nrow) * (height + padding)
        left = padding + (index % nrow) * (width + padding)
        grid[top : top + height, left : left + width] = images[index]
    return grid


def save_grid(path: str | os.PathLike, images: np.ndarray, *, nrow: int | None = None, scale: int = 1) -> Path:
    """Save a grid of NxHxWxC images in [0, 1]; ``scale`` enlarges small images (nearest-neighbour) for viewing."""
    grid = make_grid(images, nrow=nrow)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return save_image(path, grid)
