"""Input size limits, the one place for them: how much a reader may decode from a user's file.

A small file can declare a huge signal: a 140 KB PNG of zeros decodes to 12000×12000 pixels, a 500 KB FLAC of
silence to billions of samples, a 1 MB H.264 clip of black frames to thousands of 8K frames. Every reader
(`sirenkit.io.images`, `.audio`, `.video`) reads the size from the file's header first and calls a check here
BEFORE it decodes anything; a file over the limit is refused with one line naming the file and the flag that
raises the limit. The limits are set for a block of code with `input_limits(...)` (a context variable, so
threads and nested calls see what their caller set; `carry_limits` hands them to worker threads).

Limits and flags (defaults generous to real data, far below what a bomb declares):

- `--max-pixels` (`DEFAULT_MAX_PIXELS` = 2**28 ≈ 2.7e8): pixels of one image, all its frames together for a
  multi-frame file (animated GIF, multi-page TIFF); also each frame of a video. The largest camera sensors
  give 1.5e8; a 2**28-pixel RGB image already takes 3 GB as float32 (6 GB while resized);
- `--max-samples` (`DEFAULT_MAX_SAMPLES` = 2**30): audio samples decoded (frames × channels of the window
  read), e.g. 3.1 hours of 48 kHz stereo (4 GiB as float32);
- `--max-video-pixels` (`DEFAULT_MAX_VIDEO_PIXELS` = 2**38 ≈ 2.7e11): frames × pixels per frame decoded from a
  video (only the frames read: `--start-frame` + `--frames`), ≈ 1.8 × a 10-minute 4K clip at 30 fps
  (1.5e11) or 2.3 hours of 1080p at 30 fps.
"""

from __future__ import annotations

import contextvars
import functools
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import UserError

DEFAULT_MAX_PIXELS = 2**28
"""Pixels per image (frames × height × width); also the size of each video frame."""
DEFAULT_MAX_SAMPLES = 2**30
"""Audio samples (frames × channels) decoded from one file."""
DEFAULT_MAX_VIDEO_PIXELS = 2**38
"""Pixels (frames × height × width) decoded from one video file or folder of frames."""

DEFAULTS = {"max_pixels": DEFAULT_MAX_PIXELS, "max_samples": DEFAULT_MAX_SAMPLES,
            "max_video_pixels": DEFAULT_MAX_VIDEO_PIXELS}
LIMIT_FLAGS = tuple(DEFAULTS)
"""Option names of the limits (`--max-pixels` … on the command line, `max_pixels` … in the Python API)."""

HELP = {
    "max_pixels": "refuse images (and video frames) larger than this many pixels before decoding them "
                  "(a decompression-bomb guard)",
    "max_samples": "refuse audio that would decode to more than this many samples (frames × channels) "
                   "before decoding it (a decompression-bomb guard)",
    "max_video_pixels": "refuse videos that would decode to more than this many pixels (frames × height × width) "
                        "before decoding them (a decompression-bomb guard)",
}
"""One-line help of each flag, for the parsers."""

_LIMITS: contextvars.ContextVar[dict[str, int]] = contextvars.ContextVar("sirenkit_input_limits", default=DEFAULTS)

T = TypeVar("T")


def flag(name: str) -> str:
    """'max_pixels' -> '--max-pixels'."""
    return "--" + name.replace("_", "-")


def checked_limits(**values: Any) -> dict[str, int]:
    """The given limits as ints, each checked to be a positive integer (None: left out); UserError otherwise.
    An unknown name is a programming error (TypeError)."""
    unknown = sorted(set(values) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown input limit(s) {', '.join(unknown)}; known: {', '.join(LIMIT_FLAGS)}")
    out: dict[str, int] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{flag(name)} must be a positive integer, got {value!r}")
        out[name] = value
    return out


@contextmanager
def input_limits(**values: Any) -> Iterator[dict[str, int]]:
    """Set the input limits (`max_pixels`, `max_samples`, `max_video_pixels`) for the code inside the block.

    A value of None leaves that limit as it is (the default, unless an enclosing block set it). Values are
    checked first: anything but a positive integer raises UserError naming the flag. Yields the limits in force.
    """
    limits = {**_LIMITS.get(), **checked_limits(**values)}
    token = _LIMITS.set(limits)
    try:
        yield dict(limits)
    finally:
        _LIMITS.reset(token)


def current_limits() -> dict[str, int]:
    """The limits in force here: {'max_pixels': …, 'max_samples': …, 'max_video_pixels': …}."""
    return dict(_LIMITS.get())


def limit(name: str) -> int:
    """One limit in force here."""
    return _LIMITS.get()[name]


def carry_limits(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` wrapped to run under the limits in force NOW, wherever it is called (threads start from the
    defaults: a ThreadPoolExecutor does not copy the caller's context variables)."""
    limits = current_limits()

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> T:
        with input_limits(**limits):
            return fn(*args, **kwargs)

    return wrapped


def count(n: int) -> str:
    """A count for a message: exact below a million, else one significant decimal ('4.0e8').
    >>> count(256), count(400_000_000), count(1_440_000_000)
    ('256', '4.0e8', '1.4e9')
    """
    if n < 10**6:
        return str(n)
    exponent = int(math.floor(math.log10(n)))
    mantissa = n / 10**exponent
    if round(mantissa, 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f}e{exponent}"


def _refuse(name: str, total: int, described: str, fix: str = "") -> None:
    most = limit(name)
    if total > most:
        raise UserError(f"{described} ({count(total)}), more than {flag(name)} {most}; pass a larger "
                        f"{flag(name)} to read it{fix}")


def check_image_pixels(height: int, width: int, what: str, frames: int = 1) -> None:
    """Refuse an image whose header declares more than --max-pixels pixels (frames × height × width).
    `what` names it: 'image photo.png'."""
    height, width, frames = int(height), int(width), max(1, int(frames))
    if frames == 1:
        _refuse("max_pixels", height * width, f"{what} is {width}×{height} pixels")
    else:
        _refuse("max_pixels", frames * height * width, f"{what} holds {frames} frames of {width}×{height} pixels")


def check_frame_pixels(height: int, width: int, what: str) -> None:
    """Refuse video frames larger than --max-pixels: `what` names them ('frames of video clip.mp4')."""
    _refuse("max_pixels", int(height) * int(width), f"{what} are {int(width)}×{int(height)} pixels")


def check_audio_samples(frames: int, channels: int, what: str) -> None:
    """Refuse audio that would decode to more than --max-samples samples (frames × channels of the part read).
    `what` names it: 'audio song.flac'."""
    frames, channels = int(frames), int(channels)
    _refuse("max_samples", frames * channels, f"{what} would decode {frames} frames × {channels} channel(s)",
            " (or read less of it with --start/--duration)")


def check_video_pixels(frames: int, height: int, width: int, what: str, about: bool = False) -> None:
    """Refuse a video that would decode more than --max-video-pixels pixels (frames read × height × width).
    `about`: the frame count is an estimate from the header (duration × frame rate)."""
    frames, height, width = int(frames), int(height), int(width)
    approx = "about " if about else ""
    _refuse("max_video_pixels", frames * height * width,
            f"{what} would decode {approx}{frames} frames of {width}×{height} pixels",
            " (or fewer frames with --frames)")
