"""Poisson image reconstruction: supervise only the network's gradient or Laplacian (the paper's Section 4.1).

Targets are the derivatives of the image (values in [-1, 1]) with respect to the coordinates, estimated with
the Sobel filter (gradient) or the 5-point Laplace filter (both with scipy's reflecting boundary, as the
official code) and converted by the chain rule from per-pixel to coordinate units (one pixel = 2/(L − 1) in
coordinates, L the longer side). The paper instead multiplies the raw filter output by 10 (Sobel) or 1e4
(Laplace); for a 256² image that is 0.63× resp. 0.62× our physical scale, so its reconstructions come out with
less contrast. Because the derivatives determine the image only up to a constant (gradient) or a harmonic
function (Laplacian), the reconstruction is aligned to the ground truth by least squares before PSNR is
measured: over a constant per channel for gradient fits, and over the harmonic polynomials Re zᵏ, Im zᵏ
(z = x + iy, k ≤ 16) per channel for Laplacian fits. Degree ≤ 2 left harmonic terms counted as error (on the
cameraman at 64² the aligned zero image scored 14.0 dB with degree 2, 15.3 with degree 16, 15.4 with every
discrete-harmonic function; docs/poisson.md). `psnr_null` is that same aligned PSNR of the zero image, the
score of a reconstruction that recovered nothing: a Laplacian fit's image PSNR is to be read against it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from ..config import MAX_POINTS, check_side, check_values, in_range, option
from ..diff import GradientBackend, derivatives
from ..errors import UserError, check_all
from ..grids import grid_coords, map_chunks, predict
from ..io.arrays import load_field
from ..io.atomic import save_npy
from ..io.images import Image, default_image, image_from_array, load_image, resize_longer_side, save_image, to_grey
from ..io.limits import check_image_pixels
from ..io.memory import as_array, parts
from ..models.numerics import LossNeeds
from ..plots import curve_plot, image_grid, robust_limits
from .base import ArtefactContext, Batch, Choice, RenderOptions, Task
from .conventions import SIGNED_PIXELS, image_convention
from .image import psnr_from_mse
from .registry import register


@dataclass(frozen=True)
class PoissonConfig:
    """Which image to reconstruct from its derivatives and how."""

    path: str | None = option(
        None, "image file (PNG, JPEG, TIFF; grey or RGB); default: the cameraman", positional=True, metavar="IMAGE",
        path=True,
    )
    field: str | None = option(
        None, "a NumPy file (.npy) holding the derivative to fit instead of the image's own, at its native size, in "
              "units of the [−1, 1] coordinates: gradient (H, W, 2) or (H, W, C, 2), [..., 0] along rows; "
              "Laplacian (H, W) or (H, W, C). With IMAGE, that image is the truth the metrics measure against; "
              "without it there is none and the headline is psnr_derivative, the fit of the field",
        path=True, metavar="NPY",
    )
    size: int = option(256, "resize so that the longer side has this many pixels (0: native size)")
    grey: bool = option(False, "convert a colour image to grey before fitting")
    batch_pixels: int = option(0, "random pixels per step (0: every pixel, full batch)")
    derivatives: GradientBackend = option(
        "auto", "derivative engine: analytic forward mode (sine/elementwise MLPs), autograd, auto, fused "
                "(SIRENs: least memory, Triton kernels on CUDA), or reverse (gradient only: the closed-form "
                "backward sweep, compiled)"
    )
    chunk: int = option(16384, "points per chunk when evaluating the whole image")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the image is read)."""
        check_values(self)
        check_all([
            check_side("--size", self.size),
            (self.batch_pixels >= 0, "--batch-pixels must be ≥ 0 (0 uses every pixel)"),
            in_range("--batch-pixels", self.batch_pixels, high=MAX_POINTS),
            (self.chunk >= 1, "--chunk must be ≥ 1"),
        ])


def sobel_gradient(image: np.ndarray, spacing: float) -> np.ndarray:
    """(H, W, C) -> (H, W, C, 2) derivative along rows and columns in coordinate units (Sobel / 8 per pixel)."""
    from scipy import ndimage

    out = np.empty(image.shape + (2,), dtype=np.float64)
    for c in range(image.shape[-1]):
        for axis in (0, 1):
            out[..., c, axis] = ndimage.sobel(image[..., c].astype(np.float64), axis=axis) / (8.0 * spacing)
    return out


