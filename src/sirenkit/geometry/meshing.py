"""Marching cubes over a network's signed distance field with bounded memory and sparse evaluation.

A dense R³ grid costs R³ network evaluations and 4·R³ bytes (4.3 GB at R = 1024). Instead:
1. evaluate a coarse grid (every `block`-th node); a block of fine cells can only hold the surface if one of
   its corners is within `lipschitz · diagonal / 2` of the level (or the corners change sign) — with an SDF
   trained under the eikonal term |∇Φ| ≈ 1, so the default Lipschitz bound 2 leaves a factor-2 margin;
2. sweep the fine grid in slabs along the first axis: fill each slab by trilinear interpolation of the coarse
   grid, evaluate the network exactly at every node that touches an active block, run scikit-image's
   marching cubes on the slab, and carry the slab's last layer into the next (so seams match bit for bit);
3. merge the duplicated seam vertices.
Only a few slabs of R² floats are alive at once, and the network sees the near-surface nodes only.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..config import DEFAULT_CHUNK

Field = Callable[[np.ndarray], np.ndarray]
"""Signed distance at points (N, 3) float32 → (N,)."""


class NonFiniteField(ValueError):
    """The field is NaN or infinite somewhere on the grid (a damaged network): no mesh of it means anything."""


@dataclass
class MeshResult:
    """A triangle mesh in the field's coordinates plus what it cost to extract."""

    vertices: np.ndarray
    faces: np.ndarray
    resolution: int
    evaluated: int
    """Network evaluations (grid nodes actually computed)."""
    seconds: float
    peak_rss_mb: float
    """Peak resident memory of this process so far (includes everything loaded before)."""
    dropped_components: int = 0
    """Small detached parts removed by `drop_small_components`."""

    @property
    def empty(self) -> bool:
        return len(self.faces) == 0


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def field_from_model(model: nn.Module, device: torch.device, chunk: int = DEFAULT_CHUNK) -> Field:
    """Wrap a network (3 → 1) as a chunked numpy field evaluated without gradients."""

    @torch.no_grad()
    def field(points: np.ndarray) -> np.ndarray:
        out = np.empty(len(points), dtype=np.float32)
        for i in range(0, len(points), chunk):
            x = torch.from_numpy(np.ascontiguousarray(points[i : i + chunk], dtype=np.float32)).to(device)
            out[i : i + chunk] = model(x)[:, 0].float().cpu().numpy()
        return out

    return field


def normals_from_model(model: nn.Module, device: torch.device,
                       chunk: int = DEFAULT_CHUNK) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap a network (3 → 1) as a chunked numpy function: unit ∇Φ at points (N, 3) in the network's frame, the
    surface normal at the zero level (pointing to Φ > 0, outside). A uniform scale and shift leave directions
    alone, so they are the normals in the input's units too."""
    from ..diff import derivatives

    def normals(points: np.ndarray) -> np.ndarray:
        out = np.empty((len(points), 3), dtype=np.float64)
        for i in range(0, len(points), chunk):
            x = torch.from_numpy(np.ascontiguousarray(points[i : i + chunk], dtype=np.float32)).to(device)
            g = derivatives(model, x, order=1, create_graph=False).gradient[:, 0].detach().double().cpu().numpy()
            out[i : i + chunk] = g
        length = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, length, out=np.zeros_like(out), where=length > 0)

    return normals


def _grid_values(field: Field, axes: list[np.ndarray]) -> np.ndarray:
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3).astype(np.float32)
    return field(grid).reshape(len(axes[0]), len(axes[1]), len(axes[2]))


