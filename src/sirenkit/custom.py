"""A user's own network and loss in a fit (`sirenkit.fit(task, model=…, loss=…)`): checked once before anything
is written, then trained by the same trainer as the built-in networks and losses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .errors import UserError
from .failures import first_line
from .runs.files import CUSTOM_KIND
from .tasks import Task


def check_custom_model(task_cls: type[Task], model: Any) -> None:
    """Refuse, before the data is loaded, a `model=` that is no module or a task that builds its own network."""
    if not isinstance(model, nn.Module):
        raise UserError(f"model= must be a torch.nn.Module, got {type(model).__name__}")
    if task_cls.build_model is not Task.build_model:
        raise UserError(f"{' '.join(task_cls.command)} builds its own network (not a coordinate network): "
                        "model= is for tasks that fit a coordinate network")


def custom_network(task: Task, model: Any, device: torch.device) -> tuple[nn.Module, dict[str, Any], str]:
    """(the module on `device`, its checkpoint spec, a one-line description) for `model=`: any nn.Module mapping
    (N, in_features) to (N, out_features) for this task, checked on four points (`check_custom_model` first, before
    the task's data is loaded)."""
    model = model.to(device)
    probe = torch.zeros(4, task.in_features, device=device)
    try:
        with torch.no_grad():
            out = model(probe)
    except Exception as exc:  # the user's code: any failure is a one-line refusal, not a traceback
        raise UserError(f"model= fails on coordinates of shape (4, {task.in_features}): {type(exc).__name__}: "
                        f"{first_line(exc)}") from None
    if not isinstance(out, Tensor) or tuple(out.shape) != (4, task.out_features):
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise UserError(f"model= maps coordinates (4, {task.in_features}) to {shape}; {type(task).name} needs "
                        f"(N, {task.out_features}): {task.in_features} inputs, {task.out_features} outputs")
    cls = type(model)
    name = f"{cls.__module__}.{cls.__qualname__}"
    spec = {"kind": CUSTOM_KIND, "class": name, "in_features": task.in_features, "out_features": task.out_features}
    return model, spec, f"custom {cls.__qualname__} {task.in_features}→{task.out_features}"


def user_loss(task: Task, loss: Any, replace: bool) -> Callable[[nn.Module, Any], dict[str, Tensor]]:
    """The task's `loss_terms` with the user's terms added (or alone, `replace`): `loss(model, batch)` must return
    a dict of named scalar tensors; a term named like one of the task's is refused rather than overwritten."""
    if not callable(loss):
        raise UserError(f"loss= must be a callable (model, batch) -> dict of named scalar tensors, got "
                        f"{type(loss).__name__}")
    own = task.loss_terms

    def terms(model: nn.Module, batch: Any) -> dict[str, Tensor]:
        extra = loss(model, batch)
        if not isinstance(extra, dict) or not extra:
            raise UserError(f"loss= returned {type(extra).__name__}; it must return a dict of named scalar tensors "
                            "(e.g. {'smooth': tensor(0.1)})")
        for name, value in extra.items():
            if not isinstance(name, str) or not name:
                raise UserError(f"loss= returned a term named {name!r}; term names must be non-empty strings")
            if not isinstance(value, Tensor) or value.numel() != 1:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise UserError(f"loss= term {name!r} is {shape}, not a scalar tensor: reduce it (mean or sum)")
        if replace:
            return {k: v.reshape(()) for k, v in extra.items()}
        base = dict(own(model, batch))
        clash = sorted(set(base) & set(extra))
        if clash:
            raise UserError(f"loss= term(s) {', '.join(map(repr, clash))} share a name with {type(task).name}'s "
                            "own terms; rename them, or pass replace_loss=True to use yours alone")
        return {**base, **{k: v.reshape(()) for k, v in extra.items()}}

    return terms


def probe_loss(task: Task, model: nn.Module, device: torch.device) -> None:
    """Run the combined loss once on a first batch (a copy of the random state: training is unchanged), so that a
    user's loss that fails or returns something unusable is refused before the run folder is written."""
    generator = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        try:
            terms = task.loss_terms(model, task.batch(0, generator))
        except UserError:
            raise
        except Exception as exc:  # the user's code
            raise UserError(f"loss= fails on the first batch: {type(exc).__name__}: {first_line(exc)}") from None
    for name, value in terms.items():
        if not bool(torch.isfinite(value.detach()).all()):
            raise UserError(f"loss term {name!r} is {float(value.detach())} on the first batch: not finite")
    model.zero_grad(set_to_none=True)
