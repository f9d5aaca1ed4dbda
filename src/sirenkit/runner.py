"""Runs a task end to end: resolve the config, prepare the run folder, train, evaluate, export.

The CLI and the Python API (`sirenkit.fit`) both come here, with the same flat option names.
Precedence of settings: dataclass defaults < recipe < `--config FILE` < explicit options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ._version import __version__
from .config import from_dict, option, path_fields, to_dict
from .custom import check_custom_model, custom_network, probe_loss, user_loss
from .errors import UserError
from .io.atomic import finite_json, write_json
from .io.limits import DEFAULT_MAX_PIXELS, DEFAULT_MAX_SAMPLES, DEFAULT_MAX_VIDEO_PIXELS, LIMIT_FLAGS, input_limits
from .io.limits import HELP as LIMIT_HELP
from .io.memory import fingerprint
from .models import ModelConfig, count_parameters, model_spec
from .models.numerics import NumericsPlan
from .models.precision import fast_bf16
from .plots import no_figures
from .runs.files import CHECKPOINT, CONFIG, METRICS, SECTIONS
from .runs.folder import check_out_dir, open_run
from .runs.load import read_config_file
from .tasks import Task
from .tasks.base import ArtefactContext
from .train import distributed
from .train.callbacks import Callback, ProgressBar, TensorBoardLogger
from .train.checkpoint import load_checkpoint
from .train.device import resolve_device
from .train.trainer import RESUMABLE_TRAIN_FIELDS, TrainConfig, Trainer, numerics_plan


@dataclass(frozen=True)
class RunOptions:
    """Where the run goes and where its settings come from."""

    out: str | None = option(None, "output folder (default: runs/<task>-<date>-<time>)", metavar="DIR")
    recipe: Literal["auto", "paper", "gpu", "cpu"] = option(
        "auto", "preset settings: paper (exactly the paper), gpu, cpu; auto picks gpu or cpu by device"
    )
    config: str | None = option(None, "start from the settings in this config.json (explicit flags win)",
                                metavar="FILE")
    resume: bool = option(False, "continue the run in --out from its last checkpoint up to --steps")
    overwrite: bool = option(False, "replace the run in --out: only the files sirenkit wrote there (its run.json "
                                    "lists them) are removed")
    quiet: bool = option(False, "print nothing but errors")
    figures: bool = option(True, "draw the run's PNG plots (comparison, curves, derivative maps, previews); "
                                 "--no-figures keeps the numbers, reconstructions and meshes and skips the plots")
    # input size limits (sirenkit.io.limits), checked from a file's header before it is decoded
    max_pixels: int = option(DEFAULT_MAX_PIXELS, LIMIT_HELP["max_pixels"], metavar="N")
    max_samples: int = option(DEFAULT_MAX_SAMPLES, LIMIT_HELP["max_samples"], metavar="N")
    max_video_pixels: int = option(DEFAULT_MAX_VIDEO_PIXELS, LIMIT_HELP["max_video_pixels"], metavar="N")

    def validate(self) -> None:
        """Each input limit is a positive integer (`from_dict` calls this)."""
        from .io.limits import LIMIT_FLAGS, checked_limits

        checked_limits(**{name: getattr(self, name) for name in LIMIT_FLAGS})


@dataclass
class RunResult:
    """What a finished run produced: its folder (None for a fit held in memory), final metrics, settings, the
    trained network and the training curve (the rows of curve.csv)."""

    out_dir: Path | None
    metrics: dict[str, Any]
    config: dict[str, Any]
    model: nn.Module
    curve: list[dict[str, Any]] = dataclasses.field(default_factory=list)


def section_classes(task_cls: type[Task]) -> dict[str, type]:
    return {"task": task_cls.Config, "model": ModelConfig, "train": TrainConfig}


def split_options(task_cls: type[Task], options: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Sort flat option names (as on the CLI) into config sections; unknown names are an error."""
    sections: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    run: dict[str, Any] = {}
    owners = {f.name: "run" for f in dataclasses.fields(RunOptions)}
    for section, cls in section_classes(task_cls).items():
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, section)
    for key, value in options.items():
        owner = owners.get(key)
        if owner is None:
            raise UserError(f"unknown option {key!r} for {' '.join(task_cls.command)}")
        (run if owner == "run" else sections[owner])[key] = value
    return sections, run


