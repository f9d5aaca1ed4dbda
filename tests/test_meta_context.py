"""Issue 21: more context must give a lower error for every encoder, and the validation split is held out.

The context test trains each encoder briefly at 32² (the size of mse_1000) with small networks, 3–5 s each on
one thread (the final metrics on 256 of the 1,058 validation crops, evenly spaced; measured at 300 steps: set
0.0119 > 0.0101 > 0.0099, cnn 0.0295 > 0.0142 > 0.0137, cnp 0.0126 > 0.0110 > 0.0109).
With the code before issue 21 (training contexts 10–200 pixels, uniform) the CNN failed it:
its error rose from 100 to 1000 context pixels (mse_10 0.0385, mse_100 0.0145, mse_1000 0.0478 in this very
setting, measured with --cnn-stem masked --context-sampling uniform --context-max 200), because its
features grew with the context density and it had never seen more than 200 pixels.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

import sirenkit
from sirenkit.commands.meta import meta_eval
from sirenkit.errors import UserError
from sirenkit.meta.data import load_image_set, offline_default, offline_default_validation
from sirenkit.meta.encoders import ConvEncoder, rasterise

SMALL = {"size": 32, "batch_size": 16, "latent_features": 32, "encoder_hidden_features": 32,
         "hyper_hidden_features": 32, "hidden_features": 32, "hidden_layers": 1, "target_pixels": 128,
         "cnn_width": 16, "cnn_blocks": 1, "lr": 1e-3, "schedule": "cosine", "steps": 300, "eval_every": 300,
         "eval_images": 1, "held_out_images": 256, "eval_split": "validation", "device": "cpu", "quiet": True,
         "seed": 0}


@pytest.mark.parametrize("encoder", ["set", "cnn", "cnp"])
def test_more_context_gives_lower_error_for_every_encoder(encoder, tmp_path):
    torch.set_num_threads(1)
    m = sirenkit.fit("meta", encoder=encoder, out=str(tmp_path / encoder), **SMALL).metrics
    print(encoder, {k: round(m[k], 5) for k in ("mse_10", "mse_100", "mse_1000")})
    assert m["mse_10"] > m["mse_100"] > m["mse_1000"], m


def test_partial_conv_features_do_not_grow_with_context_density():
    """The cause of the CNN's rise: with the plain first conv the first layer's features grow with the density of
    the context; the partial convolution's stay put (it renormalises by the context pixels under the kernel)."""
    torch.manual_seed(0)
    side = 32
    image = torch.rand(1, side * side, 3) * 2 - 1
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij"), -1)
    coords = grid.reshape(1, -1, 2)

    def first_layer_mean(stem: str, count: int) -> float:
        torch.manual_seed(1)
        enc = ConvEncoder(3, 8, side, width=16, blocks=0, stem=stem)  # type: ignore[arg-type]
        index = torch.randperm(side * side, generator=torch.Generator().manual_seed(2))[:count]
        grid_in = rasterise(image[:, index], coords[:, index], torch.ones(1, count), side)
        with torch.no_grad():
            return float(enc.net[1](enc.net[0](grid_in)).mean())

    plain = first_layer_mean("masked", 1000) / first_layer_mean("masked", 100)
    partial = first_layer_mean("partial", 1000) / first_layer_mean("partial", 100)
    assert plain > 3.0, plain  # features ∝ density: 10× the pixels, several times the activation
    assert 0.7 < partial < 1.6, partial


# ---------------------------------------------------------------------------------------------- validation split
def _digests(images: torch.Tensor) -> set[str]:
    return {hashlib.sha1(x.numpy().tobytes()).hexdigest() for x in images}


def test_offline_validation_split_is_disjoint_from_training_and_test():
    held = offline_default_validation(16)
    assert held.validation is not None and len(held.validation) > 100
    train, val, test = _digests(held.train), _digests(held.validation), _digests(held.test)
    assert not val & train and not val & test and not train & test
    plain = offline_default(16)
    assert torch.equal(held.test, plain.test)  # the test split is the same with or without validation
    assert plain.validation is None


def test_folder_validation_split_holds_out_training_files(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{i:02d}.png")
    plain = load_image_set(str(tmp_path), 16, test_fraction=0.2)
    held = load_image_set(str(tmp_path), 16, test_fraction=0.2, validation=True)
    assert held.validation is not None and len(held.validation) == 2 and len(held.train) == 14
    assert torch.equal(held.test, plain.test)
    assert _digests(held.train) | _digests(held.validation) == _digests(plain.train)
    assert not _digests(held.validation) & (_digests(held.train) | _digests(held.test))


def test_meta_eval_validation_needs_a_validation_run(tmp_path):
    tiny = {**SMALL, "size": 12, "steps": 2, "eval_every": 2, "context_max": 60}
    run = sirenkit.fit("meta", out=str(tmp_path / "val"), **tiny)
    # `meta eval --images N` evaluates the images of `meta train --held-out-images N`: the run's own numbers
    scores = meta_eval(run.out_dir, context="10", images=SMALL["held_out_images"], device="cpu", split="validation")
    assert scores["mse_10"] == pytest.approx(run.metrics["mse_10"], rel=1e-6)
    assert scores["validation_images"] == SMALL["held_out_images"]
    everything = meta_eval(run.out_dir, context="10", device="cpu", split="validation")
    assert everything["validation_images"] == len(offline_default_validation(12).validation)  # type: ignore[arg-type]
    assert everything["validation_images"] > SMALL["held_out_images"]
    other = sirenkit.fit("meta", out=str(tmp_path / "test"), **{**tiny, "eval_split": "test"})
    with pytest.raises(UserError, match="eval-split validation"):
        meta_eval(other.out_dir, context="10", device="cpu", split="validation")
