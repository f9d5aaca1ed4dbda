"""`fit images`: a bank of networks trained together equals separate `fit image` runs; folders, refusals, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.cli import main
from sirenkit.models import ModelConfig
from sirenkit.models.bank import ModelBank

# fp32: there the batched fit equals the separate fits up to summation order (bf16 rounding would blur it; the
# bf16 case is checked on the PSNRs below).
COMMON = {"size": 24, "steps": 40, "lr": 1e-3, "schedule": "cosine", "hidden_features": 32, "batch_pixels": 256,
          "device": "cpu", "quiet": True, "clip_grad": 0.5, "eval_every": 20, "precision": "fp32"}


def _write_images(root: Path) -> list[Path]:
    """Four small images: two grey 20×20, one RGB 20×20 in a subfolder, one RGB 12×20."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:20, 0:20] / 19.0
    files = {
        "a.png": (255 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(4 * yy))).astype(np.uint8),
        "b.png": (255 * np.clip(xx * yy + 0.1 * rng.random((20, 20)), 0, 1)).astype(np.uint8),
        "sub/c.png": (255 * np.stack([xx, yy, 1 - xx], -1)).astype(np.uint8),
        "wide.png": (255 * np.stack([xx[:12], 1 - yy[:12], xx[:12] * yy[:12]], -1)).astype(np.uint8),
    }
    out = []
    for name, pixels in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, pixels)
        out.append(path)
    return out


@pytest.mark.parametrize("mode", ["vmap", "loop"])
@pytest.mark.parametrize("activation", ["sine", "relu-pe", "rbf-relu", "tanh", "wire", "grid"])
def test_bank_members_equal_separate_networks(activation, mode):
    torch.manual_seed(0)
    nets = [ModelConfig(activation=activation, hidden_features=16, hidden_layers=2).build(2, 3, 32) for _ in range(3)]
    if activation == "grid":
        for net in nets:
            torch.nn.init.normal_(net.values)
    bank = ModelBank(nets, mode=mode)
    x = torch.rand(3, 50, 2) * 2 - 1
    expected = torch.stack([net(x[i]) for i, net in enumerate(nets)])
    torch.testing.assert_close(bank(x), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bank(x[0])[1], nets[1](x[0]), rtol=1e-5, atol=1e-6)  # shared coordinates
    member = bank.member(2)
    assert type(member) is type(nets[2])
    torch.testing.assert_close(member(x[2]), nets[2](x[2]))
    assert sum(p.numel() for p in bank.parameters()) == 3 * sum(p.numel() for p in nets[0].parameters())
    assert set(bank.state_dict()) == {f"stacked.{k}" for k in nets[0].state_dict()}


def test_bank_refuses_mixed_architectures():
    with pytest.raises(ValueError, match="same architecture"):
        ModelBank([sirenkit.Siren(2, 1, 16, 1), sirenkit.Siren(2, 3, 16, 1)])


@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_per_member_clipping_equals_clipping_each_alone(mode):
    torch.manual_seed(1)
    nets = [sirenkit.Siren(2, 1, 16, 1) for _ in range(3)]
    bank = ModelBank(nets, mode=mode)
    x, y = torch.rand(3, 40, 2), torch.rand(3, 40, 1)
    ((bank(x) - y) ** 2).mean(dim=(1, 2)).sum().backward()
    norms = bank.clip_member_gradients_(0.05)
    for i, net in enumerate(nets):
        ((net(x[i]) - y[i]) ** 2).mean().backward()
        alone = torch.nn.utils.clip_grad_norm_(list(net.parameters()), 0.05)
        assert abs(float(alone) - float(norms[i])) <= 1e-5 * float(alone)
        for (name, p), q in zip(bank.stacked.named_parameters(), net.parameters()):
            torch.testing.assert_close(p.grad[i], q.grad, rtol=1e-4, atol=1e-7, msg=name)


@pytest.fixture(scope="module")
def folder_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    files = _write_images(root / "data")
    batched = sirenkit.fit("images", folder=str(root / "data"), out=str(root / "bank"), **COMMON)
    separate = {p: sirenkit.fit("image", path=str(p), out=str(root / f"one-{p.stem}"), **COMMON) for p in files}
    return root, files, batched, separate


def test_batched_fit_equals_separate_fits(folder_runs):
    """Same seed, same pixels, own loss, own clipping: every member ends where its separate fit ends."""
    root, files, batched, separate = folder_runs
    names = {"a.png": "a", "b.png": "b", "c.png": "sub__c", "wide.png": "wide"}
    assert sorted(batched.metrics["per_image"]) == sorted(names.values())
    for path, alone in separate.items():
        name = names[path.name]
        member, record = sirenkit.load_run(root / "bank" / "images" / name)
        assert record["task"] == "image"
        for (key, a), b in zip(member.state_dict().items(), alone.model.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=f"{name} {key}")
        assert abs(batched.metrics["per_image"][name]["psnr"] - alone.metrics["psnr"]) < 1e-3
    assert batched.metrics["psnr"] == pytest.approx(np.mean([r.metrics["psnr"] for r in separate.values()]), abs=1e-3)


