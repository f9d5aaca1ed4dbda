"""`meta eval` on a run whose images are smaller than 32² (too few pixels for the default mse_1000)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import sirenkit
from sirenkit.cli import main


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small-images")
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((12, 14, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path_factory.mktemp("meta-small") / "run"
    return sirenkit.fit("meta", data=str(folder), out=str(out), size=10, steps=2, batch_size=2, latent_features=4,
                        encoder_hidden_features=4, hyper_hidden_features=4, hidden_features=4, hidden_layers=1,
                        context_max=20, device="cpu", quiet=True)


def test_default_meta_eval_skips_contexts_larger_than_the_images(small_run, capsys):
    assert set(small_run.metrics) >= {"mse_10", "mse_100", "mse_half"} and "mse_1000" not in small_run.metrics
    assert main(["meta", "eval", str(small_run.out_dir), "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"mse_10", "mse_100", "mse_half", "test_images"}
    assert printed["mse_100"] == pytest.approx(small_run.metrics["mse_100"], rel=1e-6)


def test_an_explicit_context_larger_than_the_images_is_refused(small_run, capsys):
    assert main(["meta", "eval", str(small_run.out_dir), "--context", "1000", "--device", "cpu"]) == 2
    assert "outside 1 … 100" in capsys.readouterr().err
