"""Load the network of a run and make sure it is a coordinate network: coords (N, d) -> values (N, m).

Export and compression only make sense for such networks; a `meta train` run (encoder + hypernetwork, which
maps a context set to a SIREN) is refused with a one-line UserError instead of failing deep inside torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UserError


def run_folder(run: str | Path) -> Path:
    """The run folder of `run`, which names either the folder or the checkpoint file inside it."""
    path = Path(run)
    return path.parent if path.is_file() else path


def load_coordinate_network(run: str | Path, command: str, fields: tuple[str, ...] | None = None
                            ) -> tuple[nn.Module, dict[str, Any]]:
    """(model on the CPU in eval mode, checkpoint metadata); UserError for anything but a coordinate network, or
    for metadata that `checked_signal` refuses: the network against the task, and the signal `fields` the caller
    reads where given, else every field present (export passes the description on into its sidecar, whose
    conventions refer to them: a damaged value there would mislead; an absent one is merely absent). The
    metadata returned holds the checked signal.

    `command` names the caller in messages (e.g. "export").
    """
    from ..runs.load import load_run
    from ..tasks.stored import checked_signal

    model, record = load_run(run, "cpu")
    spec = record.get("model")
    task = record.get("task", "?")
    if task == "images":  # a bank of one network per image: each has its own complete run folder
        names = [im["name"] for im in (record.get("signal") or {}).get("images", [])
                 if isinstance(im, dict) and isinstance(im.get("name"), str)]
        example = names[0] if names else "NAME"
        raise UserError(f"{run} is a `fit images` run (one network per image); {command} one image's network: "
                        f"`sirenkit {command} {Path(run) / 'images' / example}`")
    if not isinstance(spec, dict) or spec.get("kind") is not None or "in_features" not in spec:
        kind = spec.get("kind") if isinstance(spec, dict) else None
        what = f"a {kind!r} network" if kind else "a network that is not a coordinate MLP"
        raise UserError(f"{command} needs a coordinate network (coords (N, d) → values (N, m)); {run} holds "
                        f"{what} from a {task!r} run")
    d, m = int(spec["in_features"]), int(spec["out_features"])
    if not _maps_coordinates(model, d, m):
        raise UserError(f"{command} needs a coordinate network (coords (N, d) → values (N, m)); the network of "
                        f"{run} does not map (N, {d}) coordinates to (N, {m}) values")
    signal = checked_signal(record, run, fields=fields, partial=fields is None)
    return model.float(), {**record, "signal": signal}


def _maps_coordinates(model: nn.Module, d: int, m: int) -> bool:
    """Whether model((2, d) zeros) returns a (2, m) tensor."""
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, d))
    except Exception:  # any failure means: not a network of this shape
        return False
    return isinstance(out, Tensor) and tuple(out.shape) == (2, m)
