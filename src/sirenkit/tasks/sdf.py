"""Signed distance functions from oriented point clouds or meshes (the paper's Section 4.2).

Each step draws N points on the surface (with normals) and N points uniformly in [−1, 1]³. The loss is the
paper's: 3e3·|Φ| on the surface, 1e2·exp(−100|Φ|) off it (pushes the zero level away from empty space),
1e2·(1 − cos(∇Φ, n)) on the surface and 5e1·|‖∇Φ‖ − 1| (eikonal) everywhere. As in the official code each
term is a mean over all 2N points (the surface and off-surface terms are zero on the other half). The shape is
centred and scaled so its longest side spans [−(1 − margin), 1 − margin]; meshes are written back in the
input's own units.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import DEFAULT_CHUNK, MAX_POINTS, MAX_WEIGHT, check_values, in_range, option
from ..diff import GradientBackend, derivatives, gradient_backend
from ..errors import UserError, check_all
from ..geometry.meshing import (
    MeshResult,
    drop_small_components,
    extract_mesh,
    field_from_model,
    normals_from_model,
)
from ..geometry.pointcloud import Normalisation
from ..geometry.shapes import SHAPES
from ..io.memory import as_array, parts
from ..io.meshes import NORMAL_SUFFIXES, Surface, load_mesh, load_surface, save_mesh, surface_from_arrays
from ..models.numerics import LossNeeds
from ..plots import curve_plot
from .base import (
    RENDER_PIXELS,
    ArtefactContext,
    Batch,
    Nullable,
    Number,
    OutputLimit,
    Record,
    RenderOptions,
    Task,
    Text,
    Vector,
    amount,
    shown,
)
from .registry import register

HELD_OUT = 20_000

MESH_RESOLUTION = OutputLimit(
    "MESH_RESOLUTION", 2048, "memory and time grow with the resolution's square (the surface) and cube (the grid)")
"""Grid nodes per axis of `sirenkit mesh`: 4× the paper's 512."""
EVAL_SAMPLES = OutputLimit("EVAL_SAMPLES", 10**8, "about 220 bytes of memory a sample: 22 GB at the limit")
"""Surface samples per mesh of `sirenkit eval-mesh`: 100× the default."""