def test_batched_fit_in_bf16_matches_separate_fits(folder_runs, tmp_path):
    """With bf16 hidden-layer matmuls the bank is still trained as its members alone: PSNRs within 0.1 dB."""
    root, files, _, _ = folder_runs
    options = {**COMMON, "precision": "bf16"}
    batched = sirenkit.fit("images", folder=str(root / "data"), out=str(tmp_path / "bank"), **options)
    assert batched.metrics["precision"] == "bf16"
    for path in files[:2]:
        alone = sirenkit.fit("image", path=str(path), out=str(tmp_path / path.stem), **options)
        name = {"a.png": "a", "b.png": "b"}[path.name]
        assert abs(batched.metrics["per_image"][name]["psnr"] - alone.metrics["psnr"]) < 0.1


@pytest.mark.figures
def test_batched_run_folder(folder_runs, tmp_path):
    root, _, batched, _ = folder_runs
    run = root / "bank"
    for name in ("config.json", "metrics.json", "curve.csv", "checkpoint.safetensors", "overview.png",
                 "psnr_curve.png"):
        assert (run / name).is_file(), name
    assert batched.metrics["images"] == 4 and batched.metrics["psnr_min"] <= batched.metrics["psnr"]
    # The whole bank reloads from its checkpoint; every image folder is a complete `fit image` run.
    bank, record = sirenkit.load_run(run)
    assert record["task"] == "images" and len(bank.banks) == 3  # grey 20², RGB 20², RGB 12×20
    member_dir = run / "images" / "wide"
    png = Path(sirenkit.render(member_dir, size=40, out=tmp_path / "wide.png"))
    assert iio.imread(png).shape == (23, 40, 3)  # 12×20 fitted at 14×24
    cfg = json.loads((member_dir / "config.json").read_text())
    assert cfg["task_name"] == "image" and cfg["task"]["path"].endswith("wide.png")
    rerun = sirenkit.fit("image", config=str(member_dir / "config.json"), out=str(tmp_path / "rerun"), quiet=True)
    assert rerun.metrics["psnr"] == pytest.approx(batched.metrics["per_image"]["wide"]["psnr"], abs=1e-3)


def test_render_of_the_bank_points_to_an_image_folder(folder_runs, capsys):
    root, *_ = folder_runs
    assert main(["render", str(root / "bank")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RUN/images/a" in err[0]


def test_resume_is_exact(tmp_path):
    options = {**COMMON, "folder": None, "max_images": 3, "size": 16, "steps": 20, "schedule": "constant"}
    whole = sirenkit.fit("images", out=str(tmp_path / "whole"), **options)
    sirenkit.fit("images", out=str(tmp_path / "part"), **{**options, "steps": 10})
    resumed = sirenkit.fit("images", out=str(tmp_path / "part"), resume=True, quiet=True, steps=20)
    for a, b in zip(whole.model.state_dict().values(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def _folder_with(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir()
    (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: _write_images(root)[0], "is a file"),
    (lambda root: (root / "empty").mkdir() or root / "empty", "holds no PNG"),
    (lambda root: _folder_with(root / "bad", "x.png", b"not a png"), "could not read image"),
], ids=["missing", "file", "empty", "corrupt"])
def test_bad_folders_are_refused_cleanly(tmp_path, capsys, make, message):
    target = make(tmp_path)
    out = tmp_path / "run"
    assert main(["fit", "images", str(target), "--out", str(out), "--steps", "2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and not out.exists()


WORKER = Path(__file__).with_name("images_ddp_worker.py")


def test_torchrun_two_processes_match_one_process(tmp_path):
    """Each of 2 gloo ranks takes half of every image's pixel draw; DDP averages: one process's training."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parents[2]),
           "TMPDIR": str(tmp_path)}  # torchrun's own folders go there, not to /tmp
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(WORKER), str(tmp_path / "ddp")], capture_output=True, text=True, timeout=240,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from .images_ddp_worker import OPTIONS

    single = sirenkit.fit("images", out=str(tmp_path / "single"), **OPTIONS)
    model, _ = sirenkit.load_run(tmp_path / "ddp")
    for (name, a), b in zip(model.state_dict().items(), single.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4, msg=name)
    assert sorted(p.name for p in (tmp_path / "ddp" / "images").iterdir()) == ["astronaut", "camera"]


def test_export_and_compress_point_to_an_image_folder(folder_runs, capsys):
    root, *_ = folder_runs
    for command in ("export", "compress"):
        assert main([command, str(root / "bank")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"sirenkit {command} {root / 'bank' / 'images' / 'a'}" in err[0]
    assert main(["compress", str(root / "bank" / "images" / "b"), "--bits", "16"]) == 0
    assert (root / "bank" / "images" / "b" / "compressed-16bit.png").is_file()
