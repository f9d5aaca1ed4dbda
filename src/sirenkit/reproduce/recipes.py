"""Where each fit recipe's defaults come from: the tuning signal they are chosen on, never the signal a user
fits by default, and the search that chose them.

A recipe (`--recipe cpu`) fixes a task's settings; some of them (the learning rate, a loss weight, a frequency)
are choices that a measurement made. Each `RecipeChoice` names the task's default signal (what `sirenkit fit`
reports on when given no input, and what docs and tests quote), a different tuning signal, and a grid per
chosen setting. `choose` searches the grids one setting at a time, in the order given, each on the values
chosen before it and the recipe's for the rest; benchmarks/recipes/ keeps each search's log, and
tests/test_recipe_choices.py checks that every recipe holds the values its log chose.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .protocol import (
    MIN_GRID,
    Context,
    Experiment,
    Method,
    Scale,
    Signal,
    run_fits,
    score,
    signal_options,
    stderr_log,
)


@dataclass(frozen=True)
class RecipeChoice:
    """How one recipe's measured defaults are chosen: a tuning signal and a grid per setting."""

    task: str
    default_signal: str
    """What the task fits when given no input (the signal its numbers are quoted on)."""
    tuning: tuple[Signal, ...]
    """The signals the grids are scored on (the score is the mean over them); their options must differ from
    the task's defaults."""
    grids: dict[str, tuple[Any, ...]]
    """Setting → candidate values, searched in this order (`lr` first, with at least `MIN_GRID` values)."""
    recipe: str = "cpu"
    seeds: int = 1
    """Seeds per candidate; the score is their mean."""
    note: str = ""
    """The settings of the recipe that are not searched, and why (the paper's value, the compute budget)."""

    @property
    def name(self) -> str:
        return f"{self.task}-{self.recipe}"


def _recipe_settings(choice: RecipeChoice) -> dict[str, Any]:
    """Every setting of the task as its recipe runs it, by flat option name: the recipe's value, else the default."""
    from ..runner import section_classes
    from ..tasks import get_task

    task_cls = get_task(choice.task)
    if choice.recipe not in task_cls.recipes:
        raise ValueError(f"{choice.name}: {choice.task} has no recipe {choice.recipe!r}")
    settings: dict[str, Any] = {}
    for section, cls in section_classes(task_cls).items():
        recipe = task_cls.recipes[choice.recipe].get(section, {})
        for f in dataclasses.fields(cls):
            settings.setdefault(f.name, recipe.get(f.name, f.default))
    return settings


def recipe_values(choice: RecipeChoice) -> dict[str, Any]:
    """The recipe's current value of every searched setting and the learning rate (the recipe's own, else the
    config default)."""
    settings = _recipe_settings(choice)
    missing = set(choice.grids) - set(settings)
    if missing:
        raise ValueError(f"{choice.name}: {sorted(missing)} are not settings of {choice.task}")
    return {key: settings[key] for key in dict.fromkeys([*choice.grids, "lr"])}


def check_choice(choice: RecipeChoice) -> None:
    """Refuse a choice that tunes on the default signal, searches nothing, or has too small an lr grid."""
    defaults = _recipe_settings(choice)
    if not choice.tuning:
        raise ValueError(f"{choice.name}: no tuning signal")
    for signal in choice.tuning:
        if all(defaults.get(k, object()) == v for k, v in signal.options.items()):
            raise ValueError(f"{choice.name}: the tuning signal {signal.name!r} is the default signal")
    if not choice.grids:
        raise ValueError(f"{choice.name}: no setting to choose")
    if "lr" in choice.grids and len(choice.grids["lr"]) < MIN_GRID:
        raise ValueError(f"{choice.name}: the learning-rate grid has fewer than {MIN_GRID} values")
    recipe_values(choice)


def smoke_options(choice: RecipeChoice) -> dict[str, Any]:
    """The task's smoke-test sizes (seconds a fit), less the searched settings: what the tests run."""
    from ..tasks import get_task

    return {k: v for k, v in get_task(choice.task).smoke[0].items() if k not in choice.grids}


def _experiment(choice: RecipeChoice) -> Experiment:
    """The protocol's fit machinery needs an Experiment: one with the task, the tuning signal and its metric."""
    from ..tasks import get_task

    task_cls = get_task(choice.task)
    return Experiment(
        name=f"recipe {choice.name}", title=f"{choice.task} {choice.recipe} recipe", task=choice.task, methods=(),
        tuning=choice.tuning, evaluation=(), scales={choice.recipe: Scale({}, (), recipe=choice.recipe)},
        metrics=(task_cls.metric,), higher_is_better=task_cls.higher_is_better, paper_lr=None)


def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())