@dataclass(frozen=True)
class SdfConfig:
    """Which surface to fit, the loss weights and the final mesh."""

    path: str | None = option(None, "point cloud (.xyz 'x y z nx ny nz', .ply with normals) or mesh "
                              "(.ply/.obj/.off/.stl); default: an analytic shape (--shape)",
                              positional=True, metavar="SHAPE", path=True)
    shape: Literal["torus", "sphere", "rounded-box"] = option(
        "torus", "analytic shape fitted when no SHAPE file is given (rounded-box: flat faces, sharp rounded edges)")
    reference: str | None = option(None, "ground-truth mesh for the final metrics when SHAPE is a point cloud",
                                   metavar="MESH", path=True)
    surface_samples: int = option(250_000, "points sampled on a mesh (or analytic shape) to train on")
    estimate_normals: bool = option(False, "estimate missing normals of a point cloud by local PCA, oriented "
                                           "consistently over the surface (spanning-tree propagation)")
    batch_points: int = option(250_000, "N: surface points per step (plus N uniform points in the cube)")
    margin: float = option(0.1, "the shape's longest side spans [−(1 − margin), 1 − margin]")
    surface_weight: float = option(3e3, "weight of |Φ| on the surface")
    off_surface_weight: float = option(1e2, "weight of exp(−falloff·|Φ|) off the surface")
    off_surface_falloff: float = option(100.0, "falloff of the off-surface term")
    normal_weight: float = option(1e2, "weight of 1 − cos(∇Φ, n) on the surface")
    eikonal_weight: float = option(5e1, "weight of |‖∇Φ‖ − 1| on all points")
    derivatives: GradientBackend = option(
        "auto", "∇Φ by reverse (the closed-form backward sweep, compiled), analytic forward mode, autograd (double "
                "backward, the official method) or fused (SIRENs, least memory; Triton kernels on CUDA); auto: "
                "reverse for MLPs with elementwise activations, autograd otherwise")
    mesh_resolution: int = option(256, "grid nodes per axis of the final mesh (0: no mesh)")
    mesh_min_component: float = option(
        0.0, "drop connected parts of the final mesh with fewer than this fraction of the largest part's faces "
        "(detached specks; 0: keep all, as the paper's meshes; e.g. 0.01)")
    eval_samples: int = option(1_000_000, "surface samples per side for Chamfer / F-score")
    fscore_threshold: float = option(0.01, "F-score distance threshold in the ground truth's [−1, 1]³ frame")
    chunk: int = option(DEFAULT_CHUNK, "points per network call when meshing and evaluating")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the surface is read)."""
        check_values(self)
        weights = {"surface": self.surface_weight, "off-surface": self.off_surface_weight,
                   "normal": self.normal_weight, "eikonal": self.eikonal_weight}
        negative = next((f"--{name}-weight {value:g}" for name, value in weights.items() if value < 0), "")
        check_all([
            (self.batch_points >= 1, "--batch-points must be ≥ 1"),
            in_range("--batch-points", self.batch_points, high=MAX_POINTS),
            (self.surface_samples >= 1, "--surface-samples must be ≥ 1"),
            in_range("--surface-samples", self.surface_samples, high=MAX_POINTS),
            (0.0 <= self.margin < 1.0, "--margin must be in [0, 1)"),
            (self.mesh_resolution == 0 or self.mesh_resolution >= 8, "--mesh-resolution must be 0 or ≥ 8"),
            (0.0 <= self.mesh_min_component < 1.0, "--mesh-min-component must be in [0, 1)"),
            (self.eval_samples >= 1, "--eval-samples must be ≥ 1"),
            (self.fscore_threshold > 0, "--fscore-threshold must be > 0"),
            (self.chunk >= 1, "--chunk must be ≥ 1"),
            (self.off_surface_falloff > 0, "--off-surface-falloff must be > 0"),
            in_range("--off-surface-falloff", self.off_surface_falloff, high=MAX_WEIGHT),
            (not negative, f"loss weights must be ≥ 0, got {negative}"),
            in_range("--surface-weight", self.surface_weight, high=MAX_WEIGHT),
            in_range("--off-surface-weight", self.off_surface_weight, high=MAX_WEIGHT),
            in_range("--normal-weight", self.normal_weight, high=MAX_WEIGHT),
            in_range("--eikonal-weight", self.eikonal_weight, high=MAX_WEIGHT),
        ])
        MESH_RESOLUTION.check(self.mesh_resolution, f"--mesh-resolution {self.mesh_resolution} would sample a grid "
                              f"of {self.mesh_resolution}³ nodes", "nodes per axis")
        EVAL_SAMPLES.check(self.eval_samples, f"--eval-samples {self.eval_samples} would sample each mesh "
                           f"{self.eval_samples} times", "samples")


def sdf_loss(phi: Tensor, grad: Tensor, normals: Tensor, cfg: SdfConfig) -> dict[str, Tensor]:
    """The paper's four terms for Φ, ∇Φ at N surface points followed by N off-surface points."""
    n, total = normals.shape[0], phi.shape[0]
    on, off = phi[:n], phi[n:]
    cosine = F.cosine_similarity(grad[:n], normals, dim=-1)
    return {
        "surface": cfg.surface_weight * on.abs().sum() / total,
        "off_surface": cfg.off_surface_weight * torch.exp(-cfg.off_surface_falloff * off.abs()).sum() / total,
        "normal": cfg.normal_weight * (1.0 - cosine).sum() / total,
        "eikonal": cfg.eikonal_weight * (grad.norm(dim=-1) - 1.0).abs().mean(),
    }


