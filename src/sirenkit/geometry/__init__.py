"""Geometry for signed distance fields: normalisation, analytic shapes, meshing, mesh metrics and previews."""

from __future__ import annotations

from .meshing import MeshResult, extract_mesh
from .metrics import compare_meshes
from .pointcloud import Normalisation, estimate_normals
from .shapes import SHAPES, AnalyticShape

__all__ = ["SHAPES", "AnalyticShape", "MeshResult", "Normalisation", "compare_meshes", "estimate_normals",
           "extract_mesh"]
