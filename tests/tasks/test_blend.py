"""Gradient-domain editing: clone keeps BASE outside the mask, mix follows the averaged gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.errors import UserError
from sirenkit.io.images import load_image, save_image
from sirenkit.tasks.blend import BlendConfig, BlendTask

# eager: the compiled loss (the CPU default for these closed-form derivatives) costs seconds to build and is tested
# in tests/diff and tests/train
FAST = {"steps": 150, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64, "device": "cpu", "quiet": True,
        "compile": "off"}


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:40] / 40.0
    base = np.stack([0.5 + 0.4 * np.sin(4 * x), 0.5 + 0.3 * np.cos(3 * y), 0.4 + 0.2 * x], -1)
    insert = np.clip(0.5 + 0.3 * np.sin(9 * x * y)[..., None] + 0.05 * rng.standard_normal((40, 40, 1)), 0, 1)
    insert = np.repeat(insert, 3, -1)
    mask = np.zeros((40, 40))
    mask[10:30, 12:28] = 1.0
    paths = {}
    for name, arr in {"base": base, "insert": insert, "mask": mask}.items():
        paths[name] = tmp_path / f"{name}.png"
        save_image(paths[name], arr)
    return paths


def test_clone_keeps_base_outside_the_mask(images, tmp_path):
    result = sirenkit.fit("poisson-blend", base=str(images["base"]), insert=str(images["insert"]), mode="clone",
                          mask=str(images["mask"]), at="20,20", size=0, out=str(tmp_path / "run"), **FAST)
    out = load_image(result.out_dir / "blend.png").pixels
    base = load_image(images["base"]).pixels
    outside = np.ones((40, 40), dtype=bool)
    outside[10:30, 12:28] = False
    assert np.array_equal(out[outside], base[outside])
    assert np.abs(out[~outside] - base[~outside]).mean() > 0.01  # something was cloned in
    assert result.metrics["psnr_boundary"] > 25.0


def test_mix_fits_the_average_gradient(images, tmp_path):
    result = sirenkit.fit("poisson-blend", base=str(images["base"]), insert=str(images["insert"]), mode="mix",
                          size=0, out=str(tmp_path / "run"), **{**FAST, "steps": 250})
    assert result.metrics["psnr_gradient"] > 30.0
    assert load_image(result.out_dir / "blend.png").pixels.shape == (40, 40, 3)


def test_bad_blend_options(images):
    cpu = torch.device("cpu")
    with pytest.raises(UserError, match="--at"):
        BlendTask(BlendConfig(base=str(images["base"]), insert=str(images["insert"]), mode="clone", at="a,b",
                              size=0), cpu)
    with pytest.raises(UserError, match="outside BASE"):
        BlendTask(BlendConfig(base=str(images["base"]), insert=str(images["insert"]), mode="clone", at="99,5",
                              size=0), cpu)
    small = images["mask"].with_name("small.png")
    save_image(small, np.ones((8, 8)))
    with pytest.raises(UserError, match="must match INSERT"):
        BlendTask(BlendConfig(base=str(images["base"]), insert=str(images["insert"]), mode="clone",
                              mask=str(small), size=0), cpu)
