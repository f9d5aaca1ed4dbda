"""Meshing, mesh metrics, normalisation, normal estimation and analytic shapes."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from sirenkit.geometry import SHAPES, Normalisation, compare_meshes, estimate_normals, extract_mesh
from sirenkit.geometry.meshing import drop_small_components


def _exact(shape):
    return lambda p: shape.sdf(p.astype(np.float64)).astype(np.float32)


@pytest.mark.parametrize("slab_nodes", [1 << 24, 64 * 64 * 5])
def test_marching_cubes_sphere_is_watertight_and_accurate(slab_nodes):
    sphere = SHAPES["sphere"]
    result = extract_mesh(_exact(sphere), 64, slab_nodes=slab_nodes)
    mesh = trimesh.Trimesh(result.vertices, result.faces, process=False)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.euler_number == 2
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=2e-3)  # positive: normals point outwards
    assert np.abs(sphere.sdf(result.vertices)).max() < 1e-3


def test_sparse_evaluation_matches_dense_and_skips_empty_space():
    torus = SHAPES["torus"]
    sparse = extract_mesh(_exact(torus), 96, slab_nodes=96 * 96 * 9)
    dense = extract_mesh(_exact(torus), 96, lipschitz=1e9)  # every block active: a plain dense grid
    assert sparse.evaluated < 0.6 * 96**3
    assert np.array_equal(sparse.faces.shape, dense.faces.shape)
    assert np.allclose(np.sort(sparse.vertices, axis=0), np.sort(dense.vertices, axis=0), atol=1e-6)
    mesh = trimesh.Trimesh(sparse.vertices, sparse.faces, process=False)
    assert mesh.is_watertight and mesh.euler_number == 0  # genus one


def test_small_detached_parts_are_dropped_on_request():
    """A sphere with a speck beside it: the speck costs the Chamfer distance a lot; min_fraction removes it."""
    sphere = SHAPES["sphere"]

    def with_speck(p):
        speck = np.linalg.norm(p - np.array([0.9, 0.9, 0.9]), axis=-1) - 0.04
        return np.minimum(sphere.sdf(p.astype(np.float64)), speck).astype(np.float32)

    full = extract_mesh(with_speck, 64)
    assert drop_small_components(full, 0.0) is full  # 0 keeps everything
    clean = drop_small_components(full, 0.01)
    assert clean.dropped_components == 1 and 0 < len(clean.faces) < len(full.faces)
    assert np.abs(sphere.sdf(clean.vertices)).max() < 1e-3  # only the sphere is left, every vertex used
    assert len(np.unique(clean.faces)) == len(clean.vertices)
    mesh = trimesh.Trimesh(clean.vertices, clean.faces, process=False)
    assert mesh.is_watertight and mesh.euler_number == 2
    gt = trimesh.Trimesh(*sphere_mesh(sphere), process=False)
    raw = compare_meshes(trimesh.Trimesh(full.vertices, full.faces, process=False), gt, 50_000, 0.01)
    cleaned = compare_meshes(mesh, gt, 50_000, 0.01)
    # The speck is far from the sphere: it moves chamfer_l2 most (50,000 samples set a floor on chamfer_l1).
    assert cleaned["chamfer_l2"] < 0.2 * raw["chamfer_l2"] and cleaned["chamfer_l1"] < 0.9 * raw["chamfer_l1"]
    assert drop_small_components(full, 0.99).dropped_components == 1  # the largest part always stays


def sphere_mesh(shape):
    m = shape.mesh()
    return m.vertices, m.faces


def test_empty_field_gives_empty_mesh():
    result = extract_mesh(lambda p: np.ones(len(p), np.float32), 16)
    assert result.empty and result.vertices.shape == (0, 3)


def test_chamfer_of_mesh_with_itself_and_shifted_copy():
    mesh = trimesh.creation.icosphere(4, radius=1.0)  # scaled into [−1, 1]³ it is unchanged
    same = compare_meshes(mesh, mesh, samples=100_000, threshold=0.05)
    assert same["chamfer_l1"] < 6e-3  # the sampling floor at 1e5 samples
    assert same["normal_consistency"] > 0.99 and same["fscore"] > 0.99
    shift = 0.1
    moved = mesh.copy()
    moved.apply_translation([shift, 0, 0])
    shifted = compare_meshes(moved, mesh, samples=100_000, threshold=0.05)
    # A sphere shifted by s along x: mean distance to the other sphere is about s·E|cos θ| = s/2 per direction.
    assert shifted["chamfer_l1"] == pytest.approx(shift / 2, rel=0.1)
    # |s·cos θ| < 0.05 for cos θ uniform in [−1, 1]: half of the points on each side are within the threshold.
    assert shifted["fscore"] == pytest.approx(0.5, abs=0.05)


def test_normalisation_round_trip_keeps_aspect_ratio():
    rng = np.random.default_rng(0)
    points = rng.uniform([-3, 10, 0], [5, 12, 1], size=(500, 3))
    norm = Normalisation.fit(points, 0.9)
    unit = norm.to_unit(points)
    assert unit.min() >= -0.9 - 1e-12 and unit.max() <= 0.9 + 1e-12
    assert np.ptp(unit[:, 0]) == pytest.approx(1.8)
    assert np.ptp(unit[:, 1]) / np.ptp(unit[:, 0]) == pytest.approx(np.ptp(points[:, 1]) / np.ptp(points[:, 0]))
    assert np.allclose(norm.from_unit(unit), points, atol=1e-12)
    assert Normalisation.from_dict(norm.as_dict()) == norm


def test_estimated_normals_of_a_sphere_point_outwards():
    points, normals = SHAPES["sphere"].sample(3000, np.random.default_rng(0))
    est = estimate_normals(points)
    assert np.median((est * normals).sum(axis=1)) > 0.99


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_analytic_shapes_sample_their_surface_with_exact_normals(name):
    shape = SHAPES[name]
    points, normals = shape.sample(2000, np.random.default_rng(0))
    assert np.abs(shape.sdf(points)).max() < 1e-12
    eps = 1e-6
    slope = (shape.sdf(points + eps * normals) - shape.sdf(points - eps * normals)) / (2 * eps)
    assert np.allclose(slope, 1.0, atol=1e-6)
    assert shape.mesh().is_watertight


def test_rounded_box_samples_are_area_uniform_and_its_mesh_has_its_area():
    """Faces, edges and corners get samples in proportion to their area (a wrong weight would put too many on
    the rounded edges), and the marching-cubes mesh has the closed-form area."""
    box = SHAPES["rounded-box"]
    points, normals = box.sample(200_000, np.random.default_rng(1))
    on_face = (np.abs(normals) > 1 - 1e-12).any(axis=1)
    h, r = np.asarray(box.half), box.radius
    faces = 8 * (h[0] * h[1] + h[1] * h[2] + h[0] * h[2])
    total = faces + 2 * np.pi * r * h.sum() * 2 + 4 * np.pi * r * r
    assert on_face.mean() == pytest.approx(faces / total, abs=0.005)
    assert box.mesh().area == pytest.approx(total, rel=1e-3)
