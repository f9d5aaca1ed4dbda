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


SHAPES: dict[str, AnalyticShape] = {
    "torus": Torus("torus", "torus, ring radius 0.55, tube radius 0.22, around the z axis"),
    "sphere": Sphere("sphere", "sphere of radius 0.6 at the origin"),
}
