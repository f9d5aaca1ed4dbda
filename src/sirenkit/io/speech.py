"""A speech clip made on this machine: about 12 s of counting, synthesised by espeak-ng (an outside program, not
a Python dependency). The audio recipe's defaults are chosen on it (docs/recipes.md) and benchmarks/audio_fit.py
fits it; nothing else needs it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from .audio import load_audio, save_audio

COUNTING = ("one, two, three, four, five, six, seven, eight, nine, ten. eleven, twelve, thirteen, fourteen, "
            "fifteen, sixteen, seventeen, eighteen, nineteen, twenty.")


def make_speech_clip(path: Path, seconds: float = 12.0, rate: int = 44100) -> dict[str, Any] | None:
    """Write `seconds` of counting speech at `rate` to `path` (16-bit WAV); None when espeak-ng is not on PATH."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    from scipy.signal import resample_poly

    raw = path.with_suffix(".raw.wav")
    subprocess.run([espeak, "-s", "175", "-w", str(raw), COUNTING], check=True, capture_output=True, timeout=120)
    clip = load_audio(raw)
    raw.unlink()
    x = resample_poly(clip.samples[:, 0].astype(np.float64), rate, clip.rate)
    n = int(round(seconds * rate))
    x = np.pad(x, (0, max(0, n - x.shape[0])))[:n]
    save_audio(path, x, rate, subtype="PCM_16")
    scaled = load_audio(path).samples[:, 0]
    scaled = scaled / np.abs(scaled).max()
    return {"seconds": n / rate, "rate": rate, "espeak_rate": clip.rate, "silence_mse": float(np.mean(scaled**2))}