def resolve_settings(
    task_cls: type[Task], explicit: dict[str, dict[str, Any]], run: RunOptions
) -> tuple[dict[str, Any], torch.device, str, dict[str, Any] | None]:
    """Merge defaults, recipe, config file and explicit options into typed configs; also returns the config file
    read (the run's own for `--resume`), or None."""
    base: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    recipe = run.recipe
    stored: dict[str, Any] | None = None
    if run.resume:
        stored = read_config_file(Path(run.out or "") / CONFIG)
    elif run.config:
        stored = read_config_file(run.config)
    if stored is not None:
        name = stored.get("task_name", task_cls.name)
        if name != task_cls.name:
            raise UserError(f"the config is for task {name!r}, not {task_cls.name!r}")
        for s in SECTIONS:
            base[s] = dict(stored.get(s, {}))
        base["task"] = _inputs_from(task_cls, base["task"], stored.get("cwd"))
        recipe = stored.get("recipe", recipe)
    device_name = explicit["train"].get("device", base["train"].get("device", "auto"))
    device = resolve_device(device_name)
    if stored is None:
        if recipe == "auto":
            recipe = "gpu" if device.type in ("cuda", "mps") else "cpu"
        for s in SECTIONS:
            base[s].update(task_cls.recipes.get(recipe, {}).get(s, {}))
    classes = section_classes(task_cls)
    if run.resume and stored is not None:
        _check_resume(task_cls, explicit, base, classes)
    merged = {s: {**base[s], **explicit[s]} for s in SECTIONS}
    configs: dict[str, Any] = {s: from_dict(classes[s], merged[s], f"{s} settings") for s in SECTIONS}
    return configs, device, recipe, stored


def _inputs_from(task_cls: type[Task], settings: dict[str, Any], started_in: Any) -> dict[str, Any]:
    """Task settings read back from a config.json, with relative input paths made relative to the folder that
    run started in (`cwd`), so that a run resumed or repeated from another folder reads the same files."""
    if not isinstance(started_in, str) or os.path.abspath(started_in) == os.getcwd():
        return settings
    resolved = dict(settings)
    for name in path_fields(task_cls.Config):
        value = settings.get(name)
        if isinstance(value, str) and value and not os.path.isabs(value):
            resolved[name] = os.path.normpath(os.path.join(started_in, value))
    return resolved


def _check_resume(task_cls: type[Task], explicit: dict[str, dict[str, Any]], stored: dict[str, dict[str, Any]],
                  classes: dict[str, type]) -> None:
    """Refuse flags that would change a resumed run. A setting the run's config.json lacks (written before the
    option existed) ran with the option's default, so that is what a flag is compared with; input paths are
    compared as the files they name."""
    paths = set(path_fields(task_cls.Config))
    for section in SECTIONS:
        defaults = {f.name: f.default for f in dataclasses.fields(classes[section])
                    if f.default is not dataclasses.MISSING}
        for key, value in explicit[section].items():
            if section == "train" and key in RESUMABLE_TRAIN_FIELDS:
                continue
            ran = stored[section].get(key, defaults.get(key, value))
            if section == "task" and key in paths and isinstance(value, str) and isinstance(ran, str):
                if os.path.abspath(value) == os.path.abspath(ran):
                    continue
            if ran != value:
                flag = "--" + key.replace("_", "-")
                raise UserError(
                    f"--resume: {flag} {value} differs from the run's {ran}; "
                    "drop the flag to continue the run, or start a new run in another --out"
                )


