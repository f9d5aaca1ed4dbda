"""Point-cloud helpers: the normalising similarity transform and PCA normal estimation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np


@dataclass(frozen=True)
class Normalisation:
    """x_unit = (x − center) · scale: maps the shape's bounding box, centred, so that its longest side spans
    [−extent, extent] (aspect ratio kept). Stored in checkpoints so meshes go back to the input's units."""

    center: tuple[float, float, float]
    scale: float

    @classmethod
    def fit(cls, points: np.ndarray, extent: float = 1.0) -> Normalisation:
        lo, hi = points.min(axis=0), points.max(axis=0)
        longest = float((hi - lo).max())
        scale = 2.0 * extent / longest if longest > 0 else 1.0
        # points are (N, 3): three coordinates
        return cls(cast(tuple[float, float, float], tuple(float(c) for c in (lo + hi) / 2.0)), scale)

    def to_unit(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - np.asarray(self.center)) * self.scale

    def from_unit(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, np.float64) / self.scale + np.asarray(self.center)

    def as_dict(self) -> dict[str, Any]:
        return {"center": list(self.center), "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalisation:
        # a run's stored normalisation is checked (a list of 3 finite numbers) before it comes here
        return cls(cast(tuple[float, float, float], tuple(float(c) for c in data["center"])), float(data["scale"]))


def estimate_normals(points: np.ndarray, neighbours: int = 16) -> np.ndarray:
    """Unit normals from the smallest principal axis of each point's `neighbours` nearest points.

    PCA gives a direction up to sign; each normal is flipped to point away from the centroid, which orients
    star-shaped objects correctly. Deeply concave shapes may get some inward normals: prefer real normals.
    Repeated points (merged scans) are estimated once: copies of a point would fill its neighbourhood and
    leave no spread to take an axis from.
    """
    from scipy.spatial import cKDTree

    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    k = min(neighbours, len(unique))
    _, idx = cKDTree(unique).query(unique, k=k, workers=-1)
    neigh = unique[idx]  # (M, k, 3)
    centred = neigh - neigh.mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", centred, centred)
    _, vecs = np.linalg.eigh(cov)
    normals = vecs[:, :, 0]
    outward = unique - points.mean(axis=0)
    normals *= np.where((normals * outward).sum(axis=1) < 0, -1.0, 1.0)[:, None]
    return (normals / np.linalg.norm(normals, axis=1, keepdims=True))[inverse.reshape(-1)]
