"""Reading and writing images as float arrays in [0, 1], shape (H, W, C) with C = 1 (grey) or 3 (RGB)."""

from __future__ import annotations

import math
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from ..errors import UserError
from .atomic import atomic_path
from .files import require_file
from .limits import check_image_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
T = TypeVar("T")


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
    """Read PNG / JPEG / TIFF / BMP / WebP, grey or colour, 8 or 16 bit; alpha is dropped.

    The size the file's header declares is checked against --max-pixels (`sirenkit.io.limits`) before any
    pixel is decoded, so a small file that would decode to a huge image is refused in a moment.
    """
    path = require_file(path, "image", "an image file")
    raw = _guarded(path, lambda: _read_png(path) if _is_png(path) else _read_other(path))
    return image_from_array(raw, str(path))


def image_size(path: str | Path) -> tuple[int, int, int]:
    """(frames, height, width) that `load_image` would decode from `path`, read from its header only (no pixel
    is decoded; frames > 1 for an animated GIF or a multi-page TIFF). Same errors as `load_image` for a missing
    or unreadable file; the size is not checked against the limits here."""
    path = require_file(path, "image", "an image file")
    return _guarded(path, lambda: _png_size(path) if _is_png(path) else _other_size(path))


def _guarded(path: Path, read: Callable[[], T]) -> T:
    """`read()`, with any library error turned into one `could not read image …` line."""
    try:
        with warnings.catch_warnings():  # e.g. Pillow's "Corrupt EXIF data": the error line below says enough
            warnings.simplefilter("ignore")
            return read()
    except UserError:
        raise
    except Exception as exc:  # imageio raises many types for corrupt or unknown files
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        if "could not find a backend" in first.lower():  # imageio: no plugin recognises the bytes
            first = "no image reader recognises its contents"
        raise UserError(f"could not read image {path}: {first} (PNG, JPEG, TIFF, BMP or WebP expected)") from None


def _is_png(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int, int]:
    import png

    with open(path, "rb") as f:
        reader = png.Reader(file=f)
        reader.preamble()  # the chunks before the first IDAT: IHDR gives the size
        return 1, int(reader.height), int(reader.width)


