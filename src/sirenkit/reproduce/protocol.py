"""The fair-comparison protocol every `sirenkit reproduce` experiment follows, written once.

An experiment compares methods on signals. The protocol, enforced here rather than left to each experiment:
* every method gets the same budget: the same steps and samples per step (methods may not set them), and
  parameters within `PARAMETER_TOLERANCE` of the reference network's (widths are matched by
  `ModelConfig.with_parameter_budget`, then the count is checked);
* each method's learning rate is the best of a grid of at least `MIN_GRID` values on tuning signals, which are
  never evaluation signals;
* results are the mean ± std over at least `MIN_SEEDS` seeds on at least `MIN_EVALUATION_SIGNALS` signals;
* the paper's own protocol (every method at the paper's learning rate) runs beside the tuned one.
The smoke scale (what the tests run) keeps the shape of the protocol at a size that takes seconds.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import TrainingDiverged, UserError

PARAMETER_TOLERANCE = 0.05
"""Every method's parameter count lies within 5 % of the reference network's."""
MIN_GRID = 4
MIN_SEEDS = 3
MIN_EVALUATION_SIGNALS = 2
PROTOCOLS = ("tuned", "paper")
"""`tuned`: each method at its own learning rate from the grid; `paper`: each at the paper's learning rate."""
BUDGET_KEYS = frozenset({
    "steps", "lr", "seed", "size", "batch_pixels", "batch_samples", "batch_points", "sample_frac", "batch_size",
    "target_pixels", "surface_samples", "hidden_features", "hidden_layers", "max_seconds", "schedule",
})
"""Settings a method may not change: they are the budget every method shares (the width is matched by the
parameter budget, not set by hand)."""


@dataclass(frozen=True)
class Signal:
    """One input the methods are fitted to: a name for tables and the task options that select it."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Method:
    """One method of a comparison: the options that make it (an activation, an encoder, a prior)."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    paper_lr: float | None = None
    """The learning rate the paper used for this method (None: the experiment's `paper_lr`)."""
    task: str | None = None
    """The task this method runs (None: the experiment's); Poisson's methods span two tasks."""
    lr_grid: tuple[float, ...] | None = None
    """This method's learning-rate grid where it needs other rates than the scale's (a grid of values)."""
    match_parameters: bool = True
    """Size the network to the reference's parameter count (False where the method is its own architecture,
    e.g. the meta experiment's encoders, whose sizes the paper fixed)."""


@dataclass(frozen=True)
class Scale:
    """The settings of one scale: shared task/model/train options, the learning-rate grid and the seeds."""

    options: dict[str, Any]
    lr_grid: tuple[float, ...]
    seeds: int = MIN_SEEDS
    tune_seeds: int = 1
    tuning_signals: int = 0
    """Tune on only the first N tuning signals (0: all of them); the smoke scale tunes on one."""
    recipe: str = "cpu"
    """The task recipe the scale starts from (its values, then `options` on top)."""
    note: str = ""


@dataclass(frozen=True)
class Experiment:
    """A comparison of the paper, runnable at the scales smoke, cpu and paper."""

    name: str
    title: str
    task: str
    methods: tuple[Method, ...]
    tuning: tuple[Signal, ...]
    evaluation: tuple[Signal, ...]
    scales: dict[str, Scale]
    metrics: tuple[str, ...]
    """Metric keys reported (the first is the one tuned on and ranked by)."""
    higher_is_better: bool
    paper_lr: float | None
    """The paper's learning rate (None: the experiment is not in the paper and has no paper protocol)."""
    paper: dict[str, dict[str, float]] = field(default_factory=dict)
    """The paper's numbers: {method: {metric key: value}}."""
    paper_setting: str = ""
    """How the paper's setting differs from ours (stated beside its numbers)."""
    reference_model: dict[str, Any] = field(default_factory=lambda: {"activation": "sine"})
    """The network whose parameter count is every method's budget (with the scale's width and depth)."""
    figure: str = "bars"
    """`bars`: the first metric per method and signal; `lines`: every metric per method (meta's context sizes)."""

    @property
    def headline(self) -> str:
        return self.metrics[0]


