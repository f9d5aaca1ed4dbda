"""SDF fitting: loaders of every format, the loss, a fitted sphere, `sirenkit mesh` and `sirenkit eval-mesh`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

import sirenkit
from sirenkit.errors import UserError
from sirenkit.geometry import SHAPES
from sirenkit.io.meshes import load_mesh, load_surface
from sirenkit.tasks.sdf import SdfConfig, sdf_loss
from tests.conftest import run_cli


def _write_xyz(path, points, normals=None):
    data = points if normals is None else np.hstack([points, normals])
    np.savetxt(path, data)
    return path


def _write_ply_points(path, points, normals):
    header = ["ply", "format ascii 1.0", f"element vertex {len(points)}"]
    header += [f"property float {c}" for c in ("x", "y", "z", "nx", "ny", "nz")] + ["end_header"]
    rows = [" ".join(f"{v:.9g}" for v in row) for row in np.hstack([points, normals])]
    path.write_text("\n".join(header + rows) + "\n")
    return path


@pytest.fixture
def sphere_points():
    return SHAPES["sphere"].sample(500, np.random.default_rng(0))


def test_xyz_and_ply_point_clouds_load_with_unit_normals(tmp_path, sphere_points):
    points, normals = sphere_points
    files = (_write_xyz(tmp_path / "s.xyz", points, 3 * normals),
             _write_ply_points(tmp_path / "s.ply", points, normals))
    for path in files:
        surface = load_surface(path, samples=100)
        assert surface.kind == "point cloud" and len(surface.points) == 500
        assert np.allclose(surface.points, points, atol=1e-6)
        assert np.allclose(surface.normals, normals, atol=1e-6)


@pytest.mark.parametrize("suffix", [".ply", ".obj", ".off", ".stl"])
def test_meshes_of_every_format_are_sampled_with_face_normals(tmp_path, suffix):
    mesh = trimesh.creation.box(extents=(2.0, 1.0, 0.5))
    path = tmp_path / f"box{suffix}"
    mesh.export(path)
    surface = load_surface(path, samples=2000, seed=1)
    assert surface.kind == "mesh" and surface.points.shape == (2000, 3)
    assert np.allclose(np.abs(surface.normals).max(axis=1), 1.0)  # box faces: axis-aligned unit normals
    assert np.abs(surface.points).max(axis=0) == pytest.approx([1.0, 0.5, 0.25], abs=1e-9)
    assert load_mesh(path).is_watertight


def test_point_cloud_without_normals_needs_estimation(tmp_path, sphere_points):
    path = _write_xyz(tmp_path / "bare.xyz", sphere_points[0])
    with pytest.raises(UserError, match="no normals"):
        load_surface(path, samples=10)
    surface = load_surface(path, samples=10, estimate=True)
    assert np.median((surface.normals * sphere_points[1]).sum(axis=1)) > 0.95


@pytest.mark.parametrize("case,content,message", [
    ("empty", "", "empty"),
    ("text", "hello world\nfoo bar\n", "not a table of numbers"),
    ("columns", "1 2 3 4\n5 6 7 8\n", "rows have 4 numbers"),
    ("nan", "\n".join(["nan 0 0 1 0 0"] + ["0 0 0 1 0 0"] * 20), "NaN"),
    ("zeros", "\n".join(["0 0 0 0 0 0"] * 20), "zero-length"),
    ("few", "0 0 0 1 0 0\n1 1 1 0 1 0\n", "at least 16"),
])
def test_bad_point_clouds_are_refused(tmp_path, case, content, message):
    path = tmp_path / f"{case}.xyz"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        load_surface(path, samples=10)


def test_bad_mesh_inputs_are_refused(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_surface(tmp_path / "missing.ply", samples=10)
    (tmp_path / "shape.vtk").write_text("x")
    with pytest.raises(UserError, match="unknown format"):
        load_surface(tmp_path / "shape.vtk", samples=10)
    (tmp_path / "junk.stl").write_bytes(b"\x00\x01garbage" * 3)
    with pytest.raises(UserError):
        load_mesh(tmp_path / "junk.stl")
    with pytest.raises(UserError, match="point cloud"):
        load_mesh(_write_xyz(tmp_path / "p.xyz", np.zeros((20, 3)), np.ones((20, 3))))


def test_sdf_loss_of_the_exact_distance_is_near_its_floor():
    """Φ = ‖x‖ − r on a sphere: zero surface, normal and eikonal terms; only the off-surface exp term remains."""
    points, normals = SHAPES["sphere"].sample(256, np.random.default_rng(0))
    off = np.random.default_rng(1).uniform(-1, 1, size=(256, 3))
    x = torch.tensor(np.vstack([points, off]), dtype=torch.float64)
    phi = x.norm(dim=-1) - 0.6
    grad = x / x.norm(dim=-1, keepdim=True)
    terms = sdf_loss(phi, grad, torch.tensor(normals), SdfConfig())
    assert float(terms["surface"]) < 1e-9 and float(terms["normal"]) < 1e-9 and float(terms["eikonal"]) < 1e-9
    expected = 1e2 * torch.exp(-100 * phi[256:].abs()).sum() / 512
    assert float(terms["off_surface"]) == pytest.approx(float(expected))


@pytest.mark.figures
@pytest.mark.slow
def test_fitted_sphere_is_close_to_the_true_distance_and_meshes(tmp_path):
    # 300 eager steps (the compiled loss costs about 5 s to build): surface distance 5.4e-4, normal error 0.88°,
    # sdf error 1.8e-3 measured (500 steps: 4.4e-4, 0.75°, 1.7e-3)
    result = sirenkit.fit("sdf", shape="sphere", batch_points=1024, surface_samples=8000, steps=300, lr=1e-4,
                          hidden_features=64, first_omega_0=15.0, mesh_resolution=48, eval_samples=20_000,
                          compile="off", out=str(tmp_path / "run"), device="cpu", quiet=True)
    m = result.metrics
    assert m["surface_distance"] < 1.5e-3 and m["normal_error_deg"] < 3.0
    assert m["sdf_error"] < 0.01  # mean |Φ − true distance| within 0.05 of the surface
    # The F-score's parts keep their own keys: `precision` is the run's arithmetic (fp32, bf16-backward, …).
    p, r = m["fscore_precision"], m["fscore_recall"]
    assert 0 < p <= 1 and 0 < r <= 1 and m["fscore"] == pytest.approx(2 * p * r / (p + r)), m
    assert m["precision"] in ("fp32", "bf16-backward")
    mesh = trimesh.load(tmp_path / "run" / "mesh.ply")
    assert len(mesh.faces) > 1000 and (tmp_path / "run" / "mesh_preview.png").stat().st_size > 0

    out = tmp_path / "again.obj"
    proc = run_cli("mesh", str(tmp_path / "run"), "--resolution", "40", "--out", str(out), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "peak resident memory" in proc.stdout and out.is_file()
    gt = tmp_path / "gt.ply"
    SHAPES["sphere"].mesh().export(gt)
    proc = run_cli("eval-mesh", str(out), str(gt), "--samples", "20000", "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert set(metrics) >= {"chamfer_l1", "chamfer_l2", "normal_consistency", "fscore"}


def test_mesh_and_eval_mesh_refuse_bad_input(tmp_path):
    proc = run_cli("mesh", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_cli("eval-mesh", str(tmp_path / "a.ply"), str(tmp_path / "b.ply"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = run_cli("fit", "sdf", str(tmp_path / "missing.xyz"), "--out", str(tmp_path / "run"))
    assert proc.returncode == 2 and not (tmp_path / "run").exists()


def test_fit_sdf_can_drop_small_mesh_parts(tmp_path):
    result = sirenkit.fit("sdf", shape="sphere", batch_points=256, surface_samples=2000, steps=20, lr=1e-4,
                          hidden_features=32, mesh_resolution=24, mesh_min_component=0.01, eval_samples=5000,
                          compile="off", out=str(tmp_path / "run"), device="cpu", quiet=True)
    m = result.metrics
    assert isinstance(m["mesh_components_dropped"], int) and m["mesh_components_dropped"] >= 0
    mesh = trimesh.load(tmp_path / "run" / "mesh.ply")
    assert len(mesh.faces) == m["mesh_faces"] > 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"]["mesh_min_component"] == 0.01


def test_a_fit_without_a_zero_level_set_says_so(tmp_path, monkeypatch, capsys):
    """No surface to mesh: the run still finishes (its metrics say mesh_faces 0), with one warning line."""
    from sirenkit.geometry.meshing import MeshResult

    def nothing(field, resolution, **kwargs):
        return MeshResult(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), resolution, 0, 0.0, 0.0)

    monkeypatch.setattr("sirenkit.tasks.sdf.extract_mesh", nothing)
    result = sirenkit.fit("sdf", shape="sphere", batch_points=256, surface_samples=500, steps=2, hidden_features=16,
                          mesh_resolution=16, eval_samples=500, compile="off", device="cpu", quiet=True,
                          out=str(tmp_path / "run"))
    assert result.metrics["mesh_faces"] == 0 and not (tmp_path / "run" / "mesh.ply").exists()
    assert "no zero level set" in capsys.readouterr().err
