"""Reading and writing images as float arrays in [0, 1], shape (H, W, C) with C = 1 (grey) or 3 (RGB)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .atomic import atomic_path
from .files import require_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


@dataclass
class Image:
    """Pixels in [0, 1] as float32 (H, W, C), the bit depth of the source, and where it came from."""

    pixels: np.ndarray
    bit_depth: int
    source: str

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[-1])


def image_files_under(root: Path) -> list[Path]:
    """Every image file under `root`, recursively, sorted by path; hidden files and folders are skipped."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                out.append(Path(dirpath) / name)
    return sorted(out)


def default_image() -> Image:
    """The paper's cameraman, 512 × 512 grey, bundled with scikit-image (no download)."""
    from skimage import data

    return Image(data.camera().astype(np.float32)[..., None] / 255.0, 8, "skimage.data.camera()")


def load_image(path: str | Path) -> Image:
    """Read PNG / JPEG / TIFF / BMP / WebP, grey or colour, 8 or 16 bit; alpha is dropped."""
    path = require_file(path, "image", "an image file")
    try:
        with warnings.catch_warnings():  # e.g. Pillow's "Corrupt EXIF data": the error line below says enough
            warnings.simplefilter("ignore")
            raw = _read_png(path) if _is_png(path) else _read_other(path)
    except Exception as exc:  # imageio raises many types for corrupt or unknown files
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        if "could not find a backend" in first.lower():  # imageio: no plugin recognises the bytes
            first = "no image reader recognises its contents"
        raise UserError(f"could not read image {path}: {first} (PNG, JPEG, TIFF, BMP or WebP expected)") from None
    return image_from_array(raw, str(path))


def _is_png(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def _read_png(path: Path) -> np.ndarray:
    """PNG through pypng, which keeps 16-bit colour (Pillow truncates 48-bit RGB to 8 bits)."""
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    dtype = np.uint16 if info["bitdepth"] > 8 else np.uint8
    data = np.vstack([np.asarray(row, dtype=dtype) for row in rows])
    planes = info["planes"]
    data = data.reshape(height, width, planes)
    if info["bitdepth"] not in (8, 16):  # 1/2/4-bit grey: stretch to 8 bits
        data = (data.astype(np.uint16) * 255 // (2 ** info["bitdepth"] - 1)).astype(np.uint8)
    return data


def _read_other(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return np.asarray(iio.imread(path))


def image_from_array(raw: np.ndarray, source: str) -> Image:
    """Normalise an integer or float array (H, W[, C]) to an `Image`, with clear errors for odd shapes."""
    if raw.ndim == 2:
        raw = raw[..., None]
    if raw.ndim != 3:
        raise UserError(f"image {source} has shape {raw.shape}; expected a single 2-D image (H, W) or (H, W, C)")
    if raw.shape[-1] in (2, 4):  # grey + alpha, RGBA: drop alpha
        raw = raw[..., :-1]
    if raw.shape[-1] not in (1, 3):
        raise UserError(f"image {source} has {raw.shape[-1]} channels; expected grey or RGB")
    if min(raw.shape[:2]) < 2:
        raise UserError(f"image {source} is {raw.shape[1]}×{raw.shape[0]} pixels; need at least 2×2")
    if raw.dtype == np.uint8:
        pixels, depth = raw.astype(np.float32) / 255.0, 8
    elif raw.dtype == np.uint16:
        pixels, depth = raw.astype(np.float32) / 65535.0, 16
    elif raw.dtype == bool:
        pixels, depth = raw.astype(np.float32), 8
    elif np.issubdtype(raw.dtype, np.floating):
        pixels, depth = raw.astype(np.float32), 16
        if not np.isfinite(pixels).all():
            raise UserError(f"image {source} contains NaN or infinite values")
        lo, hi = float(pixels.min()), float(pixels.max())
        if lo < 0 or hi > 1:
            pixels = (pixels - lo) / max(hi - lo, 1e-12)
    elif np.issubdtype(raw.dtype, np.integer):
        info = np.iinfo(raw.dtype)
        pixels = (raw.astype(np.float64) - info.min) / (info.max - info.min)
        pixels, depth = pixels.astype(np.float32), 16
    else:
        raise UserError(f"image {source} has unsupported pixel type {raw.dtype}")
    return Image(np.ascontiguousarray(pixels), depth, source)


def resize_longer_side(image: Image, size: int) -> Image:
    """Resize (anti-aliased) so that the longer side has `size` pixels; 0 keeps the native size."""
    h, w = image.pixels.shape[:2]
    if size == 0 or max(h, w) == size:
        return image
    if size < 2:
        raise UserError(f"--size must be ≥ 2 (or 0 for the native size), got {size}")
    from skimage.transform import resize

    scale = size / max(h, w)
    shape = (max(2, round(h * scale)), max(2, round(w * scale)))
    pixels = resize(image.pixels, shape + (image.channels,), anti_aliasing=scale < 1, preserve_range=True)
    return Image(np.clip(pixels, 0, 1).astype(np.float32), image.bit_depth, image.source)


def to_grey(image: Image) -> Image:
    """ITU-R 601 luma of a colour image (grey images pass through)."""
    if image.channels == 1:
        return image
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return Image((image.pixels @ weights)[..., None], image.bit_depth, image.source)


def save_image(path: str | Path, pixels: np.ndarray, bit_depth: int = 8) -> None:
    """Write (H, W, C) or (H, W) values in [0, 1] as an 8- or 16-bit PNG (or another format by suffix), atomically."""
    arr = np.clip(np.asarray(pixels, dtype=np.float64), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if bit_depth > 8:
        out = np.round(arr * 65535.0).astype(np.uint16)
    else:
        out = np.round(arr * 255.0).astype(np.uint8)
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise UserError(f"cannot write an image as {path.name}: use one of {', '.join(IMAGE_SUFFIXES)}")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            import png

            planes = 1 if out.ndim == 2 else out.shape[-1]
            mode = {1: "L", 3: "RGB"}[planes] + (";16" if out.dtype == np.uint16 else "")
            png.from_array(out.reshape(out.shape[0], -1), mode).save(str(tmp))
        else:
            import imageio.v3 as iio

            iio.imwrite(tmp, out, extension=suffix)
