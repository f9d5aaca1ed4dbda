"""Video fitting: Φ(t, y, x) ≈ RGB, MSE on a random fraction of all pixels per step (the paper's Section 4.1).

Coordinates: t spans [-1, 1] over the frames; (y, x) keep the frame's aspect ratio, the longer side spanning
[-1, 1] (as in image fitting). Colours are mapped to [-1, 1]. The clip sits on the device as uint8 (T·H·W, 3),
so even the full bikes clip (250 × 272 × 640) takes 130 MB. PSNR is per frame, on frames mapped back to [0, 1]
and clipped; the headline metric `psnr_mean` is its mean over frames (during training over `--eval-frames`
evenly spaced frames, at the end over every frame).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import DEFAULT_CHUNK, MAX_FPS, check_number, check_side, check_values, in_range, option
from ..errors import check_all
from ..grids import axis_coords, grid_coords, predict
from ..io.atomic import write_text
from ..io.memory import as_array, parts
from ..io.video import ffmpeg, load_video, scaled_size, synthetic_video, video_from_array, write_video
from ..models.numerics import LossNeeds
from ..plots import curve_plot, draws_figure, new_figure, save_figure
from .base import (
    MAX_SIDE,
    RENDER_FRAMES,
    RENDER_PIXELS,
    RENDER_VIDEO_PIXELS,
    ArtefactContext,
    Batch,
    Choice,
    Number,
    RenderOptions,
    Task,
    Text,
    Whole,
    amount,
    require_finite,
    shown,
)
from .conventions import IMAGE_GRID, frames_axis
from .image import psnr_from_mse
from .registry import register


@dataclass(frozen=True)
class VideoConfig:
    """Which clip to fit, which part of it, and how to sample it."""

    path: str | None = option(
        None, "video file (MP4 or any format ffmpeg reads) or a folder of frames; default: a generated clip",
        positional=True, metavar="VIDEO", path=True,
    )
    frames: int = option(0, "number of frames to fit (0: every frame from --start-frame on)")
    start_frame: int = option(0, "first frame to fit (counting from 0)")
    size: int = option(0, "resize frames so that the longer side has this many pixels (0: native size)")
    fps: float = option(0.0, "frame rate of the clip (0: the file's own; 25 for a folder of frames)")
    sample_frac: float = option(0.0038, "fraction of all pixels of the clip sampled at random per step (paper: 0.0038)")
    eval_frames: int = option(8, "evenly spaced frames scored during training (0: all); the final score uses all")
    chunk: int = option(DEFAULT_CHUNK, "points per chunk when evaluating or writing frames")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the clip is read)."""
        check_values(self)
        check_all([
            (self.frames >= 0, f"--frames must be ≥ 0 (0 uses every frame), got {self.frames}"),
            (self.start_frame >= 0, f"--start-frame must be ≥ 0, got {self.start_frame}"),
            check_side("--size", self.size),
            (self.fps >= 0, f"--fps must be ≥ 0 and finite (0: the file's own rate), got {self.fps}"),
            in_range("--fps", self.fps, high=MAX_FPS, note=" frames per second"),
            (0.0 < self.sample_frac <= 1.0,
             f"--sample-frac must be in (0, 1] (the paper uses 0.0038), got {self.sample_frac}"),
            (self.eval_frames >= 0, f"--eval-frames must be ≥ 0 (0 scores every frame), got {self.eval_frames}"),
            (self.chunk >= 1, f"--chunk must be ≥ 1, got {self.chunk}"),
        ])


def time_axis(frames: int) -> Tensor:
    """t of each frame: `frames` points spanning [-1, 1] (a single frame sits at 0).
    >>> time_axis(3).tolist()
    [-1.0, 0.0, 1.0]
    """
    return torch.zeros(1) if frames == 1 else torch.linspace(-1.0, 1.0, frames)


def frame_coords(t: float, plane: Tensor) -> Tensor:
    """(H·W, 3) coordinates (t, y, x) of one frame, from the frame's (H·W, 2) grid `plane`."""
    return torch.cat([torch.full_like(plane[:, :1], t), plane], dim=1)


def _to_unit(values: Tensor) -> Tensor:
    """Network output in [-1, 1] -> colours in [0, 1], clipped as when written."""
    return ((values + 1.0) * 0.5).clamp(0.0, 1.0)


def _to_uint8(unit: Tensor) -> np.ndarray:
    return (unit * 255.0).round().to(torch.uint8).cpu().numpy()


