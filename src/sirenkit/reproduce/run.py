"""`sirenkit reproduce NAME`: run one of the paper's experiments under the fair protocol and write its table.

Without `--tune` it evaluates: every method on every evaluation signal and seed, at its tuned learning rate
(from `--tuned FILE`, else the values committed in tuned.json for that scale; the smoke scale tunes inline) and
at the paper's learning rate. With `--tune` it runs the learning-rate grid on the tuning signals and writes
tuning.json, the file `--tuned` reads and tuned.json collects.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from .experiments import get_experiment
from .protocol import (
    MIN_SEEDS,
    PROTOCOLS,
    Context,
    Experiment,
    Method,
    check_protocol,
    evaluate,
    signal_options,
    stderr_log,
    summarise,
    tune,
    tuning_signals,
)

SCALES = ("smoke", "cpu", "paper")
RESULT_FILES = ("results.json", "results.md", "figure.png")
TUNING_FILES = ("tuning.json", "tuning.md")
MAX_SEEDS = 100
MAX_JOBS = 256


def committed_rates(name: str, scale: str) -> dict[str, Any] | None:
    """The tuning result committed for `name` at `scale` (src/sirenkit/reproduce/tuned.json), or None."""
    text = resources.files("sirenkit.reproduce").joinpath("tuned.json").read_text(encoding="utf-8")
    return json.loads(text).get(name, {}).get(scale)


def read_tuning(path: str, experiment: Experiment, scale: str) -> dict[str, Any]:
    """A tuning.json written by `--tune` for this experiment and scale."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"--tuned {path}: cannot read a tuning.json ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("chosen"), dict):
        raise UserError(f"--tuned {path}: not a tuning.json written by `sirenkit reproduce --tune`")
    if data.get("experiment") != experiment.name or data.get("scale") != scale:
        raise UserError(f"--tuned {path} tuned {data.get('experiment')} at scale {data.get('scale')}, not "
                        f"{experiment.name} at {scale}")
    return data


def _methods(experiment: Experiment, names: str | None) -> list[Method]:
    return _subset(experiment.methods, names, "--methods", experiment.name) if names else list(experiment.methods)


def reproduce(name: str, scale: str = "cpu", seeds: int | None = None, out: str | None = None,
              tune_only: bool = False, tuned: str | None = None, methods: str | None = None,
              data: str | None = None, device: str = "auto", threads: int | None = None, quiet: bool = False,
              overwrite: bool = False, command: str | None = None, signals: str | None = None,
              protocols: str | None = None, jobs: int = 1) -> dict[str, Any]:
    """Run experiment `name` at `scale`; returns the result (or, with `tune_only`, the tuning) and writes its files
    into `out` (default runs/reproduce-NAME-SCALE-DATE-TIME). `methods`, `signals` and `protocols` (comma-separated
    subsets) make a partial run, labelled so in its table: a GPU lease that fits only part of an experiment.
    `jobs` > 1 runs that many fits at once, each in a process of its own (`threads` torch threads each, default
    1): the same records, in less wall time on a machine with the cores for it."""
    from ..bench.suite import check_threads
    from ..config import check_number
    from ..runs.folder import writing_outputs
    from ..train.device import resolve_device

    experiment = get_experiment(name)
    if scale not in SCALES:
        raise UserError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    seeds = experiment.scales[scale].seeds if seeds is None else check_number("--seeds", seeds, int, 1, MAX_SEEDS)
    check_protocol(experiment, scale, seeds)
    chosen = _methods(experiment, methods)
    wanted = _protocols(experiment, protocols)
    if signals:
        experiment = dataclasses.replace(experiment, evaluation=tuple(_subset(experiment.evaluation, signals,
                                                                              "--signals", experiment.name)))
    partial = [flag for flag, value in (("--methods", methods), ("--signals", signals), ("--protocols", protocols))
               if value] + ([f"--seeds {seeds}"] if seeds < MIN_SEEDS and scale != "smoke" else [])
    if tune_only and tuned:
        raise UserError("--tune makes a tuning.json; --tuned reads one: give one of them")
    threads = check_threads(threads)
    jobs = check_number("--jobs", jobs, int, 1, MAX_JOBS)
    dev = resolve_device(device)
    folder = Path(out) if out else Path("runs") / f"reproduce-{name}-{scale}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file, not a folder")
    needs_rates = not tune_only and "tuned" in wanted
    committed = None if (not needs_rates or tuned or scale == "smoke") else committed_rates(name, scale)
    if needs_rates and scale != "smoke" and tuned is None and committed is None:
        raise UserError(f"no tuned learning rates for {name} at --scale {scale}: run `sirenkit reproduce {name} "
                        f"--scale {scale} --tune --out DIR` first and pass --tuned DIR/tuning.json")
    source = read_tuning(tuned, experiment, scale) if tuned is not None else committed
    for signal in (*experiment.tuning, *experiment.evaluation):  # every data file is found before the fits
        signal_options(signal, data)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    names = TUNING_FILES if tune_only else RESULT_FILES
    try:
        with writing_outputs([(folder / n, "--out") for n in names], "reproduce", overwrite=overwrite):
            return _run(experiment, scale, seeds, chosen, folder, tune_only, source, tuned, data, dev, threads,
                        quiet, command, wanted, partial, jobs)
    except BaseException:
        if made and not any(folder.iterdir()):
            folder.rmdir()  # a run that fails before writing leaves no empty folder behind
        raise


