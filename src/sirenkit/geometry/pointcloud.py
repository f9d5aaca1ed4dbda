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
    """Unit normals from the smallest principal axis of each point's `neighbours` nearest points, oriented
    consistently over the surface by `orient_normals`.

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
    normals = vecs[:, :, 0] / np.linalg.norm(vecs[:, :, 0], axis=1, keepdims=True)
    return orient_normals(unique, normals, idx)[inverse.reshape(-1)]


def orient_normals(points: np.ndarray, normals: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """`normals` (M, 3), each known up to sign, flipped to agree across the surface: propagated along the minimum
    spanning tree of the k-nearest-neighbour graph (`neighbours`, (M, k) indices) weighted by 1 − |nᵢ·nⱼ|, so
    that orientation passes between nearly parallel normals first (Hoppe et al. 1992). Each connected part
    starts from its highest point, whose normal is made to point up (+z): outward for a closed surface. Unlike
    a flip away from the centroid, this holds for concave shapes and open scans."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

    m = len(points)
    if m < 2:
        return normals * np.where(normals[:, 2:3] < 0, -1.0, 1.0)
    rows = np.repeat(np.arange(m), neighbours.shape[1])
    cols = neighbours.reshape(-1)
    keep = rows != cols
    rows, cols = rows[keep], cols[keep]
    # 1e-6: a weight of exactly 0 (parallel normals) would read as no edge in a sparse matrix
    weight = 1.0 - np.abs((normals[rows] * normals[cols]).sum(axis=1)) + 1e-6
    graph = coo_matrix((weight, (rows, cols)), shape=(m, m)).tocsr()
    graph = graph.maximum(graph.T)  # symmetric: i near j or j near i
    tree = minimum_spanning_tree(graph)
    tree = tree + tree.T
    oriented = normals.copy()
    count, labels = connected_components(tree, directed=False)
    for part in range(count):
        members = np.flatnonzero(labels == part)
        seed = members[np.argmax(points[members, 2])]
        if oriented[seed, 2] < 0:
            oriented[seed] = -oriented[seed]
        order, parent = breadth_first_order(tree, seed, directed=False, return_predecessors=True)
        for node in order[1:]:
            if oriented[node] @ oriented[parent[node]] < 0:
                oriented[node] = -oriented[node]
    return oriented