def recipe_overrides(task_cls: type[Task], recipe: str, explicit: dict[str, dict[str, Any]]) -> str:
    """The flags given that change a value the recipe sets, as `--lr 0.002, --steps 500`, so that the recipe
    line printed at the start does not describe settings the run no longer uses."""
    chosen = task_cls.recipes.get(recipe, {})
    changed = [f"--{key.replace('_', '-')} {value:g}" if isinstance(value, float) else
               f"--{key.replace('_', '-')} {value}"
               for section in SECTIONS for key, value in explicit[section].items()
               if key in chosen.get(section, {}) and chosen[section][key] != value]
    return ", ".join(changed)


def _log(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


@dataclass
class RunPlan:
    """Everything a fit decided before it writes anything: settings, data, network, numerics, the run folder and
    what config.json will hold. Every refusal happens while the plan is made."""

    task_cls: type[Task]
    run: RunOptions
    explicit: dict[str, dict[str, Any]]
    out_dir: Path | None  # None: trained in memory, nothing written
    recipe: str
    device: torch.device
    task: Task
    model: nn.Module
    spec: dict[str, Any]
    description: str
    train_cfg: TrainConfig
    numerics: NumericsPlan
    signal: dict[str, Any]
    config_record: dict[str, Any]
    job: Any = None  # the torchrun job, or None
    callbacks: tuple[Callback, ...] = ()  # the API's own, beside the progress bar

    @property
    def writer(self) -> bool:
        """Whether this process writes the run folder (rank 0 under torchrun)."""
        return self.job is None or self.job.is_writer

    @property
    def quiet(self) -> bool:
        return self.run.quiet or not self.writer


@dataclass(frozen=True)
class Extras:
    """What only the Python API hands a fit: the signal as arrays (`Task.memory_data`), the user's own network and
    loss, callbacks, and whether to train in memory (no run folder, nothing written)."""

    data: Any = None
    model: nn.Module | None = None
    loss: Callable[[nn.Module, Any], dict[str, Tensor]] | None = None
    replace_loss: bool = False  # False: the user's terms are added to the task's; True: they are the whole loss
    callbacks: tuple[Callback, ...] = ()
    in_memory: bool = False


def run_task(task_cls: type[Task], options: dict[str, Any], extras: Extras = Extras()) -> RunResult:
    """Fit `task_cls` with flat `options` (CLI flag names with underscores): plan (every check, nothing written),
    announce (the log lines), train (into the run folder), finish (metrics and artefacts)."""
    plan = plan_run(task_cls, options, extras)
    announce(plan)
    return train_and_finish(plan)


def plan_run(task_cls: type[Task], options: dict[str, Any], extras: Extras = Extras()) -> RunPlan:
    """Resolve the settings, check the run folder, load the data, build the network and plan its numerics;
    everything that can be refused is refused here, before anything is written."""
    explicit, run_values = split_options(task_cls, options)
    run = from_dict(RunOptions, run_values, "run options")
    data, in_memory = extras.data, extras.in_memory
    if extras.model is not None:
        check_custom_model(task_cls, extras.model)
    if data is not None and not task_cls.memory_data:
        raise UserError(f"{' '.join(task_cls.command)} takes no in-memory data; give its input files as options")
    out_dir: Path | None = None
    if in_memory:
        if run.resume:
            raise UserError("resume needs the run folder to continue: give out=FOLDER")
    else:  # the run folder is checked first: --resume reads its settings and checkpoint from there
        out_dir = check_out_dir(run.out, task_cls.name, run.resume, run.overwrite)
    # A damaged checkpoint is refused before the data is loaded; check_resume below tries the rest on a copy.
    checkpoint = load_checkpoint(out_dir / CHECKPOINT) if run.resume and out_dir is not None else None
    configs, device, recipe, stored = resolve_settings(task_cls, explicit, run)
    task_cfg, model_cfg, train_cfg = configs["task"], configs["model"], configs["train"]
    train_cfg.validate()
    train_cfg.check_device(device)

    job, device = _plan_torchrun(task_cls, train_cfg, device)
    if data is not None:
        given = [f"--{name.replace('_', '-')}" for name in path_fields(task_cls.Config) if getattr(task_cfg, name)]
        if given:
            raise UserError(f"give the signal either as data= or as {', '.join(given)}, not both")
    elif run.resume and _memory_input(stored):
        raise UserError(f"{out_dir} was fitted to data given in memory: pass the same data= to resume it")
    with input_limits(**{name: getattr(run, name) for name in LIMIT_FLAGS}):
        # loads and checks the data before anything is written
        task = task_cls(task_cfg, device) if data is None else task_cls(task_cfg, device, data=data)  # type: ignore[call-arg]
    if job is not None:
        task.set_shard(job.rank, job.world_size)
    if extras.model is not None:
        model, spec, description = custom_network(task, extras.model, device)
    else:
        model, spec, description = _build_network(task, model_cfg, device, train_cfg.seed)
    if extras.loss is not None:
        task.loss_terms = user_loss(task, extras.loss, extras.replace_loss)  # type: ignore[method-assign,assignment]
        probe_loss(task, model, device)
    if (extras.loss is not None or extras.model is not None) and train_cfg.compile == "auto":
        train_cfg = dataclasses.replace(train_cfg, compile="off")  # the user's code may not trace; "on" tries it
    if recipe == "paper" and train_cfg.precision == "auto":
        train_cfg = dataclasses.replace(train_cfg, precision="fp32")  # the paper trained in fp32
    numerics = numerics_plan(task, model, train_cfg, device)  # a precision it cannot honour is refused here
    signal = task.signal_meta()
    inputs = input_fingerprints(task_cls, task_cfg)
    if task.memory_arrays:
        inputs["data"] = fingerprint(task.memory_arrays)
    # restored once into a copy: a checkpoint that does not fit is refused here
    if checkpoint is not None and out_dir is not None:
        _check_same_inputs(out_dir, (stored or {}).get("inputs"), inputs)  # other data first: the likelier cause
        _check_same_run(out_dir, checkpoint[1], spec, signal)
        Trainer(train_cfg, device, out_dir, writer=False).check_resume(model, checkpoint)
    if train_cfg.tensorboard:
        TensorBoardLogger.writer_class()  # refused before anything is written when tensorboard is missing
    config_record = {
        "sirenkit": __version__,
        "command": list(task_cls.command),
        "task_name": task_cls.name,
        "recipe": recipe,
        "device": str(device),
        "cwd": os.getcwd(),  # relative input paths in "task" are relative to this folder
        "inputs": inputs,  # what --resume finds again, or refuses
        "task": to_dict(task_cfg),
        "model": to_dict(model_cfg),
        "train": to_dict(train_cfg),
    }
    return RunPlan(task_cls, run, explicit, out_dir, recipe, device, task, model, spec, description, train_cfg,
                   numerics, signal, config_record, job, extras.callbacks)


def _build_network(task: Task, model_cfg: ModelConfig, device: torch.device,
                   seed: int) -> tuple[nn.Module, dict[str, Any], str]:
    """(network, the spec its checkpoint stores, a one-line description), initialised from `seed` (--seed); a
    derivative backend the network cannot use is refused."""
    torch.manual_seed(seed)
    built = task.build_model(model_cfg)
    if built is None:
        model = model_cfg.build(task.in_features, task.out_features, task.samples).to(device)
        spec = model_spec(model_cfg, task.in_features, task.out_features, task.samples)
        description = _describe_model(spec)
    else:
        model, spec, description = built.module.to(device), built.spec, built.description
    derivatives = getattr(task.config, "derivatives", None)
    if derivatives in ("analytic", "fused", "reverse"):
        from .diff import require_backend

        require_backend(model, derivatives)
    return model, spec, description


def announce(plan: RunPlan) -> None:
    """The lines a fit prints before training: recipe, data, network, output folder, numerics; and a warning for
    bf16 asked for on hardware that emulates it."""
    task_cls, device, quiet = plan.task_cls, plan.device, plan.quiet
    if plan.numerics.precision != "fp32" and not fast_bf16(device) and plan.writer:
        print(f"sirenkit: warning: --precision {plan.numerics.precision}: {device} has no fast bf16 matrix products "
              "(emulated: likely slower than fp32)", file=sys.stderr, flush=True)
    note = task_cls.recipe_notes.get(plan.recipe, "")
    changed = recipe_overrides(task_cls, plan.recipe, plan.explicit)
    _log(quiet, f"sirenkit {' '.join(task_cls.command)}: recipe {plan.recipe}{f' ({note})' if note else ''}"
                f"{f' with {changed}' if changed else ''} on {device}")
    _log(quiet, f"  {plan.task.describe()}")
    if plan.job is not None:
        _log(quiet, f"  torchrun: {plan.job.world_size} processes ({plan.job.backend}), "
                    f"each with 1/{plan.job.world_size} of every batch")
    _log(quiet, f"  model: {plan.description}, {count_parameters(plan.model):,} parameters; output: "
                f"{plan.out_dir or 'none (in memory)'}")
    for line in plan.numerics.describe(plan.train_cfg.precision, device):
        _log(quiet, f"  {line}")


def train_and_finish(plan: RunPlan) -> RunResult:
    """Train into the run folder (config.json first), then evaluate, export the artefacts and write
    metrics.json last; under torchrun the other ranks train beside rank 0 and return after training."""
    task_cls, task, model, out_dir, run = plan.task_cls, plan.task, plan.model, plan.out_dir, plan.run
    distributed.connect(plan.job)
    distributed.barrier(plan.job)  # every rank has checked the folder and the data before rank 0 writes
    record = {"task": task_cls.name, "model": plan.spec, "signal": plan.signal, "sirenkit": __version__}
    callbacks: list[Callback] = [ProgressBar(task.metric, enabled=not plan.quiet), *plan.callbacks]
    if not plan.writer:  # the other ranks train beside rank 0 and end here; rank 0 evaluates and writes
        trainer = Trainer(plan.train_cfg, plan.device, out_dir, callbacks, checkpoint_meta=record, writer=False)
        result = _train(trainer, task, model, plan.job, plan.device, run.resume)
        return RunResult(out_dir, {"steps": result.steps}, plan.config_record, model, result.curve)
    if out_dir is None:  # in memory: the same training and final evaluation, no folder, no artefacts
        trainer = Trainer(plan.train_cfg, plan.device, None, callbacks)
        result = _train(trainer, task, model, plan.job, plan.device, resume=False)
        metrics = finite_json(_final_metrics(plan, result))
    else:
        with open_run(out_dir, " ".join(task_cls.command), resume=run.resume, overwrite=run.overwrite) as folder:
            write_json(out_dir / CONFIG, plan.config_record)
            if plan.train_cfg.tensorboard:
                folder.track("tensorboard", "events.out.tfevents.")
                callbacks.append(TensorBoardLogger(out_dir / "tensorboard", task.metric))
            trainer = Trainer(plan.train_cfg, plan.device, out_dir, callbacks, checkpoint_meta=record)
            result = _train(trainer, task, model, plan.job, plan.device, run.resume)
            metrics = _finish(plan, result)
            folder.finish("complete")
    where = "in memory" if out_dir is None else f"-> {out_dir}"
    _log(run.quiet, f"done: {_summary(metrics, task.metric)} in {metrics['seconds']:.1f} s "
                    f"({result.steps} steps) {where}")
    return RunResult(out_dir, metrics, plan.config_record, model, result.curve)


def _finish(plan: RunPlan, result: Any) -> dict[str, Any]:
    """Final evaluation, the run's numbers, the task's artefacts; metrics.json is written last (a folder with it
    holds a finished run)."""
    assert plan.out_dir is not None
    metrics = _final_metrics(plan, result)
    with no_figures(not plan.run.figures):
        written = plan.task.write_artefacts(plan.model, ArtefactContext(plan.out_dir, result.curve, metrics))
    metrics["artefacts"] = [name for name in written if (plan.out_dir / name).exists()]  # --no-figures: no plots
    metrics = finite_json(metrics)
    write_json(plan.out_dir / METRICS, metrics)
    return metrics


def _final_metrics(plan: RunPlan, result: Any) -> dict[str, Any]:
    """The final evaluation and the run's numbers (steps, time, parameters, numerics): metrics.json's keys."""
    model = plan.model
    model.eval()
    metrics: dict[str, Any] = dict(plan.task.evaluate(model, final=True))
    metrics.update({
        "task": plan.task_cls.name,
        "recipe": plan.recipe,
        "device": str(plan.device),
        "steps": result.steps,
        "seconds": round(result.seconds, 3),
        "step_time_ms": round(1000.0 * result.seconds / max(1, result.steps), 3),
        "parameters": count_parameters(model),
        "stopped_early": result.stopped_early,
        "precision": plan.numerics.precision,
        "tf32": plan.numerics.tf32,
        "compiled": plan.numerics.compile,
        "metric": plan.task.metric,
    })
    return metrics


def _train(trainer: Trainer, task: Task, model: nn.Module, job, device: torch.device, resume: bool):
    """`trainer.fit`, wrapped for torchrun when `job` is one; every rank leaves together."""
    trained = model if job is None else distributed.wrap(model, device)
    try:
        result = trainer.fit(task, trained, resume=resume)
        # Leave together: a rank that tears gloo down while rank 0 still writes its last checkpoint can abort
        # the other ("terminate called without an active exception", seen once in CI on a loaded machine).
        distributed.barrier(job)
    finally:
        distributed.stop(job)
    return result


def input_fingerprints(task_cls: type[Task], task_cfg: Any) -> dict[str, Any]:
    """{setting: fingerprint} of each input file or folder the task settings name: a file's size and SHA-256, a
    folder's file count and a SHA-256 over its files' relative names and sizes (contents of a data set of
    thousands of images would take long to read twice)."""
    found: dict[str, Any] = {}
    for name in path_fields(task_cls.Config):
        value = getattr(task_cfg, name)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value)
        digest = hashlib.sha256()
        try:
            if path.is_dir():
                files = sorted(p for p in path.rglob("*") if p.is_file())
                for file in files:
                    digest.update(f"{file.relative_to(path).as_posix()}\0{file.stat().st_size}\0".encode())
                found[name] = {"path": value, "files": len(files), "sha256": digest.hexdigest()}
            elif path.is_file():
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
                found[name] = {"path": value, "bytes": path.stat().st_size, "sha256": digest.hexdigest()}
        except OSError:
            continue  # the task read it a moment ago; a file that vanished since has no fingerprint
    return found


