"""Reading and writing videos as uint8 frames (T, H, W, 3), through the ffmpeg that imageio-ffmpeg bundles.

A video is a file ffmpeg can decode (MP4, MOV, MKV, AVI, WebM, GIF …) or a folder of image frames (sorted by
name, numbers compared as numbers: `f2.png` before `f10.png`). Frames are always RGB: grey frames are repeated
into three channels, alpha is dropped, 16-bit frames are rounded to 8 bits. Writing uses H.264 in yuv420p,
which needs even sides: an odd height or width is padded by repeating the last row or column.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, overload

import numpy as np

from ..errors import UserError
from .atomic import atomic_path
from .images import IMAGE_SUFFIXES, image_size, load_image
from .limits import check_frame_pixels, check_video_pixels

FOLDER_FPS = 25.0
"""Frame rate given to a folder of frames unless one is set explicitly."""

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
"""Output suffixes `write_video` accepts and the ffmpeg muxer each one uses."""

BATCH_BYTES = 2**28
"""At most this many bytes of native-size frames wait to be resized together (fewer than `batch` frames for
large frames), so a clip of huge frames never holds many of them at once."""


@dataclass
class Video:
    """Frames as uint8 (T, H, W, 3), the frame rate, where they came from and the size they had there."""

    frames: np.ndarray
    fps: float
    source: str
    native_size: tuple[int, int]
    """(height, width) before any resizing."""
    total_frames: int | None = None
    """Frames in the source (None when reading stopped early and the count is unknown)."""

    @property
    def shape(self) -> tuple[int, int, int]:
        t, h, w = self.frames.shape[:3]
        return t, h, w


def scaled_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the longer side `size` and the aspect ratio kept; the shorter side is rounded to an even
    number (at least 2) so the MP4 needs no padding. `size` 0 keeps (h, w).
    >>> scaled_size(272, 640, 128)
    (54, 128)
    """
    if size == 0 or size == max(height, width):
        return height, width
    scale = size / max(height, width)

    def side(n: int) -> int:
        if n == max(height, width):
            return size
        return max(2, 2 * round(n * scale / 2))

    return side(height), side(width)


