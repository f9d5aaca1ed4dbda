"""Reading a run back: its config.json (`read_config_file`) and its network (`load_run`), for `--resume`,
`--config`, render, mesh, export, compression and the Python API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import coerce_choice
from ..errors import UserError
from ..failures import first_line
from ..meta.model import MetaNetConfig
from ..models import build_model
from ..models.bank import ImageBanks
from ..train.checkpoint import load_checkpoint, load_model_state
from .files import CONFIG, CONFIG_KEYS, CUSTOM_KIND, RECIPES, SECTIONS


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Load a config.json written by sirenkit; returns {"recipe": ..., "task": {...}, "model": ..., "train": ...}."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"config file {path} is a folder; give the config.json inside it")
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # ValueError: also an integer over Python's 4300 digits
        raise UserError(f"config file {path} is not valid JSON ({first_line(exc)})") from None
    except RecursionError:
        raise UserError(f"config file {path} is nested too deeply to be a sirenkit config") from None
    except OSError as exc:
        raise UserError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a JSON object")
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise UserError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    for section in SECTIONS:
        if not isinstance(data.get(section, {}), dict):
            raise UserError(f"config file {path}: {section!r} must be an object of settings, "
                            f"got {type(data[section]).__name__}")
    if "recipe" in data:
        try:
            coerce_choice("recipe", data["recipe"], RECIPES)
        except UserError as exc:
            raise UserError(f"config file {path}: {exc}") from None
    return data


def custom_network_note(spec: dict[str, Any]) -> str:
    """Why a run trained with the user's own network (`fit(…, model=…)`) is not rebuilt here, and what to do."""
    return (f"the run's network is the user's own {spec.get('class', 'module')}: build it in your code and load "
            "checkpoint.safetensors into it (safetensors.torch.load_file; its keys start with 'model.')")


def network_from_spec(spec: dict[str, Any]) -> nn.Module:
    """The untrained network a checkpoint's spec describes: a hypernetwork (`"kind": "meta"`), the banks of `fit
    images` (`"groups"`) or a coordinate MLP (every other task)."""
    if spec.get("kind") == CUSTOM_KIND:
        raise UserError(custom_network_note(spec))
    if spec.get("kind") == "meta":
        return MetaNetConfig.from_spec(spec).build()
    if "groups" in spec:
        return ImageBanks.from_spec(spec, build_model)
    return build_model(spec)


def load_run(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network stored in a run folder (or checkpoint file); returns (model in eval mode, metadata)."""
    tensors, record = load_checkpoint(path)
    if not isinstance(record.get("model"), dict):
        raise UserError(f"checkpoint {path} does not describe its network")
    if record["model"].get("kind") == CUSTOM_KIND:
        raise UserError(f"{path}: {custom_network_note(record['model'])}")
    try:
        model = network_from_spec(record["model"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, OverflowError, MemoryError,
            UserError) as exc:
        first = first_line(exc)  # torch appends its C++ stack to some messages
        raise UserError(f"checkpoint {path} describes its network incompletely or impossibly "
                        f"({type(exc).__name__}: {first}); it was damaged or edited") from None
    load_model_state(model, tensors, str(path))
    bad = next((name for name, t in model.state_dict().items()
                if (t.is_floating_point() or t.is_complex()) and not bool(t.isfinite().all())), None)
    if bad is not None:  # training never saves such a state (it stops as diverged): the file was damaged or edited
        raise UserError(f"checkpoint {path} holds NaN or infinite values in {bad}; it was damaged or edited")
    return model.to(device).eval(), record


__all__ = ["CONFIG", "load_run", "network_from_spec", "read_config_file"]