def _check_same_inputs(out_dir: Path, then: Any, now: dict[str, Any]) -> None:
    """`--resume` trains on the data the run started with: an input whose content changed since is refused
    (runs written before fingerprints were recorded have none to compare)."""
    if not isinstance(then, dict):
        return
    for name, was in then.items():
        if not isinstance(was, dict) or "sha256" not in was:
            continue
        flag = "--" + name.replace("_", "-")
        is_now = now.get(name)
        if was.get("source") == "memory" and (is_now is None or is_now.get("sha256") != was["sha256"]):
            raise UserError(f"resume: data= is not the data the run in {out_dir} was fitted to (shape and dtype "
                            f"then: {_shapes(was)}, now: {_shapes(is_now)}, or the same with other values); pass "
                            "the same arrays, or start a new run in another folder")
        if is_now is None or is_now.get("sha256") != was["sha256"]:
            what = "folder" if "files" in was else "file"
            raise UserError(f"--resume: the input {what} {was.get('path')} ({flag if name != 'path' else 'the data'}) "
                            f"changed since the run in {out_dir} started; restore it, or start a new run in another "
                            "--out")


def _memory_input(config: dict[str, Any] | None) -> bool:
    """Whether a stored config.json records a signal that came in memory (`fit(task, data=…)`)."""
    data = ((config or {}).get("inputs") or {}).get("data")
    return isinstance(data, dict) and data.get("source") == "memory"


