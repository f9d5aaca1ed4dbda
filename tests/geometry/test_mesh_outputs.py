"""`sirenkit mesh` outputs (issue 24): every surface format trimesh writes, vertex normals from the network's own
gradient, the sampled grid with its bounds, and the input's units unless --normalised."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

import sirenkit
from sirenkit.errors import UserError
from sirenkit.geometry.meshing import field_from_model, normals_from_model
from sirenkit.geometry.pointcloud import Normalisation
from sirenkit.runs.load import load_run

CENTRE, RADIUS = np.array([10.0, -5.0, 3.0]), 4.0


@pytest.fixture(scope="module")
def sphere_run(tmp_path_factory):
    """A short fit to a sphere of radius 4 around (10, −5, 3), given in memory: a normalisation far from the
    identity, so that units show."""
    rng = np.random.default_rng(0)
    normals = rng.normal(size=(4000, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    folder = tmp_path_factory.mktemp("mesh") / "run"
    sirenkit.fit("sdf", data=(CENTRE + RADIUS * normals, normals), out=str(folder), steps=30, batch_points=512,
                 hidden_features=32, first_omega_0=15.0, lr=1e-3, mesh_resolution=16, eval_samples=500,
                 compile="off", device="cpu", quiet=True, seed=0)
    model, record = load_run(folder, torch.device("cpu"))
    return folder, model, Normalisation.from_dict(record["signal"]["normalisation"])


def _angle_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance between matching rows of two sets of unit vectors (about the angle, in radians)."""
    return float(np.linalg.norm(a - b, axis=1).max())


@pytest.mark.parametrize("suffix, holds_normals", [(".ply", True), (".obj", True), (".glb", True),
                                                   (".stl", False), (".off", False)])
def test_every_format_round_trips_with_the_networks_normals(sphere_run, suffix, holds_normals, tmp_path):
    folder, model, norm = sphere_run
    path, result = sirenkit.mesh(folder, resolution=16, out=tmp_path / f"m{suffix}", device="cpu")
    loaded = trimesh.load(path, process=False)
    if isinstance(loaded, trimesh.Scene):  # GLB: the scene's one mesh (a forced merge would rebuild normals)
        (loaded,) = loaded.geometry.values()
    written = np.array(loaded.vertex_normals)  # before anything touches the arrays (trimesh may then rebuild it)
    expected = norm.from_unit(result.vertices)
    if suffix == ".stl":  # one vertex per triangle corner
        np.testing.assert_allclose(loaded.vertices, expected[result.faces].reshape(-1, 3), atol=1e-4 * RADIUS)
    else:
        np.testing.assert_allclose(loaded.vertices, expected, atol=1e-4 * RADIUS)
        np.testing.assert_array_equal(loaded.faces, result.faces)
    distance = np.linalg.norm(loaded.vertices - CENTRE, axis=1)
    assert abs(float(np.median(distance)) - RADIUS) < 0.3 * RADIUS  # the input's units, not [−1, 1]
    if holds_normals:
        truth = normals_from_model(model, torch.device("cpu"))(result.vertices)
        assert _angle_error(written, truth) < 1e-4
        faces = np.asarray(trimesh.Trimesh(loaded.vertices, loaded.faces, process=False).vertex_normals)
        assert _angle_error(faces, truth) > 1e-2  # the file's normals, not ones trimesh rebuilt from faces


def test_the_fits_own_mesh_has_the_gradient_normals(sphere_run):
    folder, model, norm = sphere_run
    loaded = trimesh.load(folder / "mesh.ply", process=False)
    written = np.array(loaded.vertex_normals)
    truth = normals_from_model(model, torch.device("cpu"))(norm.to_unit(np.array(loaded.vertices)))
    assert _angle_error(written, truth) < 1e-4


def test_normalised_keeps_the_networks_frame_and_the_grid_holds_its_values(sphere_run, tmp_path):
    folder, model, norm = sphere_run
    field = field_from_model(model, torch.device("cpu"))
    path, result = sirenkit.mesh(folder, resolution=16, out=tmp_path / "n.ply", device="cpu", normalised=True,
                                 grid=tmp_path / "g.npy")
    loaded = trimesh.load(path, process=False)
    np.testing.assert_allclose(loaded.vertices, result.vertices, atol=1e-6)
    assert np.abs(loaded.vertices).max() <= 1.0
    grid = np.load(tmp_path / "g.npy")
    info = json.loads((tmp_path / "g.npy.json").read_text())
    assert grid.shape == (16, 16, 16) == tuple(info["shape"]) and info["bounds"] == [[-1.0, 1.0]] * 3
    axis = np.linspace(-1, 1, 16)
    nodes = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    np.testing.assert_allclose(grid.reshape(-1), field(nodes), rtol=1e-6, atol=1e-7)

    sirenkit.mesh(folder, resolution=16, out=tmp_path / "u.ply", device="cpu", grid=tmp_path / "u.npy")
    in_units = np.load(tmp_path / "u.npy")
    bounds = np.array(json.loads((tmp_path / "u.npy.json").read_text())["bounds"])
    np.testing.assert_allclose(bounds[:, 0], norm.from_unit(-np.ones((1, 3)))[0])
    np.testing.assert_allclose(bounds[:, 1], norm.from_unit(np.ones((1, 3)))[0])
    np.testing.assert_allclose(in_units, grid / norm.scale, rtol=1e-6)  # distances in the input's units


def test_unknown_suffixes_are_refused_before_anything_is_written(sphere_run, tmp_path):
    folder, _, _ = sphere_run
    with pytest.raises(UserError, match=r"use a file name ending in \.ply, \.obj, \.stl, \.off, \.glb"):
        sirenkit.mesh(folder, resolution=16, out=tmp_path / "m.dae", device="cpu")
    with pytest.raises(UserError, match="--grid .*: use a file name ending in .npy"):
        sirenkit.mesh(folder, resolution=16, out=tmp_path / "m.ply", device="cpu", grid=tmp_path / "g.npz")
    assert list(tmp_path.iterdir()) == []