def laplace_filter(image: np.ndarray, spacing: float) -> np.ndarray:
    """(H, W, C) -> (H, W, C) 5-point Laplacian in coordinate units."""
    from scipy import ndimage

    out = np.empty(image.shape, dtype=np.float64)
    for c in range(image.shape[-1]):
        out[..., c] = ndimage.laplace(image[..., c].astype(np.float64)) / spacing**2
    return out


LAPLACIAN_ALIGN_DEGREE = 16  # harmonic polynomials up to this degree: 2·16 + 1 = 33 basis functions


def harmonic_basis(y: Tensor, x: Tensor, degree: int = LAPLACIAN_ALIGN_DEGREE) -> Tensor:
    """(N, 1) coordinates -> (N, 2·degree + 1) harmonic polynomials 1, Re wᵏ, Im wᵏ (w = (x + iy)/√2, so that
    |w| ≤ 1 on [-1, 1]² and the columns stay well scaled), in float64. Every harmonic function on the square is
    a limit of these; degree 2 spans 1, y, x, y² − x², xy."""
    w = torch.complex(x.double(), y.double()) / 2**0.5
    cols = [torch.ones_like(y, dtype=torch.float64)]
    power = torch.ones_like(w)
    for _ in range(degree):
        power = power * w
        cols += [power.real, power.imag]
    return torch.cat(cols, dim=-1)


def align(prediction: Tensor, truth: Tensor, basis: Tensor) -> Tensor:
    """Least-squares fit of `truth − prediction` on `basis` (N, K) per channel, added to the prediction."""
    residual = (truth - prediction).double()
    coef = torch.linalg.lstsq(basis.double(), residual).solution  # (K, C)
    return prediction + (basis.double() @ coef).to(prediction.dtype)


def derivative_psnr(fit: Tensor, target: Tensor) -> float:
    """PSNR of a fitted derivative field against its target, with the target's value range as the peak."""
    peak = float(target.max() - target.min())
    mse = float(((fit - target) ** 2).mean())
    return psnr_from_mse(mse / peak**2) if peak > 0 else float("nan")