def _shapes(record: dict[str, Any] | None) -> str:
    arrays = (record or {}).get("arrays") or {}
    return ", ".join(f"{name} {tuple(a.get('shape', ()))} {a.get('dtype')}" for name, a in arrays.items()) or "none"


def _check_same_run(out_dir: Path, record: dict[str, Any], spec: dict[str, Any], signal: dict[str, Any]) -> None:
    """`--resume` continues the network its checkpoint holds, on the signal it was fitted to: a config.json edited
    since (another activation, width, size or input) is refused, not loaded into a different network."""
    paths = ("source", "reference")  # input names: compared as files by the flag checks, not as strings here
    for what, now, then in (("network", spec, record.get("model")),
                            ("signal", {k: v for k, v in signal.items() if k not in paths},
                             {k: v for k, v in record.get("signal", {}).items() if k not in paths}
                             if isinstance(record.get("signal"), dict) else None)):
        now = json.loads(json.dumps(now))  # as stored: tuples become lists
        if then is None or now == then:
            continue
        keys = sorted(set(now) | set(then), key=str) if isinstance(then, dict) else []
        key = next((k for k in keys if now.get(k) != then.get(k)), None)
        detail = f" ({key}: {now.get(key)!r} in config.json, {then.get(key)!r} in the checkpoint)" if key else ""
        raise UserError(f"--resume: {out_dir / CONFIG} describes another {what} than the run's checkpoint{detail}; "
                        "was config.json edited? Restore it, or start a new run in another --out")