def _run(experiment: Experiment, scale: str, seeds: int, chosen: list[Method], folder: Path, tune_only: bool,
         source: dict[str, Any] | None, tuned: str | None, data: str | None, dev: torch.device,
         threads: int | None, quiet: bool, command: str | None, wanted: list[str],
         partial: list[str], jobs: int = 1) -> dict[str, Any]:
    from ..bench.suite import machine_info
    from ..io.atomic import write_json, write_text

    name = experiment.name
    ctx = Context(experiment, scale, dev, stderr_log(quiet), data=data, jobs=jobs, threads=threads, quiet=quiet)
    if threads:
        torch.set_num_threads(threads)
    settings = {
        "experiment": name, "scale": scale, "seeds": seeds, "methods": [m.name for m in chosen],
        "note": experiment.scales[scale].note,
        "tuning_signals": [s.name for s in tuning_signals(ctx)],
        "evaluation_signals": [{"name": s.name, "note": s.note} for s in experiment.evaluation],
        "command": command or f"sirenkit reproduce {name} --scale {scale}",
        "protocols": wanted, "partial": partial, "jobs": jobs,
    }
    machine = machine_info(dev)
    if tune_only:
        tuning = tune(ctx, chosen)
        record = {"experiment": name, "scale": scale, **tuning, "settings": settings, "machine": machine,
                  "seconds": round(time.perf_counter() - ctx.started, 1), "fits": ctx.fits}
        from .report import tuning_markdown

        write_json(folder / "tuning.json", record)
        write_text(folder / "tuning.md", tuning_markdown(tuning, experiment, settings))
        ctx.log(f"tuning written to {folder / 'tuning.json'}")
        return record
    rates: dict[str, dict[str, float]] = {}
    settings["rates_from"] = "—"
    if "tuned" in wanted:
        if source is None:  # smoke: tuned here, on the tuning signals, before evaluating
            source = tune(ctx, chosen)
            settings["rates_from"] = "tuned in this run"
        else:
            settings["rates_from"] = f"--tuned {tuned}" if tuned else "tuned.json (committed)"
        missing = [m.name for m in chosen if m.name not in source["chosen"]]
        if missing:
            raise UserError(f"the tuning for {name} at {scale} has no learning rate for {', '.join(missing)}")
        rates["tuned"] = {m.name: float(source["chosen"][m.name]) for m in chosen}
    if "paper" in wanted:
        rates["paper"] = {m.name: float(m.paper_lr or experiment.paper_lr or 0.0) for m in chosen}
    runs = evaluate(ctx, chosen, rates, seeds)
    result = {
        "settings": settings, "machine": machine,
        "tuning": {k: v for k, v in (source or {}).items() if k != "runs"},
        "summary": summarise(experiment, runs), "runs": runs, "fits": ctx.fits,
        "seconds": round(time.perf_counter() - ctx.started, 1), "paper": experiment.paper,
        "paper_setting": experiment.paper_setting, "below_protocol": seeds < MIN_SEEDS,
    }
    from .report import figure, results_markdown

    markdown = results_markdown(result, experiment)
    result["markdown"] = markdown
    write_json(folder / "results.json", result)
    write_text(folder / "results.md", markdown)
    figure(result, experiment, folder / "figure.png")
    ctx.log(f"results written to {folder}")
    return result


def _subset(items, names: str, flag: str, experiment: str) -> list:
    known = {item.name: item for item in items}
    chosen = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in known:
            raise UserError(f"{flag}: {experiment} has no {name!r}; it has {', '.join(known)}")
        chosen.append(known[name])
    if not chosen:
        raise UserError(f"{flag} names nothing")
    return chosen


def _protocols(experiment: Experiment, names: str | None) -> list[str]:
    available = [p for p in PROTOCOLS if p != "paper" or experiment.paper_lr is not None]
    if not names:
        return available
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    wrong = [n for n in chosen if n not in available]
    if wrong or not chosen:
        raise UserError(f"--protocols: {experiment.name} has {', '.join(available)}; got {names!r}")
    return [p for p in available if p in chosen]


__all__ = ["PROTOCOLS", "SCALES", "reproduce"]
