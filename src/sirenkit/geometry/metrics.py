"""Mesh-to-mesh accuracy: Chamfer (L1, L2), normal consistency and F-score from surface samples.

Conventions (those of Occupancy Networks and most SDF papers): both meshes are put into the ground truth's
frame scaled so that its bounding box's longest side spans [−1, 1]; `samples` area-uniform points with face
normals are drawn on each; for every point the nearest point of the other set is found (scipy k-d tree).
chamfer_l1 = ½ (mean‖p − q‖ pred→gt + mean‖q − p‖ gt→pred), chamfer_l2 the same with squared distances,
normal_consistency = ½ (mean |n_p · n_q| both ways), fscore = 2PR/(P + R) with precision P (pred points
within `threshold` of gt) and recall R (gt points within `threshold` of pred).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pointcloud import Normalisation


def _sample(mesh: Any, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    points, face = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points), np.asarray(mesh.face_normals)[face]


def compare_meshes(pred: Any, gt: Any, samples: int = 1_000_000, threshold: float = 0.01,
                   seed: int = 0) -> dict[str, float]:
    """Accuracy of mesh `pred` against mesh `gt` (trimesh objects, same units); see the module docstring."""
    from scipy.spatial import cKDTree

    # the frame of the surface itself: vertices that no face uses (left in OBJ files) do not widen it
    norm = Normalisation.fit(np.asarray(gt.vertices)[np.unique(np.asarray(gt.faces))])
    p, pn = _sample(pred, samples, seed)
    g, gn = _sample(gt, samples, seed + 1)
    p, g = norm.to_unit(p), norm.to_unit(g)
    d_pg, i_pg = cKDTree(g).query(p, workers=-1)
    d_gp, i_gp = cKDTree(p).query(g, workers=-1)
    nc_pg = np.abs((pn * gn[i_pg]).sum(axis=1)).mean()
    nc_gp = np.abs((gn * pn[i_gp]).sum(axis=1)).mean()
    precision = float((d_pg < threshold).mean())
    recall = float((d_gp < threshold).mean())
    return {
        "chamfer_l1": float(0.5 * (d_pg.mean() + d_gp.mean())),
        "chamfer_l2": float(0.5 * ((d_pg**2).mean() + (d_gp**2).mean())),
        "normal_consistency": float(0.5 * (nc_pg + nc_gp)),
        "fscore": 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0,
        "fscore_precision": precision,  # not `precision`: a run's metrics.json uses that for its arithmetic
        "fscore_recall": recall,
        "fscore_threshold": threshold,
        "eval_samples": samples,
    }
