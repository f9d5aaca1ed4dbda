"""Analytic shapes with exact signed distance, normals and area-uniform surface samples (offline defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class AnalyticShape:
    """A closed surface in [−1, 1]³ known in closed form; negative distance inside."""

    name: str
    description: str

    def sdf(self, points: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def mesh(self) -> Any:  # pragma: no cover - abstract
        """A fine triangle mesh of the surface (ground truth for mesh metrics)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Sphere(AnalyticShape):
    radius: float = 0.6

    def sdf(self, points: np.ndarray) -> np.ndarray:
        return np.linalg.norm(points, axis=-1) - self.radius

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        normals = rng.normal(size=(count, 3))
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        return self.radius * normals, normals

    def mesh(self) -> Any:
        import trimesh

        return trimesh.creation.icosphere(subdivisions=6, radius=self.radius)


@dataclass(frozen=True)
class Torus(AnalyticShape):
    """Ring of tube radius `minor` around the z axis at distance `major` from it."""

    major: float = 0.55
    minor: float = 0.22

    def sdf(self, points: np.ndarray) -> np.ndarray:
        ring = np.hypot(points[..., 0], points[..., 1]) - self.major
        return np.hypot(ring, points[..., 2]) - self.minor

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        # Area element ∝ (major + minor·cos v): draw v by rejection so that samples are area-uniform.
        v = np.empty(0)
        while v.size < count:
            cand = rng.uniform(0, 2 * np.pi, size=2 * count)
            keep = rng.uniform(0, self.major + self.minor, size=cand.size) < self.major + self.minor * np.cos(cand)
            v = np.concatenate([v, cand[keep]])
        v = v[:count]
        u = rng.uniform(0, 2 * np.pi, size=count)
        normals = np.stack([np.cos(v) * np.cos(u), np.cos(v) * np.sin(u), np.sin(v)], axis=1)
        centre = np.stack([self.major * np.cos(u), self.major * np.sin(u), np.zeros(count)], axis=1)
        return centre + self.minor * normals, normals

    def mesh(self) -> Any:
        import trimesh

        return trimesh.creation.torus(self.major, self.minor, major_sections=384, minor_sections=192)


@dataclass(frozen=True)
class RoundedBox(AnalyticShape):
    """Box of half-extents `half` whose edges and corners are rounded with radius `radius` (the outer surface
    lies `radius` beyond the inner box): flat faces, and curvature 1/radius along edges and at corners, so a
    fit must place fine detail next to flat regions."""

    half: tuple[float, float, float] = (0.55, 0.35, 0.2)
    radius: float = 0.06

    def sdf(self, points: np.ndarray) -> np.ndarray:
        q = np.abs(points) - np.asarray(self.half)
        outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
        inside = np.minimum(q.max(axis=-1), 0.0)
        return outside + inside - self.radius

    def _pieces(self) -> list[tuple[str, int, float]]:
        """(kind, axis, area) of every surface piece: 6 faces, 12 quarter cylinders, 8 sphere octants."""
        h, r = np.asarray(self.half), self.radius
        pieces = []
        for axis in range(3):
            others = [i for i in range(3) if i != axis]
            face = 4 * h[others[0]] * h[others[1]]
            pieces += [("face", axis, face)] * 2
            pieces += [("edge", axis, 0.5 * np.pi * r * 2 * h[axis])] * 4  # edges running along `axis`
        pieces += [("corner", -1, 0.5 * np.pi * r * r)] * 8
        return pieces

    def sample(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        h, r = np.asarray(self.half), self.radius
        pieces = self._pieces()
        areas = np.array([area for _, _, area in pieces])
        which = rng.choice(len(pieces), size=count, p=areas / areas.sum())
        signs = rng.choice([-1.0, 1.0], size=(count, 3))
        normals = np.zeros((count, 3))
        inner = np.zeros((count, 3))  # the nearest point of the inner box
        for index, (kind, axis, _) in enumerate(pieces):
            rows = np.flatnonzero(which == index)
            if rows.size == 0:
                continue
            n = rows.size
            if kind == "face":
                inner[rows] = rng.uniform(-h, h, size=(n, 3))
                inner[rows, axis] = signs[rows, axis] * h[axis]
                normals[rows, axis] = signs[rows, axis]
            elif kind == "edge":
                inner[rows] = signs[rows] * h
                inner[rows, axis] = rng.uniform(-h[axis], h[axis], size=n)
                angle = rng.uniform(0.0, 0.5 * np.pi, size=n)
                a, b = [i for i in range(3) if i != axis]
                normals[rows, a] = signs[rows, a] * np.cos(angle)
                normals[rows, b] = signs[rows, b] * np.sin(angle)
            else:
                inner[rows] = signs[rows] * h
                direction = np.abs(rng.normal(size=(n, 3)))
                normals[rows] = signs[rows] * direction / np.linalg.norm(direction, axis=1, keepdims=True)
        return inner + r * normals, normals

    def mesh(self) -> Any:
        """Marching cubes of the exact distance on a 192³ grid (trimesh has no rounded box): its area is the
        closed form's to 0.1 % (tests/geometry/test_geometry.py)."""
        import trimesh
        from skimage.measure import marching_cubes

        extent = np.asarray(self.half) + self.radius + 0.02
        n = 192
        axes = [np.linspace(-e, e, n) for e in extent]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
        spacing = tuple(float(a[1] - a[0]) for a in axes)
        vertices, faces, _, _ = marching_cubes(self.sdf(grid), level=0.0, spacing=spacing)
        return trimesh.Trimesh(vertices - extent, faces, process=True)


SHAPES: dict[str, AnalyticShape] = {
    "torus": Torus("torus", "torus, ring radius 0.55, tube radius 0.22, around the z axis"),
    "sphere": Sphere("sphere", "sphere of radius 0.6 at the origin"),
    "rounded-box": RoundedBox("rounded-box", "box 1.1 × 0.7 × 0.4 plus 0.06, its edges and corners rounded with "
                                             "radius 0.06"),
}