def check_protocol(experiment: Experiment, scale_name: str, seeds: int) -> None:
    """Refuse an experiment or a run that breaks the protocol (the smoke scale may use fewer seeds)."""
    scale = experiment.scales[scale_name]
    tuning = {_identity(s) for s in experiment.tuning}
    shared = [s.name for s in experiment.evaluation if _identity(s) in tuning]
    if shared:
        raise ValueError(f"{experiment.name}: signal(s) {', '.join(shared)} both tune and evaluate")
    for method in experiment.methods:
        fixed = sorted(BUDGET_KEYS & set(method.options))
        if fixed:
            raise ValueError(f"{experiment.name}: method {method.name} sets budget setting(s) {', '.join(fixed)}")
    for method in experiment.methods:
        if len(method.lr_grid or scale.lr_grid) < MIN_GRID:
            raise ValueError(f"{experiment.name}: {method.name}'s {scale_name} learning-rate grid has fewer than "
                             f"{MIN_GRID} values")
    if len(experiment.evaluation) < MIN_EVALUATION_SIGNALS:
        raise ValueError(f"{experiment.name}: fewer than {MIN_EVALUATION_SIGNALS} evaluation signals")
    if scale_name != "smoke" and seeds < MIN_SEEDS:
        raise UserError(f"--seeds {seeds}: the protocol asks for at least {MIN_SEEDS} seeds at --scale {scale_name}")


def _identity(signal: Signal) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in signal.options.items()))


@dataclass
class Context:
    """What every fit of one `reproduce` call shares."""

    experiment: Experiment
    scale_name: str
    device: torch.device
    log: Callable[[str], None]
    data: str | None = None
    """The folder of the paper's data files (`--data`)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Options the caller adds to every fit (e.g. `--steps` for a shorter trial)."""
    jobs: int = 1
    """Fits run at once, each in a worker process of its own (`--jobs`); 1: one after another, here."""
    threads: int | None = None
    """torch threads of each worker process (`--threads`; with several jobs, None means 1)."""
    quiet: bool = False
    fits: int = 0
    tasks: dict[tuple, Any] = field(default_factory=dict)
    """Tasks already built, by task name and settings: a signal is loaded once for all its fits (a task keeps no
    state between fits; every random draw comes from the trainer's generator)."""
    started: float = field(default_factory=time.perf_counter)

    @property
    def scale(self) -> Scale:
        return self.experiment.scales[self.scale_name]


def signal_options(signal: Signal, data: str | None) -> dict[str, Any]:
    """The signal's task options with its data files (`DataFile`) resolved in the folder `data`."""
    return {k: v.resolve(data) if hasattr(v, "resolve") else v for k, v in signal.options.items()}


def fit_options(ctx: Context, method: Method, signal: Signal, lr: float, seed: int) -> tuple[str, dict[str, Any]]:
    """(task name, flat options) of one fit: the task's recipe < the signal < the scale < the method < lr, seed."""
    from ..tasks import get_task

    task_name = method.task or ctx.experiment.task
    recipe = get_task(task_name).recipes.get(ctx.scale.recipe, {})
    options: dict[str, Any] = {}
    for section in ("task", "model", "train"):
        options.update(recipe.get(section, {}))
    options.update({"compile": "off", "precision": "fp32", "device": str(ctx.device)})
    options.update(signal_options(signal, ctx.data))
    options.update(ctx.scale.options)  # the scale sizes the signal (a clip's duration, a video's frames)
    options.update(method.options)
    options.update(ctx.extra)
    options.update({"lr": lr, "seed": seed})
    return task_name, options


