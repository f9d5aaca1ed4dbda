"""`sirenkit.fit(task, data=…)`: signals handed over as arrays, fits held in memory (issue 23)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

import sirenkit
from sirenkit.errors import UserError

TINY = {"size": 0, "steps": 15, "hidden_features": 16, "hidden_layers": 1, "device": "cpu", "quiet": True,
        "seed": 3, "eval_every": 5}


def _pixels(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((12, 10, 3)) * 255).astype(np.uint8)


def test_an_image_in_memory_fits_as_the_same_image_from_a_file(tmp_path):
    pixels = _pixels()
    Image.fromarray(pixels).save(tmp_path / "im.png")
    from_file = sirenkit.fit("image", path=str(tmp_path / "im.png"), out=str(tmp_path / "file"), **TINY)
    from_memory = sirenkit.fit("image", data=pixels, out=str(tmp_path / "memory"), **TINY)
    as_tensor = sirenkit.fit("image", data=torch.from_numpy(pixels), **TINY)
    for key in ("psnr", "ssim"):
        assert from_memory.metrics[key] == pytest.approx(from_file.metrics[key], rel=1e-6)
        assert as_tensor.metrics[key] == pytest.approx(from_file.metrics[key], rel=1e-6)
    assert [r["metric"] for r in as_tensor.curve] == pytest.approx([r["metric"] for r in from_file.curve])


def test_without_out_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    floats = _pixels().astype(np.float32) / 255.0
    result = sirenkit.fit("image", data=floats, **TINY)
    assert result.out_dir is None and list(tmp_path.iterdir()) == []
    assert result.metrics["steps"] == TINY["steps"] and result.metrics["psnr"] > 5
    assert [r["step"] for r in result.curve] == [0, 5, 10, 15]
    assert isinstance(result.model, torch.nn.Module)


def test_the_run_folder_records_the_data_and_resume_needs_the_same(tmp_path):
    pixels, out = _pixels(), tmp_path / "run"
    sirenkit.fit("image", data=pixels, out=str(out), **TINY)
    recorded = json.loads((out / "config.json").read_text())["inputs"]["data"]
    assert recorded["source"] == "memory" and recorded["arrays"]["image"] == {"shape": [12, 10, 3], "dtype": "uint8"}
    assert len(recorded["sha256"]) == 64
    with pytest.raises(UserError, match="pass the same data= to resume"):
        sirenkit.fit("image", out=str(out), resume=True, **{**TINY, "steps": 20})
    other = pixels.copy()
    other[0, 0, 0] ^= 1  # one bit of one pixel
    with pytest.raises(UserError, match="is not the data the run"):
        sirenkit.fit("image", data=other, out=str(out), resume=True, **{**TINY, "steps": 20})
    with pytest.raises(UserError, match="is not the data the run"):
        sirenkit.fit("image", data=pixels[..., :1], out=str(out), resume=True, **{**TINY, "steps": 20})
    resumed = sirenkit.fit("image", data=pixels, out=str(out), resume=True, **{**TINY, "steps": 20})
    assert resumed.metrics["steps"] == 20


@pytest.mark.parametrize("data, message", [
    ([[0.1, 0.2], [0.3, 0.4]], "numpy array or a torch tensor, got list"),
    (np.full((4, 4), np.nan), "NaN or infinite"),
    (np.zeros((0, 4)), "is empty"),
    (np.zeros((2, 4, 4, 3)), "expected a single 2-D image"),
    (np.zeros((4, 4, 7)), "7 channels"),
    (np.array([["a", "b"], ["c", "d"]]), "give booleans, integers or floats"),
])
def test_bad_arrays_get_one_line(data, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=message):
        sirenkit.fit("image", data=data, **TINY)
    assert list(tmp_path.iterdir()) == []


def test_data_and_a_file_together_or_a_task_without_memory_data_are_refused(tmp_path):
    with pytest.raises(UserError, match="either as data= or as --path"):
        sirenkit.fit("image", data=_pixels(), path=str(tmp_path / "x.png"), **TINY)
    with pytest.raises(UserError, match="takes no in-memory data"):
        sirenkit.fit("helmholtz", data=_pixels(), device="cpu", quiet=True)
    with pytest.raises(UserError, match="resume needs the run folder"):
        sirenkit.fit("image", data=_pixels(), resume=True, **TINY)
    assert not os.path.exists(tmp_path / "x.png")


def test_audio_in_memory_fits_as_the_same_clip_from_a_file(tmp_path):
    import soundfile

    rng = np.random.default_rng(1)
    t = np.arange(2205) / 22050
    clip = (0.5 * np.sin(2 * np.pi * 440 * t)[:, None] + 0.05 * rng.standard_normal((2205, 2))).astype(np.float32)
    soundfile.write(tmp_path / "clip.wav", clip, 22050, subtype="FLOAT")
    options = {"steps": 10, "hidden_features": 16, "hidden_layers": 1, "device": "cpu", "quiet": True, "seed": 1,
               "start": 0.02, "duration": 0.05}
    from_file = sirenkit.fit("audio", path=str(tmp_path / "clip.wav"), out=str(tmp_path / "file"), **options)
    from_memory = sirenkit.fit("audio", data=(clip, 22050), **options)
    assert from_memory.metrics["mse"] == pytest.approx(from_file.metrics["mse"], rel=1e-6)
    as_dict = sirenkit.fit("audio", data={"samples": torch.from_numpy(clip), "rate": 22050}, **options)
    assert as_dict.metrics["mse"] == pytest.approx(from_file.metrics["mse"], rel=1e-6)
    pcm = sirenkit.fit("audio", data=((clip * 32767).astype(np.int16), 22050), **options)  # int16: full range
    assert pcm.metrics["mse"] == pytest.approx(from_file.metrics["mse"], rel=0.05)
    with pytest.raises(UserError, match="rate missing"):
        sirenkit.fit("audio", data=clip, **options)
    with pytest.raises(UserError, match="sample rate"):
        sirenkit.fit("audio", data=(clip, 0), **options)


def test_a_point_cloud_in_memory_fits_as_the_same_cloud_from_a_file(tmp_path):
    rng = np.random.default_rng(2)
    normals = rng.standard_normal((3000, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    points = 5.0 + 2.0 * normals  # a sphere of radius 2 about (5, 5, 5): normalised into the unit cube
    np.savetxt(tmp_path / "cloud.xyz", np.hstack([points, normals]), fmt="%.17g")
    options = {"steps": 10, "hidden_features": 16, "hidden_layers": 1, "batch_points": 256, "mesh_resolution": 0,
               "eval_samples": 500, "device": "cpu", "quiet": True, "compile": "off"}
    from_file = sirenkit.fit("sdf", path=str(tmp_path / "cloud.xyz"), out=str(tmp_path / "file"), **options)
    from_memory = sirenkit.fit("sdf", data=(points, normals), **options)
    for key in ("surface_distance", "normal_error_deg"):
        assert from_memory.metrics[key] == pytest.approx(from_file.metrics[key], rel=1e-6)
    estimated = sirenkit.fit("sdf", data=points.astype(np.float32), estimate_normals=True, **options)
    assert estimated.metrics["steps"] == 10
    with pytest.raises(UserError, match="normals missing|no normals"):
        sirenkit.fit("sdf", data=points, **options)
    with pytest.raises(UserError, match=r"expected \(N, 3\)"):
        sirenkit.fit("sdf", data=(points[:, :2], normals[:, :2]), **options)
    with pytest.raises(UserError, match="one per point"):
        sirenkit.fit("sdf", data=(points, normals[:10]), **options)


def test_video_in_memory_fits_as_the_same_frames_from_a_folder(tmp_path):
    from sirenkit.io.video import FOLDER_FPS

    frames = (np.random.default_rng(3).random((6, 16, 20, 3)) * 255).astype(np.uint8)
    (tmp_path / "frames").mkdir()
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / "frames" / f"{i:03d}.png")
    options = {"steps": 8, "hidden_features": 16, "hidden_layers": 1, "size": 0, "sample_frac": 0.5,
               "device": "cpu", "quiet": True, "start_frame": 1, "frames": 4}
    from_folder = sirenkit.fit("video", path=str(tmp_path / "frames"), out=str(tmp_path / "file"), **options)
    from_memory = sirenkit.fit("video", data=(frames, FOLDER_FPS), **options)
    assert from_memory.metrics["psnr_mean"] == pytest.approx(from_folder.metrics["psnr_mean"], rel=1e-6)
    floats = sirenkit.fit("video", data=(torch.from_numpy(frames).float() / 255, FOLDER_FPS), **options)
    assert floats.metrics["psnr_mean"] == pytest.approx(from_folder.metrics["psnr_mean"], rel=1e-6)
    with pytest.raises(UserError, match="must lie in \\[0, 1\\]"):
        sirenkit.fit("video", data=(frames.astype(np.float32), FOLDER_FPS), **options)
    with pytest.raises(UserError, match="frame rate"):
        sirenkit.fit("video", data=(frames, -1), **options)
    with pytest.raises(UserError, match="asks for more than the 6 frames"):
        sirenkit.fit("video", data=(frames, FOLDER_FPS), **{**options, "frames": 10})


@pytest.mark.parametrize("task, target", [("poisson-gradient", "gradient"), ("poisson-laplacian", "laplacian")])
def test_a_derivative_field_in_memory_fits_as_the_image_file_it_came_from(task, target, tmp_path):
    """The field the task computes from an image file (Sobel gradient, or the Laplacian filter), passed in memory
    with the image it belongs to, gives the same fit and metrics as the file."""
    from sirenkit.tasks import get_task

    grey = (np.random.default_rng(4).random((14, 12)) * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "im.png")
    options = {"size": 0, "steps": 12, "hidden_features": 16, "hidden_layers": 1, "device": "cpu", "quiet": True,
               "seed": 2, "derivatives": "autograd"}
    from_file = sirenkit.fit(task, path=str(tmp_path / "im.png"), out=str(tmp_path / "file"), **options)
    built = get_task(task)(get_task(task).Config(path=str(tmp_path / "im.png"), size=0), torch.device("cpu"))
    field = built.target.reshape(14, 12, *built.target.shape[1:]).numpy().astype(np.float64)
    with_field = sirenkit.fit(task, data={"image": grey, target: field.squeeze(2)}, **options)
    image_only = sirenkit.fit(task, data=grey, **options)
    for result in (with_field, image_only):
        for key in ("psnr", f"psnr_{target}"):
            assert result.metrics[key] == pytest.approx(from_file.metrics[key], rel=1e-5), key
    with pytest.raises(UserError, match="the image \\(14×12, 1 channel\\(s\\)\\) needs"):
        sirenkit.fit(task, data={"image": grey, target: field[:5]}, **options)
    with pytest.raises(UserError, match="pass size 0"):
        sirenkit.fit(task, data={"image": grey, target: field}, **{**options, "size": 8})


@pytest.mark.figures
@pytest.mark.parametrize("task, target", [("poisson-gradient", "gradient"), ("poisson-laplacian", "laplacian")])
def test_a_field_without_its_image_fits_from_memory_as_from_a_npy_file(task, target, tmp_path):
    """A derivative field alone (no image): in memory and from a .npy file (`--field`) the fits are the same, the
    headline is psnr_derivative, and the network is the one trained beside the image (the image only measures)."""
    rng = np.random.default_rng(5)
    grey = rng.random((14, 12))
    field = rng.normal(size=(14, 12, 2) if target == "gradient" else (14, 12))
    np.save(tmp_path / "field.npy", field)
    options = {"size": 0, "steps": 12, "hidden_features": 16, "hidden_layers": 1, "device": "cpu", "quiet": True,
               "seed": 2, "derivatives": "autograd", "eval_every": 6}
    memory = sirenkit.fit(task, data={target: field}, **options)
    from_file = sirenkit.fit(task, field=str(tmp_path / "field.npy"), out=str(tmp_path / "file"), **options)
    beside_image = sirenkit.fit(task, data={"image": grey, target: field}, **options)
    assert memory.metrics["metric"] == from_file.metrics["metric"] == "psnr_derivative"
    assert beside_image.metrics["metric"] == "psnr"
    for result in (from_file, beside_image):
        assert result.metrics["psnr_derivative"] == pytest.approx(memory.metrics["psnr_derivative"], rel=1e-6)
    assert [r["metric"] for r in memory.curve] == pytest.approx([r["metric"] for r in from_file.curve])
    assert [r["step"] for r in memory.curve if r["metric"] is not None] == [0, 6, 12]
    coords = torch.rand(50, 2) * 2 - 1
    torch.testing.assert_close(memory.model(coords), beside_image.model(coords))
    written = set(from_file.metrics["artefacts"])
    assert {"reconstruction.png", "reconstruction.npy", "comparison.png", f"fitted_{target}.npy"} <= written
    raw = np.load(tmp_path / "file" / "reconstruction.npy")
    assert raw.shape == (14, 12, 1)
    from sirenkit.grids import grid_coords

    expected = from_file.model(grid_coords((14, 12))).detach().numpy().reshape(14, 12, 1)
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-6)
    config = json.loads((tmp_path / "file" / "config.json").read_text())
    assert config["task"]["field"] == str(tmp_path / "field.npy") and config["task"]["path"] is None


@pytest.mark.parametrize("target, field, extra, message", [
    ("gradient", np.zeros((6, 6, 3)), {}, "a gradient field is \\(H, W, 2\\) or \\(H, W, C, 2\\)"),
    ("gradient", np.zeros((6, 6, 5, 2)), {}, "1 or 3 channels"),
    ("laplacian", np.zeros((6, 6, 3, 2)), {}, "a laplacian field is \\(H, W\\) or \\(H, W, C\\)"),
    ("laplacian", np.zeros((1, 6)), {}, "at least 2×2"),
    ("laplacian", np.zeros((6, 6)), {"grey": True}, "pass size 0"),
    ("gradient", np.full((6, 6, 2), np.inf), {}, "NaN or infinite"),
])
def test_a_bad_field_gets_one_line(target, field, extra, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    task = f"poisson-{target}"
    options = {"size": 0, "steps": 2, "device": "cpu", "quiet": True, **extra}
    with pytest.raises(UserError, match=message):
        sirenkit.fit(task, data={target: field}, **options)
    np.save(tmp_path / "f.npy", field)
    with pytest.raises(UserError, match=message):
        sirenkit.fit(task, field=str(tmp_path / "f.npy"), **options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npy"]


def test_a_field_file_that_is_not_one_npy_array_gets_one_line(tmp_path):
    options = {"size": 0, "steps": 2, "device": "cpu", "quiet": True}
    (tmp_path / "text.npy").write_text("not an array")
    np.savez(tmp_path / "two.npz", a=np.zeros((4, 4)), b=np.zeros((4, 4)))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    for name, message in [("text.npy", "is not a NumPy .npy array file"), ("two.npz", "is an .npz archive"),
                          ("objects.npy", "is not a NumPy .npy array file"), ("missing.npy", "does not exist")]:
        with pytest.raises(UserError, match=message):
            sirenkit.fit("poisson-laplacian", field=str(tmp_path / name), **options)
    with pytest.raises(UserError, match="give an image, a laplacian field, or both"):
        sirenkit.fit("poisson-laplacian", data={}, **options)
