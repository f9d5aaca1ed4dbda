"""What a task is: data + loss terms + evaluation + artefacts, behind one small interface.

The trainer only ever calls `batch`, `loss_terms` and `evaluate`; the runner calls `write_artefacts` at the end and
`render` on a stored run. A task module defines one `Task` subclass and registers it with `@register`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import DEFAULT_CHUNK
from ..io.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SAMPLES, DEFAULT_MAX_VIDEO_PIXELS
from ..models.numerics import LossNeeds


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
    chunk: int = DEFAULT_CHUNK
    run: str = "the run"
    """The run rendered, as given (for messages)."""


# ---------------------------------------------------------------------------------------------- output limits
def amount(n: int) -> str:
    """An integer for a message: with thousands separators, or as a power of ten when it is astronomical."""
    return f"{n:,}" if abs(n) < 10**15 else f"about 10^{len(str(abs(n))) - 1}"


def shown(n: int | None) -> str:
    """A flag's value or a side for a message: as typed, or as a power of ten when it is astronomical."""
    return str(n) if n is None or abs(n) < 10**20 else amount(n)


def require_finite(values: Tensor, options: RenderOptions) -> None:
    """UserError when a network's output holds NaN or ±inf (damaged weights): never written as a black file."""
    from ..errors import UserError

    bad = int((~torch.isfinite(values)).reshape(values.shape[0], -1).any(dim=1).sum())
    if bad:
        raise UserError(f"the network of {options.run} gives NaN or infinite values at {bad:,} of "
                        f"{values.shape[0]:,} points; its checkpoint was damaged or edited")


@dataclass(frozen=True)
class OutputLimit:
    """A cap on what one command holds in memory or writes, checked before any work, so that a typo
    (`render --size 2000000000`) is refused at once instead of running until memory or disk is gone. Each default
    lies far above what a real use needs; the environment variable `SIRENKIT_MAX_<NAME>` moves it for one who
    needs more (or, in tests, less). A cap on the same quantity as an input limit (`sirenkit.io.limits`) has its
    default, and follows that limit where a command sets it (`--max-pixels` …): what can be fitted can be
    rendered at its own size."""

    name: str
    default: int
    why: str
    """What runs out, for the message (e.g. "the whole image is held in memory, about 60 bytes a pixel")."""
    input_limit: str | None = None
    """The `sirenkit.io.limits` limit of the same quantity ('max_pixels' …), or None."""

    @property
    def env(self) -> str:
        return f"SIRENKIT_MAX_{self.name}"

    def value(self) -> int:
        """The limit in force: `SIRENKIT_MAX_<NAME>` when set (a positive whole number, 1e9 allowed), else the
        default."""
        text = os.environ.get(self.env, "").strip()
        if not text:
            if self.input_limit is not None:
                from ..io.limits import limit

                return limit(self.input_limit)
            return self.default
        try:
            number = int(text.replace("_", ""))
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                f = math.nan
            number = int(f) if math.isfinite(f) and f == int(f) else 0
        if number < 1:
            from ..errors import UserError

            raise UserError(f"{self.env} must be a positive whole number such as {self.default}, got {text!r}")
        return number

    def check(self, count: int, request: str, unit: str) -> None:
        """UserError when `count` `unit` are more than the limit; `request` says what the flags would produce,
        the count included (e.g. "--size 20000 would render 20000×20000 = 400,000,000 pixels")."""
        limit = self.value()
        if count > limit:
            from ..errors import UserError

            raise UserError(f"{request}, more than the limit of {amount(limit)} {unit} ({self.why}); set {self.env} "
                            "to allow more")


RENDER_PIXELS = OutputLimit(
    "PIXELS", DEFAULT_MAX_PIXELS, "the whole picture is held in memory, 40 to 80 bytes a pixel", "max_pixels")
"""Pixels of one rendered picture (an image, one video frame, a plot's planes): 2^30 (32768²) by default, the
largest image `fit image` reads."""
RENDER_SAMPLES = OutputLimit(
    "SAMPLES", DEFAULT_MAX_SAMPLES, "the whole clip is held in memory, about 30 bytes a sample", "max_samples")