def fit_once(ctx: Context, method: Method, signal: Signal, lr: float, seed: int) -> dict[str, Any]:
    """Train one method on one signal at one learning rate and seed; returns its record (metrics, curve,
    parameters, settings). A diverged fit is a result (`diverged`: true, metrics None), not an error."""
    from ..config import from_dict
    from ..models import ModelConfig, count_parameters
    from ..runner import section_classes, split_options
    from ..tasks import get_task
    from ..train.trainer import Trainer

    task_name, options = fit_options(ctx, method, signal, lr, seed)
    task_cls = get_task(task_name)
    sections, run = split_options(task_cls, options)
    if run:
        raise ValueError(f"{ctx.experiment.name}: run options {sorted(run)} in a fit")
    classes = section_classes(task_cls)
    cfg: dict[str, Any] = {s: from_dict(classes[s], sections[s], f"{ctx.experiment.name} {s} settings")
                           for s in classes}
    key = (task_name, repr(cfg["task"]))
    if key not in ctx.tasks:
        ctx.tasks[key] = task_cls(cfg["task"], ctx.device)
    task = ctx.tasks[key]
    model_cfg: ModelConfig = cfg["model"]
    budget = None
    if method.match_parameters:
        reference = dataclasses.replace(model_cfg, **ctx.experiment.reference_model)
        budget = reference.estimate_parameters(task.in_features, task.out_features)
        if model_cfg != reference:
            model_cfg = closest_to_budget(model_cfg, budget, task)
    torch.manual_seed(seed)
    built = task.build_model(model_cfg)
    model = (model_cfg.build(task.in_features, task.out_features, task.samples) if built is None
             else built.module).to(ctx.device)
    parameters = count_parameters(model)
    if budget is not None and abs(parameters - budget) > PARAMETER_TOLERANCE * budget:
        raise ValueError(f"{ctx.experiment.name}: {method.name} has {parameters:,} parameters, more than "
                         f"{PARAMETER_TOLERANCE:.0%} from the budget {budget:,}")

    curve = _curve_recorder()
    record: dict[str, Any] = {
        "method": method.name, "signal": signal.name, "lr": lr, "seed": seed, "parameters": parameters,
        "budget": budget, "width": model_cfg.hidden_features, "task": task_name,
        "options": {k: v for k, v in options.items() if k != "device"}, "curve": curve.rows,
    }
    ctx.fits += 1
    try:
        result = Trainer(cfg["train"], ctx.device, None, [curve]).fit(task, model)
    except TrainingDiverged:
        record.update(diverged=True, metrics=None, seconds=None)
        ctx.log(f"  {method.name} on {signal.name}, lr {lr:g}, seed {seed}: diverged")
        return record
    model.eval()
    final = task.evaluate(model, final=True)
    metrics = {key: _number(final.get(key)) for key in ctx.experiment.metrics}
    record.update(diverged=False, metrics=metrics, seconds=round(result.seconds, 3), steps=result.steps)
    shown = ", ".join(f"{k} {_fmt(v)}" for k, v in metrics.items())
    ctx.log(f"  {method.name} on {signal.name}, lr {lr:g}, seed {seed}: {shown} ({result.seconds:.1f} s)")
    return record


def _curve_recorder() -> Any:
    """A trainer callback keeping the headline metric at every evaluation: (step, seconds, metric) rows."""
    from ..train.callbacks import Callback

    class CurveRecorder(Callback):
        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def on_log(self, row: dict[str, Any]) -> None:
            if row.get("metric") is not None:
                self.rows.append({"step": row["step"], "seconds": round(row["seconds"], 3), "metric": row["metric"]})

    return CurveRecorder()


def closest_to_budget(model_cfg: Any, budget: int, task: Any) -> Any:
    """The width whose parameter count is nearest `budget` (`with_parameter_budget` gives the largest at most
    `budget`; one unit wider may be nearer: at small widths a unit is several per cent of the count)."""
    from ..models import count_parameters

    shape = (task.in_features, task.out_features, task.samples)
    below = model_cfg.with_parameter_budget(budget, *shape)
    if below.activation == "grid":
        return below
    above = dataclasses.replace(below, hidden_features=below.hidden_features + 1)
    counts = [count_parameters(c._build_on_meta(*shape)) for c in (below, above)]
    return below if budget - counts[0] <= counts[1] - budget else above


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"