NUMERICS = {"recipe": {"compile": "auto", "precision": "auto"}, "fp32-eager": {}}
"""How a search's fits compute: `recipe`, as the command runs the recipe (`--compile auto --precision auto`:
compiled derivative losses, bf16 where the task allows it); `fp32-eager`, as the reproductions do."""


def choose(choice: RecipeChoice, *, data: str | None = None, jobs: int = 1, smoke: bool = False,
           quiet: bool = False, device: str = "cpu", numerics: str = "recipe") -> dict[str, Any]:
    """Search the choice's grids one setting at a time on its tuning signal; returns the log (every candidate's
    score and records, the chosen values and the recipe's current ones). Smoke sizes always run fp32-eager."""
    check_choice(choice)
    # resolve the signals' files here, once, before any worker process reads them
    signals = tuple(Signal(s.name, signal_options(s, data), s.note) for s in choice.tuning)
    choice = dataclasses.replace(choice, tuning=signals)
    experiment = _experiment(choice)
    log = stderr_log(quiet)
    numerics = "fp32-eager" if smoke else numerics
    ctx = Context(experiment, choice.recipe, torch.device(device), log, data=data,
                  extra=smoke_options(choice) if smoke else dict(NUMERICS[numerics]), jobs=jobs, quiet=quiet)
    current = recipe_values(choice)
    chosen: dict[str, Any] = {}
    stages = []
    started = time.perf_counter()
    done: dict[tuple, dict[str, Any]] = {}
    for knob, grid in choice.grids.items():
        fixed = {k: chosen.get(k, current[k]) for k in current if k != knob}
        log(f"{choice.name}: {knob} in {', '.join(map(str, grid))} ({_label(fixed)})")
        keys: list[tuple] = []
        pending: dict[tuple, Any] = {}  # fits no stage has run yet, by key
        for value in grid:
            setting = {**fixed, knob: value}
            lr = setting.pop("lr")
            method = Method(choice.task if knob == "lr" else _label({knob: value}), setting, match_parameters=False)
            for signal in choice.tuning:
                for seed in range(choice.seeds):
                    key = (repr(sorted(setting.items())), lr, signal.name, seed)
                    keys.append(key)
                    if key not in done:
                        pending.setdefault(key, (method, signal, lr, seed))
        done.update(zip(pending, run_fits(ctx, list(pending.values())), strict=True))
        records = [done[key] for key in keys]  # a candidate an earlier stage ran is not fitted again
        per = len(choice.tuning) * choice.seeds
        oriented = [score(ctx, records[i * per:(i + 1) * per]) for i in range(len(grid))]  # larger is better
        if not any(math.isfinite(v) for v in oriented):
            raise ValueError(f"{choice.name}: every {knob} candidate diverged")
        best = max(range(len(grid)), key=lambda i: oriented[i])  # ties: the first listed
        sign = 1.0 if experiment.higher_is_better else -1.0
        scores = [sign * v if math.isfinite(v) else None for v in oriented]
        chosen[knob] = grid[best]
        stages.append({"setting": knob, "fixed": fixed, "values": list(grid), "scores": scores,
                       "chosen": grid[best], "records": records})
        log(f"  {knob}: {grid[best]} ({experiment.headline} {scores[best]:.4g})")
    return {
        "choice": choice.name, "task": choice.task, "recipe": choice.recipe, "metric": experiment.headline,
        "higher_is_better": experiment.higher_is_better, "default_signal": choice.default_signal,
        "tuning_signal": tuning_names(choice), "tuning_options": [_plain(s.options) for s in choice.tuning],
        "seeds": choice.seeds, "smoke": smoke, "numerics": numerics, "chosen": chosen, "recipe_values": current,
        "stages": stages, "fits": len(done), "seconds": round(time.perf_counter() - started, 1), "jobs": jobs,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {1 if jobs > 1 else torch.get_num_threads()} thread(s) a fit, "
                   f"torch {torch.__version__}",
    }


def tuning_names(choice: RecipeChoice) -> str:
    return " and ".join(signal.name for signal in choice.tuning)


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in options.items()}


def _at_edge(stage: dict[str, Any]) -> bool:
    """Whether a search stage chose the first or last value of its grid (a value beyond might score better)."""
    return stage["chosen"] in (stage["values"][0], stage["values"][-1])