def _plan_torchrun(task_cls: type[Task], train_cfg: TrainConfig, device: torch.device):
    """(the torchrun job or None, this rank's device); refuses what a distributed run cannot do."""
    if distributed.torchrun_environment() is None:
        return None, device
    command = " ".join(task_cls.command)
    if not task_cls.supports_distributed:
        raise UserError(f"`sirenkit {command}` does not support torchrun; run it as a single process")
    if train_cfg.max_seconds is not None:
        raise UserError("--max-seconds is not supported under torchrun (ranks must stop at the same step); "
                        "use --steps")
    return distributed.plan(device)


def _describe_model(spec: dict[str, Any]) -> str:
    if spec["activation"] == "grid":
        r, d = spec["grid_resolution"], spec["in_features"]
        kind = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(d, "multilinear")
        return f"grid of {'×'.join([str(r)] * d)} nodes ({kind} interpolation) → {spec['out_features']}"
    if spec["activation"] == "wire":
        from .models.wire import complex_width

        w = complex_width(spec["hidden_features"])
        return (f"wire {spec['in_features']}→{w}c×{spec['hidden_layers'] + 1}→{spec['out_features']} "
                f"(complex Gabor, ω0 {spec['wire_omega']:g}, s0 {spec['wire_scale']:g})")
    widths = [spec["in_features"]] + [spec["hidden_features"]] * (spec["hidden_layers"] + 1) + [spec["out_features"]]
    short = f"{widths[0]}→{widths[1]}×{len(widths) - 2}→{widths[-1]}"
    chain = "→".join(map(str, widths)) if len(widths) <= 8 else short
    omega = f", ω0 {spec['first_omega_0']:g}/{spec['hidden_omega_0']:g}" if spec["activation"] == "sine" else ""
    return f"{spec['activation']} {chain}{omega}"


def _summary(metrics: dict[str, Any], headline: str) -> str:
    parts = []
    for key, value in metrics.items():
        if isinstance(value, float) and key not in ("seconds", "step_time_ms"):
            parts.append(f"{key} {value:.4g}")
    parts.sort(key=lambda p: not p.startswith(headline + " "))
    return ", ".join(parts)
