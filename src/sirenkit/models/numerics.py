"""One numerics plan per run: its precision (fp32, bf16 or bf16-backward), TF32 matmuls and torch.compile,
decided here and nowhere else. The inputs: what the task's loss was measured to tolerate (`LossNeeds`), what was
asked (`--precision`, `--compile`, `--cuda-graphs`), the device and the network. The Trainer runs the plan, the
runner logs it (`NumericsPlan.describe`) and records it in metrics.json, and the benchmark suite times it.

The layers that behave differently under mixed precision are in models/precision.py; this module only chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..errors import UserError
from .bank import ImageBanks, ModelBank
from .mlp import FieldMLP
from .precision import Precision, bf16_backward_compiles, fast_bf16, tf32_hardware

# Narrowest hidden layer for which `auto` picks bf16. Measured on a 4th-generation Xeon (AMX), 1 thread, one
# Adam step of a 3-hidden-layer SIREN: bf16 took 0.68–0.88× the speed of fp32 at width 32, 0.78–1.15× at 64,
# 0.88–1.13× at 128 and 1.33–1.47× at 256 (512 and 8192 points); below 256 the casts cost more than they save.
MIN_BF16_WIDTH = 256


@dataclass(frozen=True)
class LossNeeds:
    """What a task's loss tolerates, as measured (benchmarks/RESULTS.md): each task declares one
    (`Task.loss_needs`), and `plan_numerics` turns it into a plan.

    * `bf16`: bf16 hidden-layer matmuls leave the final metric as it is (the value-only losses: image, audio,
      video, many images, Poisson); the SDF, for one, lost 39 % in surface distance.
    * `bf16_backward`: a bf16 backward pass changes the final metric by a few per cent at most (SDF, blend).
    * `tf32`: TF32 matmuls were measured harmless where bf16 was not (tasks with `bf16` use TF32 anyway, as it
      keeps more bits). Not the SDF: with TF32 emulated on a CPU its surface distance was 24–26 % worse.
    * `compile`: whether compiling the loss pays for this task and network; None for the default rule (on CUDA,
      and on a CPU where the run's precision is not fp32, since compiling fuses the casts: a step took 32 ms
      against 76 ms eager for the image, 14 against 28 for audio, 27 against 51 for video, at each cpu recipe's
      batch on 1 thread, for 5–13 s of compilation).
    * `fp32_only`: why this loss runs in fp32 only (a refusal for an explicit bf16), or None.
    """

    bf16: bool = False
    bf16_backward: bool = False
    tf32: bool = False
    compile: bool | None = None
    fp32_only: str | None = None


@dataclass(frozen=True)
class NumericsPlan:
    """How a run computes: `precision` (fp32, bf16 or bf16-backward), `tf32` (fp32 matmuls as TF32), `compile`
    (the loss through torch.compile), `cuda_graphs` (its compiled loss replayed as CUDA graphs)."""

    precision: str
    tf32: bool
    compile: bool
    cuda_graphs: bool = False

    def describe(self, requested: str, device: torch.device) -> list[str]:
        """The log lines that say what the plan changes from plain fp32 (none for plain fp32)."""
        lines = []
        if self.precision == "bf16":
            lines.append("precision: bf16 hidden-layer matmuls (coordinates, first layer, activations and loss in "
                         "fp32; --precision fp32 turns it off)")
        elif self.precision == "bf16-backward":
            lines.append("precision: bf16 matmuls in the backward pass only (forward pass, derivatives and loss in "
                         "fp32; --precision fp32 turns it off)")
        if self.tf32:
            lines.append("TF32 matmuls for fp32 products (--precision fp32 turns them off)")
        elif requested != "fp32" and tf32_hardware(device):  # TF32 was possible, but not for this task
            lines.append("fp32 products in full fp32: TF32 was not measured harmless for this task")
        return lines


def coordinate_networks(model: nn.Module) -> list[FieldMLP] | None:
    """The coordinate MLPs inside `model` (itself, a bank's template, the banks of `fit images`), or None when
    some part is not a coordinate MLP."""
    net = getattr(model, "module", model)  # DistributedDataParallel
    net = getattr(net, "_orig_mod", net)  # torch.compile
    if isinstance(net, ModelBank):
        net = net._template
    if isinstance(net, FieldMLP):
        return [net]
    if not isinstance(net, ImageBanks) or len(net.banks) == 0:
        return None
    parts = [coordinate_networks(b) for b in net.banks]
    return None if any(p is None for p in parts) else [n for p in parts for n in p]  # type: ignore[union-attr]


def supports_mixed_precision(model: nn.Module) -> bool:
    """Whether the network keeps its first layer in fp32 under autocast: coordinate MLPs, banks of them, and the
    banks of `fit images`."""
    return coordinate_networks(model) is not None


def hidden_width(model: nn.Module) -> int:
    """The narrowest hidden layer of the coordinate MLPs in `model` (0 when it has none)."""
    nets = coordinate_networks(model) or []
    return min((n.head.in_features for n in nets), default=0)


def resolve_precision(requested: Precision | str, device: torch.device, needs: LossNeeds, model: nn.Module) -> str:
    """`fp32`, `bf16` or `bf16-backward` for this run. An explicit request is kept (refused where the network or
    the loss cannot honour it); `auto` picks bf16 where the loss tolerates it, else bf16-backward where it
    tolerates that, and either only for coordinate MLPs with hidden layers at least `MIN_BF16_WIDTH` wide on a
    device with fast bf16 matmuls."""
    if requested in ("bf16", "bf16-backward"):
        if not supports_mixed_precision(model):
            raise UserError(f"--precision {requested} needs a coordinate MLP (it keeps the coordinates and first "
                            "layer in fp32); this network cannot: use --precision fp32")
        if needs.fp32_only:
            raise UserError(needs.fp32_only)
    if requested != "auto":
        return str(requested)
    if needs.fp32_only:
        return "fp32"
    fast = supports_mixed_precision(model) and hidden_width(model) >= MIN_BF16_WIDTH and fast_bf16(device)
    if fast and needs.bf16:
        return "bf16"
    return "bf16-backward" if fast and needs.bf16_backward and bf16_backward_compiles() else "fp32"


def uses_tf32(needs: LossNeeds, requested: str, device: torch.device) -> bool:
    """Whether fp32 matmuls run as TF32: on GPUs that have it (Ampere on), where the loss tolerates it (bf16,
    which keeps fewer bits, or TF32 itself measured harmless), unless full fp32 was asked for."""
    return requested != "fp32" and (needs.bf16 or needs.tf32) and tf32_hardware(device)


def plan_numerics(needs: LossNeeds, device: torch.device, model: nn.Module, precision: str = "auto",
                  compile: Literal["auto", "on", "off"] = "auto", cuda_graphs: bool = False) -> NumericsPlan:
    """The plan for training `model` on `device` with a loss that `needs` describes, as asked by `--precision`,
    `--compile` and `--cuda-graphs` (which needs compile, on CUDA: TrainConfig checks that)."""
    chosen = resolve_precision(precision, device, needs, model)
    compiled = compiles_by_default(needs, device, chosen, cuda_graphs) if compile == "auto" else compile == "on"
    return NumericsPlan(chosen, uses_tf32(needs, precision, device), compiled, cuda_graphs)


def compiles_by_default(needs: LossNeeds, device: torch.device, precision: str, cuda_graphs: bool = False) -> bool:
    """What `--compile auto` decides for a run at `precision`: compiled for CUDA graphs (they replay the compiled
    step), else as the task's loss says (`LossNeeds.compile`), else on CUDA and on a CPU at a precision other
    than fp32 (compiling fuses the casts)."""
    if cuda_graphs:
        return True
    if needs.compile is not None:
        return needs.compile
    return device.type == "cuda" or (device.type == "cpu" and precision != "fp32")
