"""`sirenkit.fit(task, model=…, loss=…, callbacks=…)`: a user's network and loss under the same trainer (issue 23)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from torch import nn

import sirenkit
from sirenkit.errors import UserError

TINY = {"size": 16, "steps": 30, "lr": 1e-3, "device": "cpu", "quiet": True, "seed": 0, "eval_every": 10}


class Plain(nn.Module):
    """Not a FieldMLP: a user's own coordinate network (tanh MLP with a skip from the input)."""

    def __init__(self, out: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh())
        self.head = nn.Linear(32 + 2, out)

    def forward(self, x):
        return self.head(torch.cat([self.body(x), x], dim=-1))


def test_a_users_model_trains_and_its_run_folder_says_how_to_load_it(tmp_path):
    torch.manual_seed(0)
    net = Plain(out=1)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    result = sirenkit.fit("image", model=net, grey=True, out=str(tmp_path / "run"), **TINY)
    assert result.model is net and any(not torch.equal(before[k], v) for k, v in net.state_dict().items())
    first, last = result.curve[0]["metric"], result.curve[-1]["metric"]
    assert last > first + 1.0, (first, last)  # it learned (PSNR up by more than 1 dB in 30 steps)
    spec = json.loads((tmp_path / "run" / "checkpoint.json").read_text())["model"]
    assert spec["kind"] == "custom" and spec["class"].endswith("Plain")
    with pytest.raises(UserError, match="user's own .*Plain: build it in your code"):
        sirenkit.load_run(tmp_path / "run")
    from safetensors.torch import load_file

    stored = load_file(tmp_path / "run" / "checkpoint.safetensors")
    torch.testing.assert_close(stored["model.head.weight"], net.head.weight.detach())


def test_a_users_loss_term_is_added_and_written_to_the_curve(tmp_path):
    seen: list[int] = []

    def smooth(model, batch):
        return {"small": 1e-3 * model(batch.coords).square().mean()}

    result = sirenkit.fit("image", loss=smooth, callbacks=[lambda row: seen.append(row["step"])],
                          out=str(tmp_path / "run"), **TINY)
    with open(tmp_path / "run" / "curve.csv") as f:
        rows = list(csv.DictReader(f))
    assert "loss_small" in rows[0] and float(rows[-1]["loss_small"]) > 0
    assert "loss_mse" in rows[0]  # the task's own term stays
    assert seen == [0, 10, 20, 30] and [r["step"] for r in result.curve] == seen


def test_replace_loss_trains_on_the_users_terms_alone():
    target = torch.tensor(0.25)

    def constant(model, batch):
        value = model(batch.coords)
        return {"level": (value - target).square().mean(), "tiny": 1e-6 * value.abs().mean()}

    result = sirenkit.fit("image", loss=constant, replace_loss=True, **TINY)
    with torch.no_grad():
        out = result.model(torch.rand(256, 2) * 2 - 1)
    assert abs(float(out.mean()) - 0.25) < 0.05  # the network learned the constant, not the image
    assert {"loss_level", "loss_tiny"} <= set(result.curve[-1]) and "loss_mse" not in result.curve[-1]


@pytest.mark.parametrize("model, message", [
    (Plain(out=2), r"maps coordinates \(4, 2\) to \(4, 2\); image needs \(N, 1\)"),
    (nn.Linear(3, 3), "model= fails on coordinates of shape \\(4, 2\\)"),
    ("not a module", "must be a torch.nn.Module"),
])
def test_a_model_that_does_not_fit_the_task_gets_one_line(model, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=message):
        sirenkit.fit("image", model=model, out=str(tmp_path / "run"), **TINY)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize("loss, message", [
    (lambda m, b: {"per_pixel": m(b.coords).square()}, "is \\(256, 1\\), not a scalar tensor"),
    (lambda m, b: m(b.coords).square().mean(), "returned Tensor; it must return a dict"),
    (lambda m, b: {"mse": m(b.coords).square().mean()}, "share a name with image's own terms"),
    (lambda m, b: {"nan": m(b.coords).mean() * float("nan")}, "not finite"),
    (lambda m, b: {"x": b.missing}, "loss= fails on the first batch: AttributeError"),
    ("mse", "must be a callable"),
])
def test_a_bad_loss_gets_one_line_before_anything_is_written(loss, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=message):
        sirenkit.fit("image", loss=loss, out=str(tmp_path / "run"), **TINY)
    assert list(tmp_path.iterdir()) == []


def test_meta_refuses_a_users_model():
    with pytest.raises(UserError, match="builds its own network"):
        sirenkit.fit("meta", model=Plain(3), size=12, steps=1, device="cpu", quiet=True)


def test_image_arrays_and_own_model_together():
    pixels = np.random.default_rng(0).random((8, 8))
    result = sirenkit.fit("image", data=pixels, model=Plain(out=1), **{**TINY, "size": 0, "steps": 5})
    assert result.out_dir is None and result.metrics["steps"] == 5


def test_a_derivative_task_takes_a_users_model_by_autograd_or_a_siren_in_closed_form():
    """Poisson from gradients with a user's tanh network (autograd derivatives) and with a Siren passed as
    model= (the closed-form reverse sweep qualifies): both train, the Siren to the same loss as the built one."""
    options = {"size": 16, "steps": 20, "lr": 1e-3, "device": "cpu", "quiet": True, "seed": 0, "eval_every": 20}
    own = sirenkit.fit("poisson-gradient", model=Plain(out=1), **options)
    assert own.metrics["steps"] == 20 and own.curve[-1]["loss"] is not None and own.metrics["psnr"] > 5
    torch.manual_seed(0)
    siren = sirenkit.Siren(2, 1, hidden_features=32, hidden_layers=2)
    torch.manual_seed(0)
    built = sirenkit.fit("poisson-gradient", hidden_features=32, hidden_layers=2, compile="off", **options)
    passed = sirenkit.fit("poisson-gradient", model=siren, **options)
    assert passed.metrics["psnr"] == pytest.approx(built.metrics["psnr"], rel=1e-4)