def log_markdown(result: dict[str, Any]) -> str:
    """A search log as markdown: one table per searched setting."""
    lines = [f"# {result['task']} `--recipe {result['recipe']}`: defaults chosen on {result['tuning_signal']}",
             "", f"Default signal (not used here): {result['default_signal']}. Metric: {result['metric']} "
             f"({'higher' if result['higher_is_better'] else 'lower'} is better), mean of {result['seeds']} "
             f"seed(s), {result.get('numerics', 'fp32-eager')} numerics. {result['date']}, {result['machine']}, "
             f"{result['jobs']} job(s), {result['seconds']:.0f} s"
             f"{' (smoke sizes)' if result['smoke'] else ''}.", ""]
    for stage in result["stages"]:
        lines += [f"## {stage['setting']} (the others: {_label(stage['fixed']) or 'none'})", "",
                  f"| {stage['setting']} | {result['metric']} |", "|---|---|"]
        edge = " (at the grid's edge)" if _at_edge(stage) else ""
        for value, mean in zip(stage["values"], stage["scores"], strict=True):
            mark = f" **chosen**{edge}" if value == stage["chosen"] else ""
            lines.append(f"| {value} | {'diverged' if mean is None else f'{mean:.4g}'}{mark} |")
        lines.append("")
    changed = {k: (result["recipe_values"][k], v) for k, v in result["chosen"].items()
               if result["recipe_values"][k] != v}
    lines.append("Chosen: " + _label(result["chosen"]) + (". The recipe had " + ", ".join(
        f"{k} {old}" for k, (old, _) in changed.items()) + " when this ran." if changed else
        ": the recipe's values."))
    return "\n".join(lines) + "\n"


def choices_markdown(choices: Sequence[RecipeChoice], logs: dict[str, dict[str, Any]]) -> str:
    """The table of docs/recipes.md: per recipe its default signal, tuning signal and what the search chose."""
    from ..tasks import get_task

    rows = ["| recipe | default signal (what the command fits without input) | tuning signal | chosen on it "
            "(search log) | not searched |", "|---|---|---|---|---|"]
    for choice in choices:
        result = logs.get(choice.name)
        edges = [stage["setting"] for stage in result["stages"] if _at_edge(stage)] if result else []
        chosen = (f"{_label(result['chosen'])}{'; at the grid edge: ' + ', '.join(edges) if edges else ''} "
                  f"([log](../benchmarks/recipes/{choice.name}.md), {result['date'][:10]})" if result else "not run")
        command = " ".join(get_task(choice.task).command)
        rows.append(f"| `{command} --recipe {choice.recipe}` | {choice.default_signal} | {tuning_names(choice)} "
                    f"| {chosen} | {choice.note} |")
    return "\n".join(rows) + "\n"


@dataclass(frozen=True)
class BundledFolder:
    """A signal option naming a folder of scikit-image's bundled photographs outside `fit images`' default six:
    made (links to the package's files) under the temporary folder when a fit resolves it."""

    names: tuple[str, ...]

    def resolve(self, folder: str | None) -> str:
        import tempfile
        from pathlib import Path

        from skimage import data as skdata

        root = Path(skdata.__file__).parent
        target = Path(tempfile.gettempdir()) / f"sirenkit-tuning-images-{'-'.join(self.names)}"
        target.mkdir(exist_ok=True)
        for name in self.names:
            source = next(p for p in sorted(root.glob(f"{name}.*")) if p.suffix in (".png", ".jpg"))
            link = target / source.name
            if not link.exists():
                link.symlink_to(source)
        return str(target)


@dataclass(frozen=True)
class CountingSpeech:
    """A signal option naming the counting-speech clip of `sirenkit.io.speech` (espeak-ng), made under the
    temporary folder when a fit resolves it."""

    seconds: float = 12.0

    def resolve(self, folder: str | None) -> str:
        import tempfile
        from pathlib import Path

        from ..errors import UserError
        from ..io.speech import make_speech_clip

        path = Path(tempfile.gettempdir()) / f"sirenkit-tuning-speech-{self.seconds:g}s.wav"
        if not path.is_file() and make_speech_clip(path, self.seconds) is None:
            raise UserError("the audio recipe is chosen on synthesised speech: install espeak-ng "
                            "(e.g. apt-get install espeak-ng)")
        return str(path)