def resize_frames(frames: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Anti-aliased bilinear resize of uint8 frames (T, H, W, C) to (T, h, w, C), uint8."""
    import torch
    import torch.nn.functional as F

    if frames.shape[1:3] == tuple(shape):
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    shrinking = shape[0] < frames.shape[1] or shape[1] < frames.shape[2]
    y = F.interpolate(x, size=shape, mode="bilinear", align_corners=False, antialias=shrinking)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def load_video(path: str | Path, frames: int = 0, start: int = 0, size: int = 0, fps: float = 0.0,
               batch: int = 16) -> Video:
    """Read `frames` frames (0: all) from frame `start` on, resized so the longer side is `size` (0: native).

    Frames are resized as they are decoded, a few at a time, so a long high-resolution clip never sits in memory
    at full size. `fps` overrides the frame rate (a folder of frames gets 25 fps otherwise).
    Raises UserError (one line) for a missing, empty or undecodable file, a folder without frames, frames of
    different sizes, or a request for more frames than the clip holds. Before decoding, the frame size and the
    frames to decode (from the header) are checked against --max-pixels and --max-video-pixels
    (`sirenkit.io.limits`); the count is checked again while decoding, as a header may lie.
    """
    path = Path(path)
    _check_request(frames, start, size, fps)
    if not path.exists():
        raise UserError(f"video {path} does not exist")
    if path.is_dir():
        source, rate, native, reader, total = _open_folder(path, frames, start)
    else:
        source, rate, native, reader, total = _open_file(path, frames, start)
    return _collect(source, fps or rate, native, reader, total, frames, start, size, batch)


@overload
def _to_decode(frames: int, start: int, available: int) -> int: ...
@overload
def _to_decode(frames: int, start: int, available: int | None) -> int | None: ...
def _to_decode(frames: int, start: int, available: int | None) -> int | None:
    """Frames decoded for a request: `start` + `frames` (decoding stops there; 0: to the end), at most
    `available` (the clip's count, None when unknown)."""
    if frames == 0:
        return available
    return start + frames if available is None else min(available, start + frames)


def synthetic_video(frames: int = 0, start: int = 0, size: int = 0, fps: float = 0.0) -> Video:
    """The offline default clip: 48 frames of 128×96 at 25 fps, a camera pan across scikit-image's `coffee`
    photograph with a blue disc circling over it (smooth motion, fine texture, a sharp moving edge).
    `frames`, `start`, `size` and `fps` act as in `load_video`."""
    _check_request(frames, start, size, fps)
    clip = _synthetic_frames()
    return _collect("generated clip (coffee pan + moving disc)", fps or FOLDER_FPS, clip.shape[1:3], iter(clip),
                    len(clip), frames, start, size, 16)


def video_from_array(raw: np.ndarray, rate: float, frames: int = 0, start: int = 0, size: int = 0,
                     fps: float = 0.0) -> Video:
    """Frames handed over in memory, (T, H, W) grey or (T, H, W, C) with C 1, 3 or 4 (alpha dropped): uint8,
    uint16, bool or floats in [0, 1]; `rate` is their frame rate. `frames`, `start`, `size` and `fps` act as in
    `load_video`."""
    _check_request(frames, start, size, fps)
    if not (math.isfinite(rate) and rate > 0):
        raise UserError(f"the frame rate must be a positive number of frames per second, got {rate}")
    source = f"array {'×'.join(map(str, raw.shape))}"
    if raw.ndim == 3:
        raw = raw[..., None]
    if raw.ndim != 4 or raw.shape[-1] not in (1, 3, 4):
        raise UserError(f"{source}: expected frames (T, H, W) or (T, H, W, C) with 1, 3 or 4 channels")
    if min(raw.shape[1:3]) < 2:
        raise UserError(f"{source}: frames of {raw.shape[2]}×{raw.shape[1]} pixels; need at least 2×2")
    raw = raw[..., :3] if raw.shape[-1] == 4 else raw
    if raw.dtype == np.uint8:
        rgb = np.repeat(raw, 3, axis=-1) if raw.shape[-1] == 1 else raw
    elif raw.dtype == np.uint16:
        rgb = _as_rgb8(raw.astype(np.float32) / 65535.0)
    elif raw.dtype == bool:
        rgb = _as_rgb8(raw.astype(np.float32))
    elif raw.dtype.kind == "f":
        if float(raw.min()) < 0 or float(raw.max()) > 1:
            raise UserError(f"{source}: float frames must lie in [0, 1], got {float(raw.min()):g} to "
                            f"{float(raw.max()):g}")
        rgb = _as_rgb8(raw.astype(np.float32))
    else:
        raise UserError(f"{source}: frames of type {raw.dtype}; give uint8, uint16, bool or floats in [0, 1]")
    return _collect(source, fps or float(rate), (int(rgb.shape[1]), int(rgb.shape[2])), iter(rgb), len(rgb),
                    frames, start, size, 16)


def _check_request(frames: int, start: int, size: int, fps: float) -> None:
    if frames < 0:
        raise UserError(f"--frames must be ≥ 0 (0 uses every frame), got {frames}")
    if start < 0:
        raise UserError(f"--start-frame must be ≥ 0, got {start}")
    if size != 0 and size < 2:
        raise UserError(f"--size must be ≥ 2 (or 0 for the native size), got {size}")
    if fps < 0 or not math.isfinite(fps):
        raise UserError(f"--fps must be ≥ 0 and finite (0: the file's own rate), got {fps}")


def _synthetic_frames(count: int = 48, height: int = 96, width: int = 128) -> np.ndarray:
    from skimage import data
    from skimage.transform import resize

    bg_h = round(height * 1.25)
    bg_w = round(bg_h * 600 / 400)
    background = resize(data.coffee().astype(np.float32) / 255.0, (bg_h, bg_w, 3), anti_aliasing=True)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    radius = 0.14 * height
    out = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        s = i / max(count - 1, 1)
        x0 = round(s * (bg_w - width))
        y0 = round(0.5 * (bg_h - height) * (1.0 - np.cos(2.0 * np.pi * s)))
        frame = background[y0 : y0 + height, x0 : x0 + width].copy()
        cy = height / 2 + 0.28 * height * np.sin(2.0 * np.pi * s)
        cx = width / 2 + 0.32 * width * np.cos(2.0 * np.pi * s)
        cover = np.clip(radius - np.hypot(yy - cy, xx - cx) + 0.5, 0.0, 1.0)[..., None]  # anti-aliased edge
        frame = frame * (1.0 - cover) + np.array([0.15, 0.4, 0.95], dtype=np.float32) * cover
        out[i] = np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out


def _collect(source: str, rate: float, native: tuple[int, int], reader, total: int | None, frames: int,
             start: int, size: int, batch: int) -> Video:
    """Take frames [start, start + frames) of `reader`, resizing a batch at a time; check sizes and counts."""
    target = scaled_size(native[0], native[1], size)
    wanted = None if frames == 0 else start + frames
    batch = max(1, min(batch, BATCH_BYTES // max(1, native[0] * native[1] * 3)))
    kept: list[np.ndarray] = []
    pending: list[np.ndarray] = []
    count = 0
    try:
        for frame in reader:
            if frame.shape[:2] != native:
                raise UserError(
                    f"frame {count} of {source} is {frame.shape[1]}×{frame.shape[0]}, the first is "
                    f"{native[1]}×{native[0]}; every frame must have the same size"
                )
            if count >= start:
                pending.append(frame)
                if len(pending) >= batch:
                    kept.append(resize_frames(np.stack(pending), target))
                    pending = []
            count += 1
            if wanted is not None and count >= wanted:
                break
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
    if pending:
        kept.append(resize_frames(np.stack(pending), target))
    if wanted is not None and count < wanted:
        limit = f"--frames {frames}" + (f" from --start-frame {start}" if start else "")
        raise UserError(f"{limit} asks for more than the {count} frames of {source}; use --frames 0 for all")
    if not kept:
        raise UserError(f"--start-frame {start} is past the end of {source} ({count} frames)")
    total_frames = total if total is not None else (count if wanted is None else None)
    return Video(np.concatenate(kept), float(rate), source, (int(native[0]), int(native[1])), total_frames)


VIDEO_EXTRA = "pip install 'sirenkit[video]'"
"""What installs the video reader and writer (imageio-ffmpeg and the ffmpeg it bundles, about 165 MB)."""


def ffmpeg(what: str) -> Any:
    """The imageio_ffmpeg module, or a UserError saying that `what` needs the video extra."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UserError(f"{what} needs the video extra (ffmpeg), which is not installed: {VIDEO_EXTRA}") from None
    return imageio_ffmpeg


def has_video_extra() -> bool:
    """Whether videos can be read and written here (the video extra is installed)."""
    try:
        ffmpeg("")
    except UserError:
        return False
    return True


# ------------------------------------------------------------------------------------------------- files
def _open_file(path: Path, frames: int = 0, start: int = 0):
    imageio_ffmpeg = ffmpeg(f"reading video {path}")

    if path.stat().st_size == 0:
        raise UserError(f"video {path} is empty (0 bytes)")
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        header = next(reader)
    except (OSError, RuntimeError, StopIteration, ValueError) as exc:
        reader.close()
        raise UserError(f"could not read video {path}: {_ffmpeg_reason(exc)} (MP4 or another format ffmpeg "
                        "reads, or a folder of frames, expected)") from None
    width, height = (int(v) for v in header["size"])
    fps = float(header.get("fps") or 0.0) or _header_fps(path) or FOLDER_FPS
    total = None  # duration × fps is only an estimate; the exact count comes from decoding to the end
    try:  # the limits, from the header, before a frame is decoded
        check_frame_pixels(height, width, f"frames of video {path}")
        duration = float(header.get("duration") or 0.0)
        estimate = round(duration * fps) if math.isfinite(duration) and duration > 0 else None
        count = _to_decode(frames, start, estimate)
        if count is not None:
            check_video_pixels(count, height, width, f"video {path}",
                               about=frames == 0 or (estimate is not None and estimate < start + frames))
    except UserError:
        reader.close()
        raise

    def frames_of() -> Generator[np.ndarray, None, None]:
        n = 0
        try:
            for raw in reader:
                check_video_pixels(n + 1, height, width, f"video {path}")  # the header may understate the count
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
                n += 1
        except (OSError, RuntimeError) as exc:
            raise UserError(f"could not decode frame {n} of video {path}: {_ffmpeg_reason(exc)}") from None
        if n == 0:
            raise UserError(f"video {path} holds no frames that ffmpeg can decode")

    gen = frames_of()

    class _Reader:
        def __iter__(self):
            return gen

        def close(self) -> None:
            gen.close()
            reader.close()

    return str(path), fps, (height, width), _Reader(), total


def _header_fps(path: Path) -> float:
    """The frame rate ffmpeg prints for the first video stream of `path` (0.0 if it prints none).

    imageio-ffmpeg's parser misses rates that ffmpeg prints with a `k` (an exact multiple of 1000 fps is shown as
    "1k fps"), so such a clip would silently play at the 25 fps fallback; this reads that line itself.
    """
    import subprocess

    imageio_ffmpeg = ffmpeg(f"reading video {path}")
    try:
        proc = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                              capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.SubprocessError):
        return 0.0
    for line in proc.stderr.splitlines():
        if line.lstrip().startswith("Stream ") and " Video: " in line:
            match = re.search(r" ([0-9]+(?:\.[0-9]*)?)(k?) fps", line)
            return float(match.group(1)) * (1000.0 if match.group(2) else 1.0) if match else 0.0
    return 0.0


_FFMPEG_CLUES = (
    ("moov atom not found", "no 'moov' index (an incomplete or truncated MP4)"),
    ("partial file", "the file is truncated (partial file)"),
    ("does not contain any stream", "it holds no video stream"),
)
"""ffmpeg messages that bury the cause under later, less telling lines, and what they mean."""


def _ffmpeg_reason(exc: BaseException) -> str:
    """The most telling line of an ffmpeg failure, shortened."""
    text = str(exc)
    low_text = text.lower()
    for clue, reason in _FFMPEG_CLUES:
        if clue in low_text:
            return reason
    # "[in#0/mov @ 0x55…] message": the bracketed prefix holds a memory address, which only adds noise
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", line.strip()) for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        low = line.lower()
        if any(k in low for k in ("invalid data", "moov atom", "no such file", "error", "could not", "unknown")):
            return line[:160]
    return (lines[0] if lines else type(exc).__name__)[:160]


# ------------------------------------------------------------------------------------------------- folders
def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def frame_files(folder: Path) -> list[Path]:
    """Image files of a folder (no subfolders, no hidden files), in natural name order."""
    files = [p for p in folder.iterdir()
             if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: _natural_key(p.name))


def _as_rgb8(pixels: np.ndarray) -> np.ndarray:
    rgb = np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels
    return np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def _open_folder(folder: Path, frames: int = 0, start: int = 0):
    files = frame_files(folder)
    if not files:
        raise UserError(f"folder {folder} holds no image frames ({', '.join(IMAGE_SUFFIXES)}); "
                        "give a video file or a folder of frames")
    _, height, width = image_size(files[0])  # header only: the limits are checked before anything is decoded
    check_video_pixels(_to_decode(frames, start, len(files)), height, width, f"folder {folder}")
    first = _as_rgb8(load_image(files[0]).pixels)  # every frame: its own --max-pixels check in load_image

    def frames_of() -> Iterator[np.ndarray]:
        yield first
        for f in files[1:]:
            frame = _as_rgb8(load_image(f).pixels)
            if frame.shape != first.shape:
                raise UserError(f"frame {f} is {frame.shape[1]}×{frame.shape[0]}, but {files[0].name} is "
                                f"{first.shape[1]}×{first.shape[0]}; every frame must have the same size")
            yield frame

    return str(folder), FOLDER_FPS, first.shape[:2], frames_of(), len(files)


# ------------------------------------------------------------------------------------------------- writing
def even_pad(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column of an (H, W, 3) frame so that both sides are even (H.264 4:2:0 needs it)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, quality: int = 8) -> Path:
    """Write uint8 (H, W, 3) frames as H.264 (yuv420p) at `fps`, atomically; returns `path`.

    `frames` may be a generator, so a long render never sits in memory. `quality` 0–10 is imageio-ffmpeg's
    scale (8 → x264 CRF 10, visually lossless). Odd sides are padded to even (see `even_pad`).
    """
    path = Path(path)
    imageio_ffmpeg = ffmpeg(f"writing video {path}")
    muxer = CONTAINERS.get(path.suffix.lower())
    if muxer is None:
        raise UserError(f"cannot write video {path}: use one of {', '.join(CONTAINERS)}")
    if not (fps > 0 and math.isfinite(fps)):
        raise UserError(f"frame rate must be positive and finite to write {path}, got {fps}")
    # snap 29.97… to 30000/1001; a rate below 1/2002 fps would snap to 0, which imageio-ffmpeg reads as "unset"
    # and replaces with 16 fps
    rate = Fraction(fps).limit_denominator(1001) or Fraction(fps).limit_denominator()
    iterator = iter(frames)
    with atomic_path(path) as tmp:
        writer = None
        try:
            for frame in iterator:
                frame = even_pad(np.ascontiguousarray(frame, dtype=np.uint8))
                if writer is None:
                    h, w = frame.shape[:2]
                    shape = frame.shape
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp), (w, h), fps=rate, quality=quality, macro_block_size=1,
                        ffmpeg_log_level="error", output_params=["-f", muxer, "-movflags", "+faststart"]
                        if muxer in ("mp4", "mov") else ["-f", muxer],
                    )
                    writer.send(None)
                elif frame.shape != shape:
                    raise ValueError(f"frame of shape {frame.shape} after frames of shape {shape}")
                writer.send(frame)
            if writer is None:
                raise ValueError("no frames to write")
        finally:
            if writer is not None:
                writer.close()
    return path
