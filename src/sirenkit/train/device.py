"""Device selection: CUDA, then Apple MPS, then CPU."""

from __future__ import annotations

import re

import torch

from ..config import show
from ..errors import UserError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks cuda > mps > cpu; an explicit name must be available here."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if isinstance(name, torch.device):  # from the Python API
        name = str(name)
    # only these: torch.device() also takes meta, xla, xpu, hpu, lazy, … which fail later with a traceback
    cuda = re.fullmatch(r"cuda(?::([0-9]{1,100}))?", name) if isinstance(name, str) else None  # int() takes ≤ 4300
    if name not in ("cpu", "mps") and cuda is None:
        raise UserError(f"--device {show(name)} is not a device name (use auto, cpu, cuda, cuda:N or mps)")
    if cuda is not None:
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available on this machine (use --device cpu or auto)")
        if cuda.group(1) is None:
            return torch.device("cuda")
        index, count = int(cuda.group(1)), torch.cuda.device_count()
        if index >= count:
            have = f"{count} CUDA device, cuda:0" if count == 1 else f"{count} CUDA devices, cuda:0 to cuda:{count - 1}"
            raise UserError(f"--device {name}: this machine has {have}")
        return torch.device("cuda", index)
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise UserError(f"--device {name}: MPS is not available on this machine (use --device cpu or auto)")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so that wall-clock timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
