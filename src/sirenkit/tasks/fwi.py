"""Inverse Helmholtz (full-waveform inversion): recover the squared slowness from receiver measurements.

One network maps (x, y) to the S complex wavefields of the S sources (outputs 2j, 2j + 1) and the squared
slowness m (last output, as m = max(y, −0.999) + 1 inside |x|, |y| < `slowness_box` and 1 outside, as the
official code does). Each step minimises the PML Helmholtz residual of every field with that m (`sirenkit.pde.pml`) at
uniform points and around every source, plus `data_weight` times the L1 misfit of the fields at the
receivers. An optional pretraining stage (`pretrain_steps`) first solves the forward problem in the uniform
medium (m = 1, the paper's "known velocity") with the slowness output pulled to 1; the inversion then starts
from those fields. Metrics compare with the true medium (the cylinder derived in `sirenkit.pde.fwi`) and its
finite-difference wavefields: `velocity_error` = ‖v − v_true‖ / ‖v_true − 1‖ over the inner square (1 means no
better than the background medium, 0 exact), `wavefield_mse` per source, `data_misfit` at the receivers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import Tensor, nn

from ..config import MAX_REFERENCE_NODES, MAX_WEIGHT, check_values, in_range, option
from ..diff import derivatives
from ..errors import UserError, check_all
from ..grids import map_chunks
from ..io.atomic import save_npy
from ..models.numerics import LossNeeds
from ..pde.fwi import (
    AMPLITUDE,
    Cylinder,
    Measurements,
    default_geometry,
    load_measurements,
    simulate,
    synthetic_measurements,
)
from ..pde.helmholtz import sample_field
from ..pde.pml import PmlOperator
from ..plots import curve_plot, image_grid, robust_limits
from .base import ArtefactContext, Batch, DamagedSignal, ListOf, Nullable, Number, Task, Vector
from .helmholtz import MIN_SIGMA, PmlProblemConfig, disc_points
from .registry import register

BOX_MARGIN = 0.05  # --slowness-box 0: how far the learned square reaches past the outermost source or receiver
MAX_SLOWNESS_SCALE = 1e3  # --slowness-scale: the slowness reads the network's output times this
MAX_BOOST_EXPONENT = 20.0  # a training source wider than the data's is scaled by at most e^20 ≈ 5e8


def parse_cylinder(text: str) -> Cylinder:
    try:
        x, y, radius, velocity = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--cylinder must be four numbers X,Y,RADIUS,VELOCITY, got {text!r}") from None
    if not all(math.isfinite(v) for v in (x, y, radius, velocity)) or radius <= 0 or velocity <= 0:
        raise UserError(f"--cylinder {text}: the numbers must be finite, the radius and velocity > 0")
    return Cylinder(x, y, radius, velocity)


def parse_velocity_range(text: str) -> tuple[tuple[float, float] | None, float]:
    """'VMIN,VMAX' → ((log m_min, log m_max), the sigmoid shift that maps 0 to m = 1); 'none' → (None, 0)."""
    if text.strip().lower() == "none":
        return None, 0.0
    try:
        vmin, vmax = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"--velocity-range must be two numbers VMIN,VMAX or 'none', got {text!r}") from None
    if not (math.isfinite(vmin) and math.isfinite(vmax) and 0 < vmin < 1 < vmax):
        raise UserError(f"--velocity-range {text}: need 0 < VMIN < 1 < VMAX (the background velocity is 1)")
    lo, hi = -2 * math.log(vmax), -2 * math.log(vmin)  # log of the squared slowness 1/v²
    frac = -lo / (hi - lo)  # where log m = 0 sits in [lo, hi]
    return (lo, hi), math.log(frac / (1 - frac))


@dataclass(frozen=True)
class FwiConfig(PmlProblemConfig):
    """The measurements, the true medium for the metrics, and the inversion's weights and priors."""

    path: str | None = option(None, "measurements (.mat with source, receivers, rec_val); default: simulated "
                              "by sirenkit's solver for the cylinder", positional=True, metavar="DATA.mat",
                              path=True)
    cylinder: str = option("0,0,0.1,2", "true medium for the metrics: disc X,Y,RADIUS,VELOCITY in a background "
                           "of velocity 1 (derived for fwi_cylinder_5.mat; docs/pde.md)", metavar="X,Y,R,V")
    data_sigma: float = option(0.01, "standard deviation of the Gaussian sources the measurements were made "
                               "with; a wider --source-sigma for training is compensated (see docs/pde.md)")
    source_weight: float = option(0.1, "weight of the residual at the source points (0.1: the official balance)")
    data_weight: float = option(60.0, "weight of the receiver misfit, mean L1 over receivers × (Re, Im) × "
                                "sources (60: the official balance against the residual)")
    slowness_box: float = option(0.75, "the slowness is learned inside |x|, |y| < this and 1 outside (0: the "
                                 f"square around the sources and receivers, {BOX_MARGIN:g} wider)")
    source_mute: float = option(0.0, "the slowness is also held at 1 within this distance of every source (a "
                                "known medium around the sources, as FWI codes mute updates there)")
    velocity_range: str = option("0.5,3", "bounds VMIN,VMAX of the recovered velocity (the slowness output is "
                                 "squashed into them); 'none': the official max(y, −0.999) + 1", metavar="VMIN,VMAX")
    slowness_scale: float = option(1.0, "the slowness reads the network's last output times this: < 1 slows its "
                                   "changes against the fields' (a learning rate of its own)")
    slowness_tv: float = option(0.0, "weight of a total-variation prior on the squared slowness (mean |∇m|)")
    pretrain_steps: int = option(0, "steps of forward solving in the uniform medium before the inversion")
    eval_nodes: int = option(101, "nodes per axis of the evaluation grid over the inner square")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the measurements are read or simulated)."""
        super().validate()
        check_values(self)
        boost = 0.5 * self.k * self.k * (self.source_sigma * self.source_sigma - self.data_sigma * self.data_sigma)
        check_all([
            (self.data_weight >= 0 and self.slowness_tv >= 0, "--data-weight and --slowness-tv must be ≥ 0"),
            in_range("--data-weight", self.data_weight, high=MAX_WEIGHT),
            in_range("--slowness-tv", self.slowness_tv, high=MAX_WEIGHT),
            (0 <= self.slowness_box <= 1, "--slowness-box must be in [0, 1] (0: around the sources and receivers)"),
            (self.source_mute >= 0, "--source-mute must be ≥ 0"),
            in_range("--source-mute", self.source_mute, high=3.0, note=" (the domain's diagonal is 2√2)"),
            (self.pretrain_steps >= 0, "--pretrain-steps must be ≥ 0"),
            (self.slowness_scale > 0, "--slowness-scale must be > 0"),
            in_range("--slowness-scale", self.slowness_scale, high=MAX_SLOWNESS_SCALE),
            (self.eval_nodes >= 5, "--eval-nodes must be ≥ 5"),
            in_range("--eval-nodes", self.eval_nodes, high=MAX_REFERENCE_NODES),
            (self.data_sigma > 0, "--data-sigma must be > 0"),
            in_range("--data-sigma", self.data_sigma, MIN_SIGMA, 1.0),
            (boost <= MAX_BOOST_EXPONENT,
             (f"--source-sigma {self.source_sigma:g} is too much wider than --data-sigma {self.data_sigma:g} at --k "
              f"{self.k:g}: the sources would be scaled by exp(k²(σ² − σ_data²)/2) = exp({boost:.3g}), which "
              "overflows float32; lower --source-sigma")),
        ])


@register
class FwiTask(Task):
    name = "fwi"
    command = ("invert", "helmholtz")
    description = "recover a velocity map from receiver measurements of Helmholtz wavefields (full-waveform inversion)"
    Config = FwiConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """(x, y) in, wavefields and squared slowness out."""
        return {"inputs": ["x", "y"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0]},
                "grid": "the square domain, including the perfectly matched layer of width signal.pml_width",
                "outputs": "outputs 2j and 2j + 1: real and imaginary part of source j's wavefield; the last "
                           "output y gives the squared slowness: with r = signal.slowness_scale · y, m = "
                           "exp(lo + (hi − lo)·sigmoid(r + shift)) for signal.velocity_range [vmin, vmax] (lo = "
                           "−2 ln vmax, hi = −2 ln vmin, shift making m = 1 at r = 0), or m = max(r, −0.999) + 1 "
                           "where velocity_range is null; this inside |x|, |y| < signal.slowness_box and farther "
                           "than signal.source_mute from every source in signal.sources, m = 1 elsewhere; "
                           "velocity = 1/√m"}

    metric = "velocity_error"
    higher_is_better = False
    recipes = {
        "paper": {"task": {"batch_points": 53_361, "pretrain_steps": 0},
                  "train": {"steps": 80_000, "lr": 2e-5, "schedule": "constant", "eval_every": 2000}},
        "gpu": {"task": {"batch_points": 16_384, "pretrain_steps": 2000},
                "train": {"steps": 20_000, "lr": 1e-4, "schedule": "cosine", "eval_every": 1000}},
        "cpu": {"task": {"batch_points": 2048, "source_sigma": 0.03, "source_points": 200, "source_radius": 8.0,
                         "slowness_scale": 0.1, "slowness_box": 0.0, "source_mute": 0.1, "pretrain_steps": 1000},
                "model": {"hidden_features": 128, "first_omega_0": 20.0},
                "train": {"steps": 6000, "lr": 2e-4, "schedule": "cosine", "eval_every": 500}},
    }
    recipe_notes = {
        "paper": "53k points + 100 per source each step, lr 2e-5 constant, 80k steps",
        "gpu": "16k points + 100 per source, 2k pretraining steps, lr 1e-4 cosine, 20k steps",
        "cpu": "2048 points + 200 within 8σ of each source, training sources σ 0.03 (compensated), slowness "
               "scale 0.1, learned in the square around the sources and receivers (--slowness-box 0) and beyond "
               "0.1 of each source (--source-mute 0.1), 2→128×3→11 with first-layer ω0 20, 1k pretraining steps, "
               "lr 2e-4 cosine, 6k steps (lr and slowness scale chosen on a simulated cylinder: docs/recipes.md)",
    }
    smoke = ({"batch_points": 256, "source_points": 16, "steps": 30, "pretrain_steps": 10, "hidden_features": 32,
              "reference_nodes": 101, "eval_nodes": 21}, 1.5)

    def __init__(self, config: FwiConfig, device: torch.device) -> None:
        super().__init__(config, device)
        config.validate()
        self.truth = parse_cylinder(config.cylinder)
        self.m_range, self.m_shift = parse_velocity_range(config.velocity_range)
        # the finite-difference grid of the true medium resolves its shortest wavelength (inside a slow disc)
        self.slowest = min(1.0, self.truth.velocity)
        self.nodes = config.reference_size(self.slowest)
        loaded = load_measurements(config.path) if config.path else None
        sources, receivers = (loaded.sources, loaded.receivers) if loaded is not None else default_geometry()
        inner = 1 - config.pml_width
        if np.abs(sources).max() >= inner or np.abs(receivers).max() >= inner:
            raise UserError(f"sources and receivers must lie inside the PML's inner square |x|, |y| < {inner:g}")
        config.check_resolution(self.nodes, self.slowest)
        self.data: Measurements = loaded if loaded is not None else synthetic_measurements(
            self.truth, config.k, self.nodes, config.data_sigma, config.pml_width, config.pml_a0)
        self.n_sources = len(self.data.sources)
        placed = np.abs(np.concatenate([self.data.sources, self.data.receivers])).max()
        self.box = config.slowness_box or min(float(placed) + BOX_MARGIN, inner)
        self.in_features, self.out_features, self.samples = 2, 2 * self.n_sources + 1, None
        # A radial source ρ radiates ρ̂(k)·G outside its support; for a normalised Gaussian ρ̂(k) = exp(−k²σ²/2).
        # Training with a wider Gaussian than the data's, scaled by exp(k²(σ² − σ_data²)/2), radiates the same
        # field outside both supports (the medium around the sources being the background).
        boost = math.exp(0.5 * config.k**2 * (config.source_sigma**2 - config.data_sigma**2))
        self.operator = PmlOperator(config.k, config.pml_width, config.pml_a0, config.source_sigma, AMPLITUDE * boost)
        # (S, 2) positions: default_geometry's, or a file's (load_measurements checks their shape)
        self.sources = [cast(tuple[float, float], tuple(float(v) for v in s)) for s in self.data.sources]
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        self.receivers = as_tensor(self.data.receivers)
        values = self.data.values  # (R, S) complex → (R, 2S) as the network's (Re, Im) columns
        self.measured = as_tensor(np.stack([values.real, values.imag], -1).reshape(len(values), -1))
        self._prepare_evaluation(as_tensor)

    def _prepare_evaluation(self, as_tensor) -> None:
        """Reference wavefields of the true medium (finite differences) and its velocity on the inner square."""
        cfg = self.config
        _, axis, fields = simulate(self.data.sources, self.data.receivers, self.truth, cfg.k, self.nodes,
                                   cfg.data_sigma, cfg.pml_width, cfg.pml_a0)
        inner = 1 - cfg.pml_width
        ax = np.linspace(-inner, inner, cfg.eval_nodes)
        gx, gy = np.meshgrid(ax, ax, indexing="xy")
        pts = np.stack([gx.ravel(), gy.ravel()], 1)
        ref = np.stack([sample_field(axis, f, pts) for f in fields], 1)  # (P, S)
        far = np.ones(len(pts), bool)
        for s in self.data.sources:  # Gaussian and point-like sources differ within a few σ
            far &= np.hypot(pts[:, 0] - s[0], pts[:, 1] - s[1]) > 4 * max(cfg.source_sigma, cfg.data_sigma)
        if not far.any():
            raise UserError("--source-sigma / --data-sigma: the sources' discs (4σ) cover the whole inner square, "
                            "leaving nowhere to compare the wavefields; lower them")
        true_m = self.truth.squared_slowness(pts[:, 0], pts[:, 1])
        if np.all(true_m == 1.0):  # velocity_error divides by ‖v_true − 1‖
            raise UserError(f"--cylinder {cfg.cylinder}: the true medium equals the background (velocity 1) on the "
                            f"inner square |x|, |y| ≤ {inner:g}; give a disc inside it with a velocity ≠ 1")
        self.eval_shape = gx.shape
        self.eval_coords = as_tensor(pts)
        self.eval_far = torch.as_tensor(far, device=self.device)
        self.ref_fields = as_tensor(np.stack([ref.real, ref.imag], -1).reshape(len(pts), -1))
        self.true_velocity = as_tensor(1.0 / np.sqrt(true_m))

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """Compiled where the derivatives are analytic (autograd's double backward does not compile)."""
        return replace(super().loss_needs(model), compile=self.config.uses_analytic(model))

    def describe(self) -> str:
        cfg = self.config
        return (f"fwi: {self.n_sources} sources, {len(self.data.receivers)} receivers ({self.data.origin}); k "
                f"{cfg.k:g}, PML {cfg.pml_width:g} (a0 {cfg.pml_a0:g}); {cfg.batch_points} + "
                f"{cfg.source_points}×{self.n_sources} points per step, {cfg.pretrain_steps} pretraining steps; "
                f"slowness learned in |x|, |y| < {self.box:.3g}"
                f"{f' beyond {cfg.source_mute:g} of the sources' if cfg.source_mute else ''}; "
                f"metrics against {self.truth}")

    def _in_box(self, x: Tensor) -> Tensor:
        """Where the slowness is learned (N,) bool: |x|, |y| < the box, farther than source_mute from
        every source."""
        cfg = self.config
        learned = (x[:, 0].abs() < self.box) & (x[:, 1].abs() < self.box)
        if cfg.source_mute > 0:
            for sx, sy in self.sources:
                learned = learned & ((x[:, 0] - sx) ** 2 + (x[:, 1] - sy) ** 2 > cfg.source_mute**2)
        return learned

    def slowness(self, out: Tensor, x: Tensor) -> Tensor:
        """Squared slowness from the network's last output inside the box (1 outside): raw = scale × output,
        squashed smoothly into [1/vmax², 1/vmin²] with m = 1 at raw = 0, or the official max(raw, −0.999) + 1
        without a range."""
        raw = self.config.slowness_scale * out
        box = self._in_box(x)
        if self.m_range is None:
            m = raw.clamp(min=-0.999) + 1.0
        else:
            lo, hi = self.m_range  # log m = lo + (hi − lo)·sigmoid(raw + shift), shift placing raw = 0 at m = 1
            m = torch.exp(lo + (hi - lo) * torch.sigmoid(raw + self.m_shift))
        return torch.where(box, m, torch.ones_like(raw))

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        cfg = self.config
        dev = generator.device
        uniform = torch.rand((cfg.batch_points, 2), generator=generator, device=dev) * 2 - 1
        radius = cfg.source_radius * cfg.source_sigma
        near = torch.cat([disc_points(cfg.source_points, at, radius, generator) for at in self.sources])
        coords = torch.cat([uniform, near]).to(self.device)
        return Batch(coords, self.measured, phase="pretrain" if step < cfg.pretrain_steps else "invert")

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        cfg = self.config
        x = torch.cat([batch.coords, self.receivers])
        d = derivatives(model, x, order=2, backend=cfg.derivatives, per_axis=True)
        m_net = self.slowness(d.value[:, -1], x)
        pretrain = batch.phase == "pretrain"
        m = torch.ones_like(m_net) if pretrain else m_net
        re, im = self.operator.residual(d, x, m, self.sources)  # (N, S) each
        l1 = (re.abs() + im.abs()).mean(-1)
        n, r = cfg.batch_points, len(self.receivers)
        terms = {"residual": l1[:n].mean()}
        if cfg.source_points:
            terms["source"] = cfg.source_weight * l1[n:-r].mean()
        if cfg.slowness_tv:
            terms["slowness_tv"] = cfg.slowness_tv * self._slowness_gradient(d, x, m_net)[:n].mean()
        if pretrain:
            terms["slowness_prior"] = (m_net[:n] - 1.0).abs().mean()
        else:
            terms["data"] = cfg.data_weight * (d.value[-r:, :-1] - batch.target).abs().mean()
        return terms

    def _slowness_gradient(self, d, x: Tensor, m: Tensor) -> Tensor:
        """|∇m| (N,) by the chain rule from the gradient of the raw slowness output (zero outside the box)."""
        slope = self._dm_draw(d.value[:, -1], x, m)
        return (slope.unsqueeze(-1) * d.gradient[:, -1, :]).norm(dim=-1)

    def _dm_draw(self, out: Tensor, x: Tensor, m: Tensor) -> Tensor:
        """∂m/∂output in closed form for the mapping in `slowness` (zero outside the box and where clamped)."""
        raw = self.config.slowness_scale * out
        box = self._in_box(x)
        if self.m_range is None:
            slope = (raw > -0.999).to(raw.dtype)
        else:
            lo, hi = self.m_range
            s = torch.sigmoid(raw + self.m_shift)
            slope = m * (hi - lo) * s * (1 - s)
        return torch.where(box, self.config.slowness_scale * slope, torch.zeros_like(raw))

    @torch.no_grad()
    def _grid(self, model: nn.Module) -> tuple[Tensor, Tensor]:
        out = map_chunks(model, self.eval_coords, self.config.chunk)
        return out[:, :-1], 1.0 / self.slowness(out[:, -1], self.eval_coords).sqrt()

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        fields, velocity = self._grid(model)
        err = (fields - self.ref_fields)[self.eval_far] ** 2  # (P, 2S): (Re, Im) per source
        with torch.no_grad():
            at_receivers = model(self.receivers)[:, :-1]
        misfit = float((at_receivers - self.measured).norm() / self.measured.norm())
        ref = self.ref_fields[self.eval_far] ** 2
        v_err = velocity - self.true_velocity
        return {
            "velocity_error": float(v_err.norm() / (self.true_velocity - 1.0).norm()),
            "velocity_mae": float(v_err.abs().mean()),
            "wavefield_mse": float(err.sum(-1).mean()) / self.n_sources,
            "wavefield_relative_mse": float(err.sum() / ref.sum()),
            "data_misfit": misfit,
        }

    def signal_meta(self) -> dict[str, Any]:
        cfg = self.config
        return {"k": cfg.k, "sources": self.data.sources.tolist(), "receivers": self.data.receivers.tolist(),
                "slowness_box": self.box, "source_mute": cfg.source_mute, "pml_width": cfg.pml_width,
                "slowness_scale": cfg.slowness_scale,
                "velocity_range": None if self.m_range is None else [math.exp(-self.m_range[1] / 2),
                                                                     math.exp(-self.m_range[0] / 2)]}

    signal_schema = {"k": Number(gt=0), "sources": ListOf(Vector(2), hi=10_000), "receivers": ListOf(Vector(2)),
                     "slowness_box": Number(ge=0, le=1), "source_mute": Number(ge=0), "pml_width": Number(ge=0, lt=1),
                     "slowness_scale": Number(gt=0), "velocity_range": Nullable(Vector(2, Number(gt=0)))}
    network_inputs = 2

    @classmethod
    def check_signal(cls, signal: dict[str, Any], fields: tuple[str, ...] | None = None,
                     partial: bool = False) -> dict[str, Any]:
        clean = super().check_signal(signal, fields, partial)
        bounds = clean.get("velocity_range")
        if bounds is not None and not bounds[0] < bounds[1]:
            raise DamagedSignal(f"velocity_range {bounds} is not [vmin, vmax] with vmin < vmax")
        return clean

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        if "sources" not in signal:
            return None
        n = len(signal["sources"])
        return 2 * n + 1, f"{n} sources (a complex wavefield each, and the slowness: {2 * n + 1} values a point)"

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        h, w = self.eval_shape
        fields, velocity = (t.cpu().numpy() for t in self._grid(model))
        ref = self.ref_fields.cpu().numpy()
        true_v = self.true_velocity.cpu().numpy().reshape(h, w)
        velocity = velocity.reshape(h, w)
        inner = 1 - self.config.pml_width
        extent = [-inner, inner, -inner, inner]
        vlim = {"vmin": float(min(true_v.min(), np.percentile(velocity, 1))),
                "vmax": float(max(true_v.max(), np.percentile(velocity, 99)))}
        vopts = {"cmap": "viridis", "origin": "lower", "extent": extent, "colorbar": "velocity (background 1)",
                 **vlim}
        image_grid([[("true velocity", true_v, vopts), ("recovered velocity", velocity, vopts),
                     (f"|error| (relative {ctx.metrics['velocity_error']:.3g})", np.abs(velocity - true_v),
                      {"cmap": "magma", "origin": "lower", "extent": extent,
                       "colorbar": "|velocity − truth|"})]],
                   ctx.out_dir / "velocity.png")
        rows: list[list[tuple[str, np.ndarray, dict[str, Any]]]] = [[], []]
        lim = robust_limits(ref[:, ::2], fields[:, ::2], symmetric=True)
        wopts = {"cmap": "RdBu_r", "origin": "lower", "extent": extent, **lim}
        for j in range(self.n_sources):
            rows[0].append((f"reference Re u{j + 1}", ref[:, 2 * j].reshape(h, w), wopts))
            rows[1].append((f"network Re u{j + 1}", fields[:, 2 * j].reshape(h, w), wopts))
        for row in rows:  # one shared scale: a labelled bar at the end of each row
            row[-1] = (row[-1][0], row[-1][1], {**wopts, "colorbar": "Re u (the measurements' units)"})
        image_grid(rows, ctx.out_dir / "wavefields.png", cell=2.6)
        save_npy(ctx.out_dir / "velocity.npy", velocity.astype(np.float32))
        curve_plot(ctx.curve, "velocity error (relative to the perturbation)", ctx.out_dir / "error_curve.png",
                   log_y=True)
        return ["velocity.png", "wavefields.png", "velocity.npy", "error_curve.png"]

    @classmethod
    def render(cls, model, signal, out: Path, options, device) -> Path:
        raise UserError("fwi runs are not rendered; velocity.png and wavefields.png are written at the end of the run")