@register
class VideoTask(Task):
    name = "video"
    command = ("fit", "video")
    description = "fit a network to a video (MP4 or a folder of frames); default: a generated 48-frame clip"
    Config = VideoConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """(t, row, col) in, RGB out."""
        return {"inputs": ["t", "row", "col"],
                "grid": frames_axis("frame", "frames") + "; (row, col) of each frame as for images: "
                        + IMAGE_GRID,
                "outputs": "RGB; a value v in [−1, 1] is the colour clip((v + 1)/2, 0, 1) in [0, 1]"}

    metric = "psnr_mean"
    # Learning rates (bikes at 128 px, cosine decay, benchmarks/video_fit.py): 3→256×3→3 after 1000 steps reached
    # 26.5 dB at lr 1e-3, 28.3 at 3e-4, 28.5 at 5e-4; 3→512×3→3 after 600 steps 27.6 at 5e-4, 28.8 at 2.5e-4,
    # 27.9 at 1.25e-4. The best lr falls with width (Adam moves each weight by about lr while the initial hidden
    # weights shrink as 1/sqrt(width)), so the 1024-wide GPU recipe uses 1.5e-4.
    # bf16 hidden-layer matmuls under --precision auto: value-only loss, accuracy measured in benchmarks/RESULTS.md
    needs = LossNeeds(bf16=True)
    recipes = {
        "paper": {"task": {"size": 0, "sample_frac": 0.0038}, "model": {"hidden_features": 1024},
                  "train": {"steps": 100000, "lr": 1e-4, "schedule": "constant", "eval_every": 2500,
                            "checkpoint_every": 5000}},
        "gpu": {"task": {"size": 0, "sample_frac": 0.0038}, "model": {"hidden_features": 1024},
                "train": {"steps": 20000, "lr": 1.5e-4, "schedule": "cosine", "eval_every": 1000,
                          "checkpoint_every": 5000}},
        "cpu": {"task": {"size": 128, "sample_frac": 0.0038}, "model": {"hidden_features": 256},
                "train": {"steps": 1000, "lr": 5e-4, "schedule": "cosine", "eval_every": 250,
                          "checkpoint_every": 500}},
    }
    recipe_notes = {
        "paper": "the paper: native size, 3→1024×3→3, 0.38 % of the pixels per step, lr 1e-4 constant, 100k steps",
        "gpu": "native size, 3→1024×3→3, 0.38 % of the pixels per step, lr 1.5e-4 with cosine decay, 20k steps",
        "cpu": "frames downscaled to 128 px on the longer side, 3→256×3→3, 0.38 % of the pixels per step, "
               "lr 5e-4 with cosine decay, 1000 steps",
    }

    smoke = ({"frames": 6, "size": 32, "sample_frac": 0.2, "steps": 150, "lr": 1e-3, "schedule": "cosine",
              "hidden_features": 64, "eval_every": 75}, 27.0)

    memory_data = ("(frames, fps): frames (T, H, W) grey or (T, H, W, C) with 1, 3 or 4 channels (alpha dropped), "
                   "uint8, uint16, bool or floats in [0, 1], and their frame rate; --frames, --start-frame and "
                   "--size act as on a file")

    def __init__(self, config: VideoConfig, device: torch.device, data: Any = None) -> None:
        super().__init__(config, device)
        config.validate()
        ffmpeg("fit video")  # it writes reconstruction.mp4 whatever it reads: refused before any work
        reader: dict[str, Any] = dict(frames=config.frames, start=config.start_frame, size=config.size, fps=config.fps)
        if data is not None:
            given = parts(data, ("frames", "fps"), "data")
            raw = as_array(given["frames"], "data frames")
            rate = check_number("the frame rate", given["fps"], float, 0, above=True)
            self.memory_arrays = {"frames": raw, "fps": np.array(rate)}
            video = video_from_array(raw, rate, **reader)
        else:
            video = load_video(config.path, **reader) if config.path else synthetic_video(**reader)
        self.video = video
        t, h, w = video.shape
        self.shape = (t, h, w)
        self.in_features, self.out_features, self.samples = 3, 3, max(t, h, w)
        self.n_pixels = t * h * w
        self.batch_size = max(1, min(self.n_pixels, round(config.sample_frac * self.n_pixels)))
        self.values = torch.from_numpy(video.frames.reshape(-1, 3)).to(device)  # uint8, (T·H·W, 3)
        self.t_axis = time_axis(t).to(device)
        y_axis, x_axis = axis_coords((h, w), keep_aspect=True)
        self.y_axis, self.x_axis = y_axis.to(device), x_axis.to(device)
        self.plane = grid_coords((h, w), keep_aspect=True, device=device)
        count = t if config.eval_frames == 0 else min(t, config.eval_frames)
        self.eval_index = np.unique(np.round(np.linspace(0, t - 1, count)).astype(int)).tolist()
        self._final: tuple[tuple, np.ndarray, np.ndarray] | None = None  # (model state key, frames, psnr)

    # ------------------------------------------------------------------ data
    def describe(self) -> str:
        t, h, w = self.shape
        v = self.video
        if self.config.frames or self.config.start_frame:
            of = f" of {v.total_frames}" if v.total_frames else ""
            which = f"frames {self.config.start_frame}–{self.config.start_frame + t - 1} ({t}{of})"
        else:
            which = f"{t} frames"
        nh, nw = v.native_size
        if (nh, nw) != (h, w):
            scale = (f" (downscaled from {nw}×{nh}; --size 0 keeps the native size)" if max(h, w) < max(nh, nw)
                     else f" (upscaled from {nw}×{nh})")
        else:
            scale = ""
        return (f"video {v.source}: {which} at {w}×{h} RGB{scale}, {v.fps:g} fps; "
                f"{self.batch_size:,} random pixels per step ({100 * self.batch_size / self.n_pixels:.2f} % "
                f"of {self.n_pixels:,})")

    def coords_of(self, index: Tensor) -> Tensor:
        """(t, y, x) of flat pixel indices into the (T, H, W) clip: (N,) -> (N, 3)."""
        _, h, w = self.shape
        t, rest = torch.div(index, h * w, rounding_mode="floor"), index % (h * w)
        y, x = torch.div(rest, w, rounding_mode="floor"), rest % w
        return torch.stack([self.t_axis[t], self.y_axis[y], self.x_axis[x]], dim=-1)

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        idx = self.random_indices(self.batch_size, self.n_pixels, generator)
        return Batch(self.coords_of(idx), self.values[idx].float() / 127.5 - 1.0)

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        return {"mse": ((model(batch.coords) - batch.target) ** 2).mean()}

    # ------------------------------------------------------------------ evaluation
    def truth(self, frame: int) -> Tensor:
        """Frame `frame` in [0, 1], (H·W, 3) on the device."""
        _, h, w = self.shape
        return self.values[frame * h * w : (frame + 1) * h * w].float() / 255.0

    def predict_frame(self, model: nn.Module, frame: int) -> Tensor:
        """The fit of frame `frame` in [0, 1], (H·W, 3) on the device."""
        return _to_unit(predict(model, frame_coords(float(self.t_axis[frame]), self.plane), self.config.chunk))

    @staticmethod
    def _state_key(model: nn.Module) -> tuple:
        """Identifies the current weights: every in-place optimiser step bumps a tensor's version counter."""
        return (id(model), *((id(p), p._version) for p in model.parameters()))

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        t, h, w = self.shape
        index = list(range(t)) if final else self.eval_index
        mse = np.empty(len(index))
        frames = np.empty((t, h, w, 3), dtype=np.uint8) if final else None
        for k, i in enumerate(index):
            fit = self.predict_frame(model, i)
            mse[k] = float(((fit - self.truth(i)) ** 2).mean())
            if frames is not None:
                frames[i] = _to_uint8(fit).reshape(h, w, 3)
        psnr = np.array([psnr_from_mse(m) for m in mse])
        if frames is not None:
            self._final = (self._state_key(model), frames, psnr)
        return {"psnr_mean": float(psnr.mean()), "psnr_std": float(psnr.std()), "psnr_min": float(psnr.min()),
                "mse": float(mse.mean())}

    def _final_results(self, model: nn.Module) -> tuple[np.ndarray, np.ndarray]:
        """(frames uint8 (T, H, W, 3), per-frame PSNR) of the current model, reusing the final evaluation."""
        if self._final is None or self._final[0] != self._state_key(model):
            self.evaluate(model, final=True)
        assert self._final is not None
        return self._final[1], self._final[2]

    def signal_meta(self) -> dict[str, Any]:
        t, h, w = self.shape
        return {"frames": t, "height": h, "width": w, "channels": 3, "fps": self.video.fps,
                "source": self.video.source, "start_frame": self.config.start_frame,
                "native_height": self.video.native_size[0], "native_width": self.video.native_size[1]}

    signal_schema = {"frames": Whole(1, MAX_SIDE), "height": Whole(1, MAX_SIDE), "width": Whole(1, MAX_SIDE),
                     "channels": Choice((3,)), "fps": Number(gt=0, le=1e6, optional=True), "source": Text(),
                     "start_frame": Whole(0, 2**63 - 1, optional=True),
                     "native_height": Whole(1, MAX_SIDE, optional=True),
                     "native_width": Whole(1, MAX_SIDE, optional=True)}
    network_inputs = 3
    renders_frames = True

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return 3, "channels 3 (RGB)"

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        """Frames, pixels of a frame (held in memory) and frames × pixels (network passes, file size) against the
        limits, in integer arithmetic (an astronomical --size or --frames is no float)."""
        ffmpeg("rendering a video run")
        t, h, w, size = signal["frames"], signal["height"], signal["width"], options.size
        if size and size != max(h, w):
            longer = max(h, w)
            h, w = ((size if n == longer else max(2, 2 * ((n * size + longer) // (2 * longer)))) for n in (h, w))
        count = options.frames or t
        asked = " and ".join(f"{flag} {shown(v)}" for flag, v in (("--frames", options.frames), ("--size", size)) if v)
        request = f"{asked} would render" if asked else "the fitted clip has"
        RENDER_FRAMES.check(count, f"{request} {amount(count)} frames", "frames")
        RENDER_PIXELS.check(h * w, f"{request} frames of {shown(w)}×{shown(h)} = {amount(h * w)} pixels",
                            "pixels a frame")
        RENDER_VIDEO_PIXELS.check(count * h * w, f"{request} {amount(count)} frames of {shown(w)}×{shown(h)} = "
                                  f"{amount(count * h * w)} pixels", "pixels")

    # ------------------------------------------------------------------ export
    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        out = ctx.out_dir
        frames, psnr = self._final_results(model)
        write_video(out / "reconstruction.mp4", frames, self.video.fps)
        self._comparison(frames, psnr, out / "comparison.png")
        self._frame_table(psnr, out / "frame_psnr.csv")
        self._frame_plot(psnr, out / "frame_psnr.png")
        curve_plot(ctx.curve, "mean PSNR (dB)", out / "psnr_curve.png")
        return ["reconstruction.mp4", "comparison.png", "frame_psnr.csv", "frame_psnr.png", "psnr_curve.png"]

    @draws_figure
    def _comparison(self, frames: np.ndarray, psnr: np.ndarray, path: Path, rows: int = 4) -> None:
        """A strip of evenly spaced frames, one per row: ground truth | fit."""
        t, h, w = self.shape
        picks = np.unique(np.round(np.linspace(0, t - 1, min(rows, t))).astype(int))
        cell_w = 3.6
        cell_h = cell_w * h / w + 0.3
        fig = new_figure(2 * cell_w, cell_h * len(picks))
        axes = fig.subplots(len(picks), 2, squeeze=False)
        truth = self.video.frames
        for row, i in enumerate(picks):
            for col, (title, img) in enumerate(((f"frame {i}: ground truth", truth[i]),
                                                (f"fit, {psnr[i]:.2f} dB", frames[i]))):
                ax = axes[row][col]
                ax.imshow(img, interpolation="nearest")
                ax.set_title(title, fontsize=9)
                ax.set_axis_off()
        save_figure(fig, path, dpi=max(110, min(300, round(w / cell_w))))

    def _frame_table(self, psnr: np.ndarray, path: Path) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["frame", "source_frame", "time_s", "psnr"])
        for i, value in enumerate(psnr):
            src = self.config.start_frame + i
            writer.writerow([i, src, f"{src / self.video.fps:.4f}", f"{value:.4f}"])
        write_text(path, buf.getvalue())

    @draws_figure
    def _frame_plot(self, psnr: np.ndarray, path: Path) -> None:
        fig = new_figure(5.5, 3.4)
        ax = fig.add_subplot()
        ax.plot(np.arange(len(psnr)), psnr, marker="o" if len(psnr) <= 60 else None, markersize=3)
        ax.axhline(float(psnr.mean()), color="grey", linestyle="--", linewidth=1,
                   label=f"mean {psnr.mean():.2f} ± {psnr.std():.2f} dB")
        ax.set_xlabel("frame")
        ax.set_ylabel("PSNR (dB)")
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
        save_figure(fig, path)

    # ------------------------------------------------------------------ render
    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        """Write an MP4 with `options.frames` frames (t uniform over [-1, 1]; same duration, so the frame rate
        scales with the count) at `options.size` on the longer side, one frame at a time."""
        t, h, w = signal["frames"], signal["height"], signal["width"]  # checked; the size by `check_render`
        if options.size:
            h, w = scaled_size(h, w, options.size)
        count = options.frames or t
        fps = signal.get("fps", 25.0) * count / t
        plane = grid_coords((h, w), keep_aspect=True, device=device)
        times = time_axis(count).tolist()

        def frame(tc: float) -> np.ndarray:
            values = predict(model, frame_coords(tc, plane), options.chunk)
            require_finite(values, options)  # after the first frame raised inside write_video, which cleans up
            return _to_uint8(_to_unit(values)).reshape(h, w, 3)

        first = frame(times[0])  # before the file is opened: a damaged network is refused with nothing written

        def frames():
            yield first
            for tc in times[1:]:
                yield frame(tc)

        return write_video(out, frames(), fps)

    @classmethod
    def render_suffix(cls) -> str:
        return ".mp4"