def _choices() -> tuple[RecipeChoice, ...]:
    from .experiments import DataFile, _bundled, _grey

    photos = (_grey("astronaut"), _grey("coffee"))
    return (
        RecipeChoice("image", "the cameraman", photos, {"lr": (3e-4, 1e-3, 2e-3, 3e-3)},
                     note="256², 8,192 pixels a step, 1,000 steps: the compute budget (about a minute)"),
        RecipeChoice("images", "six photographs bundled with scikit-image (camera, astronaut, coffee, chelsea, "
                               "moon, rocket)",
                     (Signal("coins, motorcycle, hubble", {"folder": BundledFolder(
                         ("coins", "motorcycle_left", "hubble_deep_field"))}),),
                     {"lr": (3e-4, 1e-3, 2e-3, 3e-3)}, note="128², 4,096 pixels per image a step, 500 steps: budget"),
        RecipeChoice("poisson-gradient", "the cameraman", photos[:1], {"lr": (5e-5, 1e-4, 2e-4, 4e-4)},
                     note="256², 8,192 pixels a step, 1,500 steps: budget; first ω0 30: the paper's"),
        RecipeChoice("poisson-laplacian", "the cameraman", photos[:1], {"lr": (5e-5, 1e-4, 2e-4, 4e-4)},
                     note="256², 8,192 pixels a step, 1,000 steps: budget; first ω0 30: the paper's"),
        RecipeChoice("poisson-blend", "the astronaut's gradients mixed into the cameraman's",
                     (Signal("coffee mixed with rocket", {"base": _bundled("coffee"), "insert": _bundled("rocket")}),),
                     {"lr": (1e-4, 3e-4, 1e-3, 3e-3)}, note="128², 800 steps: budget"),
        RecipeChoice("audio", "a generated 3 s chord and sweep",
                     (Signal("12 s of counting speech (espeak-ng)", {"path": CountingSpeech()}),),
                     {"lr": (3e-5, 1e-4, 2e-4, 4e-4), "first_omega_0": (3000.0, 6000.0, 10000.0)},
                     note="4,096 loudness-sampled samples a step, 3,500 steps: budget"),
        RecipeChoice("video", "a generated 48-frame pan across the coffee photograph",
                     (Signal("bikes", {"path": DataFile("bikes.mp4")}),), {"lr": (2e-4, 3e-4, 5e-4, 1e-3)},
                     note="128 px, 256 wide, 0.38 % of the pixels a step, 1,000 steps: budget"),
        RecipeChoice("sdf", "an analytic torus", (Signal("rounded box", {"path": None, "shape": "rounded-box"}),),
                     {"first_omega_0": (5.0, 10.0, 15.0, 30.0)},
                     note="lr 1e-4 and gradient clipping: the paper's; points, steps and mesh size: budget"),
        RecipeChoice("helmholtz", "a source at (0, 0)", (Signal("source at (0.3, −0.3)", {"source": "0.3,-0.3"}),),
                     {"lr": (5e-5, 1e-4, 2e-4, 3e-4), "first_omega_0": (5.0, 10.0, 20.0)},
                     note="k 10 with PML a0 10 (the paper's k·a0 = 100), σ 0.03 and the points near the source: the "
                          "problem's resolution on a CPU; 5,000 steps: budget"),
        RecipeChoice("wave", "speed 1, σ 0.1", (Signal("speed 0.8, σ 0.12", {"speed": 0.8, "source_sigma": 0.12}),),
                     {"lr": (1e-4, 2e-4, 3e-4, 6e-4), "first_omega_0": (5.0, 10.0, 30.0),
                      "initial_weight": (1e3, 1e4, 1e5)},
                     note="σ 0.1: the finest the CPU grid resolves; the velocity weight 100 (searched jointly with "
                          "the initial weight on speed 1 before, docs/wave.md); 2,500 steps: budget"),
        RecipeChoice("fwi", "measurements simulated for the cylinder (0, 0), r 0.1, v 2 (the medium of "
                            "fwi_cylinder_5.mat)",
                     (Signal("simulated cylinder (0.2, −0.1), r 0.12, v 1.5",
                             {"path": None, "cylinder": "0.2,-0.1,0.12,1.5"}),),
                     {"lr": (1e-4, 2e-4, 3e-4, 5e-4), "slowness_scale": (0.1, 0.2, 0.3, 0.5)},
                     note="the slowness box and source mute (where the velocity may change: geometry, chosen on "
                          "fwi_cylinder_5.mat, docs/pde.md); 6,000 steps: budget"),
        RecipeChoice("meta", "the test crops (astronaut and coffee)",
                     (Signal("validation crops", {"eval_split": "validation"}),),
                     {"lr": (2e-4, 5e-4, 1e-3, 2e-3), "weights_weight": (1.0, 4.4, 20.0, 100.0),
                      "hyper_hidden_features": (64, 128)},
                     note="the set encoder's ReLU (chosen on the test crops before, docs/meta.md; not searched "
                          "again); 5,000 steps of batch 32: budget"),
    )


CHOICES: tuple[RecipeChoice, ...] = _choices()
"""Every task's cpu recipe and how its defaults are chosen (docs/recipes.md)."""


def get_choice(name: str) -> RecipeChoice:
    for choice in CHOICES:
        if name in (choice.name, choice.task):
            return choice
    raise KeyError(f"no recipe choice {name!r}; choose from {', '.join(c.task for c in CHOICES)}")
