"""Audio fitting: Φ(t) ≈ amplitude, MSE on samples (the paper's audio experiment, Section 4.1).

Time is mapped linearly to [-1, 1] over the fitted clip (first sample at -1, last at +1) and every channel
is one network output. Amplitudes are divided by the clip's peak |amplitude| (over all channels of the
fitted window), so the network fits values in [-1, 1] as the paper's code does; `mse` is measured on these
scaled amplitudes (comparable with the paper's numbers) and `snr_db` = 10·log10(Σ x² / Σ (x - x̂)²), which
does not depend on the scale. Files written (`reconstruction.wav`, renders) carry the original scale again.
Nothing is resampled: the sample rate of the file is kept.

On a GPU every step sees the whole clip (as the paper). On a CPU a step sees `batch_samples` random samples;
with `sampling="loudness"` loud passages are drawn more often and the loss is reweighted by 1 / probability, so
it still estimates the whole-clip MSE with less variance (speech is mostly quiet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..config import MAX_POINTS, check_number, check_values, in_range, option
from ..errors import UserError, check_all
from ..grids import predict
from ..io.audio import (
    MAX_RATES,
    Audio,
    audio_from_array,
    check_audio_suffix,
    default_audio,
    load_audio,
    save_audio,
    window,
)
from ..io.memory import as_array, parts
from ..models.numerics import LossNeeds
from ..plots import curve_plot, draws_figure, new_figure, save_figure
from .base import (
    MAX_SIDE,
    RENDER_SAMPLES,
    ArtefactContext,
    Batch,
    Number,
    RenderOptions,
    Task,
    Text,
    Whole,
    amount,
    require_finite,
    shown,
)
from .registry import register

AUDIO_OMEGA_0 = 3000.0
"""First-layer ω0 for audio (the paper's choice): time in [-1, 1] needs far higher frequencies than images."""
MAX_CHANNELS = 65535
"""Most channels an audio file holds (WAV's header field)."""
CPU_OMEGA_0 = 6000.0
"""First-layer ω0 of the short `cpu` recipe: with a few thousand minibatch steps a wider first-layer spectrum
converges faster (measured: MSE 4.8e-5 instead of 1.0e-4 on Bach, 6.1e-4 instead of 1.0e-3 on 12 s of
speech, same 4000 steps), while the paper's 3000 is tuned for 9000 whole-clip steps."""


@dataclass(frozen=True)
class AudioConfig:
    """Which clip to fit and how to sample it."""

    path: str | None = option(
        None, "audio file (WAV, FLAC, OGG; mono or multi-channel); default: a generated chord with a sweep",
        positional=True, metavar="AUDIO", path=True,
    )
    start: float = option(0.0, "fit the clip from this time on (seconds)")
    duration: float | None = option(None, "fit only this many seconds from --start; none: to the end of the clip")
    batch_samples: int = option(0, "random samples per step (0: the whole clip every step)")
    sampling: Literal["uniform", "loudness"] = option(
        "uniform", "how --batch-samples are drawn: uniform, or loudness (loud passages more often, loss reweighted)"
    )
    chunk: int = option(16384, "samples per chunk when evaluating the whole clip (bounds memory)")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the clip is read)."""
        check_values(self)
        check_all([
            (self.start >= 0, f"--start must be ≥ 0 seconds (got {self.start})"),
            (self.duration is None or self.duration > 0,
             f"--duration must be a positive number of seconds (got {self.duration}); omit it for the whole clip"),
            (self.batch_samples >= 0, "--batch-samples must be ≥ 0 (0 uses the whole clip every step)"),
            in_range("--batch-samples", self.batch_samples, high=MAX_POINTS),
            (self.chunk >= 1, "--chunk must be ≥ 1"),
        ])


def snr_db(truth: Tensor, fit: Tensor) -> float:
    """Signal-to-noise ratio of a fit in dB: 10·log10(Σ truth² / Σ (truth - fit)²).

    >>> t = torch.tensor([1.0, -1.0]); round(snr_db(t, t * 0.9), 3)
    20.0
    """
    noise = float(((truth - fit) ** 2).sum())
    signal = float((truth**2).sum())
    if noise <= 0:
        return float("inf")
    if signal <= 0:
        return float("-inf")
    return 10.0 * math.log10(signal / noise)


def time_coords(frames: int, device: torch.device | str = "cpu") -> Tensor:
    """Sample times of a clip of `frames` samples mapped to [-1, 1]: (frames, 1)."""
    return torch.linspace(-1.0, 1.0, frames, device=device).unsqueeze(-1)


@dataclass
class WeightedBatch(Batch):
    """A batch drawn with unequal probabilities; `weight` (N, 1) = 1 / (frames · probability) keeps the mean
    weighted loss an unbiased estimate of the whole-clip MSE."""

    weight: Tensor | None = None


def _loudness_sampling(values: Tensor, rate: int, window_s: float = 0.01) -> tuple[Tensor, Tensor]:
    """Sampling distribution ∝ local RMS (10 ms window) + its mean, as a float64 CDF (N,) and weights (N, 1).

    Half of the probability mass is spread evenly, so silent passages are still sampled.
    """
    x2 = (values.detach().double().cpu() ** 2).mean(1)
    n, half = x2.shape[0], max(1, int(window_s * rate)) // 2
    csum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(x2, 0)])
    lo = (torch.arange(n) - half).clamp(0, n)
    hi = (torch.arange(n) + half + 1).clamp(0, n)
    envelope = ((csum[hi] - csum[lo]) / (hi - lo)).clamp_min(0).sqrt()  # RMS over a centred window
    p = envelope + envelope.mean()
    p = p / p.sum()
    cdf = torch.cumsum(p, 0)
    cdf[-1] = 1.0
    weight = (1.0 / (p * p.shape[0])).float().unsqueeze(-1)
    return cdf, weight


@register
class AudioTask(Task):
    name = "audio"
    command = ("fit", "audio")
    description = "fit a network to audio (WAV/FLAC/OGG, any channels); default: a generated chord with a sweep"
    Config = AudioConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """Time in, amplitude per channel out."""
        return {"inputs": ["t"], "range": {"t": [-1.0, 1.0]},
                "grid": "sample k of the fitted clip of `frames` samples at `rate` Hz ↦ t = −1 + 2k/(frames − 1); "
                        "other rates sample t at seconds·rate·2/(frames − 1) − 1",
                "outputs": "one output per channel; amplitude = output × signal.scale (the clip's peak)"}

    metric = "mse"
    higher_is_better = False
    # bf16 hidden-layer matmuls under --precision auto: value-only loss, accuracy measured in benchmarks/RESULTS.md
    needs = LossNeeds(bf16=True)
    recipes = {
        "paper": {"task": {"batch_samples": 0, "sampling": "uniform"}, "model": {"first_omega_0": AUDIO_OMEGA_0},
                  "train": {"steps": 9000, "lr": 5e-5, "schedule": "constant", "eval_every": 500}},
        "gpu": {"task": {"batch_samples": 0, "sampling": "uniform"}, "model": {"first_omega_0": AUDIO_OMEGA_0},
                "train": {"steps": 5000, "lr": 1e-4, "schedule": "cosine", "eval_every": 500}},
        "cpu": {"task": {"batch_samples": 4096, "sampling": "loudness"}, "model": {"first_omega_0": CPU_OMEGA_0},
                "train": {"steps": 3500, "lr": 1e-4, "schedule": "cosine", "eval_every": 1000}},
    }
    recipe_notes = {
        "paper": "the paper: whole clip every step, first-layer ω0 3000, Adam lr 5e-5 constant, 9000 steps",
        "gpu": "whole clip every step, ω0 3000, lr 1e-4 with cosine decay, 5000 steps",
        "cpu": "4096 loudness-sampled samples per step, ω0 6000, lr 1e-4 with cosine decay, 3500 steps",
    }

    # 0.25 s: a clip this short wants the paper's ω0 (6000 over a quarter second is too high a spectrum).
    smoke = ({"duration": 0.25, "batch_samples": 0, "steps": 150, "lr": 1e-3, "schedule": "cosine",
              "hidden_features": 64, "first_omega_0": AUDIO_OMEGA_0}, 1e-3)

    memory_data = ("(samples, rate): samples (N,) or (N, channels), floats (scaled to their peak like a file's) or "
                   "integer PCM (int16 …), and the sample rate in Hz; --start and --duration cut it as they cut a file")

    def __init__(self, config: AudioConfig, device: torch.device, data: Any = None) -> None:
        super().__init__(config, device)
        config.validate()
        if data is not None:
            given = parts(data, ("samples", "rate"), "data")
            raw = as_array(given["samples"], "data samples")
            rate = check_number("the sample rate", given["rate"], int, 1)
            self.memory_arrays = {"samples": raw, "rate": np.array(rate)}
            audio = window(audio_from_array(raw, rate, f"array {'×'.join(map(str, raw.shape))}"), config.start,
                           config.duration)
        elif config.path:
            audio = load_audio(config.path, config.start, config.duration)
        else:
            audio = window(default_audio(), config.start, config.duration)
        peak = float(np.abs(audio.samples).max())
        if peak == 0.0:
            raise UserError(f"audio {audio.source} is silent (every sample is 0) in the chosen window; "
                            "nothing to fit — check the file or --start/--duration")
        self.audio = audio
        self.scale = peak
        n, c = audio.samples.shape
        self.frames = n
        self.in_features, self.out_features, self.samples = 1, c, n
        self.coords = time_coords(n, device)
        self.values = torch.from_numpy(audio.samples / peak).to(device)
        self._cache: tuple[Any, Tensor] | None = None
        self._cdf: Tensor | None = None
        self._weight: Tensor | None = None

    def describe(self) -> str:
        a, cfg = self.audio, self.config
        kind = "mono" if a.channels == 1 else f"{a.channels} channels"
        span = f", from {cfg.start:g} s" if cfg.start else ""
        full = cfg.batch_samples == 0 or cfg.batch_samples >= self.frames
        drawn = "loudness-sampled" if cfg.sampling == "loudness" else "random"
        batch = "the whole clip" if full else f"{cfg.batch_samples} {drawn} samples"
        return (f"audio {a.source}: {a.seconds:.3f} s{span}, {a.rate} Hz, {kind}, {self.frames:,} samples "
                f"(peak {self.scale:.3g} scaled to 1), {batch} per step")

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        n = self.config.batch_samples
        if n == 0 or n >= self.frames:
            return Batch(self.coords, self.values)
        if self.config.sampling == "loudness":
            if self._cdf is None:
                self._cdf, self._weight = _loudness_sampling(self.values, self.audio.rate)
                self._cdf, self._weight = self._cdf.to(self.device), self._weight.to(self.device)
            u = torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64).to(self.device)
            idx = torch.searchsorted(self._cdf, u).clamp_(max=self.frames - 1)
            assert self._weight is not None  # set together with _cdf
            return WeightedBatch(self.coords[idx], self.values[idx], self._weight[idx])
        idx = self.random_indices(n, self.frames, generator)
        return Batch(self.coords[idx], self.values[idx])

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        err = (model(batch.coords) - batch.target) ** 2
        if isinstance(batch, WeightedBatch):
            return {"mse": (err * batch.weight).mean()}
        return {"mse": err.mean()}

    def reconstruct(self, model: nn.Module) -> Tensor:
        """The fitted clip on the scaled amplitudes, (N, C) on the task's device.

        A long clip costs seconds per pass on a CPU, and the end of a run asks for the same network's output
        three times (last curve point, final metrics, export): the last result is reused while the
        parameters are unchanged (same tensors, same in-place version counters).
        """
        key = (id(model), tuple((id(p), p._version) for p in model.parameters()))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        fit = predict(model, self.coords, self.config.chunk)
        self._cache = (key, fit)
        return fit

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        fit = self.reconstruct(model)
        mse = float(((fit - self.values) ** 2).mean())
        return {"mse": mse, "snr_db": snr_db(self.values, fit)}

    def signal_meta(self) -> dict[str, Any]:
        return {"rate": self.audio.rate, "frames": self.frames, "channels": self.out_features,
                "scale": self.scale, "start": self.config.start, "source": self.audio.source}

    signal_schema = {"rate": Whole(1, MAX_RATES["WAV"]), "frames": Whole(2, MAX_SIDE**2),
                     "channels": Whole(1, MAX_CHANNELS), "scale": Number(gt=0), "start": Number(ge=0, optional=True),
                     "source": Text()}
    network_inputs = 1

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return signal["channels"], f"channels {signal['channels']}"

    @classmethod
    def render_frames(cls, signal: dict[str, Any], out_rate: int) -> int:
        """Samples of a render at `out_rate` Hz spanning the fitted clip (integer arithmetic: any rate is safe)."""
        rate, frames = signal["rate"], signal["frames"]
        return frames if out_rate == rate else max(2, (2 * frames * out_rate + rate) // (2 * rate))

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        out_rate = options.size or signal["rate"]
        count, channels = cls.render_frames(signal, out_rate), signal["channels"]
        request = (f"--size {shown(options.size)} (the sample rate) would render" if options.size
                   else "the fitted clip has")
        each = "" if channels == 1 else f" × {channels} channels = {amount(count * channels)} values"
        RENDER_SAMPLES.check(count * channels, f"{request} {amount(count)} samples{each}",
                             "samples" if channels == 1 else "values (samples × channels)")

    # ------------------------------------------------------------------ export
    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        out = ctx.out_dir
        fit = self.reconstruct(model).cpu().numpy()
        truth = self.values.cpu().numpy()
        save_audio(out / "reconstruction.wav", fit * self.scale, self.audio.rate)
        comparison_figure(truth, fit, self.audio.rate, out / "comparison.png",
                          f"fit: MSE {ctx.metrics['mse']:.3g}, SNR {ctx.metrics['snr_db']:.1f} dB")
        curve_plot(ctx.curve, "MSE (amplitudes in [-1, 1])", out / "mse_curve.png", log_y=True)
        return ["reconstruction.wav", "comparison.png", "mse_curve.png"]

    # ------------------------------------------------------------------ render
    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        """Write the network as audio; `options.size` is the output sample rate (default: the fitted rate).

        The rendered clip spans the fitted duration (frames / rate seconds); a higher rate samples the network
        between the fitted samples, a lower one samples it sparser without low-pass filtering (it may alias).
        """
        rate, frames = signal["rate"], signal["frames"]  # checked by `checked_signal`, the size by `check_render`
        out_rate = int(options.size) if options.size else rate
        check_audio_suffix(out, out_rate)  # before the (possibly long) evaluation
        if out_rate == rate:
            coords = time_coords(frames, device)
        else:
            count = cls.render_frames(signal, out_rate)
            seconds = torch.arange(count, device=device, dtype=torch.float64) / out_rate
            coords = (-1.0 + 2.0 * seconds * rate / (frames - 1)).to(torch.float32).unsqueeze(-1)
        values = predict(model, coords, options.chunk)
        require_finite(values, options)
        save_audio(out, values.cpu().numpy() * float(signal["scale"]), out_rate)
        return out

    @classmethod
    def render_suffix(cls) -> str:
        return ".wav"


def _envelope(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin index, min, max) of a long 1-D signal in `bins` equal bins: a waveform drawn at plot resolution."""
    n = x.shape[0]
    bins = max(1, min(bins, n))
    edges = np.linspace(0, n, bins + 1).astype(int)
    lo = np.minimum.reduceat(x, edges[:-1])
    hi = np.maximum.reduceat(x, edges[:-1])
    return edges[:-1], lo, hi