@register
class SdfTask(Task):
    name = "sdf"
    command = ("fit", "sdf")
    description = "fit a signed distance function to an oriented point cloud or mesh; default: an analytic torus"
    Config = SdfConfig

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """Normalised (x, y, z) in, signed distance out."""
        return {"inputs": ["x", "y", "z"], "range": {"x": [-1.0, 1.0], "y": [-1.0, 1.0], "z": [-1.0, 1.0]},
                "grid": "normalised units: x_unit = (x − signal.normalisation.center) × signal.normalisation.scale",
                "outputs": "signed distance in normalised units (divide by signal.normalisation.scale for the "
                           "input's units); negative inside, positive outside, the surface is the zero level set"}

    metric = "surface_distance"
    higher_is_better = False
    # bf16 only in the backward pass under --precision auto: on the bunny the surface distance stayed within 2 %
    # of fp32 (3 seeds; chamfer_l1 varies with detached specks either way), on the torus it was 4.6 % higher;
    # full bf16 cost 21 % in chamfer_l1 (benchmarks/RESULTS.md, "bf16 backward pass and kept sines").
    needs = LossNeeds(bf16_backward=True)
    recipes = {
        "paper": {"task": {"batch_points": 250_000, "mesh_resolution": 512},
                  "train": {"steps": 50_000, "lr": 1e-4, "schedule": "constant", "clip_grad": 1.0, "eval_every": 1000}},
        "gpu": {"task": {"batch_points": 250_000, "mesh_resolution": 512},
                "train": {"steps": 10_000, "lr": 1e-4, "schedule": "cosine", "clip_grad": 1.0, "eval_every": 500}},
        # first-layer ω0 chosen on the rounded box's surface distance (docs/recipes.md): the paper's 30 again
        "cpu": {"task": {"batch_points": 4096, "mesh_resolution": 256}, "model": {"first_omega_0": 30.0},
                "train": {"steps": 2500, "lr": 1e-4, "schedule": "cosine", "clip_grad": 1.0, "eval_every": 500}},
    }
    recipe_notes = {
        "paper": "the paper: 250k + 250k points per step, lr 1e-4 constant, grad-norm clip 1, 50k steps",
        "gpu": "250k + 250k points per step, lr 1e-4 with cosine decay, clip 1, 10k steps, mesh 512³",
        "cpu": "4096 + 4096 points per step, first-layer ω0 30, lr 1e-4 with cosine decay, clip 1, 2500 steps, "
               "mesh 256³",
    }
    smoke = ({"shape": "sphere", "batch_points": 512, "surface_samples": 4000, "steps": 150, "lr": 1e-4,
              "hidden_features": 64, "mesh_resolution": 48, "eval_samples": 20_000}, 5e-3)

    memory_data = ("(points, normals): points (N, 3) in any units (normalised into the unit cube as a file's "
                   "are) and their normals (N, 3), outward; points alone with estimate_normals=True")

    def __init__(self, config: SdfConfig, device: torch.device, data: Any = None) -> None:
        super().__init__(config, device)
        config.validate()
        self.in_features, self.out_features, self.samples = 3, 1, None
        self.shape = None
        if data is not None:
            given = parts(data, ("points", "normals"), "data", optional=("normals",))
            given_points = as_array(given["points"], "data points")
            given_normals = None if given["normals"] is None else as_array(given["normals"], "data normals")
            self.memory_arrays = {"points": given_points}
            if given_normals is not None:
                self.memory_arrays["normals"] = given_normals
            surface = surface_from_arrays(given_points, given_normals,
                                          f"array {'×'.join(map(str, given_points.shape))}", config.estimate_normals)
            self.norm = Normalisation.fit(surface.points, 1.0 - config.margin)
        elif config.path:
            surface = load_surface(config.path, config.surface_samples + HELD_OUT, estimate=config.estimate_normals)
            self.norm = Normalisation.fit(surface.points, 1.0 - config.margin)
        else:
            self.shape = SHAPES[config.shape]
            pts, nrm = self.shape.sample(config.surface_samples + HELD_OUT, np.random.default_rng(0))
            surface = Surface(pts, nrm, self.shape.description, "analytic", mesh=None)
            self.norm = Normalisation((0.0, 0.0, 0.0), 1.0)
        self.surface = surface
        self.gt_mesh = surface.mesh
        if config.reference:
            self.gt_mesh = load_mesh(config.reference, "reference mesh")
        points = torch.from_numpy(self.norm.to_unit(surface.points)).float()
        normals = torch.from_numpy(surface.normals).float()
        order = torch.randperm(len(points), generator=torch.Generator().manual_seed(0))
        held = order[: min(HELD_OUT, len(points) // 10)]
        train = order[len(held):]
        self.points, self.normals = points[train].to(device), normals[train].to(device)
        self.eval_points, self.eval_normals = points[held].to(device), normals[held].to(device)
        self.mesh: MeshResult | None = None

    def _backend(self, model: nn.Module) -> GradientBackend:
        return gradient_backend(self.config.derivatives, model)

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """Compile the closed-form paths (reverse everywhere, forward mode on CUDA); autograd's double backward
        does not compile. A compiled reverse step took 384 ms against autograd's 520 ms (8,192 + 8,192 points,
        SIREN 256×3, 1 CPU thread; benchmarks/RESULTS.md)."""
        backend = self._backend(model)
        compiles = backend == "reverse" or (self.device.type == "cuda" and backend == "analytic")
        return replace(super().loss_needs(model), compile=compiles)

    def describe(self) -> str:
        s = self.surface
        extra = f", {s.dropped} rows with unusable normals dropped" if s.dropped else ""
        return (f"sdf: {s.kind} {s.source}, {len(self.points):,} training points{extra}; "
                f"{self.config.batch_points:,} + {self.config.batch_points:,} points per step, "
                f"derivatives {self.config.derivatives}")

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        n = self.config.batch_points
        idx = self.random_indices(n, len(self.points), generator)
        uniform = (torch.rand((n, 3), generator=generator, device=generator.device) * 2.0 - 1.0).to(self.device)
        return Batch(torch.cat([self.points[idx], uniform]), self.normals[idx])

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        d = derivatives(model, batch.coords, order=1, backend=self._backend(model))
        return sdf_loss(d.value[:, 0], d.gradient[:, 0, :], batch.target, self.config)

    def _surface_stats(self, model: nn.Module) -> dict[str, float]:
        dist, angle, eik = [], [], []
        backend = self._backend(model)
        for i in range(0, len(self.eval_points), self.config.chunk):
            x = self.eval_points[i : i + self.config.chunk]
            d = derivatives(model, x, order=1, backend=backend, create_graph=False)
            g = d.gradient[:, 0, :].detach()
            dist.append(d.value[:, 0].detach().abs())
            cos = F.cosine_similarity(g, self.eval_normals[i : i + self.config.chunk], dim=-1).clamp(-1, 1)
            angle.append(torch.rad2deg(torch.arccos(cos)))
            eik.append((g.norm(dim=-1) - 1).abs())
        return {"surface_distance": float(torch.cat(dist).mean()), "normal_error_deg": float(torch.cat(angle).mean()),
                "eikonal_error": float(torch.cat(eik).mean())}

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        out = self._surface_stats(model)
        if not final:
            return out
        if self.shape is not None:
            out["sdf_error"] = self._sdf_error(model)
        if self.config.mesh_resolution:
            field = field_from_model(model, self.device, self.config.chunk)
            self.mesh = drop_small_components(extract_mesh(field, self.config.mesh_resolution),
                                              self.config.mesh_min_component)
            out.update({"mesh_resolution": self.config.mesh_resolution, "mesh_vertices": len(self.mesh.vertices),
                        "mesh_faces": len(self.mesh.faces), "mesh_evaluations": self.mesh.evaluated,
                        "mesh_seconds": round(self.mesh.seconds, 2)})
            if self.config.mesh_min_component > 0:
                out["mesh_components_dropped"] = self.mesh.dropped_components
            gt = self.gt_mesh if self.gt_mesh is not None else (self.shape.mesh() if self.shape else None)
            if gt is not None and not self.mesh.empty:
                import trimesh

                from ..geometry.metrics import compare_meshes

                pred = trimesh.Trimesh(self.norm.from_unit(self.mesh.vertices), self.mesh.faces, process=False)
                out.update(compare_meshes(pred, gt, self.config.eval_samples, self.config.fscore_threshold))
        return out

    def _sdf_error(self, model: nn.Module) -> float:
        """Mean |Φ − true distance| within 0.05 of an analytic surface (unit coordinates)."""
        assert self.shape is not None  # evaluate calls this for an analytic shape only
        rng = np.random.default_rng(1)
        pts, nrm = self.shape.sample(50_000, rng)
        pts = pts + nrm * rng.uniform(-0.05, 0.05, size=(len(pts), 1))
        field = field_from_model(model, self.device, self.config.chunk)
        return float(np.abs(field(pts.astype(np.float32)) - self.shape.sdf(pts)).mean())

    def signal_meta(self) -> dict[str, Any]:
        return {"source": self.surface.source, "kind": self.surface.kind,
                "normalisation": self.norm.as_dict(), "reference": self.config.reference}

    # x_unit = (x − center) · scale: bounded so that a mesh written in the input's units stays finite
    signal_schema = {"normalisation": Record({"center": Vector(3, Number(ge=-1e30, le=1e30)),
                                              "scale": Number(ge=1e-30, le=1e30)}),
                     "source": Text(), "kind": Text(), "reference": Nullable(Text(), optional=True)}
    network_inputs = 3

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        return 1, "a signed distance (1 value a point)"

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        size = options.size or 256
        RENDER_PIXELS.check(3 * size * size, f"--size {shown(size)} would plot three planes of {shown(size)}×"
                            f"{shown(size)} = {amount(3 * size * size)} points", "points")

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        from ..geometry.preview import slice_plot

        field = field_from_model(model, self.device, self.config.chunk)
        written = []
        slice_plot(field, ctx.out_dir / "slices.png", title="Φ on the coordinate planes (zero level in black)",
                   frame=self.norm)
        written.append("slices.png")
        if self.mesh is not None and not self.mesh.empty:
            normals = normals_from_model(model, self.device, self.config.chunk)
            written += write_mesh_outputs(self.mesh, self.norm, ctx.out_dir / "mesh.ply", normals)
        elif self.mesh is not None:  # said out loud: metrics.json's mesh_faces 0 is easy to miss
            print("sirenkit: warning: the fitted field has no zero level set inside [−1, 1]³, so no mesh.ply was "
                  "written (train longer, or check the input's normals)", file=sys.stderr, flush=True)
        curve_plot(ctx.curve, "mean |Φ| on held-out surface points", ctx.out_dir / "surface_curve.png", log_y=True)
        written.append("surface_curve.png")
        return written

    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        from ..geometry.preview import slice_plot

        field = field_from_model(model, device, options.chunk)
        probe = np.stack(np.meshgrid(*[np.linspace(-1.0, 1.0, 5)] * 3), -1).reshape(-1, 3).astype(np.float32)
        if not np.isfinite(field(probe)).all():
            raise UserError(f"the network of {options.run} gives NaN or infinite values; its checkpoint was damaged "
                            "or edited")
        slice_plot(field, out, size=options.size or 256, frame=Normalisation.from_dict(signal["normalisation"]))
        return out


def preview_path(mesh_path: Path) -> Path:
    """Where the shaded preview of a mesh file goes: `<stem>_preview.png` beside it."""
    return mesh_path.with_name(f"{mesh_path.stem}_preview.png")


def write_mesh_outputs(mesh: MeshResult, norm: Normalisation, path: Path,
                       normals: Callable[[np.ndarray], np.ndarray] | None = None,
                       normalised: bool = False) -> list[str]:
    """The mesh (in the input's units, or the network's [−1, 1]³ frame when `normalised`) with vertex normals
    where the format holds them (`normals`: the unit normals at points of the network's frame, evaluated only
    then), plus its shaded preview (`<stem>_preview.png`)."""
    from ..geometry.preview import render_mesh

    vertices = mesh.vertices.astype(np.float64) if normalised else norm.from_unit(mesh.vertices)
    at_vertices = normals(mesh.vertices) if normals and path.suffix.lower() in NORMAL_SUFFIXES else None
    save_mesh(path, vertices, mesh.faces, at_vertices)
    preview = preview_path(path)
    render_mesh(vertices, mesh.faces, preview, title=f"{path.name}: {len(mesh.faces):,} triangles, "
                f"{mesh.resolution}³ grid")
    return [path.name, preview.name]