def _node_maps(coarse: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per fine node: the block it lies in (lower side), the other block it touches (on a coarse node), and
    its interpolation weight inside the first block."""
    blocks = len(coarse) - 1
    nodes = np.arange(resolution)
    lower = np.clip(np.searchsorted(coarse, nodes, side="right") - 1, 0, blocks - 1)
    other = np.where((nodes == coarse[lower]) & (lower > 0), lower - 1, lower)
    weight = (nodes - coarse[lower]) / (coarse[lower + 1] - coarse[lower])
    return lower, other, weight.astype(np.float32)


def extract_mesh(
    field: Field,
    resolution: int,
    bound: float = 1.0,
    level: float = 0.0,
    block: int = 8,
    lipschitz: float = 2.0,
    slab_nodes: int = 1 << 24,
    eval_batch: int = 1 << 20,
) -> MeshResult:
    """Zero level set of `field` on a resolution³ node grid spanning [−bound, bound]³ (outward normals for a
    field that is negative inside). Memory: about 5 slabs of `slab_nodes` float32 values at most."""
    from skimage.measure import marching_cubes

    if resolution < 3:
        raise ValueError("resolution must be ≥ 3")
    start = time.perf_counter()
    r = resolution
    axis = np.linspace(-bound, bound, r)
    h = 2.0 * bound / (r - 1)
    coarse = np.unique(np.r_[np.arange(0, r, max(1, block)), r - 1])
    values = _grid_values(field, [axis[coarse]] * 3)
    evaluated = values.size
    if not np.isfinite(values).all():
        raise NonFiniteField(f"the field is NaN or infinite at {int((~np.isfinite(values)).sum())} of "
                             f"{values.size} coarse grid nodes")
    values -= level

    corners = [values[i : len(coarse) - 1 + i, j : len(coarse) - 1 + j, k : len(coarse) - 1 + k]
               for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    lo, hi = np.minimum.reduce(corners), np.maximum.reduce(corners)
    nearest = np.minimum.reduce([np.abs(c) for c in corners])
    side = np.diff(coarse) * h
    diag = np.sqrt(side[:, None, None] ** 2 + side[None, :, None] ** 2 + side[None, None, :] ** 2)
    active = ((lo <= 0) & (hi >= 0)) | (nearest <= lipschitz * diag / 2)

    lower, other, weight = _node_maps(coarse, r)
    layers_per_slab = max(1, int(slab_nodes // (r * r)) - 1)
    verts_out: list[np.ndarray] = []
    faces_out: list[np.ndarray] = []
    offset = 0
    previous: np.ndarray | None = None
    n0 = 0
    while n0 < r - 1:
        n1 = min(r - 1, n0 + layers_per_slab)
        rows = np.arange(n0, n1 + 1)
        slab = _interpolate(values, lower, weight, rows)
        exact = _dilate(active, lower, other, rows)
        if previous is not None:
            slab[0] = previous
            exact[0] = False
        flat = np.flatnonzero(exact)
        for i in range(0, len(flat), eval_batch):
            idx = np.unravel_index(flat[i : i + eval_batch], slab.shape)
            pts = np.stack([axis[rows[idx[0]]], axis[idx[1]], axis[idx[2]]], axis=1).astype(np.float32)
            slab.reshape(-1)[flat[i : i + eval_batch]] = field(pts) - level
        evaluated += len(flat)
        if slab.min() < 0.0 < slab.max():
            v, f, _, _ = marching_cubes(slab, 0.0, allow_degenerate=False)
            v = v.astype(np.float64)
            v[:, 0] += n0  # node-index units: seam vertices of neighbouring slabs come out bit-identical
            verts_out.append(v)
            faces_out.append(f + offset)
            offset += len(v)
        previous = slab[-1].copy()
        del slab, exact, flat
        n0 = n1

    vertices, faces = _merge_seams(verts_out, faces_out)
    vertices = vertices * h - bound
    return MeshResult(vertices, faces, r, int(evaluated), time.perf_counter() - start, peak_rss_mb())


def _interpolate(values: np.ndarray, lower: np.ndarray, weight: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of the coarse grid at the fine nodes of `rows` × all × all (separable)."""
    out = values
    indices: tuple[np.ndarray | slice, ...] = (rows, slice(None), slice(None))
    for axis, index in enumerate(indices):
        lo, w = lower[index], weight[index]
        shape = [1, 1, 1]
        shape[axis] = -1
        w = w.reshape(shape)
        out = np.take(out, lo, axis=axis) * (1 - w) + np.take(out, lo + 1, axis=axis) * w
    return np.ascontiguousarray(out, dtype=np.float32)


def _dilate(active: np.ndarray, lower: np.ndarray, other: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Fine nodes of `rows` × all × all that touch an active block (separable OR over both touching blocks)."""
    out = active
    indices: tuple[np.ndarray | slice, ...] = (rows, slice(None), slice(None))
    for axis, index in enumerate(indices):
        out = np.take(out, lower[index], axis=axis) | np.take(out, other[index], axis=axis)
    return out


def _merge_seams(verts: list[np.ndarray], faces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Join the slabs' meshes: identical vertices (the seams) become one; faces that collapse are dropped."""
    if not verts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    unique, inverse = np.unique(np.concatenate(verts), axis=0, return_inverse=True)
    tri = inverse.reshape(-1)[np.concatenate(faces)]
    keep = (tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])
    return unique, tri[keep].astype(np.int64)


def drop_small_components(mesh: MeshResult, min_fraction: float) -> MeshResult:
    """`mesh` without the connected components (sharing vertices) that have fewer than `min_fraction` of the
    largest component's faces; `dropped_components` counts them. A network's zero level set can hold small
    detached specks in empty space: they add little area but dominate a Chamfer distance. 0 keeps all."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if min_fraction <= 0 or mesh.empty:
        return mesh
    f = mesh.faces
    n = len(mesh.vertices)
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    face_label = label[f[:, 0]]
    sizes = np.bincount(face_label, minlength=count)
    present = np.flatnonzero(sizes)
    kept = present[sizes[present] >= min_fraction * sizes.max()]
    faces = f[np.isin(face_label, kept)]
    used = np.unique(faces)
    remap = np.full(n, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return MeshResult(mesh.vertices[used], remap[faces], mesh.resolution, mesh.evaluated, mesh.seconds,
                      mesh.peak_rss_mb, mesh.dropped_components + int(len(present) - len(kept)))

