"""Helmholtz equation with a perfectly matched layer, solved by a network (the paper's Section 4.3).

The network maps (x, y) ∈ [−1, 1]² to the real and imaginary parts of the field u. Each step draws uniform
collocation points plus points around the source, and minimises the L1 norm of the residual of the PML
Helmholtz operator (see `sirenkit.pde.helmholtz`):
    R = A·u_xx + (∂x A)·u_x + B·u_yy + (∂y B)·u_y + C·k²·m·u − f,
with the second derivatives per axis from the derivative engine (forward-mode streams, one per axis, or
autograd; inside the layer the stretching differs along x and y, so the Laplacian sum is not enough). The source
is a normalised Gaussian of width `source_sigma` with complex amplitude 1 + 1i. Metrics are
taken on the domain without the layer, against the analytic Hankel field (uniform medium) or a
finite-difference solve of the same equation with the same PML and the same Gaussian source (other media).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..config import (
    MAX_POINTS,
    MAX_REFERENCE_NODES,
    MAX_SCALE,
    MAX_WEIGHT,
    check_values,
    in_range,
    option,
)
from ..diff import Backend, supports_forward_mode
from ..errors import UserError, check_all
from ..grids import map_chunks
from ..io.atomic import save_npy
from ..models.numerics import LossNeeds
from ..pde.helmholtz import analytic_field, solve_fd
from ..pde.pml import PmlOperator
from ..plots import curve_plot, image_grid, robust_limits
from .base import ArtefactContext, Batch, Choice, Number, Task, Vector
from .registry import register

AMPLITUDE = 1 + 1j
MIN_NODES_PER_WAVELENGTH = 10  # below this a second-order finite-difference reference is meaningless
MAX_AUTO_REFERENCE_NODES = 4001
MAX_K = 1e4  # wavenumber: even MAX_REFERENCE_NODES nodes per axis give < 1 node per wavelength beyond it
MIN_SIGMA = 1e-4  # Gaussian sources: a narrower one peaks at 1/(2πσ²) > 1.6e7, beyond what float32 sampling resolves
MAX_SOURCE_RADIUS = 1e3  # source points within this many σ of a source (the official code: 5)
"""Largest grid side picked automatically (16M unknowns); a larger reference has to be asked for by
`--reference-nodes`, so a typo in --k or σ is refused at once instead of starting an hours-long solve."""


def squared_slowness(kind: str, x: np.ndarray | Tensor, y: np.ndarray | Tensor) -> Any:
    """m = 1/velocity² of the built-in media: uniform (1); square: velocity 2 in the square of side 0.4 centred
    at (0.3, 0); circle: velocity 0.5 in the disc of radius 0.2 centred at (0.3, 0)."""
    lib = torch if isinstance(x, Tensor) else np
    one = lib.ones_like(x)
    if kind == "uniform":
        return one
    if kind == "square":
        inside = (lib.abs(x - 0.3) <= 0.2) & (lib.abs(y) <= 0.2)
        return lib.where(inside, 0.25 * one, one)
    if kind == "circle":
        inside = (x - 0.3) ** 2 + y**2 <= 0.2**2
        return lib.where(inside, 4.0 * one, one)
    raise ValueError(kind)


def disc_points(count: int, centre: tuple[float, float], radius: float, generator: torch.Generator) -> Tensor:
    """`count` points uniform in the disc of `radius` around `centre` (on the generator's device)."""
    dev = generator.device
    r = radius * torch.rand(count, generator=generator, device=dev).sqrt()
    phi = 2 * math.pi * torch.rand(count, generator=generator, device=dev)
    return torch.stack([centre[0] + r * torch.cos(phi), centre[1] + r * torch.sin(phi)], -1)


def parse_point(text: str, flag: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{flag} must be two numbers X,Y (e.g. 0,0), got {text!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)) or max(abs(x), abs(y)) >= 1:
        raise UserError(f"{flag} {text} must lie inside (−1, 1)²")
    return x, y


@dataclass(frozen=True)
class PmlProblemConfig:
    """What every PML Helmholtz problem shares: the wavenumber, the sources, the layer, the sampling."""

    k: float = option(20.0, "wavenumber (ω / reference velocity)")
    source_sigma: float = option(0.01, "standard deviation of the Gaussian sources (the official code: variance 1e-4)")
    batch_points: int = option(53_361, "uniform collocation points per step (paper: 231²)")
    source_points: int = option(100, "extra points per step around each source")
    source_radius: float = option(5.0, "the source points are uniform in the disc of this many σ around each "
                                  "source (the official code: 5)")
    source_weight: float = option(1.0, "weight of the residual at the source points")
    pml_width: float = option(0.5, "width of the perfectly matched layer along each side")
    pml_a0: float = option(5.0, "PML strength a0 (σ = k·a0·(depth/width)²)")
    reference_nodes: int = option(0, "nodes per axis of the finite-difference reference (0: ≥ 30 per wavelength)")
    derivatives: Backend = option(
        "auto", "derivative engine: analytic forward mode (sine/elementwise MLPs), autograd, or auto")
    chunk: int = option(16384, "points per chunk when evaluating the whole field")

    def validate(self) -> None:
        """UserError for the first setting out of range (before any reference is solved)."""
        check_values(self)
        check_all([
            (self.k > 0 and math.isfinite(self.k), "--k must be a positive number"),
            in_range("--k", self.k, high=MAX_K, note=" (a finite-difference reference resolves at most that)"),
            (self.source_sigma > 0, "--source-sigma must be > 0"),
            in_range("--source-sigma", self.source_sigma, MIN_SIGMA, 1.0),
            (self.batch_points >= 1 and self.source_points >= 0, "--batch-points must be ≥ 1, --source-points ≥ 0"),
            in_range("--batch-points", self.batch_points, high=MAX_POINTS),
            in_range("--source-points", self.source_points, high=MAX_POINTS),
            (self.source_radius > 0, "--source-radius must be > 0"),
            in_range("--source-radius", self.source_radius, high=MAX_SOURCE_RADIUS, note=" σ"),
            (0 < self.pml_width < 1, "--pml-width must be in (0, 1)"),
            (self.pml_a0 >= 0 and self.source_weight >= 0, "--pml-a0 and --source-weight must be ≥ 0"),
            in_range("--pml-a0", self.pml_a0, high=MAX_SCALE),
            in_range("--source-weight", self.source_weight, high=MAX_WEIGHT),
            (self.reference_nodes == 0 or self.reference_nodes >= 21, "--reference-nodes must be 0 or ≥ 21"),
            in_range("--reference-nodes", self.reference_nodes, high=MAX_REFERENCE_NODES),
            (self.chunk >= 1, "--chunk must be ≥ 1"),
        ])

    check = validate

    def operator(self) -> PmlOperator:
        return PmlOperator(self.k, self.pml_width, self.pml_a0, self.source_sigma, AMPLITUDE)

    def reference_size(self, slowest: float = 1.0) -> int:
        """Odd node count of the finite-difference grid: `reference_nodes`, or ≥ 30 per shortest wavelength."""
        nodes = self.reference_nodes or max(201, 2 * int(math.ceil(30 * self.k / (2 * math.pi * slowest))) + 1)
        if not self.reference_nodes and nodes > MAX_AUTO_REFERENCE_NODES:
            raise UserError(f"--k {self.k:g}: the finite-difference reference would need {nodes}² nodes (30 per "
                            f"wavelength); lower --k, or ask for that size with --reference-nodes")
        return nodes + (nodes + 1) % 2  # odd: a node on every multiple of the spacing, the inner edges included

    def check_resolution(self, nodes: int, slowest: float = 1.0) -> None:
        """UserError when a finite-difference grid of `nodes` per axis has fewer than MIN_NODES_PER_WAVELENGTH
        nodes per shortest wavelength 2π·slowest/k: its dispersion error ((k·h)²·k·distance) would make the
        reference, and every metric against it, wrong without any sign of it."""
        per_wavelength = 2 * math.pi * slowest / self.k / (2.0 / (nodes - 1))
        if per_wavelength < MIN_NODES_PER_WAVELENGTH:
            raise UserError(f"the finite-difference reference ({nodes}² nodes) has {per_wavelength:.1f} nodes per "
                            f"wavelength at k {self.k:g} (slowest velocity {slowest:g}); it needs ≥ "
                            f"{MIN_NODES_PER_WAVELENGTH}: raise --reference-nodes (0 picks ≥ 30 per wavelength) or "
                            "lower --k")

    def uses_analytic(self, model: nn.Module) -> bool:
        """Whether the loss runs on the analytic per-axis streams (then it is compiled by default: at the cpu
        recipe's 2048 + 512 points on one CPU thread a Helmholtz step took 33.5 ms compiled, 67.1 ms eager,
        246.2 ms with autograd's double backward; benchmarks/RESULTS.md, `benchmarks/pde.py`)."""
        return self.derivatives == "analytic" or (self.derivatives == "auto" and supports_forward_mode(model))


@dataclass(frozen=True)
class HelmholtzConfig(PmlProblemConfig):
    """The medium, the source, the PML and the collocation sampling."""

    velocity: Literal["uniform", "square", "circle"] = option("uniform", "medium: uniform, or an inclusion")
    source: str = option("0,0", "source position X,Y", metavar="X,Y")
    residual_norm: Literal["l1", "l2"] = option("l1", "penalty on the residual: l1 (the paper) or l2 (squared)")


@register
class HelmholtzTask(Task):
    name = "helmholtz"
    command = ("solve", "helmholtz")
    description = "solve the Helmholtz equation with a PML for a point-like source; checked against a reference"
    Config = HelmholtzConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """(x, y) in, the complex wavefield out."""
        return {"inputs": ["x", "y"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]},
                "grid": "the square domain, including the perfectly matched layer of width signal.pml_width "
                        "at its border",
                "outputs": "real and imaginary part of the wavefield u"}

    metric = "relative_mse"
    higher_is_better = False
    recipes = {
        "paper": {"task": {"k": 20.0, "batch_points": 53_361, "source_sigma": 0.01},
                  "train": {"steps": 50_000, "lr": 2e-5, "schedule": "constant", "eval_every": 2000}},
        "gpu": {"task": {"k": 20.0, "batch_points": 53_361},
                "train": {"steps": 10_000, "lr": 1e-4, "schedule": "cosine", "eval_every": 500}},
        "cpu": {"task": {"k": 10.0, "pml_a0": 10.0, "source_sigma": 0.03, "batch_points": 2048, "source_points": 512,
                         "source_radius": 8.0},
                "model": {"hidden_features": 128, "first_omega_0": 10.0},
                "train": {"steps": 5000, "lr": 1e-4, "schedule": "cosine", "eval_every": 500}},
    }
    recipe_notes = {
        "paper": "the paper: k 20, 53k points + 100 near the source per step, lr 2e-5 constant, 50k steps",
        "gpu": "k 20, 53k + 100 points per step, lr 1e-4 with cosine decay, 10k steps",
        "cpu": "k 10 (PML a0 10: the paper's k·a0), source σ 0.03, 2048 points + 512 within 8σ of the source per "
               "step, 2→128×3→2 with first-layer ω0 10, lr 1e-4 with cosine decay, 5000 steps",
    }
    smoke = ({"k": 10.0, "pml_a0": 10.0, "source_sigma": 0.03, "batch_points": 512, "source_points": 64,
              "steps": 200, "lr": 1e-4, "hidden_features": 64, "first_omega_0": 10.0, "reference_nodes": 161}, 0.9)

    def __init__(self, config: HelmholtzConfig, device: torch.device) -> None:
        super().__init__(config, device)
        config.validate()
        self.at = parse_point(config.source, "--source")
        if max(abs(self.at[0]), abs(self.at[1])) >= 1 - config.pml_width:
            raise UserError(f"--source {config.source} lies in the PML; keep it inside |x|, |y| < "
                            f"{1 - config.pml_width:g}")
        self.in_features, self.out_features, self.samples = 2, 2, None
        self.operator = config.operator()
        self.axis, self.reference, self.reference_kind = self._reference()
        inner = np.abs(self.axis) <= 1 - config.pml_width + 1e-9
        ax = self.axis[inner]
        gx, gy = np.meshgrid(ax, ax, indexing="xy")
        keep = np.hypot(gx - self.at[0], gy - self.at[1]) > 4 * config.source_sigma  # outside the source
        if not keep.any():
            raise UserError(f"--source-sigma {config.source_sigma:g}: the source's disc (4σ) covers the whole "
                            "domain outside the PML, leaving nowhere to compare with the reference; lower it")
        self.eval_shape = gx.shape
        self.eval_keep = torch.from_numpy(keep.ravel()).to(device)
        self.eval_coords = torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], 1)).float().to(device)
        ref = self.reference[np.ix_(inner, inner)].ravel()
        self.eval_truth = torch.from_numpy(np.stack([ref.real, ref.imag], 1)).float().to(device)
        if not float((self.eval_truth[self.eval_keep] ** 2).sum()) > 0:  # relative_mse would divide by zero
            raise UserError(f"the reference field vanishes (a Gaussian source radiates exp(−k²σ²/2) = "
                            f"{math.exp(-0.5 * (config.k * config.source_sigma) ** 2):.3g} of a point source's "
                            "field); lower --source-sigma or --k")

    def _reference(self) -> tuple[np.ndarray, np.ndarray, str]:
        cfg = self.config
        slowest = 1.0 if cfg.velocity in ("uniform", "square") else 0.5
        nodes = cfg.reference_size(slowest)
        if cfg.velocity == "uniform":
            # A radial source ρ radiates s·ρ̂(k)·G(r) outside its support (Graf's addition theorem); for the
            # normalised Gaussian ρ̂(k) = exp(−k²σ²/2), so the point-source field is scaled by that factor.
            axis = np.linspace(-1.0, 1.0, nodes)
            gx, gy = np.meshgrid(axis, axis, indexing="xy")
            scale = math.exp(-0.5 * (cfg.k * cfg.source_sigma) ** 2)
            field = scale * analytic_field(gx, gy, cfg.k, self.at, AMPLITUDE)
            return axis, field, f"analytic 0.25i·H0⁽²⁾(kr) × exp(−k²σ²/2) = {scale:.4f}"
        cfg.check_resolution(nodes, slowest)
        axis, field = solve_fd(nodes, cfg.k, lambda x, y: squared_slowness(cfg.velocity, x, y), self.at, AMPLITUDE,
                               cfg.pml_width, cfg.pml_a0, sigma=cfg.source_sigma)
        return axis, field, f"finite differences, {nodes}² nodes"

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """Compiled where the derivatives are analytic (autograd's double backward does not compile)."""
        return replace(super().loss_needs(model), compile=self.config.uses_analytic(model))

    def describe(self) -> str:
        cfg = self.config
        return (f"helmholtz: k {cfg.k:g}, {cfg.velocity} medium, source at {self.at} (σ {cfg.source_sigma:g}), "
                f"PML {cfg.pml_width:g} wide (a0 {cfg.pml_a0:g}); {cfg.batch_points} + {cfg.source_points} points per "
                f"step; derivatives {cfg.derivatives}; reference: {self.reference_kind}")

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        cfg = self.config
        dev = generator.device
        uniform = torch.rand((cfg.batch_points, 2), generator=generator, device=dev) * 2 - 1
        near = disc_points(cfg.source_points, self.at, cfg.source_radius * cfg.source_sigma, generator)
        coords = torch.cat([uniform, near]).to(self.device)
        return Batch(coords, torch.empty(0, device=self.device))

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        x = batch.coords
        m = squared_slowness(self.config.velocity, x[:, 0], x[:, 1])
        re, im = self.operator(model, x, m, self.at, self.config.derivatives)
        l1 = re.abs() + im.abs() if self.config.residual_norm == "l1" else re * re + im * im
        n = self.config.batch_points
        terms = {"residual": l1[:n].mean()}
        if self.config.source_points:
            terms["source"] = self.config.source_weight * l1[n:].mean()
        return terms

    @torch.no_grad()
    def field(self, model: nn.Module) -> Tensor:
        return map_chunks(model, self.eval_coords, self.config.chunk)

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        pred = self.field(model)[self.eval_keep]
        truth = self.eval_truth[self.eval_keep]
        mse = float(((pred - truth) ** 2).sum(-1).mean())
        return {"relative_mse": mse / float((truth**2).sum(-1).mean()), "mse_vs_reference": mse}

    def signal_meta(self) -> dict[str, Any]:
        cfg = self.config
        return {"k": cfg.k, "velocity": cfg.velocity, "source": list(self.at), "pml_width": cfg.pml_width}

    signal_schema = {"k": Number(gt=0), "velocity": Choice(("uniform", "square", "circle")),
                     "source": Vector(2, Number(gt=-1, lt=1)), "pml_width": Number(ge=0, lt=1)}
    network_inputs = 2

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return 2, "a complex wavefield (2 values a point)"

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        h, w = self.eval_shape
        pred = self.field(model).cpu().numpy().reshape(h, w, 2)
        truth = self.eval_truth.cpu().numpy().reshape(h, w, 2)
        err = np.sqrt(((pred - truth) ** 2).sum(-1))
        err[~self.eval_keep.cpu().numpy().reshape(h, w)] = 0.0
        lim = robust_limits(truth, pred, symmetric=True)
        ext = {"cmap": "RdBu_r", **lim, "origin": "lower"}
        shared = {**ext, "colorbar": "u (the reference's units)"}
        image_grid([[("reference Re u", truth[..., 0], ext), ("reference Im u", truth[..., 1], shared),
                     ("velocity (1/√m)", self._velocity_image(h, w), {"cmap": "viridis", "origin": "lower",
                                                                      "colorbar": "velocity (1/√m)"})],
                    [("network Re u", pred[..., 0], ext), ("network Im u", pred[..., 1], shared),
                     (f"|error| (relative MSE {ctx.metrics['relative_mse']:.3g})", err,
                      {"cmap": "magma", "origin": "lower", "colorbar": "|u − reference|"})]],
                   ctx.out_dir / "wavefield.png")
        save_npy(ctx.out_dir / "wavefield.npy", (pred[..., 0] + 1j * pred[..., 1]).astype(np.complex64))
        curve_plot(ctx.curve, "relative MSE against the reference", ctx.out_dir / "error_curve.png", log_y=True)
        return ["wavefield.png", "wavefield.npy", "error_curve.png"]

    def _velocity_image(self, h: int, w: int) -> np.ndarray:
        c = self.eval_coords.cpu().numpy()
        return 1.0 / np.sqrt(squared_slowness(self.config.velocity, c[:, 0], c[:, 1])).reshape(h, w)

    @classmethod
    def render(cls, model, signal, out: Path, options, device) -> Path:
        raise UserError("helmholtz runs are not rendered; their wavefield.png is written at the end of the run")