def score(ctx: Context, records: Sequence[dict[str, Any]]) -> float:
    """Mean headline metric of `records`, oriented so that larger is better; a diverged fit scores −inf."""
    key = ctx.experiment.headline
    values = [r["metrics"][key] if not r["diverged"] and r["metrics"][key] is not None else None for r in records]
    if not values or any(v is None for v in values):
        return -math.inf
    mean = statistics.fmean(v for v in values if v is not None)
    return mean if ctx.experiment.higher_is_better else -mean


FitSpec = tuple[Method, Signal, float, int]
"""One fit of the protocol: method, signal, learning rate, seed."""


def run_fits(ctx: Context, specs: Sequence[FitSpec]) -> list[dict[str, Any]]:
    """`fit_once` of every spec, records in the order of `specs`. With `ctx.jobs` > 1 the fits run at once in
    worker processes (spawned: torch's threads do not survive a fork), each with `ctx.threads` threads; every fit
    is seeded, so the records equal those of one process at the same thread count."""
    if ctx.jobs <= 1 or len(specs) <= 1:
        return [fit_once(ctx, *spec) for spec in specs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    setup = (ctx.experiment, ctx.scale_name, str(ctx.device), ctx.data, ctx.extra, ctx.threads or 1, ctx.quiet)
    with ProcessPoolExecutor(min(ctx.jobs, len(specs)), mp_context=multiprocessing.get_context("spawn"),
                             initializer=_start_worker, initargs=setup) as pool:
        records = list(pool.map(_fit_in_worker, specs))
    ctx.fits += len(records)
    return records


_WORKER: Context | None = None
"""The Context of a `run_fits` worker process (its tasks are built once and kept for its later fits)."""


def _start_worker(experiment: Experiment, scale_name: str, device: str, data: str | None, extra: dict[str, Any],
                  threads: int, quiet: bool) -> None:
    global _WORKER
    torch.set_num_threads(threads)
    _WORKER = Context(experiment, scale_name, torch.device(device), stderr_log(quiet), data=data, extra=extra)


def _fit_in_worker(spec: FitSpec) -> dict[str, Any]:
    assert _WORKER is not None, "run_fits starts every worker with _start_worker"
    return fit_once(_WORKER, *spec)


def tune(ctx: Context, methods: Sequence[Method]) -> dict[str, Any]:
    """Each method at every learning rate of the grid on every tuning signal; returns
    {"chosen": {method: lr}, "runs": [...], "grid": [...], "signals": [...]}."""
    scale = ctx.scale
    chosen: dict[str, float] = {}
    scores: dict[str, dict[str, float | None]] = {}
    signals = tuning_signals(ctx)
    grids = {method.name: method.lr_grid or scale.lr_grid for method in methods}
    specs: list[FitSpec] = []
    for method in methods:
        ctx.log(f"tuning {method.name}: lr in {', '.join(f'{lr:g}' for lr in grids[method.name])}")
        specs += [(method, signal, lr, seed) for lr in grids[method.name] for signal in signals
                  for seed in range(scale.tune_seeds)]
    runs = run_fits(ctx, specs)
    fits: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for (method, _, lr, _), record in zip(specs, runs, strict=True):
        fits.setdefault((method.name, lr), []).append(record)
    for method in methods:
        grid = grids[method.name]
        by_lr = {lr: score(ctx, fits[method.name, lr]) for lr in grid}
        best = max(grid, key=lambda lr: (by_lr[lr], -lr))  # ties: the smaller rate
        chosen[method.name] = best
        scores[method.name] = {f"{lr:g}": (s if math.isfinite(s) else None) for lr, s in by_lr.items()}
    return {"chosen": chosen, "scores": scores, "signals": [s.name for s in signals], "seeds": scale.tune_seeds,
            "runs": runs}


def tuning_signals(ctx: Context) -> tuple[Signal, ...]:
    count = ctx.scale.tuning_signals
    return ctx.experiment.tuning[:count] if count else ctx.experiment.tuning


def evaluate(ctx: Context, methods: Sequence[Method], rates: dict[str, dict[str, float]],
             seeds: int) -> list[dict[str, Any]]:
    """Every method, under each protocol in `rates` ({protocol: {method: lr}}), on every evaluation signal and
    seed; returns the records with their protocol."""
    protocols: list[str] = []
    specs: list[FitSpec] = []
    for protocol, chosen in rates.items():
        for method in methods:
            lr = chosen[method.name]
            ctx.log(f"evaluating {method.name} ({protocol} protocol, lr {lr:g})")
            for signal in ctx.experiment.evaluation:
                for seed in range(seeds):
                    protocols.append(protocol)
                    specs.append((method, signal, lr, seed))
    return [{"protocol": protocol, **record} for protocol, record in zip(protocols, run_fits(ctx, specs))]


def summarise(experiment: Experiment, runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std (over seeds) of every metric per protocol, method and signal, and over all signals."""
    rows = []
    keys = sorted({(r["protocol"], r["method"]) for r in runs}, key=lambda k: (PROTOCOLS.index(k[0]),
                  [m.name for m in experiment.methods].index(k[1])))
    for protocol, method in keys:
        mine = [r for r in runs if r["protocol"] == protocol and r["method"] == method]
        row: dict[str, Any] = {"protocol": protocol, "method": method, "lr": mine[0]["lr"],
                               "parameters": mine[0]["parameters"], "diverged": sum(r["diverged"] for r in mine),
                               "signals": {}}
        for signal in experiment.evaluation:
            fits = [r for r in mine if r["signal"] == signal.name]
            row["signals"][signal.name] = {key: mean_std(fits, key) for key in experiment.metrics}
        row["all"] = {key: mean_std(mine, key) for key in experiment.metrics}
        row["paper"] = experiment.paper.get(method)
        rows.append(row)
    return rows


def mean_std(records: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """{"mean", "std", "n"} of metric `key` over `records` (diverged fits and missing values left out, and
    counted in "missing"); std is the sample standard deviation (0 for one value)."""
    values = [r["metrics"][key] for r in records if not r["diverged"] and r["metrics"].get(key) is not None]
    missing = len(records) - len(values)
    if not values:
        return {"mean": None, "std": None, "n": 0, "missing": missing}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "missing": missing}


def ordering(experiment: Experiment, rows: Sequence[dict[str, Any]], protocol: str) -> dict[str, Any] | None:
    """The methods the paper gives a number for, ranked by the paper and by us (headline metric, all signals),
    and how many of the pairs the paper separates (by more than `PAPER_TIE`, relative) we order the same way."""
    key = experiment.headline
    named = [r for r in rows if r["protocol"] == protocol and r["paper"] and key in r["paper"]
             and r["all"][key]["mean"] is not None]
    if len(named) < 2:
        return None
    sign = -1.0 if experiment.higher_is_better else 1.0
    ours = [r["method"] for r in sorted(named, key=lambda r: sign * r["all"][key]["mean"])]
    paper = [r["method"] for r in sorted(named, key=lambda r: sign * r["paper"][key])]
    pairs = agree = 0
    for i, a in enumerate(named):
        for b in named[i + 1:]:
            pa, pb = a["paper"][key], b["paper"][key]
            if abs(pa - pb) <= PAPER_TIE * max(abs(pa), abs(pb)):
                continue  # the paper does not separate these two
            pairs += 1
            agree += (pa > pb) == (a["all"][key]["mean"] > b["all"][key]["mean"])
    return {"ours": ours, "paper": paper, "pairs": pairs, "agree": agree}


PAPER_TIE = 0.05
"""Two paper numbers within 5 % of each other (ReLU ≈ Tanh ≈ 24 dB) do not order their methods."""


def stderr_log(quiet: bool) -> Callable[[str], None]:
    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)
    return log
