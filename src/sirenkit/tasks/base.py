"""What a task is: data + loss terms + evaluation + export, behind one small interface.

The trainer only ever calls `batch`, `loss_terms` and `evaluate`; the runner calls `export` at the end and
`render` on a stored run. A task module defines one `Task` subclass and registers it with `@register`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..models.precision import tf32_hardware


@dataclass
class Batch:
    """Coordinates (N, d) in [-1, 1]^d and targets (N, m) for one optimisation step; `phase` names the stage
    of a curriculum when a task has several (e.g. pretraining before an inversion)."""

    coords: Tensor
    target: Tensor
    phase: str = field(default="main", kw_only=True)  # keyword-only: subclasses add positional fields


@dataclass(frozen=True)
class RenderOptions:
    """How to sample a stored network: `size` (longer spatial side, None: as fitted), `frames` (video: frame
    count, None: as fitted), `chunk` (points evaluated at once, bounds memory)."""

    size: int | None = None
    frames: int | None = None
    chunk: int = 65536


@dataclass
class BuiltModel:
    """A task's own network (see `Task.build_model`): the module, a plain-value spec that the checkpoint stores and
    `Task.model_from_spec` turns back into the same architecture, and a one-line description."""

    module: nn.Module
    spec: dict[str, Any]
    description: str


@dataclass
class ExportContext:
    """What `Task.export` gets besides the model: the run folder and the training curve."""

    out_dir: Path
    curve: list[dict[str, Any]]
    metrics: dict[str, Any]


class Task(ABC):
    """A signal or problem that a coordinate network is fitted to."""

    name: ClassVar[str]
    command: ClassVar[tuple[str, str]]
    description: ClassVar[str]
    Config: ClassVar[type]
    metric: ClassVar[str] = "psnr"
    """Headline metric: shown in the progress bar and written to curve.csv's `metric` column."""
    higher_is_better: ClassVar[bool] = True
    recipes: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    """Named overrides {recipe: {"task": {...}, "model": {...}, "train": {...}}}; `cpu` and `gpu` are the defaults."""
    recipe_notes: ClassVar[dict[str, str]] = {}
    smoke: ClassVar[tuple[dict[str, Any], float]] = ({}, 0.0)
    """(tiny options, metric threshold): the registry smoke test runs every task so and checks the metric."""

    mixed_precision: ClassVar[bool] = False
    """Whether `--precision auto` may train this task with bf16 hidden-layer matmuls: only tasks whose final
    metric was measured not to suffer (benchmarks/precision.py; the SDF, for one, lost 39 % in surface distance)."""

    tf32_measured_harmless: ClassVar[bool] = False
    """Whether CUDA may run this task's fp32 matmuls as TF32 (10-bit mantissa inputs, fp32 sums) besides tasks
    that take bf16 (`uses_tf32`). Not the SDF: with TF32 emulated on a CPU its surface distance was 24–26 %
    worse (two seeds; benchmarks/RESULTS.md, "TF32, emulated on the CPU")."""

    @property
    def uses_tf32(self) -> bool:
        """Whether a CUDA run of this task (unless `--precision fp32`) uses TF32 matmuls: where bf16, which keeps
        fewer bits, was measured harmless (`mixed_precision`), or where TF32 itself was."""
        return bool(self.mixed_precision) or self.tf32_measured_harmless

    def tf32(self, precision: str, device: torch.device) -> bool:
        """Whether a run of this task on `device`, asked for `precision` (`--precision`), does its fp32 matmuls as
        TF32: on GPUs that have it (Ampere on), where the task allows it, unless full fp32 was asked for. The one
        rule that the Trainer, the runner's log and the benchmark suite all follow."""
        return precision != "fp32" and self.uses_tf32 and tf32_hardware(device)

    bf16_backward: ClassVar[bool] = False
    """Whether `--precision auto` may run this task's backward pass in bf16 where it may not use `bf16` (forward
    pass, derivatives and loss in fp32): only where the final metric was measured to change by a few per cent at
    most (SDF, blend)."""

    supports_distributed: ClassVar[bool] = False
    """Whether `batch` returns only this process's share under torchrun (other tasks refuse torchrun)."""

    in_features: int
    out_features: int
    samples: int | None = None
    """Samples per side of the signal, when it has one (sets relu-pe's frequency count)."""

    rank: int = 0
    world_size: int = 1
    """This process's place in a torchrun job (set by `set_shard`; 0 of 1 otherwise)."""

    def __init__(self, config: Any, device: torch.device) -> None:
        self.config = config
        self.device = device

    def build_model(self, model_cfg: Any) -> BuiltModel | None:
        """A network of the task's own (built from the model options), or None for the coordinate MLP that
        `model_cfg.build(in_features, out_features, samples)` gives."""
        return None

    @classmethod
    def model_from_spec(cls, spec: dict[str, Any]) -> nn.Module | None:
        """Rebuild the network of `build_model` from its stored spec; None for a coordinate-MLP spec."""
        return None

    def set_shard(self, rank: int, world_size: int) -> None:
        """Under torchrun, before training: this process is `rank` of `world_size` (only for
        `supports_distributed` tasks, whose `batch` then returns this rank's share of each step's data)."""
        self.rank, self.world_size = rank, world_size

    @abstractmethod
    def batch(self, step: int, generator: torch.Generator) -> Batch:
        """The batch for `step`; any randomness must come from `generator` (its state is checkpointed)."""

    @abstractmethod
    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """Named, already weighted loss terms; the trainer minimises their sum."""

    @abstractmethod
    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        """Task metrics on the whole signal (must include `self.metric`); `final` adds costly ones."""

    def clip_gradients(self, model: nn.Module, params: list[Tensor], max_norm: float) -> None:
        """`--clip-grad`: scale the gradients so that their global norm is at most `max_norm` (tasks that train
        several independent networks at once clip each separately)."""
        nn.utils.clip_grad_norm_(params, max_norm)

    def compile_by_default(self, model: nn.Module) -> bool:
        """Whether `--compile auto` compiles this task's loss: on CUDA, and on a CPU where `--precision auto` picks
        bf16 or bf16-backward, since compiling fuses the casts. There a step took 32 ms against 76 ms eager
        (image), 14 against 28 (audio) and 27 against 51 (video), at each cpu recipe's batch on 1 thread, for
        5–13 s of compilation. Tasks may change this."""
        from ..models.precision import resolve_precision

        if self.device.type == "cuda":
            return True
        return self.device.type == "cpu" and resolve_precision(
            "auto", self.device, self.mixed_precision, model, backward_allows=self.bf16_backward) != "fp32"

    def random_indices(self, count: int, population: int, generator: torch.Generator) -> Tensor:
        """`count` indices drawn uniformly (with replacement) from range(population), on the task's device."""
        return torch.randint(0, population, (count,), generator=generator, device=generator.device).to(self.device)

    def signal_meta(self) -> dict[str, Any]:
        """Plain facts about the signal stored in the checkpoint, enough to render without the data."""
        return {}

    def describe(self) -> str:
        """One line saying what is being fitted (printed at start)."""
        return self.name

    def export(self, model: nn.Module, ctx: ExportContext) -> list[str]:
        """Write human artefacts into the run folder; returns the file names written."""
        return []

    @classmethod
    def render(
        cls, model: nn.Module, meta: dict[str, Any], out: Path, options: RenderOptions, device: torch.device
    ) -> Path:
        """Sample a stored network at any resolution and write the artefact to `out`."""
        from ..errors import UserError

        raise UserError(f"task {cls.name!r} has nothing to render")

    @classmethod
    def render_suffix(cls) -> str:
        return ".png"
