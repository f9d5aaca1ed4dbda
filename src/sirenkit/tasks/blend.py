"""Gradient-domain image editing with a SIREN (the paper's Poisson image editing).

Two modes:
- `mix`: the network's gradient is fitted to w·∇BASE + (1 − w)·∇INSERT everywhere (w = 0.5 in the paper),
  INSERT resized to BASE's size. The result is defined up to a constant: its mean is set to the mean of the
  correspondingly mixed images.
- `clone` (seamless cloning): a masked region of INSERT is pasted into BASE at `--at` by its gradients.
  Outside the mask the network is fitted to BASE's values (these are the boundary conditions), inside it to
  INSERT's gradient. The written image takes BASE's pixels unchanged outside the mask and the network inside.
Gradients are Sobel estimates in per-pixel units of images in [0, 1], so the value and gradient terms are
comparable; `--gradient-weight` scales the gradient term.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..config import MAX_WEIGHT, check_side, check_values, in_range, option
from ..diff import GradientBackend, derivatives, gradient_backend
from ..errors import UserError, check_all
from ..grids import grid_coords, predict
from ..io.images import Image, default_image, image_from_array, load_image, resize_longer_side, save_image, to_grey
from ..models.numerics import LossNeeds
from ..plots import curve_plot, image_grid
from .base import ArtefactContext, Batch, Choice, Number, RenderOptions, Task, require_finite
from .conventions import image_convention
from .image import IMAGE_SIGNAL, check_image_render, psnr_from_mse, render_shape
from .poisson import derivative_psnr, sobel_gradient
from .registry import register


@dataclass(frozen=True)
class BlendConfig:
    """Which images to combine and how."""

    base: str | None = option(None, "background image; default: the cameraman", positional=True, metavar="BASE",
                            path=True)
    insert: str | None = option(
        None, "image whose gradients are blended in; default: scikit-image's astronaut", positional=True,
        metavar="INSERT", path=True,
    )
    mode: Literal["mix", "clone"] = option("mix", "mix: average the gradients; clone: paste a masked region")
    mask: str | None = option(
        None, "clone: mask image the size of INSERT, nonzero = paste (default: a centred ellipse)", metavar="M",
        path=True
    )
    at: str | None = option(None, "clone: X,Y pixel of BASE where the insert's centre goes (default: centre)",
                            metavar="X,Y")
    mix_weight: float = option(0.5, "mix: weight w of BASE's gradient (INSERT gets 1 − w)")
    gradient_weight: float = option(1.0, "clone: weight of the gradient term against the value term")
    size: int = option(256, "resize BASE so its longer side has this many pixels (0: native); INSERT follows")
    grey: bool = option(False, "work in grey (colour images are blended per channel otherwise)")
    derivatives: GradientBackend = option(
        "auto", "derivative engine: reverse (the closed-form backward sweep, compiled), analytic forward mode, "
                "autograd or fused; auto: reverse where the network allows, autograd otherwise")
    chunk: int = option(16384, "points per chunk when evaluating the whole image")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the images are read)."""
        check_values(self)
        check_all([
            (0.0 <= self.mix_weight <= 1.0, f"--mix-weight must be in [0, 1], got {self.mix_weight}"),
            (self.gradient_weight > 0, "--gradient-weight must be positive"),
            in_range("--gradient-weight", self.gradient_weight, high=MAX_WEIGHT),
            check_side("--size", self.size),
            (self.chunk >= 1, f"--chunk must be ≥ 1, got {self.chunk}"),
        ])


def _default_insert() -> Image:
    from skimage import data

    return image_from_array(data.astronaut(), "skimage.data.astronaut()")


def _load(path: str | None, default) -> Image:
    return load_image(path) if path else default()


def _parse_at(text: str | None, shape: tuple[int, int]) -> tuple[int, int]:
    if text is None:
        return shape[0] // 2, shape[1] // 2
    try:
        x, y = (int(round(float(v))) for v in text.split(","))
    except (ValueError, OverflowError):  # OverflowError: inf
        raise UserError(f"--at must be X,Y in pixels of BASE, got {text!r}") from None
    if not (0 <= x < shape[1] and 0 <= y < shape[0]):
        raise UserError(f"--at {text} lies outside BASE ({shape[1]}×{shape[0]} pixels after resizing)")
    return y, x


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - (h - 1) / 2) / (0.4 * h)) ** 2 + ((xx - (w - 1) / 2) / (0.4 * w)) ** 2 <= 1.0


