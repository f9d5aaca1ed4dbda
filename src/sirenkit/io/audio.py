"""Reading and writing audio as float arrays (N, C) with soundfile: WAV, FLAC, OGG (and what libsndfile reads).

Samples are kept at their native sample rate and in their native amplitude scale (soundfile's float view:
full-scale PCM is ±1). Nothing is resampled or mixed down; channels stay separate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UserError
from .atomic import atomic_path
from .files import require_file
from .limits import check_audio_samples

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga")
MAX_RATES = {"WAV": 2**31 - 1, "FLAC": 655350, "OGG": 200000}
"""Highest sample rate (Hz) each written format takes: WAV's header field, FLAC's limit, and the highest rate
libvorbis has an encoder mode for (libsndfile crashes with a segmentation fault above it rather than failing)."""
DEFAULT_RATE = 22050
"""Sample rate of the generated default signal (Hz)."""
UNSTATED = 2**62
"""libsndfile reports 2**63 - 1 frames for a stream that does not state its length (a FLAC whose header has no
sample count); at least this many frames means 'not stated'."""


@dataclass
class Audio:
    """Samples as float32 (N, C), the sample rate in Hz, and where they came from."""

    samples: np.ndarray
    rate: int
    source: str

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def default_audio(seconds: float = 3.0, rate: int = DEFAULT_RATE) -> Audio:
    """A generated test signal, so that `sirenkit fit audio` works offline: an A-major chord with a sweep.

    Three partials (220, 277.2, 329.6 Hz, each with two overtones) under a slow swell, plus a quieter
    exponential sweep from 150 Hz to 3 kHz; peak amplitude 0.8. Mono, (N, 1) float32.
    >>> default_audio(0.5).samples.shape
    (11025, 1)
    """
    n = max(2, round(seconds * rate))
    t = np.arange(n, dtype=np.float64) / rate
    chord = np.zeros(n)
    for f in (220.0, 277.18, 329.63):
        for harmonic, weight in ((1, 1.0), (2, 0.4), (3, 0.2)):
            chord += weight * np.sin(2 * np.pi * f * harmonic * t)
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * t / max(seconds, 1e-3)) ** 2
    f0, f1 = 150.0, 3000.0
    span = max(seconds, 1e-3)
    # exponential sweep: instantaneous frequency f0 · (f1/f0)^(t/span)
    k = math.log(f1 / f0) / span
    sweep = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1.0) / k)
    signal = chord * swell / 4.0 + 0.35 * sweep
    signal *= 0.8 / np.abs(signal).max()
    return Audio(signal.astype(np.float32)[:, None], rate, f"generated chord + sweep ({seconds:g} s, {rate} Hz)")


def load_audio(path: str | Path, start: float = 0.0, duration: float | None = None) -> Audio:
    """Read an audio file, optionally only the window [start, start + duration) in seconds.

    Returns float32 samples (N, C) at the file's own sample rate. Missing, empty, unreadable or unsupported
    files, non-finite samples and windows outside the clip raise `UserError` with one line, and so does a window
    that would decode to more than --max-samples samples (`sirenkit.io.limits`; checked from the header first).
    """
    import soundfile as sf

    path = require_file(path, "audio file", "an audio file")
    _check_window(start, duration)
    try:
        with sf.SoundFile(str(path)) as f:
            rate, total = int(f.samplerate), int(f.frames)
            if total >= UNSTATED:  # libsndfile cannot read such a stream to its end either
                raise UserError(f"audio {path} does not state its length in its header (a streamed FLAC?), so "
                                "its size cannot be checked before decoding; re-encode it (e.g. with ffmpeg)")
            first, count = _window_frames(path, rate, total, start, duration)
            check_audio_samples(count, f.channels, f"audio {path}")  # from the header, before decoding
            f.seek(first)
            raw = f.read(frames=count, dtype="float32", always_2d=True)
    except UserError:
        raise
    except Exception as exc:  # libsndfile reports corrupt and unknown files as several exception types
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"could not read audio {path}: {first_line} (WAV, FLAC or OGG expected)") from None
    return audio_from_array(raw, rate, str(path))


def _check_window(start: float, duration: float | None) -> None:
    if not math.isfinite(start) or start < 0:
        raise UserError(f"--start must be ≥ 0 seconds (got {start})")
    if duration is not None and (not math.isfinite(duration) or duration <= 0):
        raise UserError(f"--duration must be a positive number of seconds (got {duration}); omit it for the whole clip")


def _window_frames(source: str | Path, rate: int, total: int, start: float, duration: float | None) -> tuple[int, int]:
    """(first frame, frame count) of the window; a window starting outside the clip is an error."""
    if total == 0:
        raise UserError(f"audio {source} holds no samples (0 frames); nothing to fit")
    first = int(round(start * rate))
    if first >= total:
        raise UserError(f"--start {start:g} s is outside audio {source}, which lasts {total / rate:.3f} s")
    count = total - first if duration is None else min(total - first, int(round(duration * rate)))
    return first, count


def window(audio: Audio, start: float = 0.0, duration: float | None = None) -> Audio:
    """The window [start, start + duration) seconds of an in-memory clip (same errors as `load_audio`)."""
    _check_window(start, duration)
    if start == 0 and duration is None:
        return audio
    first, count = _window_frames(audio.source, audio.rate, audio.frames, start, duration)
    return Audio(audio.samples[first : first + count], audio.rate, audio.source)


def audio_from_array(raw: np.ndarray, rate: int, source: str) -> Audio:
    """Check and normalise (N,) or (N, C) samples into an `Audio` (float32, 2-D); integer PCM is scaled by its
    full range (int16 by 32768, uint8 around 128), floats are kept as they are."""
    raw = np.asarray(raw)
    if raw.dtype.kind in "iu" and raw.dtype.itemsize <= 4:
        info = np.iinfo(raw.dtype)
        middle = (int(info.max) + int(info.min) + 1) / 2
        raw = (raw.astype(np.float64) - middle) / (int(info.max) + 1 - middle)
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.ndim != 2 or raw.shape[1] < 1:
        raise UserError(f"audio {source} has shape {raw.shape}; expected (samples,) or (samples, channels)")
    if rate < 1:
        raise UserError(f"audio {source} has sample rate {rate} Hz; expected a positive rate")
    if raw.shape[0] < 2:
        raise UserError(f"audio {source} has {raw.shape[0]} sample(s) in the chosen window; need at least 2 "
                        "(check --start/--duration)")
    samples = raw.astype(np.float32)
    if not np.isfinite(samples).all():
        raise UserError(f"audio {source} contains NaN or infinite samples; repair or re-export the file")
    return Audio(np.ascontiguousarray(samples), int(rate), source)


def check_audio_suffix(path: str | Path, rate: int | None = None) -> Path:
    """`path` if its suffix names a format `save_audio` writes (.wav, .flac, .ogg, .oga) and, given `rate`, that
    format takes that sample rate (see `MAX_RATES`); else a `UserError`."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise UserError(f"cannot write audio as {path.name}: use a .wav, .flac or .ogg name")
    if rate is not None:
        fmt = _audio_format(path)
        if not 1 <= rate <= MAX_RATES[fmt]:
            raise UserError(f"cannot write {path.name} at {rate} Hz: {fmt} takes 1 to {MAX_RATES[fmt]} Hz"
                            + ("" if fmt == "WAV" else "; use a .wav name or a lower rate"))
    return path


def _audio_format(path: Path) -> str:
    """soundfile's format name for an output suffix already checked by `check_audio_suffix`."""
    return {".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG"}.get(path.suffix.lower(), "WAV")


def save_audio(path: str | Path, samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> None:
    """Write (N,) or (N, C) samples as WAV, FLAC or OGG/Vorbis (from the suffix), atomically.

    `subtype` is soundfile's sample format: FLOAT (32-bit float, the default: no clipping, no rounding) or
    PCM_16 / PCM_24 (values are clipped to ±1 first).
    """
    import soundfile as sf

    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if subtype.startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    path = check_audio_suffix(path, int(rate))
    fmt = _audio_format(path)
    if fmt != "WAV" and subtype == "FLOAT":
        subtype = "PCM_16" if fmt == "FLAC" else "VORBIS"
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(rate), subtype=subtype, format=fmt)
