"""Pictures of a signed distance field: a shaded render of its mesh and slices with the zero level marked.

The render splats dense area-uniform surface samples through a z-buffer (orthographic, three views) and
shades them by their face normals — no OpenGL, so it works headless and fast at any mesh size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots import draws_figure, new_figure, save_figure
from .meshing import Field
from .pointcloud import Normalisation

_VIEWS = {  # view name → rotation taking world coordinates to (right, up, towards the viewer)
    "seen from −y": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=float),
    "seen from +x": np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], dtype=float),
    "seen from +z": np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float),
}


def _splat(points: np.ndarray, normals: np.ndarray, rot: np.ndarray, size: int) -> np.ndarray:
    p, n = points @ rot.T, normals @ rot.T
    lo, hi = p[:, :2].min(axis=0), p[:, :2].max(axis=0)
    span = float((hi - lo).max()) * 1.05 or 1.0
    centre = (lo + hi) / 2
    pix = np.clip(((p[:, :2] - centre) / span + 0.5) * (size - 1), 0, size - 1).round().astype(np.int64)
    flat = (size - 1 - pix[:, 1]) * size + pix[:, 0]
    order = np.lexsort((-p[:, 2], flat))  # per pixel, nearest sample first
    first = order[np.unique(flat[order], return_index=True)[1]]
    light = np.array([-0.4, 0.5, 0.77])
    shade = 0.15 + 0.85 * np.clip(np.abs(n[first] @ (light / np.linalg.norm(light))), 0, 1)
    image: np.ndarray = np.full(size * size, np.nan)  # flat, then (size, size)
    image[flat[first]] = shade
    image = image.reshape(size, size)
    holes = np.isnan(image)
    if holes.any():  # close pinholes between samples from their neighbours
        from scipy import ndimage

        filled = ndimage.maximum_filter(np.nan_to_num(image, nan=-1.0), size=3)
        inside = ndimage.binary_closing(~holes, iterations=2)
        image = np.where(holes & inside & (filled >= 0), filled, image)
    from scipy import ndimage

    smooth = ndimage.median_filter(np.nan_to_num(image, nan=0.0), size=3)  # removes single-sample speckle
    return np.where(np.isnan(image), np.nan, smooth)


@draws_figure
def render_mesh(vertices: np.ndarray, faces: np.ndarray, path: str | Path, title: str = "",
                size: int = 400, samples: int = 1_000_000, seed: int = 0) -> None:
    """Three shaded orthographic views of a triangle mesh as one PNG."""
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    points, face = trimesh.sample.sample_surface(mesh, samples, seed=seed)
    normals = np.asarray(mesh.face_normals)[face]
    fig = new_figure(3.3 * len(_VIEWS), 3.6)
    for ax, (name, rot) in zip(fig.subplots(1, len(_VIEWS)), _VIEWS.items()):
        ax.imshow(_splat(np.asarray(points), normals, rot, size), cmap="bone", vmin=0, vmax=1.1)
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


@draws_figure
def slice_plot(field: Field, path: str | Path, size: int = 256, bound: float = 1.0, title: str = "",
               frame: Normalisation | None = None) -> None:
    """The field on the three coordinate planes through the centre (diverging colours, zero level in black).
    With `frame` (the fit's normalisation) the axes and Φ are in the input's own units; without it, in the
    normalised [−1, 1]³ frame the network sees."""
    axis = np.linspace(-bound, bound, size)
    a, b = np.meshgrid(axis, axis, indexing="xy")
    zero = np.zeros_like(a)
    planes = {0: (zero, a, b), 1: (a, zero, b), 2: (a, b, zero)}
    across = {0: (1, 2), 1: (0, 2), 2: (0, 1)}
    values = {k: field(np.stack([c.ravel() for c in v], axis=1).astype(np.float32)).reshape(size, size)
              for k, v in planes.items()}
    units = "normalised units" if frame is None else "input units"
    frame = frame or Normalisation((0.0, 0.0, 0.0), 1.0)
    lo, hi = frame.from_unit(np.array([[-bound] * 3, [bound] * 3]))
    values = {k: v / frame.scale for k, v in values.items()}  # a distance of d normalised units is d / scale
    limit = max(float(np.percentile(np.abs(np.concatenate([v.ravel() for v in values.values()])), 99)), 1e-30)
    fig = new_figure(3.4 * len(planes), 3.4)
    names = "xyz"
    for ax, (k, v) in zip(fig.subplots(1, len(planes)), values.items()):
        i, j = across[k]
        shown = ax.imshow(v, origin="lower", extent=(lo[i], hi[i], lo[j], hi[j]), cmap="RdBu_r", vmin=-limit,
                          vmax=limit)
        grid_i, grid_j = np.linspace(lo[i], hi[i], size), np.linspace(lo[j], hi[j], size)
        ax.contour(grid_i, grid_j, v, levels=np.linspace(-limit, limit, 17), colors="k", linewidths=0.3, alpha=0.4)
        ax.contour(grid_i, grid_j, v, levels=[0.0], colors="k", linewidths=1.4)
        ax.set_title(f"{names[k]} = {frame.center[k]:.4g}", fontsize=9)
        ax.set_xlabel(f"{names[i]} ({units})", fontsize=8)
        ax.set_ylabel(f"{names[j]} ({units})", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.colorbar(shown, ax=fig.axes, shrink=0.8, label=f"signed distance Φ ({units})")
    if title:
        fig.suptitle(title, fontsize=10)
    save_figure(fig, path)
