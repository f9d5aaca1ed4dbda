"""Checkpoints: safetensors for every tensor, JSON for everything else. Nothing is ever unpickled.

`checkpoint.safetensors` holds `model.*` (the network's state dict), `optimizer.*` (Adam moments and step
counts) and `rng.*` (random generator states); its header carries the JSON metadata, which is also written
beside it as `checkpoint.json` for people to read. Writes are atomic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ..errors import UserError
from ..io.atomic import atomic_path, write_json
from ..runs.files import CHECKPOINT

FORMAT = "sirenkit-checkpoint-1"


def save_checkpoint(path: str | Path, tensors: dict[str, Tensor], record: dict[str, Any]) -> None:
    """Write tensors + metadata atomically (the JSON twin is written after the tensors)."""
    path = Path(path)
    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {"format": FORMAT, "meta": json.dumps(record)}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata=header)
    write_json(path.with_suffix(".json"), record)


def read_safetensors(path: str | Path, what: str) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Tensors and string metadata of a safetensors file; damage of any kind is a one-line UserError naming
    the file as `what` ("checkpoint", "compressed file")."""
    from safetensors import safe_open

    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{what} {path} is damaged or not a safetensors file ({first})") from None
    return tensors, header


def load_checkpoint(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint; any damage (truncation, tampering, wrong format) is a one-line UserError."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise UserError(f"no checkpoint at {path} (is this a sirenkit run folder?)")
    tensors, header = read_safetensors(path, "checkpoint")
    if header.get("format") != FORMAT:
        raise UserError(f"checkpoint {path} was not written by sirenkit (format {header.get('format')!r})")
    try:
        record = json.loads(header["meta"])
    except (KeyError, json.JSONDecodeError):
        raise UserError(f"checkpoint {path} has damaged metadata") from None
    if not isinstance(record, dict):
        raise UserError(f"checkpoint {path} has damaged metadata (a JSON object expected)")
    if not isinstance(record.get("task", ""), str):  # a task name is looked up in the registry; a list is unhashable
        raise UserError(f"checkpoint {path} has damaged metadata (task {record['task']!r} is not a task name)")
    return tensors, record


def prefixed(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def strip_prefix(prefix: str, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
    n = len(prefix) + 1
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """Per-parameter optimizer state as flat named tensors (`<param index>.<state key>`)."""
    out: dict[str, Tensor] = {}
    for idx, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                out[f"{idx}.{key}"] = value
            else:
                out[f"{idx}.{key}"] = torch.tensor(value)
    return out


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, Tensor], where: str = "") -> None:
    """Load state saved by `optimizer_tensors` (hyper-parameters come from the current config).

    State that does not fit the parameters (a name that is not `<param index>.<state key>`, an index beyond the
    parameters, a per-element moment of another shape) is a one-line UserError naming the checkpoint `where`;
    torch would load it and fail at the first step with a shape error.
    """
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state_dict = optimizer.state_dict()
    per_param: dict[int, dict[str, Tensor]] = {}
    for name, value in tensors.items():
        idx, _, key = name.partition(".")
        fits = idx.isdigit() and key != "" and int(idx) < len(params)
        if fits and value.dim() > 0:  # Adam's moments have their parameter's shape; its step count is a scalar
            fits = value.shape == params[int(idx)].shape
        if not fits:
            shape = "×".join(str(n) for n in value.shape) or "scalar"
            which = f"checkpoint {where}" if where else "the checkpoint"
            raise UserError(f"{which} does not match the network it describes (optimizer state {name} of shape "
                            f"{shape} fits none of its {len(params)} parameters)")
        per_param.setdefault(int(idx), {})[key] = value
    state_dict["state"] = per_param
    optimizer.load_state_dict(state_dict)


def load_model_state(model: nn.Module, tensors: dict[str, Tensor], where: str) -> None:
    """Load `model.*` tensors with a clear error when they do not fit the architecture."""
    state = strip_prefix("model", tensors)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        # torch's first line only says "Error(s) in loading state_dict"; the next one names the tensor
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = (lines[1] if len(lines) > 1 else lines[0] if lines else "RuntimeError")[:200]
        raise UserError(f"checkpoint {where} does not match the network it describes ({detail})") from None