"""Samples × channels of one rendered audio clip: 2^30 (6 hours of 48 kHz mono) by default, as `fit audio` reads."""
RENDER_FRAMES = OutputLimit("FRAMES", 100_000, "each frame is one more pass of the network over a picture")
"""Frames of one rendered video (a render keeps the fitted duration: more frames are slow motion)."""
RENDER_VIDEO_PIXELS = OutputLimit(
    "VIDEO_PIXELS", DEFAULT_MAX_VIDEO_PIXELS,
    "the network is evaluated at every pixel of every frame and the file grows with them", "max_video_pixels")
"""Frames × pixels of one rendered video: 2^38 (2.3 hours of 1080p at 30 fps) by default, as `fit video` reads."""


# ---------------------------------------------------------------------------------------------- stored signals
class DamagedSignal(Exception):
    """A stored signal description that a task cannot use: `reason` says what is wrong, `missing` names an
    absent field. `checked_signal` turns it into the one-line UserError that names the run."""

    def __init__(self, reason: str, missing: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.missing = reason, missing


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


@dataclass(frozen=True)
class Whole:
    """Schema rule: an integer in [lo, hi] (an integral JSON number such as 16 or 16.0)."""

    lo: int = 1
    hi: int = 2**31 - 1
    optional: bool = False

    def check(self, key: str, value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        kind = "a positive integer" if self.lo >= 1 else "an integer"
        # the type first ('not an integer'), then the range: a start_frame of -5 (lo 0) is below 0
        if isinstance(value, bool) or not isinstance(value, int) or (self.lo >= 1 and value < 1):
            raise DamagedSignal(f"{key} {_show(value)} is not {kind}")
        if value < self.lo:
            raise DamagedSignal(f"{key} {value} is below {self.lo}")
        if value > self.hi:
            raise DamagedSignal(f"{key} {amount(value)} is above {amount(self.hi)}")
        return value


@dataclass(frozen=True)
class Number:
    """Schema rule: a finite number, > gt / ≥ ge / < lt / ≤ le where given."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    optional: bool = False

    def check(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DamagedSignal(f"{key} {_show(value)} is not a number")
        try:
            x = float(value)
        except OverflowError:
            x = math.inf
        if not math.isfinite(x):
            raise DamagedSignal(f"{key} {_show(value)} is not a finite number")
        bounds = [(self.gt, lambda b: x > b, "> {}"), (self.ge, lambda b: x >= b, "≥ {}"),
                  (self.lt, lambda b: x < b, "< {}"), (self.le, lambda b: x <= b, "≤ {}")]
        for bound, holds, text in bounds:
            if bound is not None and not holds(bound):
                wanted = "positive" if text == "> {}" and bound == 0 else text.format(f"{bound:g}")
                raise DamagedSignal(f"{key} {x:g} is not {wanted}")
        return value if isinstance(value, int) else x  # as stored: an integer stays one


@dataclass(frozen=True)
class Choice:
    """Schema rule: one of `values`."""

    values: tuple[Any, ...]
    optional: bool = False

    def check(self, key: str, value: Any) -> Any:
        if isinstance(value, bool) or value not in self.values:
            raise DamagedSignal(f"{key} {_show(value)} is not one of {', '.join(map(repr, self.values))}")
        return value


@dataclass(frozen=True)
class Text:
    """Schema rule: a string (names, sources: shown to people, never used to compute)."""

    optional: bool = True

    def check(self, key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise DamagedSignal(f"{key} {_show(value)} is not a text")
        return value


@dataclass(frozen=True)
class Vector:
    """Schema rule: a list of `length` finite numbers (each checked by `item`)."""

    length: int
    item: Number = Number()
    optional: bool = False

    def check(self, key: str, value: Any) -> list[float]:
        if not isinstance(value, (list, tuple)) or len(value) != self.length:
            raise DamagedSignal(f"{key} {_show(value)} is not a list of {self.length} numbers")
        return [self.item.check(f"{key}[{i}]", v) for i, v in enumerate(value)]


@dataclass(frozen=True)
class ListOf:
    """Schema rule: a list of `lo` … `hi` items, each checked by `item`."""

    item: Any
    lo: int = 1
    hi: int = 2**20
    optional: bool = False

    def check(self, key: str, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)) or not self.lo <= len(value) <= self.hi:
            raise DamagedSignal(f"{key} {_show(value)} is not a list of {self.lo} to {amount(self.hi)} items")
        return [self.item.check(f"{key}[{i}]", v) for i, v in enumerate(value)]


@dataclass(frozen=True)
class Nullable:
    """Schema rule: null, or what `rule` accepts."""

    rule: Any
    optional: bool = False

    def check(self, key: str, value: Any) -> Any:
        return None if value is None else self.rule.check(key, value)


@dataclass(frozen=True)
class Record:
    """Schema rule: an object whose fields follow `schema` (e.g. the SDF's normalisation)."""

    schema: dict[str, Any]
    optional: bool = False

    def check(self, key: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise DamagedSignal(f"{key} {_show(value)} is not an object")
        return check_schema(self.schema, value, prefix=f"{key}.")


def check_schema(schema: dict[str, Any], signal: dict[str, Any], prefix: str = "",
                 fields: tuple[str, ...] | None = None, partial: bool = False) -> dict[str, Any]:
    """`signal` with every field of `schema` (only `fields` where given) checked and cleaned (fields the schema
    does not name are kept as they are); `DamagedSignal` for a missing required field (unless `partial`) or a
    value its rule refuses."""
    clean = dict(signal)
    for key, rule in schema.items():
        if fields is not None and key not in fields:
            continue
        if key not in signal:
            if rule.optional or partial:
                continue
            raise DamagedSignal(f"{prefix}{key} is missing", missing=prefix + key)
        clean[key] = rule.check(prefix + key, signal[key])
    return clean


MAX_SIDE = 2**20
"""Most samples along one axis of any fitted signal (an image's height, a clip's frames): far beyond what can be
fitted, so a stored side above it can only be damage."""


@dataclass
class BuiltModel:
    """A task's own network (see `Task.build_model`): the module, a plain-value spec that the checkpoint stores and
    `runs.load.network_from_spec` turns back into the same architecture, and a one-line description."""

    module: nn.Module
    spec: dict[str, Any]
    description: str


def undocumented_convention(task: str) -> dict[str, Any]:
    """The coordinate convention of a task that does not state one (or is unknown): a pointer to its docs."""
    return {"inputs": None, "outputs": None, "note": f"see the documentation of the {task!r} task in docs/"}


@dataclass
class ArtefactContext:
    """What `Task.write_artefacts` gets besides the model: the run folder and the training curve."""

    out_dir: Path
    curve: list[dict[str, Any]]
    metrics: dict[str, Any]


SIZE_SETTINGS = ("size", "frames", "batch_pixels", "batch_samples", "batch_points", "batch_size", "surface_samples",
                 "reference_nodes", "eval_size", "eval_samples", "mesh_resolution", "max_images", "duration", "chunk")
"""Task settings that scale a fit's memory, in the order the out-of-memory message names them."""


class Task(ABC):
    """A signal or problem that a coordinate network is fitted to."""

    name: ClassVar[str]
    command: ClassVar[tuple[str, str]]
    description: ClassVar[str]
    Config: ClassVar[type]
    metric: str = "psnr"
    """Headline metric: shown in the progress bar and written to curve.csv's `metric` column. A task whose
    headline depends on its data sets it on the instance (a Poisson field given without its image)."""
    higher_is_better: ClassVar[bool] = True
    recipes: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}
    """Named overrides {recipe: {"task": {...}, "model": {...}, "train": {...}}}; `cpu` and `gpu` are the defaults."""
    recipe_notes: ClassVar[dict[str, str]] = {}
    smoke: ClassVar[tuple[dict[str, Any], float]] = ({}, 0.0)
    """(tiny options, metric threshold): the registry smoke test runs every task so and checks the metric."""

    @classmethod
    def memory_flags(cls) -> str:
        """The flags that make a fit of this task smaller, for the out-of-memory message ("--size, … or
        --hidden-features"): the task's own size settings, then the network's width."""
        names = {f.name for f in dataclasses.fields(cls.Config)}
        flags = ["--" + n.replace("_", "-") for n in SIZE_SETTINGS if n in names] + ["--hidden-features"]
        return ", ".join(flags[:-1]) + " or " + flags[-1] if len(flags) > 1 else flags[0]

    needs: ClassVar[LossNeeds] = LossNeeds()
    """What this task's loss tolerates of bf16, TF32 and torch.compile, as measured (models/numerics.py, where
    `plan_numerics` turns it into the run's plan); `loss_needs` refines it for the run's network."""

    memory_data: ClassVar[str] = ""
    """What `sirenkit.fit(task, data=…)` takes for this task, in words ("" : no in-memory data); a task that takes
    some accepts `data=` in its constructor and reports its arrays by `memory_arrays`."""

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
        self.memory_arrays: dict[str, Any] = {}
        """The in-memory data this task was built from, as numpy arrays by name (empty: it read files)."""

    def build_model(self, model_cfg: Any) -> BuiltModel | None:
        """A network of the task's own (built from the model options), or None for the coordinate MLP that
        `model_cfg.build(in_features, out_features, samples)` gives."""
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

    @classmethod
    def coordinate_convention(cls, signal: dict[str, Any]) -> dict[str, Any]:
        """What the network's inputs (names, range, grid) and outputs mean for a run fitted to `signal` (its
        stored description), as plain JSON for the ONNX sidecar; tasks whose networks are exported say it."""
        return undocumented_convention(cls.name)

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """`needs` for this run's network and settings (tasks override it where the derivative path decides);
        `--derivatives fused` runs in fp32 only."""
        if getattr(self.config, "derivatives", None) == "fused":
            return replace(self.needs, fp32_only="--derivatives fused runs in fp32 only: use --precision fp32 or "
                                                 "another --derivatives")
        return self.needs

    def random_indices(self, count: int, population: int, generator: torch.Generator) -> Tensor:
        """`count` indices drawn uniformly (with replacement) from range(population), on the task's device."""
        return torch.randint(0, population, (count,), generator=generator, device=generator.device).to(self.device)

    def signal_meta(self) -> dict[str, Any]:
        """Plain facts about the signal stored in the checkpoint, enough to render without the data. Every field
        that `render` (or another command reading a run) uses is declared in `signal_schema`."""
        return {}

    signal_schema: ClassVar[dict[str, Any]] = {}
    """What `signal_meta` stores, field by field (`Whole`, `Number`, `Choice`, …): `check_signal` holds a stored
    description to it before anything reads it, so a damaged or edited checkpoint is one line, never a traceback
    or a silently wrong file."""

    renders_frames: ClassVar[bool] = False
    """Whether `render` takes `--frames` (video)."""

    network_inputs: ClassVar[int | None] = None
    """Coordinates that this task's coordinate network takes (None: a network of the task's own, see
    `check_network`)."""

    @classmethod
    def check_signal(cls, signal: dict[str, Any], fields: tuple[str, ...] | None = None,
                     partial: bool = False) -> dict[str, Any]:
        """The stored signal description with every field of `signal_schema` (or only `fields`, those a caller
        reads; `partial`: only those present) checked and cleaned; raises `DamagedSignal`. Tasks add checks across
        fields by extending this."""
        return check_schema(cls.signal_schema, signal, fields=fields, partial=partial)

    @classmethod
    def network_outputs(cls, signal: dict[str, Any]) -> tuple[int, str] | None:
        """(values per point the coordinate network must give for this checked signal, the signal field that
        says so, e.g. "channels 3"), or None when it is not fixed."""
        return None

    @classmethod
    def check_network(cls, spec: Any, signal: dict[str, Any]) -> None:
        """Further checks of the stored network description against the checked signal (tasks with a network of
        their own); raises `DamagedSignal`. Nothing further by default."""
        return None

    @classmethod
    def check_render(cls, signal: dict[str, Any], options: RenderOptions) -> None:
        """Refuse (UserError) a render whose output would pass an `OutputLimit`, before any work: the output
        array or file size follows from the checked signal and the options. No limit by default."""
        return None

    def describe(self) -> str:
        """One line saying what is being fitted (printed at start)."""
        return self.name

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        """Write human artefacts into the run folder; returns the file names written."""
        return []

    @classmethod
    def render(
        cls, model: nn.Module, signal: dict[str, Any], out: Path, options: RenderOptions, device: torch.device
    ) -> Path:
        """Sample a stored network at any resolution and write the artefact to `out`."""
        from ..errors import UserError

        raise UserError(f"task {cls.name!r} has nothing to render")

    @classmethod
    def render_suffix(cls) -> str:
        return ".png"