@register
class BlendTask(Task):
    name = "poisson-blend"
    command = ("poisson", "blend")
    description = "gradient-domain editing: mix two images' gradients or seamlessly clone a region"
    Config = BlendConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """Pixel grid in, pixel values in [0, 1] out."""
        return image_convention(signal, "one output per channel: the edited image's pixel value in [0, 1] directly "
                              "(clip to [0, 1]); in mix mode the result is defined up to a constant, which "
                              "sirenkit sets so that the mean matches the mixed images' mean")

    metric = "psnr_gradient"
    # bf16 only in the backward pass under --precision auto (its 70 dB fit is above bf16's forward-pass ceiling):
    # the default mix run reached 70.02 dB in 103 s of training against 69.85 dB in 154 s in fp32.
    needs = LossNeeds(bf16_backward=True)
    recipes = {
        "paper": {"task": {"size": 256},
                  "train": {"steps": 10000, "lr": 1e-4, "schedule": "constant", "eval_every": 500}},
        "gpu": {"task": {"size": 256}, "train": {"steps": 2000, "lr": 1e-3, "schedule": "cosine", "eval_every": 250}},
        "cpu": {"task": {"size": 128}, "train": {"steps": 800, "lr": 1e-3, "schedule": "cosine", "eval_every": 200}},
    }
    recipe_notes = {
        "paper": "256², every pixel, Adam lr 1e-4 constant, 10k steps",
        "gpu": "256², every pixel, lr 1e-3 with cosine decay, 2000 steps",
        "cpu": "128², every pixel, lr 1e-3 with cosine decay, 800 steps",
    }
    smoke = ({"size": 32, "steps": 150, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64, "grey": True}, 25.0)

    def __init__(self, config: BlendConfig, device: torch.device) -> None:
        super().__init__(config, device)
        config.validate()
        base_src = _load(config.base, default_image)
        insert_src = _load(config.insert, _default_insert)
        base = resize_longer_side(base_src, config.size)
        scale = max(base.pixels.shape[:2]) / max(base_src.pixels.shape[:2])
        if config.grey or base.channels != insert_src.channels:
            base, insert_src = to_grey(base), to_grey(insert_src)
        self.base = base
        h, w, c = base.pixels.shape
        self.shape = (h, w)
        self.in_features, self.out_features, self.samples = 2, c, max(h, w)
        if config.mode == "mix":
            insert = _resize_to(insert_src, (h, w)).pixels
            inside = np.ones((h, w), dtype=bool)
        else:
            insert_scaled = _resize_to(insert_src, (max(2, round(insert_src.pixels.shape[0] * scale)),
                                                    max(2, round(insert_src.pixels.shape[1] * scale))))
            mask = self._mask(insert_src.pixels.shape[:2], insert_scaled.pixels.shape[:2])
            insert, inside = _place(insert_scaled.pixels, mask, (h, w), _parse_at(config.at, (h, w)))
        self.insert, self.inside = insert, inside
        if not inside.any():
            raise UserError("the mask selects no pixel inside BASE; check --mask and --at")
        g_base = sobel_gradient(base.pixels, 1.0)
        g_ins = sobel_gradient(insert, 1.0)
        if config.mode == "mix":
            target_grad = config.mix_weight * g_base + (1 - config.mix_weight) * g_ins
            self.mean_value = float((config.mix_weight * base.pixels + (1 - config.mix_weight) * insert).mean())
        else:
            target_grad = np.where(inside[..., None, None], g_ins, g_base)
            self.mean_value = float(base.pixels.mean())
        self.coords = grid_coords((h, w), device=device)
        self.pixel = (max(h, w) - 1) / 2.0  # coordinate units -> per-pixel units: multiply ∇ by 1/pixel
        self.grad_target = torch.from_numpy(target_grad.reshape(h * w, c, 2)).float().to(device)
        self.values = torch.from_numpy(base.pixels.reshape(-1, c)).float().to(device)
        self.inside_t = torch.from_numpy(inside.reshape(-1)).to(device)

    def _mask(self, native: tuple[int, int], scaled: tuple[int, int]) -> np.ndarray:
        if self.config.mask is None:
            return _ellipse(*scaled)
        m = load_image(self.config.mask)
        if m.pixels.shape[:2] != native:
            raise UserError(f"--mask {self.config.mask} is {m.pixels.shape[1]}×{m.pixels.shape[0]}; "
                            f"it must match INSERT ({native[1]}×{native[0]})")
        return _resize_to(to_grey(m), scaled).pixels[..., 0] > 0.5

    def describe(self) -> str:
        h, w = self.shape
        what = (f"mix gradients {self.config.mix_weight:g}·BASE + {1 - self.config.mix_weight:g}·INSERT"
                if self.config.mode == "mix" else f"clone {int(self.inside.sum())} pixels of INSERT into BASE")
        return f"poisson blend: {what}, {w}×{h}, {self.out_features} channel(s)"

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        return Batch(self.coords, self.grad_target)

    def _backend(self, model: nn.Module) -> GradientBackend:
        return gradient_backend(self.config.derivatives, model)

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """The reverse sweep compiles on every device (autograd's double backward does not; the fused path runs
        its own nodes); forward mode on CUDA."""
        backend = self._backend(model)
        compiles = backend == "reverse" or (self.device.type == "cuda" and backend == "analytic")
        return replace(super().loss_needs(model), compile=compiles)

    def _pixel_gradient(self, d) -> Tensor:
        return d.gradient / self.pixel

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        d = derivatives(model, batch.coords, order=1, backend=self._backend(model))
        grad_err = ((self._pixel_gradient(d) - batch.target) ** 2).flatten(1).sum(-1)
        if self.config.mode == "mix":
            return {"gradient": grad_err.mean()}
        inside = self.inside_t.float()
        value_err = ((d.value - self.values) ** 2).sum(-1)
        return {
            "gradient": self.config.gradient_weight * (grad_err * inside).sum() / inside.sum().clamp_min(1),
            "value": (value_err * (1 - inside)).sum() / (1 - inside).sum().clamp_min(1),
        }

    def blended(self, model: nn.Module) -> np.ndarray:
        """The edited image in [0, 1], (H, W, C): BASE outside the mask in clone mode."""
        h, w = self.shape
        out = predict(model, self.coords, self.config.chunk).cpu().double().numpy()
        if self.config.mode == "mix":
            out += self.mean_value - out.mean()
        out = out.reshape(h, w, -1)
        if self.config.mode == "clone":
            out = np.where(self.inside[..., None], out, self.base.pixels)
        return np.clip(out, 0.0, 1.0)

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        d = derivatives(model, self.coords, order=1, backend=self._backend(model), create_graph=False)
        fitted = self._pixel_gradient(d).detach()
        region = self.inside_t  # in clone mode only the masked region is supervised by gradients
        out = {"psnr_gradient": derivative_psnr(fitted[region], self.grad_target[region])}
        if self.config.mode == "clone":
            outside = ~self.inside_t
            mse = float(((d.value.detach() - self.values)[outside] ** 2).mean()) if outside.any() else 0.0
            out["psnr_boundary"] = psnr_from_mse(mse)
        return out

    def signal_meta(self) -> dict[str, Any]:
        h, w = self.shape
        return {"height": h, "width": w, "channels": self.out_features, "bit_depth": self.base.bit_depth,
                "mode": self.config.mode, "mean_value": self.mean_value}

    # mean_value: the mean that mix mode gives the result (absent in runs of sirenkit 0.1.0 before it was stored)
    signal_schema = {**IMAGE_SIGNAL, "mode": Choice(("mix", "clone")), "mean_value": Number(optional=True)}
    network_inputs = 2

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return signal["channels"], f"channels {signal['channels']}"

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        check_image_render(signal, options)

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        result = self.blended(model)
        save_image(ctx.out_dir / "blend.png", result, self.base.bit_depth)
        naive = np.where(self.inside[..., None], self.insert, self.base.pixels) if self.config.mode == "clone" \
            else 0.5 * (self.base.pixels + self.insert)
        image_grid(
            [[("BASE", self.base.pixels, {"vmin": 0, "vmax": 1}),
              ("INSERT (placed)", self.insert, {"vmin": 0, "vmax": 1}),
              ("naive " + ("paste" if self.config.mode == "clone" else "average"), naive, {"vmin": 0, "vmax": 1}),
              (f"SIREN {self.config.mode}", result, {"vmin": 0, "vmax": 1})]],
            ctx.out_dir / "comparison.png",
        )
        curve_plot(ctx.curve, "PSNR of the fitted gradient (dB)", ctx.out_dir / "psnr_curve.png")
        return ["blend.png", "comparison.png", "psnr_curve.png"]

    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        """The network's values are the edited image's pixels in [0, 1] (not [-1, 1] as for `fit image`); in mix
        mode shifted to the stored mean as `blended` does. In clone mode the network is shown everywhere (outside
        the mask it was fitted to BASE's values, which a render does not have)."""
        h, w = render_shape(signal, options.size)
        values = predict(model, grid_coords((h, w), device=device), options.chunk)
        require_finite(values, options)
        pixels = values.cpu().double().numpy()
        if signal["mode"] == "mix" and "mean_value" in signal:
            pixels += signal["mean_value"] - pixels.mean()
        save_image(out, np.clip(pixels.reshape(h, w, -1), 0.0, 1.0), signal.get("bit_depth", 8))
        return out


def _resize_to(image: Image, shape: tuple[int, int]) -> Image:
    from skimage.transform import resize

    pixels = resize(image.pixels, shape + (image.channels,), anti_aliasing=True, preserve_range=True)
    return Image(np.clip(pixels, 0, 1).astype(np.float32), image.bit_depth, image.source)


def _place(insert: np.ndarray, mask: np.ndarray, shape: tuple[int, int], centre: tuple[int, int]):
    """Put `insert` (h, w, C) with `mask` (h, w) into a canvas of `shape` centred at `centre`; crop at edges."""
    h, w = shape
    ih, iw = mask.shape
    top, left = centre[0] - ih // 2, centre[1] - iw // 2
    canvas = np.zeros((h, w, insert.shape[-1]), dtype=np.float32)
    inside = np.zeros((h, w), dtype=bool)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(h, top + ih), min(w, left + iw)
    if y1 <= y0 or x1 <= x0:
        return canvas, inside
    canvas[y0:y1, x0:x1] = insert[y0 - top : y1 - top, x0 - left : x1 - left]
    inside[y0:y1, x0:x1] = mask[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas, inside
