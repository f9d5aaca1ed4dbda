"""Loading runs and checkpoints whose metadata or optimizer state does not fit: one-line UserErrors, no tracebacks."""

from __future__ import annotations

import pytest
import torch

import sirenkit
from sirenkit.errors import UserError
from sirenkit.models import ModelConfig, model_spec
from sirenkit.train.checkpoint import load_checkpoint, optimizer_tensors, restore_optimizer, save_checkpoint


def _run(folder, meta_update: dict | None = None):
    config = ModelConfig(hidden_features=8, hidden_layers=1)
    model = config.build(2, 1)
    record = {"task": "image", "model": model_spec(config, 2, 1), "signal": {"height": 4, "width": 4, "channels": 1}}
    folder.mkdir()
    save_checkpoint(folder / "checkpoint.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()},
                    {**record, **(meta_update or {})})
    return folder


@pytest.mark.parametrize("task", [["image"], {"name": "image"}, 3])
def test_a_task_that_is_not_a_name_is_refused(tmp_path, task):
    """`load_run` looked the task up in the registry and died with `TypeError: unhashable type: 'list'`."""
    run = _run(tmp_path / "run", {"task": task})
    with pytest.raises(UserError, match=r"has damaged metadata \(task .* is not a task name\)"):
        load_checkpoint(run)
    with pytest.raises(UserError, match="is not a task name"):
        sirenkit.load_run(run)


def test_a_good_checkpoint_still_loads(tmp_path):
    model, record = sirenkit.load_run(_run(tmp_path / "run"))
    assert record["task"] == "image" and model(torch.zeros(3, 2)).shape == (3, 1)


def _stepped_adam() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = ModelConfig(hidden_features=8, hidden_layers=1).build(2, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.rand(5, 2)).sum().backward()
    optimizer.step()
    return model, optimizer


def test_optimizer_state_round_trips():
    _, optimizer = _stepped_adam()
    saved = optimizer_tensors(optimizer)
    _, fresh = _stepped_adam()
    restore_optimizer(fresh, saved)
    for key, value in optimizer_tensors(fresh).items():
        assert torch.equal(value, saved[key])


@pytest.mark.parametrize("edit", ["bad-name", "no-key", "index-beyond", "moment-shape"])
def test_optimizer_state_that_does_not_fit_is_refused(edit):
    """Such state used to fail with a ValueError while unpacking its name, or with a shape RuntimeError at the
    first Adam step after `--resume`; now it is a UserError naming the checkpoint and the state."""
    _, optimizer = _stepped_adam()
    saved = optimizer_tensors(optimizer)
    name, value = {"bad-name": ("x", torch.zeros(3)), "no-key": ("0", torch.zeros(3)),
                   "index-beyond": ("99.exp_avg", torch.zeros(3)), "moment-shape": ("0.exp_avg", torch.zeros(3))}[edit]
    saved[name] = value
    with pytest.raises(UserError, match=rf"checkpoint RUN does not match the network it describes \(optimizer state "
                                        rf"{name} of shape 3 fits none of its 6 parameters\)"):
        restore_optimizer(optimizer, saved, "RUN")
