"""Edge cases of the SDF inputs and outputs: binary PLY clouds, broken face indices, repeated points, meshes far
from the origin, unreferenced vertices in the ground truth and a NaN F-score threshold."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from sirenkit.commands.mesh import eval_mesh
from sirenkit.errors import UserError
from sirenkit.geometry import SHAPES
from sirenkit.geometry.metrics import compare_meshes
from sirenkit.geometry.pointcloud import estimate_normals
from sirenkit.io.meshes import load_mesh, load_surface, save_mesh


def test_binary_ply_point_cloud_keeps_its_normals(tmp_path):
    points, normals = SHAPES["sphere"].sample(200, np.random.default_rng(0))
    names = ("x", "y", "z", "nx", "ny", "nz")
    rows = np.zeros(len(points), dtype=[(c, "<f4") for c in names] + [("red", "u1")])
    for column, name in zip(np.hstack([points, normals]).T, names):
        rows[name] = column
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {len(points)}"]
    header += [f"property float {c}" for c in names] + ["property uchar red", "end_header"]
    path = tmp_path / "cloud.ply"
    path.write_bytes(("\n".join(header) + "\n").encode() + rows.tobytes())
    surface = load_surface(path, samples=10)
    assert surface.kind == "point cloud" and np.allclose(surface.normals, normals, atol=1e-6)


def test_ply_face_index_out_of_range_is_refused(tmp_path):
    path = tmp_path / "bad.ply"
    path.write_text("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
                    "element face 1\nproperty list uchar int vertex_indices\nend_header\n"
                    "0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n")
    for load in (lambda: load_surface(path, samples=10), lambda: load_mesh(path)):
        with pytest.raises(UserError, match="missing vertices"):
            load()


def test_cloud_of_one_repeated_point_is_refused(tmp_path):
    path = tmp_path / "one.xyz"
    np.savetxt(path, np.tile([[0.5, 0.5, 0.5, 0.0, 0.0, 1.0]], (40, 1)))
    with pytest.raises(UserError, match="1 distinct point"):
        load_surface(path, samples=10)


def test_estimated_normals_ignore_repeated_points():
    points, normals = SHAPES["sphere"].sample(1000, np.random.default_rng(0))
    estimated = estimate_normals(np.repeat(points, 16, axis=0))
    assert np.median((estimated * np.repeat(normals, 16, axis=0)).sum(axis=1)) > 0.99


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
@pytest.mark.parametrize("scale,offset", [(20.0, 5e6), (1e-6, 0.0)])
def test_saved_mesh_keeps_its_shape_far_from_the_origin_and_in_tiny_units(tmp_path, suffix, scale, offset):
    sphere = trimesh.creation.icosphere(2)
    vertices = sphere.vertices * scale + offset
    path = tmp_path / f"mesh{suffix}"
    save_mesh(path, vertices, sphere.faces)
    loaded = trimesh.load(path, process=False)
    assert np.abs(np.asarray(loaded.vertices) - vertices).max() < 1e-6 * 2 * scale


def test_unreferenced_ground_truth_vertices_do_not_change_the_frame():
    sphere = trimesh.creation.icosphere(3)
    stray = trimesh.Trimesh(np.vstack([sphere.vertices, [[50.0, 50.0, 50.0]]]), sphere.faces, process=False)
    assert compare_meshes(sphere, stray, 2000) == compare_meshes(sphere, sphere, 2000)


def test_eval_mesh_refuses_a_nan_threshold(tmp_path):
    path = tmp_path / "s.ply"
    trimesh.creation.icosphere(1).export(path)
    with pytest.raises(UserError, match="--threshold"):
        eval_mesh(path, path, samples=100, threshold=float("nan"))
