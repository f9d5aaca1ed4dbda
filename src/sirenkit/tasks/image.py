"""Image fitting: Φ(y, x) ≈ pixel value, MSE on pixels (the paper's first experiment).

Pixels are mapped to [-1, 1]; coordinates are (row, column) with the longer side spanning [-1, 1].
PSNR and SSIM are measured on images mapped back to [0, 1] and clipped, i.e. on what is written to disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..config import DEFAULT_CHUNK, MAX_POINTS, MAX_SEED, MAX_WEIGHT, check_side, check_values, in_range, option
from ..diff import derivatives, hessian
from ..errors import check_all
from ..grids import grid_coords, map_chunks, predict
from ..io.images import default_image, image_from_array, load_image, resize_longer_side, save_image, to_grey
from ..io.memory import as_array
from ..models.numerics import LossNeeds
from ..plots import curve_plot, image_grid, robust_limits
from .base import (
    MAX_SIDE,
    RENDER_PIXELS,
    ArtefactContext,
    Batch,
    Choice,
    RenderOptions,
    Task,
    Text,
    Whole,
    amount,
    require_finite,
    shown,
)
from .conventions import SIGNED_PIXELS, image_convention
from .registry import register


@dataclass(frozen=True)
class ImageConfig:
    """Which image to fit and how to sample it."""

    path: str | None = option(
        None, "image file (PNG, JPEG, TIFF; grey or RGB; 8 or 16 bit); default: the cameraman",
        positional=True, metavar="IMAGE", path=True,
    )
    size: int = option(256, "resize so that the longer side has this many pixels (0: native size)")
    batch_pixels: int = option(0, "random pixels per step (0: every pixel, full batch)")
    grey: bool = option(False, "convert a colour image to grey before fitting")
    chunk: int = option(DEFAULT_CHUNK, "points per chunk when evaluating the whole image")
    keep_fraction: float = option(
        1.0, "inpainting: fit only this random fraction of the pixels; psnr is then measured on the others"
    )
    mask_seed: int = option(0, "inpainting: seed of the random choice of kept pixels")
    prior: Literal["none", "tv", "hessian"] = option(
        "none", "regulariser on random coordinates: total variation (L1 of ∇Φ) or Hessian Frobenius norm"
    )
    prior_weight: float = option(1e-3, "weight k of the prior term in MSE + k·prior")
    prior_points: int = option(4096, "random coordinates per step at which the prior is evaluated")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the image is read)."""
        check_values(self)
        check_all([
            check_side("--size", self.size),
            (self.batch_pixels >= 0, "--batch-pixels must be ≥ 0 (0 uses every pixel)"),
            in_range("--batch-pixels", self.batch_pixels, high=MAX_POINTS),
            (self.chunk >= 1, "--chunk must be ≥ 1"),
            (0.0 < self.keep_fraction <= 1.0, f"--keep-fraction must be in (0, 1], got {self.keep_fraction}"),
            in_range("--mask-seed", self.mask_seed, 0, MAX_SEED),
            (self.prior_weight >= 0 and self.prior_points >= 1,
             "--prior-weight must be ≥ 0 and --prior-points ≥ 1"),
            in_range("--prior-weight", self.prior_weight, high=MAX_WEIGHT),
            in_range("--prior-points", self.prior_points, high=MAX_POINTS),
        ])


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for signals in [0, 1]. >>> psnr_from_mse(1e-4)
    40.0
    """
    return float("inf") if mse <= 0 else -10.0 * math.log10(mse)


def ssim(fit: np.ndarray, truth: np.ndarray) -> float | None:
    """SSIM of two (H, W, C) images in [0, 1] (skimage, Gaussian-free 7×7 window, narrowed to fit images smaller
    than that); None below 3 pixels a side, where it means nothing."""
    from skimage.metrics import structural_similarity

    side = min(fit.shape[:2])
    window = min(7, side if side % 2 else side - 1)
    if window < 3:
        return None
    return float(structural_similarity(fit, truth, data_range=1.0, channel_axis=-1, win_size=window))


def _to_unit(values: Tensor) -> Tensor:
    """Network output in [-1, 1] -> image in [0, 1], clipped as when saved."""
    return ((values + 1.0) * 0.5).clamp(0.0, 1.0)


@dataclass
class ImageBatch(Batch):
    """Pixels to fit plus, when a prior is used, random coordinates to regularise at (None otherwise)."""

    prior_coords: Tensor | None = None


def total_variation(model: nn.Module, coords: Tensor) -> Tensor:
    """Mean over points of Σ_c Σ_k |∂Φ_c/∂x_k| (anisotropic TV), by the derivative engine."""
    d = derivatives(model, coords, order=1)
    return d.gradient.abs().sum(dim=(-2, -1)).mean()


def hessian_norm(model: nn.Module, coords: Tensor) -> Tensor:
    """Mean over points of Σ_c ‖H Φ_c‖_F (Frobenius norm of each output's Hessian), by autograd."""
    x = coords.detach().requires_grad_(True)
    y = model(x)
    norms = [hessian(y[:, c : c + 1], x).flatten(1).norm(dim=-1) for c in range(y.shape[-1])]
    return torch.stack(norms, -1).sum(-1).mean()


PRIORS = {"tv": total_variation, "hessian": hessian_norm}

IMAGE_SIGNAL = {"height": Whole(2, MAX_SIDE), "width": Whole(2, MAX_SIDE), "channels": Choice((1, 3)),
                "bit_depth": Choice((8, 16), optional=True), "source": Text()}
"""What an image's `signal_meta` stores (also poisson and blend runs, and each network of a `fit images` run)."""


@register
class ImageTask(Task):
    name = "image"
    command = ("fit", "image")
    description = "fit a network to an image (PNG/JPEG/TIFF, grey or RGB); default: the cameraman"
    Config = ImageConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """Pixel grid in, signed pixel values out (the ONNX sidecar)."""
        return image_convention(signal, SIGNED_PIXELS)

    metric = "psnr"
    needs = LossNeeds(bf16=True)

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """bf16 under --precision auto for the plain fit (value-only loss, measured); the tv/hessian priors are
        derivative terms (fp32)."""
        return replace(super().loss_needs(model), bf16=self.config.prior == "none")

    # gpu: lr 2e-3 measured on the cameraman 512², full batch (run on the CPU with the bf16 matmuls a GPU uses):
    # 40.9 dB at 2000 steps where 1e-3 reached 36.6 dB at 1500; 3e-3 and 4e-3 collapsed to a constant image
    # (benchmarks/RESULTS.md, "The gpu image recipe").
    recipes = {
        "paper": {"task": {"size": 512, "batch_pixels": 0},
                  "train": {"steps": 10000, "lr": 1e-4, "schedule": "constant", "eval_every": 500}},
        "gpu": {"task": {"size": 512, "batch_pixels": 0},
                "train": {"steps": 2000, "lr": 2e-3, "schedule": "cosine", "eval_every": 250}},
        "cpu": {"task": {"size": 256, "batch_pixels": 8192},
                "train": {"steps": 1000, "lr": 1e-3, "schedule": "cosine", "eval_every": 250}},
    }
    recipe_notes = {
        "paper": "the paper: 512², full batch, Adam lr 1e-4 constant, 10k steps",
        "gpu": "512², full batch, lr 2e-3 with cosine decay, 2000 steps",
        "cpu": "256², 8192 random pixels per step, lr 1e-3 with cosine decay, 1000 steps",
    }

    smoke = ({"size": 48, "steps": 150, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64}, 30.0)

    memory_data = ("an image array (H, W) or (H, W, C) with 1 to 4 channels (alpha dropped): uint8 0–255, uint16 "
                   "0–65535, bool, or floats in [0, 1] (other float ranges are scaled min–max, as float TIFFs are)")

    def __init__(self, config: ImageConfig, device: torch.device, data: Any = None) -> None:
        super().__init__(config, device)
        config.validate()
        if data is not None:
            raw = as_array(data, "data")
            self.memory_arrays = {"image": raw}
            source = image_from_array(raw, f"array {'×'.join(str(n) for n in raw.shape)}")
        else:
            source = load_image(config.path) if config.path else default_image()
        self.native_shape = source.pixels.shape[:2]
        image = resize_longer_side(source, config.size)
        if config.grey:
            image = to_grey(image)
        self.image = image
        h, w, c = image.pixels.shape
        self.shape = (h, w)
        self.in_features, self.out_features, self.samples = 2, c, max(h, w)
        self.coords = grid_coords((h, w), device=device)
        self.values = torch.from_numpy(image.pixels.reshape(-1, c)).to(device) * 2.0 - 1.0
        self.n_pixels = h * w
        # Inpainting: a fixed random subset of pixels is all the fit sees; the rest is held back for the metric.
        order = torch.randperm(self.n_pixels, generator=torch.Generator().manual_seed(config.mask_seed))
        n_keep = max(1, round(config.keep_fraction * self.n_pixels))
        self.kept = order[:n_keep].sort().values.to(device)
        self.held = order[n_keep:].sort().values.to(device)
        self.inpainting = n_keep < self.n_pixels
        self.extent = self.coords.abs().amax(0)  # half-size of the image in coordinates, per axis

    def describe(self) -> str:
        h, w = self.shape
        kind = "grey" if self.out_features == 1 else "RGB"
        resized = f" (resized from {self.native_shape[1]}×{self.native_shape[0]})"
        native = "" if self.native_shape == self.shape else resized
        n, n_fit = self.config.batch_pixels, len(self.kept)
        batch = f"{n} pixels" if 0 < n < n_fit else "all pixels"  # as `batch` draws them
        text = f"image {self.image.source}: {w}×{h} {kind}{native}, {batch} per step"
        if self.inpainting:
            text += f"; inpainting from {n_fit} pixels ({100 * n_fit / self.n_pixels:.1f} %)"
        if self.config.prior != "none":
            text += f"; {self.config.prior} prior, weight {self.config.prior_weight:g}"
        return text

    def batch(self, step: int, generator: torch.Generator) -> ImageBatch:
        n, pool = self.config.batch_pixels, len(self.kept)
        if n == 0 or n >= pool:
            idx = self.kept if self.inpainting else None
        else:
            idx = self.kept[self.random_indices(n, pool, generator)]
        coords, target = (self.coords, self.values) if idx is None else (self.coords[idx], self.values[idx])
        prior_coords = None
        if self.config.prior != "none":
            u = torch.rand(self.config.prior_points, 2, generator=generator, device=generator.device)
            prior_coords = (u.to(self.device) * 2.0 - 1.0) * self.extent
        return ImageBatch(coords, target, prior_coords)

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        terms = {"mse": ((model(batch.coords) - batch.target) ** 2).mean()}
        prior_coords = getattr(batch, "prior_coords", None)
        if prior_coords is not None:
            terms[self.config.prior] = self.config.prior_weight * PRIORS[self.config.prior](model, prior_coords)
        return terms

    def reconstruct(self, model: nn.Module) -> Tensor:
        """The fitted image in [0, 1], (H, W, C) on the task's device."""
        h, w = self.shape
        return _to_unit(predict(model, self.coords, self.config.chunk)).reshape(h, w, -1)

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        fit = self.reconstruct(model)
        truth = ((self.values + 1.0) * 0.5).reshape(fit.shape)
        sq = ((fit - truth) ** 2).reshape(self.n_pixels, -1)
        mse = float(sq.mean())
        out = {"psnr": psnr_from_mse(mse), "mse": mse}
        if self.inpainting:  # the headline is the held-back pixels: what the fit had to guess
            out["psnr_all"] = out["psnr"]
            out["psnr_kept"] = psnr_from_mse(float(sq[self.kept].mean()))
            if len(self.held):
                out["mse"] = float(sq[self.held].mean())
                out["psnr"] = psnr_from_mse(out["mse"])
        if final:
            score = ssim(fit.cpu().numpy(), truth.cpu().numpy())
            if score is not None:  # left out below 3 pixels a side
                out["ssim"] = score
        return out

    def signal_meta(self) -> dict[str, Any]:
        h, w = self.shape
        return {"height": h, "width": w, "channels": self.out_features, "bit_depth": self.image.bit_depth,
                "source": self.image.source}

    signal_schema = IMAGE_SIGNAL
    network_inputs = 2

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return signal["channels"], f"channels {signal['channels']}"

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        check_image_render(signal, options)

    # ------------------------------------------------------------------ export
    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        out = ctx.out_dir
        fit = self.reconstruct(model).cpu().numpy()
        truth = self.image.pixels
        save_image(out / "reconstruction.png", fit, self.image.bit_depth)
        err = np.abs(fit - truth).mean(-1)
        row: list[tuple[str, np.ndarray, dict[str, Any]]] = [("ground truth", truth, {"vmin": 0, "vmax": 1}),
               (f"fit ({ctx.metrics['psnr']:.2f} dB)", fit, {"vmin": 0, "vmax": 1}),
               ("|error|", err, {"cmap": "magma", "vmin": 0, "vmax": max(float(err.max()), 1e-6),
                                   "colorbar": "pixel value (0–1)"})]
        if self.inpainting:
            observed = np.zeros(truth.shape[:2] + (4,), dtype=np.float32)  # transparent where held back
            rgb = truth if truth.shape[-1] == 3 else np.repeat(truth, 3, -1)
            flat = observed.reshape(-1, 4)
            kept = self.kept.cpu().numpy()
            flat[kept, :3], flat[kept, 3] = rgb.reshape(-1, 3)[kept], 1.0
            row.insert(0, (f"observed ({100 * len(kept) / self.n_pixels:.0f} % of pixels)", observed, {}))
            row[2] = (f"fit ({ctx.metrics['psnr']:.2f} dB on held-back pixels)", fit, {"vmin": 0, "vmax": 1})
        image_grid([row], out / "comparison.png")
        self._derivative_figure(model, out / "derivatives.png")
        curve_plot(ctx.curve, "PSNR (dB)", out / "psnr_curve.png")
        return ["reconstruction.png", "comparison.png", "derivatives.png", "psnr_curve.png"]

    def _derivative_figure(self, model: nn.Module, path: Path) -> None:
        """Paper Figure 1 style: |∇| and Δ of the fit beside Sobel and Laplace filters of the truth.

        Both are in per-pixel units of the [0, 1] image so they share colour scales.
        """
        from scipy import ndimage

        h, w = self.shape
        luma = np.array([1.0] if self.out_features == 1 else [0.299, 0.587, 0.114], dtype=np.float32)
        weights = torch.from_numpy(luma).to(self.device)

        def grad_lap(x: Tensor) -> Tensor:
            d = derivatives(model, x, order=2, create_graph=False)
            assert d.laplacian is not None  # order=2
            g = torch.einsum("nmd,m->nd", d.gradient.detach(), weights)
            lap = (d.laplacian.detach() * weights).sum(-1, keepdim=True)
            return torch.cat([g, lap], dim=-1)

        spacing = 2.0 / (max(h, w) - 1)  # coordinate units per pixel
        out = map_chunks(grad_lap, self.coords, max(1, self.config.chunk // 4)).cpu().numpy()
        # Φ spans [-1, 1] for image values in [0, 1]: halve; chain rule for per-pixel units.
        fit_grad = np.hypot(out[:, 0], out[:, 1]).reshape(h, w) * spacing / 2.0
        fit_lap = out[:, 2].reshape(h, w) * spacing**2 / 2.0
        grey = (self.image.pixels @ luma).astype(np.float64)
        sobel = np.hypot(ndimage.sobel(grey, 0), ndimage.sobel(grey, 1)) / 8.0
        laplace = ndimage.laplace(grey)
        glim = {**robust_limits(sobel, fit_grad), "colorbar": "per pixel (image in 0–1)"}
        llim = {**robust_limits(laplace, fit_lap, symmetric=True), "colorbar": "per pixel² (image in 0–1)"}
        image_grid(
            [
                [("ground truth", grey, {"vmin": 0, "vmax": 1}), ("Sobel |∇|", sobel, {"cmap": "viridis", **glim}),
                 ("Laplace filter", laplace, {"cmap": "RdBu_r", **llim})],
                [("fit", self.reconstruct(model).cpu().numpy() @ luma, {"vmin": 0, "vmax": 1}),
                 ("fit |∇Φ|", fit_grad, {"cmap": "viridis", **glim}), ("fit ΔΦ", fit_lap, {"cmap": "RdBu_r", **llim})],
            ],
            path,
        )

    # ------------------------------------------------------------------ render
    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        """`signal`: the signal description as `checked_signal` returned it (see `check_render` for the cap)."""
        h, w = render_shape(signal, options.size)
        coords = grid_coords((h, w), device=device)
        values = predict(model, coords, options.chunk)
        require_finite(values, options)
        pixels = _to_unit(values).reshape(h, w, -1).cpu().numpy()
        save_image(out, pixels, signal.get("bit_depth", 8))  # as fitted
        return out


def render_shape(signal: dict[str, Any], size: int | None) -> tuple[int, int]:
    """(height, width) of a render of a checked image signal with `size` pixels on the longer side (None or 0: as
    fitted); at most as large as `check_image_render` allows."""
    h, w = signal["height"], signal["width"]
    if size:
        scale = size / max(h, w)
        h, w = max(2, round(h * scale)), max(2, round(w * scale))
    return h, w


def check_image_render(signal: dict[str, Any], options: RenderOptions) -> None:
    """Refuse an image render above `RENDER_PIXELS`, in integer arithmetic (a --size of 10^400 is no float)."""
    h, w, size = signal["height"], signal["width"], options.size
    if size:
        longer = max(h, w)
        h, w = max(2, (2 * h * size + longer) // (2 * longer)), max(2, (2 * w * size + longer) // (2 * longer))
    request = f"--size {shown(size)} would render" if size else "the fitted size is"
    RENDER_PIXELS.check(h * w, f"{request} {shown(w)}×{shown(h)} = {amount(h * w)} pixels", "pixels")