class _PoissonTask(Task):
    """Shared data, evaluation and export of both Poisson tasks; subclasses choose the derivative."""

    Config = PoissonConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """Pixel grid in, signed pixels out, up to what the derivatives cannot fix."""
        known = "a constant per channel" if cls.name == "poisson-gradient" else "a harmonic function per channel"
        return image_convention(signal, SIGNED_PIXELS + f". Derivatives determine the image only up to {known}: "
                              "sirenkit aligns the output to the ground truth by least squares before measuring "
                              "PSNR (see sirenkit/tasks/poisson.py); that alignment is not part of the network")

    metric = "psnr"
    # bf16 hidden-layer matmuls under --precision auto: at the end of the CPU recipes bf16 reached the PSNR of
    # fp32 (gradient 30.24 against 30.22 dB, Laplacian 14.62 against 14.64, then aligned over degree ≤ 2) in
    # 1.6× / 2.4× less time (benchmarks/RESULTS.md, "Mixed precision"). The fused backend stays fp32 (loss_needs).
    needs = LossNeeds(bf16=True)
    order: ClassVar[int]
    target_name: ClassVar[str]

    memory_data = ("an image array (as `image` takes it; the target is computed from it as from a file), or "
                   "{'<target>': field} with or without 'image': …: the field to fit, at its native size (size=0) "
                   "in units of the [−1, 1] coordinates — gradient (H, W, 2) or (H, W, C, 2), [..., 0] along rows "
                   "and [..., 1] along columns; Laplacian (H, W) or (H, W, C). An image given with it is the "
                   "truth the metrics measure against; without one the headline is psnr_derivative")

    def __init__(self, config: PoissonConfig, device: torch.device, data: Any = None) -> None:
        super().__init__(config, device)
        config.validate()
        if config.derivatives == "reverse" and self.order != 1:
            raise UserError(f"--derivatives reverse gives gradients only; the {self.target_name} needs analytic, "
                            "autograd or fused")
        source, field, field_source = self._inputs(config, data)
        if field is not None and (config.grey or config.size not in (0, max(field.shape[:2]))):
            raise UserError(f"a {self.target_name} field is fitted at its own size and channels: pass size 0 "
                            "(--size 0) and no grey")
        image = None if source is None else resize_longer_side(source, config.size)
        self.image = to_grey(image) if config.grey and image is not None else image
        h, w, c = self.image.pixels.shape if self.image is not None else self._field_layout(field, field_source)
        self.shape = (h, w)
        self.in_features, self.out_features, self.samples = 2, c, max(h, w)
        self.spacing = 2.0 / (max(h, w) - 1)
        self.coords = grid_coords((h, w), device=device)
        self.field_source = field_source
        shape = self._target_shape(c)
        self.truth: Tensor | None = None
        if self.image is not None:
            signed = self.image.pixels.astype(np.float64) * 2.0 - 1.0
            self.truth = torch.from_numpy(signed.reshape(-1, c)).float().to(device)
            if field is None:
                field = self._target(signed)
        else:
            self.metric = "psnr_derivative"  # no image: the fit of the field is all there is to measure
        assert field is not None
        if c == 1 and field.shape == (h, w, *shape[1:]):  # a grey image's field without its channel axis
            field = field.reshape(h, w, *shape)
        if field.shape != (h, w, *shape):
            raise UserError(f"{field_source} has shape {field.shape}; the image ({h}×{w}, {c} channel(s)) needs "
                            f"{(h, w, *shape)}")
        self.target = torch.from_numpy(field.reshape(h * w, *shape)).float().to(device)
        self.n_pixels = h * w
        if self.truth is not None:
            self.psnr_null = self._psnr_aligned(torch.zeros_like(self.truth))

    def _inputs(self, config: PoissonConfig, data: Any) -> tuple[Image | None, np.ndarray | None, str]:
        """(image or None, field or None, what the field is called in errors) from `data` or the files named."""
        name = self.target_name
        source: Image | None = None
        field: np.ndarray | None = None
        if data is None:
            field = load_field(config.field, f"{name} field") if config.field else None
            if config.path:
                source = load_image(config.path)
            elif field is None:
                source = default_image()
            return source, field, f"{name} field {config.field}"
        given = parts(data, ("image", name), "data", optional=("image", name))
        if given["image"] is None and given[name] is None:
            raise UserError(f"data: give an image, a {name} field, or both")
        if given["image"] is not None:
            raw = as_array(given["image"], "data image")
            self.memory_arrays["image"] = raw
            source = image_from_array(raw, f"array {'×'.join(map(str, raw.shape))}")
        if given[name] is not None:
            field = as_array(given[name], f"data {name}").astype(np.float64)
            self.memory_arrays[name] = field
        return source, field, f"data {name}"

    def _field_layout(self, field: np.ndarray | None, what: str) -> tuple[int, int, int]:
        """(height, width, channels) of a field given without its image, from its shape."""
        assert field is not None
        per_pixel = len(self._target_shape(1))  # trailing axes of one channel: 2 for a gradient, 1 a Laplacian
        expected = "(H, W, 2) or (H, W, C, 2)" if self.order == 1 else "(H, W) or (H, W, C)"
        if field.ndim not in (1 + per_pixel, 2 + per_pixel) or (self.order == 1 and field.shape[-1] != 2):
            raise UserError(f"{what} has shape {field.shape}; a {self.target_name} field is {expected}")
        h, w = field.shape[:2]
        c = field.shape[2] if field.ndim == 2 + per_pixel else 1
        if c not in (1, 3) or min(h, w) < 2:
            raise UserError(f"{what} has shape {field.shape}; it needs 1 or 3 channels and at least 2×2 pixels")
        check_image_pixels(h, w, what)
        return h, w, c

    # what the subclasses define
    def _target(self, signed: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _target_shape(self, channels: int) -> tuple[int, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _basis(self, y: Tensor, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def align(self, image: Tensor) -> Tensor:
        """`image` (N, C) plus the least-squares fit of `truth − image` over the ambiguity (`_basis`), per
        channel. Same result as `align(image, truth, basis)`, but the basis (33 float64 columns for the
        Laplacian) is made `chunk` pixels at a time, so memory stays bounded at any image size."""
        chunk = max(self.config.chunk, 4096)
        assert self.truth is not None
        residual = (self.truth - image).double()
        gram: Tensor | float = 0.0
        rhs: Tensor | float = 0.0
        for start in range(0, self.n_pixels, chunk):
            b = self._basis_rows(start, start + chunk)
            gram = gram + b.T @ b
            rhs = rhs + b.T @ residual[start:start + chunk]
        # the basis is well conditioned (cond 150 for degree 16 on a square grid), normal equations suffice
        coef = torch.linalg.solve(torch.as_tensor(gram), torch.as_tensor(rhs))
        parts = [image[start:start + chunk] + (self._basis_rows(start, start + chunk) @ coef).to(image.dtype)
                 for start in range(0, self.n_pixels, chunk)]
        return torch.cat(parts)

    def _basis_rows(self, start: int, stop: int) -> Tensor:
        c = self.coords[start:stop].double()
        return self._basis(c[:, 0:1], c[:, 1:2]).double()

    def _fitted(self, d) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _backend(self, model: nn.Module) -> GradientBackend:
        """The derivative backend in use: `auto` is the closed-form reverse sweep for the gradient and forward
        mode for the Laplacian where the network allows (autograd otherwise)."""
        from ..diff import gradient_backend, supports_forward_mode

        if self.order == 1:
            return gradient_backend(self.config.derivatives, model)
        if self.config.derivatives != "auto":
            return self.config.derivatives
        return "analytic" if supports_forward_mode(model) else "autograd"

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        return replace(super().loss_needs(model), compile=self._compiles(model))

    def _compiles(self, model: nn.Module) -> bool:
        """Compile the closed-form paths: reverse everywhere, forward mode on CUDA and, on a CPU, for the
        Laplacian (a compiled 8192-point Laplacian step took 398 ms against 713 ms eager; autograd reference:
        872 ms; 1 thread). The fused path runs its own nodes eagerly; autograd's double backward does not
        compile."""
        backend = self._backend(model)
        if backend == "fused":
            return False
        if backend == "reverse":
            return True
        if self.device.type == "cuda":
            return backend != "autograd"
        return backend == "analytic" and self.order == 2

    def describe(self) -> str:
        h, w = self.shape
        n = self.config.batch_pixels
        batch = f"{n} pixels" if 0 < n < self.n_pixels else "all pixels"
        given = (f"image {self.image.source}" if self.image is not None
                 else f"{self.field_source} without its image (metrics measure the fit of the field)")
        if self.image is not None and self.config.field:
            given += f", {self.field_source}"
        return (f"poisson {self.target_name}: {given}, {w}×{h}, "
                f"{self.out_features} channel(s), {batch} per step, derivatives {self.config.derivatives}")

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        n = self.config.batch_pixels
        if n == 0 or n >= self.n_pixels:
            return Batch(self.coords, self.target)
        idx = self.random_indices(n, self.n_pixels, generator)
        return Batch(self.coords[idx], self.target[idx])

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        d = derivatives(model, batch.coords, order=self.order, backend=self._backend(model))
        err = self._fitted(d) - batch.target
        return {f"{self.target_name}_mse": (err * err).flatten(1).sum(-1).mean()}

    def reconstruct(self, model: nn.Module) -> Tensor:
        """The network's image aligned to the truth over the ambiguity, in [-1, 1] units, (N, C); without an
        image, the network's own output (defined up to what the derivative cannot fix)."""
        image = predict(model, self.coords, self.config.chunk)
        return image if self.truth is None else self.align(image)

    def fitted_derivative(self, model: nn.Module) -> Tensor:
        def one_chunk(x: Tensor) -> Tensor:
            return self._fitted(derivatives(model, x, order=self.order, backend=self._backend(model),
                                            create_graph=False)).detach()

        return map_chunks(one_chunk, self.coords, self.config.chunk)

    def _mse_aligned(self, image: Tensor) -> float:
        """MSE in [0, 1] units of an (N, C) image in [-1, 1] units after alignment to the truth."""
        assert self.truth is not None
        rec = ((self.align(image) + 1) * 0.5).clamp(0, 1)
        return float(((rec - (self.truth + 1) * 0.5) ** 2).mean())

    def _psnr_aligned(self, image: Tensor) -> float:
        return psnr_from_mse(self._mse_aligned(image))

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        if self.truth is None:  # a field without its image: how well the network's derivative fits the field
            fit = derivative_psnr(self.fitted_derivative(model), self.target)
            return {"psnr_derivative": fit, f"psnr_{self.target_name}": fit}
        mse = self._mse_aligned(predict(model, self.coords, self.config.chunk))
        out = {"psnr": psnr_from_mse(mse), "mse": mse}
        if final:
            out[f"psnr_{self.target_name}"] = derivative_psnr(self.fitted_derivative(model), self.target)
            out["psnr_derivative"] = out[f"psnr_{self.target_name}"]  # the same under one name for both targets
            out["psnr_null"] = self.psnr_null
        return out

    def signal_meta(self) -> dict[str, Any]:
        h, w = self.shape
        if self.image is None:
            return {"height": h, "width": w, "channels": self.out_features, "bit_depth": 16,
                    "source": self.field_source, "derivative": self.target_name}
        return {"height": h, "width": w, "channels": self.out_features, "bit_depth": self.image.bit_depth,
                "source": self.image.source, "derivative": self.target_name}

    network_inputs = 2

    @classmethod
    def check_signal(cls, signal: dict[str, Any], fields: tuple[str, ...] | None = None,
                     partial: bool = False) -> dict[str, Any]:
        """An image's fields, and the derivative that this task fits (a task name edited to the other Poisson
        task, or to this one, shows here)."""
        from .base import check_schema
        from .image import IMAGE_SIGNAL

        schema = {**IMAGE_SIGNAL, "derivative": Choice((cls.target_name,))}
        return check_schema(schema, signal, fields=fields, partial=partial)

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return signal["channels"], f"channels {signal['channels']}"

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        from .image import check_image_render

        check_image_render(signal, options)

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        """reconstruction.png, the fitted derivative (.npy), comparison.png and the PSNR curve. With an image the
        reconstruction is aligned to it and compared; a field fitted without its image gets the network's own
        image (reconstruction.npy in signed pixel units, and the PNG stretched to its range, since the field
        cannot fix its offset) and the difference between fitted and target derivative instead."""
        h, w = self.shape
        fitted = self.fitted_derivative(model)
        fit_d = self._display(fitted).reshape(h, w)
        target_d = self._display(self.target).reshape(h, w)
        save_npy(ctx.out_dir / f"fitted_{self.target_name}.npy", fit_d.astype(np.float32))
        symmetric = self.order == 2
        style: dict[str, Any] = {"cmap": "RdBu_r" if symmetric else "viridis",
                                 **robust_limits(target_d, fit_d, symmetric=symmetric)}
        label = "ΔΦ" if self.order == 2 else "|∇Φ|"
        written = ["reconstruction.png", "comparison.png", "psnr_curve.png", f"fitted_{self.target_name}.npy"]
        rows: list[list[tuple[str, np.ndarray, dict[str, Any]]]]
        if self.image is None:
            raw = self.reconstruct(model).reshape(h, w, -1).cpu().numpy()
            save_npy(ctx.out_dir / "reconstruction.npy", raw.astype(np.float32))
            lo, hi = float(raw.min()), float(raw.max())
            rec = (raw - lo) / max(hi - lo, 1e-12)
            save_image(ctx.out_dir / "reconstruction.png", rec, 16)
            miss = self._display(fitted - self.target).reshape(h, w)
            miss = np.abs(miss) if self.order == 2 else miss
            rows = [[(f"target {label}", target_d, style),
                     (f"fit {label} ({ctx.metrics['psnr_derivative']:.2f} dB)", fit_d,
                      {**style, "colorbar": self._units()}),
                     (f"|fit − target| of {label}", miss, {"cmap": "magma", "vmin": 0,
                                                           "vmax": max(float(miss.max()), 1e-6),
                                                           "colorbar": self._units()})],
                    [("reconstruction (stretched to its range)", rec, {"vmin": 0, "vmax": 1})]]
            curve = f"PSNR of the fitted {self.target_name} (dB)"
            written.append("reconstruction.npy")
        else:
            rec = ((self.reconstruct(model) + 1) * 0.5).clamp(0, 1).reshape(h, w, -1).cpu().numpy()
            save_image(ctx.out_dir / "reconstruction.png", rec, self.image.bit_depth)
            err = np.abs(rec - self.image.pixels).mean(-1)
            rows = [[("ground truth", self.image.pixels, {"vmin": 0, "vmax": 1}),
                     (f"target {label}", target_d, style),
                     (f"fit {label}", fit_d, {**style, "colorbar": self._units()})],
                    [(f"reconstruction, aligned ({ctx.metrics['psnr']:.2f} dB)", rec, {"vmin": 0, "vmax": 1}),
                     ("|error|", err, {"cmap": "magma", "vmin": 0, "vmax": max(float(err.max()), 1e-6),
                                       "colorbar": "pixel value (0–1)"})]]
            curve = "PSNR of the aligned reconstruction (dB)"
        image_grid(rows, ctx.out_dir / "comparison.png")
        curve_plot(ctx.curve, curve, ctx.out_dir / "psnr_curve.png")
        return written

    def _units(self) -> str:
        """Units of the derivative maps: the image in [−1, 1], per unit of the [−1, 1] coordinates."""
        return "per unit of x (image in −1…1)" if self.order == 1 else "per unit of x² (image in −1…1)"

    def _display(self, values: Tensor) -> np.ndarray:
        """One scalar per pixel for figures: gradient magnitude or Laplacian, averaged over channels."""
        v = values.detach().cpu().double()
        if self.order == 1:
            return v.pow(2).sum(-1).sqrt().mean(-1).numpy()
        return v.mean(-1).numpy()

    @classmethod
    def render(cls, model, signal, out, options, device) -> Path:
        from .image import ImageTask

        return ImageTask.render(model, signal, out, options, device)


# Derivative supervision wants the paper's lr: at 1e-3 the network fits the target at the sampled pixels
# exactly but oscillates between them (64² gradient fit, 300 steps: 12.8 dB at 1e-3, 31.7 dB at 1e-4).
_CPU_RECIPE: dict[str, dict[str, Any]] = {
    "task": {"size": 256, "batch_pixels": 8192},
    "train": {"steps": 1000, "lr": 1e-4, "schedule": "cosine", "eval_every": 250}}
_GPU_RECIPE: dict[str, dict[str, Any]] = {
    "task": {"size": 256, "batch_pixels": 0},
    "train": {"steps": 3000, "lr": 1e-4, "schedule": "cosine", "eval_every": 250}}
_PAPER_RECIPE: dict[str, dict[str, Any]] = {
    "task": {"size": 256, "batch_pixels": 0},
    "train": {"steps": 10000, "lr": 1e-4, "schedule": "constant", "eval_every": 500}}
_NOTES = {
    "paper": "the paper: 256², every pixel, Adam lr 1e-4 constant, 10k steps",
    "gpu": "256², every pixel, lr 1e-4 with cosine decay, 3000 steps",
    "cpu": "256², 8192 random pixels per step, lr 1e-4 with cosine decay, 1000 steps",
}


@register
class PoissonGradientTask(_PoissonTask):
    name = "poisson-gradient"
    command = ("poisson", "gradient")
    description = "reconstruct an image from its gradient (Sobel) alone; default: the cameraman"
    order = 1
    target_name = "gradient"
    # `--derivatives auto` is the compiled reverse sweep: 73 ms a step against autograd's 156 ms (both with bf16
    # matmuls) and the reference's 222 ms (8192 points, 1 thread). 1500 steps: about 30 dB.
    recipes = {"paper": _PAPER_RECIPE, "gpu": _GPU_RECIPE,
               "cpu": {"task": _CPU_RECIPE["task"], "train": {**_CPU_RECIPE["train"], "steps": 1500}}}
    recipe_notes = {**_NOTES, "cpu": "256², 8192 random pixels per step, lr 1e-4 with cosine decay, 1500 steps"}
    smoke = ({"size": 40, "steps": 200, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64}, 25.0)

    def _target(self, signed: np.ndarray) -> np.ndarray:
        return sobel_gradient(signed, self.spacing)

    def _target_shape(self, channels: int) -> tuple[int, ...]:
        return (channels, 2)

    def _basis(self, y: Tensor, x: Tensor) -> Tensor:
        return torch.ones_like(y, dtype=torch.float64)

    def _fitted(self, d) -> Tensor:
        return d.gradient


@register
class PoissonLaplacianTask(_PoissonTask):
    name = "poisson-laplacian"
    command = ("poisson", "laplacian")
    description = "reconstruct an image from its Laplacian alone (up to a harmonic function); default: the cameraman"
    order = 2
    target_name = "laplacian"
    recipes = {"paper": _PAPER_RECIPE, "gpu": _GPU_RECIPE, "cpu": _CPU_RECIPE}
    recipe_notes = _NOTES
    smoke = ({"size": 40, "steps": 200, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64}, 13.0)

    def _target(self, signed: np.ndarray) -> np.ndarray:
        return laplace_filter(signed, self.spacing)

    def _target_shape(self, channels: int) -> tuple[int, ...]:
        return (channels,)

    def _basis(self, y: Tensor, x: Tensor) -> Tensor:
        return harmonic_basis(y, x)

    def _fitted(self, d) -> Tensor:
        return d.laplacian