def _read_png(path: Path) -> np.ndarray:
    """PNG through pypng, which keeps 16-bit colour (Pillow truncates 48-bit RGB to 8 bits)."""
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()  # rows: decoded lazily
    check_image_pixels(height, width, f"image {path}")
    _check_png_stream(path)  # pypng inflates each IDAT chunk whole: a 1 MB chunk can be a GB of zeros
    dtype = np.uint16 if info["bitdepth"] > 8 else np.uint8
    planes = info["planes"]
    data = np.empty((height, width * planes), dtype=dtype)  # filled row by row: no second copy
    filled = 0
    for row in rows:
        if filled == height:
            raise ValueError(f"more than the {height} rows its header declares")
        data[filled] = np.asarray(row, dtype=dtype)
        filled += 1
    if filled != height:
        raise ValueError(f"{filled} rows of the {height} its header declares")
    data = data.reshape(height, width, planes)
    if info["bitdepth"] not in (8, 16):  # 1/2/4-bit grey: stretch to 8 bits
        data = (data.astype(np.uint16) * 255 // (2 ** info["bitdepth"] - 1)).astype(np.uint8)
    return data


_PNG_PLANES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type → samples per pixel
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
_INFLATE_PIECE = 1 << 16  # bytes read, and bytes inflated, at a time


def png_data_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes the IDAT stream of a PNG inflates to: each row is a filter byte and its pixels packed to whole bytes;
    an interlaced (Adam7) image is seven reduced images, and a pass with no pixel holds no row at all.
    >>> png_data_size(2, 2, 8, False), png_data_size(2, 2, 8, True), png_data_size(1, 1, 1, True)
    (6, 7, 2)
    """
    def rows(w: int, h: int) -> int:
        return h * (1 + (w * bits_per_pixel + 7) // 8) if w > 0 and h > 0 else 0

    if not interlaced:
        return rows(width, height)
    return sum(rows(-(-(width - x) // dx), -(-(height - y) // dy)) for x, y, dx, dy in _ADAM7)


def _check_png_stream(path: Path) -> None:
    """Refuse a PNG whose IDAT stream inflates to more than its IHDR declares, before pypng decodes it.

    pypng inflates each IDAT chunk in one call, so a 2×2 PNG holding a 1 MB chunk of deflated zeros took 2.3 GB
    (and an interlaced one was even accepted: its extra bytes are ignored). Here the chunks are walked by their
    8-byte headers and the IDAT data inflated a piece at a time (`_inflates_past`), so the file is refused in
    little memory once the total passes the size its header allows. Anything else that is wrong with the file
    (a bad chunk, a bad CRC, a bad zlib stream) is left to pypng to report.
    """
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return
        head = f.read(8)
        if len(head) < 8 or struct.unpack(">I4s", head) != (13, b"IHDR"):
            return
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", f.read(13))
        if colour not in _PNG_PLANES:
            return
        allowed = png_data_size(width, height, depth * _PNG_PLANES[colour], interlace == 1)
        f.seek(4, os.SEEK_CUR)  # the CRC
        if _inflates_past(_png_idat(f), zlib.decompressobj, allowed):
            raise UserError(_bomb_line(path, width, height))


def _png_idat(f: BinaryIO) -> Iterator[bytes]:
    """The data of the IDAT chunks from here to IEND, in pieces; other chunks are skipped by their headers."""
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IEND":
            return
        if kind != b"IDAT":
            f.seek(length + 4, os.SEEK_CUR)
            continue
        yield from _pieces(f, length)
        f.seek(4, os.SEEK_CUR)


def _pieces(f: BinaryIO, count: int) -> Iterator[bytes]:
    """`count` bytes from the file's position on, `_INFLATE_PIECE` at a time (fewer where the file ends)."""
    while count > 0:
        data = f.read(min(count, _INFLATE_PIECE))
        if not data:
            return
        count -= len(data)
        yield data


def _inflates_past(pieces: Iterable[bytes], inflater: Callable[[], Any], allowed: int) -> bool:
    """Whether the compressed stream in `pieces` inflates to more than `allowed` bytes. Each step inflates at
    most `_INFLATE_PIECE` bytes and none is kept, so memory stays small whatever the stream holds; the stream is
    read no further than needed. A damaged stream counts as not over: the real decoder says what is wrong.
    `inflater` makes a zlib or LZMA decompressor; LZMA streams may follow one another (as `lzma.decompress`
    reads them), zlib data after the end of its stream is ignored (as `zlib.decompress` does)."""
    import lzma

    total = 0
    d = inflater()
    for data in pieces:
        while True:
            try:
                out = d.decompress(data, _INFLATE_PIECE)
            except (zlib.error, lzma.LZMAError):
                return False
            total += len(out)
            if total > allowed:
                return True
            if d.eof:
                if not isinstance(d, lzma.LZMADecompressor) or not d.unused_data:
                    return False
                data, d = d.unused_data, inflater()  # the next LZMA stream
                continue
            if isinstance(d, lzma.LZMADecompressor):  # keeps unread input inside
                data, more = b"", not d.needs_input
            else:  # zlib hands unread input back; a full step may also have output held back
                data = d.unconsumed_tail
                more = bool(data) or len(out) == _INFLATE_PIECE
            if not more:
                break
    return False


def _bomb_line(path: Path, width: int, height: int) -> str:
    return (f"image {path} holds more pixel data than its header declares ({width}×{height}); it is damaged or a "
            f"decompression bomb")


def _check_tiff_stream(path: Path) -> None:
    """Refuse a TIFF of which one strip or tile inflates to more than a strip or tile of its declared size holds.

    Without imagecodecs, tifffile inflates a deflate (zlib) or LZMA strip in one call: a 2×2 TIFF whose strip was
    256 KB of deflated zeros took 512 MB and was accepted. Strips are checked here as PNG streams are
    (`_inflates_past`), against the decoded size of one chunk (`keyframe.chunks`, bytes per sample rounded up).
    The other codecs tifffile reads here (none: uncompressed) cannot inflate."""
    import lzma

    import tifffile

    inflaters: dict[int, Callable[[], Any]] = {8: zlib.decompressobj, 32946: zlib.decompressobj,
                                               50013: zlib.decompressobj, 34925: lzma.LZMADecompressor}
    with tifffile.TiffFile(str(path)) as tif, open(path, "rb") as f:
        series = tif.series
        for page in series[0].pages if series else ():
            if page is None:
                continue
            key = page.keyframe
            inflater = inflaters.get(int(key.compression))
            if inflater is None:
                continue
            allowed = math.prod(key.chunks) * ((int(key.bitspersample) + 7) // 8)
            for offset, count in zip(page.dataoffsets, page.databytecounts):
                if offset and count:
                    f.seek(offset)
                    if _inflates_past(_pieces(f, count), inflater, allowed):
                        raise UserError(_bomb_line(path, int(key.imagewidth), int(key.imagelength)))


def _read_other(path: Path) -> np.ndarray:
    """Any other format through imageio (the plugin `iio.imread` would choose), size checked first."""
    return _with_pillow_limit_lifted(lambda: _open_checked(path, decode=True))


def _other_size(path: Path) -> tuple[int, int, int]:
    return _with_pillow_limit_lifted(lambda: _open_checked(path, decode=False))


_PILLOW_LIMIT = threading.Lock()


def _with_pillow_limit_lifted(read: Callable[[], T]) -> T:
    """`read()`; if Pillow refuses the image as a decompression bomb (its own MAX_IMAGE_PIXELS, 1.8e8 pixels by
    default, whatever --max-pixels says), again with Pillow's limit off, so that --max-pixels (checked by
    `read`) alone decides. Pillow's limit is a global: it is lifted under a lock and put back after."""
    try:
        return read()
    except Exception as exc:
        if type(exc).__name__ != "DecompressionBombError":
            raise
    from PIL import Image as PILImage

    with _PILLOW_LIMIT:
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = None
        try:
            return read()
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def _open_checked(path: Path, decode: bool):
    """Open `path` with the imageio plugin `iio.imread` would use, read the size its header declares, check it
    against --max-pixels when decoding, then decode (decode=True: the array) or return (frames, height, width)."""
    import imageio.v3 as iio

    with iio.imopen(path, "r", legacy_mode=False) as handle:  # what iio.imread(path) does
        if type(handle).__name__ == "TifffilePlugin":
            import tifffile

            with tifffile.TiffFile(str(path)) as tif:  # read() decodes the whole first series (all its pages)
                series = tif.series  # none: read() below fails with tifffile's own reason
                size = _frames_hw(series[0].shape, batch=False) if series else (1, 0, 0)
        else:
            props = handle.properties()  # header only: no pixel is decoded
            size = _frames_hw(props.shape, batch=bool(props.is_batch))
        if not decode:
            return size
        frames, height, width = size
        check_image_pixels(height, width, f"image {path}", frames)
        if type(handle).__name__ == "TifffilePlugin":
            _check_tiff_stream(path)  # tifffile inflates a strip whole: a 256 KB strip can be 256 MB of zeros
        return np.asarray(handle.read())


def _frames_hw(shape: tuple[int, ...], batch: bool) -> tuple[int, int, int]:
    """(frames, height, width) of an array shape; a trailing axis of at most 4 is colour (not counted), any
    axis before the last two image axes counts as frames (so every decoded value but colour is a pixel).
    >>> _frames_hw((600, 800, 3), False), _frames_hw((5, 60, 80), True), _frames_hw((8, 8, 5), False)
    ((1, 600, 800), (5, 60, 80), (8, 8, 5))
    """
    dims = [int(s) for s in shape]
    frames = 1
    if batch and dims:
        frames, dims = dims[0], dims[1:]
    if len(dims) >= 3 and dims[-1] <= 4:
        dims = dims[:-1]
    while len(dims) > 2:
        frames, dims = frames * dims[0], dims[1:]
    dims = [1] * (2 - len(dims)) + dims
    return frames, dims[0], dims[1]


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
    pixels = image.pixels
    block = int(1 / scale) // 2
    if block >= 2 and h * w > BLOCK_MEAN_ABOVE:  # a huge image: average k×k blocks first, then resize by ≤ 4×
        pixels = _block_mean(pixels, block)
    pixels = resize(pixels, shape + (image.channels,), anti_aliasing=scale < 1, preserve_range=True)
    return Image(np.clip(pixels, 0, 1).astype(np.float32), image.bit_depth, image.source)


BLOCK_MEAN_ABOVE = 2**24
"""Images of more pixels (16.8 MP) that shrink ≥ 4× are box-filtered by blocks before the resize (see `_block_mean`);
smaller ones keep skimage's Gaussian anti-aliasing alone, so their fits are unchanged."""


def _block_mean(pixels: np.ndarray, k: int) -> np.ndarray:
    """Mean of k×k blocks of (H, W, C) pixels; the last partial block of each axis averages what it holds.

    skimage's anti-aliased `resize` blurs with a Gaussian of σ ≈ (factor − 1)/2 at full resolution, which for a
    12000² photograph resized to 256 took minutes; averaging blocks first makes that seconds and bounds memory.
    """
    h, w, c = pixels.shape
    rows = np.add.reduceat(pixels, np.arange(0, h, k), axis=0, dtype=np.float64)
    sums = np.add.reduceat(rows, np.arange(0, w, k), axis=1)
    counts = np.outer(np.diff(np.append(np.arange(0, h, k), h)), np.diff(np.append(np.arange(0, w, k), w)))
    return (sums / counts[..., None]).astype(np.float32)


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
