"""`sirenkit meta train / eval / inpaint` end to end on the offline default set, with tiny networks."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.cli import main
from sirenkit.meta import MetaSiren
from sirenkit.train.checkpoint import load_checkpoint

TINY = {"latent_features": 32, "encoder_hidden_features": 32, "hyper_hidden_features": 32, "hidden_features": 32,
        "hidden_layers": 1, "batch_size": 16, "target_pixels": 128, "encoder_activation": "relu", "lr": 3e-3,
        "schedule": "cosine", "device": "cpu", "quiet": True}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short set-encoder run at 32² (the size of the paper's metrics): 300 steps, ≈ 10 s on one core."""
    out = tmp_path_factory.mktemp("meta") / "run"
    return sirenkit.fit("meta", out=str(out), steps=300, eval_every=150, eval_images=200, **TINY)


def test_more_context_gives_lower_error(run):
    m = run.metrics
    assert m["mse_10"] > m["mse_100"] > m["mse_1000"], m
    # below predicting each image's mean context colour (0.0302 at 100 pixels) by a margin: measured 0.0282 (lr 3e-3,
    # contexts of 10 to every pixel); the encoders' own ordering tests are in tests/test_meta_context.py
    assert m["mse_100"] < 0.0295


@pytest.mark.figures
def test_run_folder_and_checkpoint(run):
    assert run.metrics["metric"] == "mse_100" and run.metrics["steps"] == 300
    for name in ("reconstructions.png", "mse_curve.png", "curve.csv", "config.json"):
        assert (run.out_dir / name).stat().st_size > 0
    header = (run.out_dir / "curve.csv").read_text().splitlines()[0]
    assert {"loss_mse", "loss_latent", "loss_weights"} <= set(header.split(","))
    model, record = sirenkit.load_run(run.out_dir)
    assert isinstance(model, MetaSiren) and record["model"]["kind"] == "meta" and record["signal"]["side"] == 32
    values, coords, mask = torch.rand(2, 20, 3), torch.rand(2, 20, 2) * 2 - 1, torch.ones(2, 20)
    query = torch.rand(9, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(values, coords, mask, query).values,
                                   run.model(values, coords, mask, query).values)


def test_meta_eval_reproduces_the_final_metrics(run, tmp_path, capsys):
    assert main(["meta", "eval", str(run.out_dir), "--context", "10,100", "--device", "cpu",
                 "--json", str(tmp_path / "m.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "m.json").read_text())
    assert printed["mse_10"] == pytest.approx(run.metrics["mse_10"], rel=1e-6)
    assert printed["mse_100"] == pytest.approx(run.metrics["mse_100"], rel=1e-6)
    assert printed["test_images"] == 2000
    few = sirenkit.meta_eval(run.out_dir, context="half", images=50, device="cpu")
    assert set(few) == {"mse_half", "test_images"} and few["test_images"] == 50


@pytest.mark.figures
def test_meta_inpaint_writes_context_reconstruction_truth(run, tmp_path):
    from skimage import data

    iio.imwrite(tmp_path / "cat.png", data.chelsea())
    path, mse = sirenkit.meta_inpaint(run.out_dir, tmp_path / "cat.png", context=100, out=tmp_path / "x.png",
                                      device="cpu")
    assert path == tmp_path / "x.png" and 0 < mse < 0.1
    picture = iio.imread(path)
    assert picture.shape[1] > 2 * picture.shape[0]  # three panels side by side


@pytest.mark.parametrize("encoder", ["cnn", "cnp"])
def test_other_encoders_train(encoder, tmp_path):
    result = sirenkit.fit("meta", encoder=encoder, size=12, steps=20, cnn_width=8, cnn_blocks=1, context_max=60,
                          out=str(tmp_path / encoder), **TINY)
    assert np.isfinite(result.metrics["mse_100"])
    header = (tmp_path / encoder / "curve.csv").read_text().splitlines()[0]
    assert ("loss_weights" in header) == (encoder != "cnp")


def test_resume_is_exact(tmp_path):
    small = {**TINY, "size": 12, "context_max": 60, "checkpoint_every": 10, "schedule": "constant"}
    whole = sirenkit.fit("meta", steps=20, out=str(tmp_path / "whole"), **small)
    sirenkit.fit("meta", steps=10, out=str(tmp_path / "part"), **small)
    resumed = sirenkit.fit("meta", steps=20, out=str(tmp_path / "part"), resume=True, **small)
    a, _ = load_checkpoint(tmp_path / "whole")
    b, _ = load_checkpoint(tmp_path / "part")
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith("model."))
    assert resumed.metrics["mse_100"] == whole.metrics["mse_100"]