@draws_figure
def comparison_figure(truth: np.ndarray, fit: np.ndarray, rate: int, path: str | Path, title: str) -> None:
    """Waveforms (whole clip and a 30 ms zoom at the loudest moment), error, and spectrograms of truth and fit.

    truth, fit: (N, C) scaled amplitudes; several channels are shown as their mean.
    """
    from scipy.signal import spectrogram

    mono_note = "" if truth.shape[1] == 1 else " (mean of channels)"
    x, y = truth.mean(1), fit.mean(1)
    n = x.shape[0]
    seconds = np.arange(n) / rate
    fig = new_figure(11.0, 8.0)
    grid = fig.add_gridspec(3, 2)
    ax = fig.add_subplot(grid[0, :])
    idx, lo, hi = _envelope(x, 2000)
    ax.fill_between(seconds[idx], lo, hi, color="0.55", linewidth=0, label="ground truth", step="post")
    idx, lo, hi = _envelope(y - x, 2000)
    ax.fill_between(seconds[idx], lo, hi, color="tab:red", alpha=0.8, linewidth=0, label="error (fit − truth)",
                    step="post")
    ax.set_xlim(0, seconds[-1])
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude / peak")
    ax.set_title(f"waveform{mono_note} — {title}", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)

    zoom = max(2, min(n, int(0.03 * rate)))
    centre = int(np.argmax(np.abs(x)))
    a = min(max(0, centre - zoom // 2), n - zoom)
    ax = fig.add_subplot(grid[1, 0])
    t_ms = 1000.0 * seconds[a : a + zoom]
    ax.plot(t_ms, x[a : a + zoom], color="0.3", linewidth=1.6, label="ground truth")
    ax.plot(t_ms, y[a : a + zoom], color="tab:orange", linewidth=0.9, label="fit")
    ax.set_xlabel("time (ms)")
    ax.set_title(f"zoom: {zoom} samples at the loudest point", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    ax = fig.add_subplot(grid[1, 1])
    ax.plot(t_ms, y[a : a + zoom] - x[a : a + zoom], color="tab:red", linewidth=0.9)
    ax.set_xlabel("time (ms)")
    ax.set_title("zoom: error (fit − truth)", fontsize=10)

    # never longer than the clip: scipy would shorten the segment itself and then reject noverlap = nper // 2
    nper = int(min(1024, n, max(16, 2 ** math.floor(math.log2(max(16, n // 8))))))
    specs = []
    for signal in (x, y):
        f, t, s = spectrogram(signal.astype(np.float64), fs=rate, nperseg=nper, noverlap=nper // 2)
        specs.append(10.0 * np.log10(s + 1e-12))
    top = max(float(specs[0].max()), float(specs[1].max()))
    for col, (name, spec) in enumerate(zip(("ground truth", "fit"), specs)):
        ax = fig.add_subplot(grid[2, col])
        shown = ax.pcolormesh(t, f / 1000.0, spec, vmin=top - 90.0, vmax=top, cmap="magma", shading="auto",
                              rasterized=True)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (kHz)")
        ax.set_title(f"spectrogram, {name} (dB)", fontsize=10)
        if col == 1:
            fig.colorbar(shown, ax=ax, shrink=0.9, label="power (dB)")
    save_figure(fig, path)


__all__ = ["AudioConfig", "AudioTask", "comparison_figure", "snr_db", "time_coords", "Audio"]
