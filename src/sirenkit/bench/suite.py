"""The benchmark suite of issue #7: reference (the official method) against sirenkit's default, per workload.

Workloads: image fitting, Poisson from gradients and from the Laplacian, SDF, Helmholtz. For each, `reference`
is an eager fp32 step with autograd's double backward and plain Adam at a constant lr 1e-4 (what the official
code does), `default` is what sirenkit runs by default on this device: the task's own derivative backend, the
loss compiled when the numerics plan (models/numerics.py) says so, bf16 hidden-layer matmuls or a bf16 backward
pass where `--precision auto` picks them, fused Adam on CUDA. Both use the same network and batch.
Reported: median step time (interleaved rounds, device-synchronised), peak memory, their ratio, and for the
image the training seconds until a PSNR target.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from ..config import add_arguments, check_number, device_option, json_option, option, overwrite_option
from ..io.atomic import finite_json, write_text

# Sizes per mode: image/poisson side and pixels per step (0: all), SDF points (N + N), Helmholtz points.
SIZES: dict[str, dict[str, int]] = {
    "cuda": {"image": 512, "image_pixels": 0, "poisson": 512, "poisson_pixels": 0, "sdf": 250_000,
             "helmholtz": 53_361, "width": 256},
    "cpu": {"image": 256, "image_pixels": 8192, "poisson": 256, "poisson_pixels": 8192, "sdf": 8192,
            "helmholtz": 2048, "width": 256},
    "quick": {"image": 32, "image_pixels": 512, "poisson": 32, "poisson_pixels": 512, "sdf": 256,
              "helmholtz": 256, "width": 32},
}
# Time-to-target for the image: (side, PSNR target dB, budget seconds per variant, evaluation every N steps).
TARGETS: dict[str, tuple[int, float, float, int]] = {
    "cuda": (512, 40.0, 20.0, 50), "cpu": (128, 30.0, 60.0, 25), "quick": (32, 25.0, 5.0, 10)}
WORKLOADS = ("image", "poisson-gradient", "poisson-laplacian", "sdf", "helmholtz")
RATIO_TARGETS: dict[str, dict[str, float]] = {
    "cpu": {"image": 1.5, "poisson-gradient": 1.0, "poisson-laplacian": 4.0, "sdf": 2.0, "helmholtz": 1.0},
    "cuda": {"image": 1.5, "poisson-gradient": 1.0, "poisson-laplacian": 4.0, "sdf": 1.0, "helmholtz": 1.0},
}
"""Stated speed targets, reference ÷ default step time, per mode (issue 7's CPU targets: image ≥ 1.5×, Laplacian
≥ 4×, SDF ≥ 2×; elsewhere the default path must not be slower than the reference). The suite's command fails
(exit 1) when a measured ratio falls below its target; --quick sizes are too small to hold any target."""
VARIANTS = ("reference", "default")
_PRECISION_LABELS = {"bf16": ", bf16 matmuls", "bf16-backward": ", bf16 backward"}
GRAPHS = "graphs"  # CUDA only: the default path with the compiled loss replayed as CUDA graphs (--cuda-graphs)
MAX_THREADS = 65536
"""The most --threads taken (torch.set_num_threads refuses more than a C int with a traceback)."""


def check_threads(threads: Any) -> int | None:
    """--threads of the bench commands: None (torch's default), or an integer in [1, MAX_THREADS]."""
    return None if threads is None else check_number("--threads", threads, int, 1, MAX_THREADS)


# --------------------------------------------------------------------------------------------- helpers
def cpu_name() -> str:
    """The processor's model name from lscpu (platform's guess where lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


def machine_info(device: torch.device) -> dict[str, Any]:
    """What a benchmark result depends on: processor, cores and torch threads, versions, device (the GPU's name
    on CUDA, else None), date and load at the start. Shared by the suite, `bench activations` and the scripts."""
    info: dict[str, Any] = {
        "cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    try:
        info["loadavg_start"] = os.getloadavg()
    except OSError:
        pass
    return info


def interleaved_step_times(steps: dict, device, rounds: int = 3, warmup: int = 2, timed: int = 5) -> dict:
    """Median milliseconds of each zero-argument step function in `steps` (name → fn), device-synchronised.

    The functions run in interleaved rounds (each round: warm-up, then timed calls, for every function in
    turn), so that background load on a shared machine hits every variant alike."""
    from ..train.device import synchronize

    samples: dict = {name: [] for name in steps}
    for _round in range(rounds):
        for name, fn in steps.items():
            for i in range(warmup + timed):
                synchronize(device)
                t0 = time.perf_counter()
                fn()
                synchronize(device)
                if i >= warmup:
                    samples[name].append(1000 * (time.perf_counter() - t0))
    return {name: statistics.median(v) for name, v in samples.items()}


def optimiser_step(model, loss_fn, batch, lr: float = 1e-4, fused: bool = False):
    """A zero-argument function doing one Adam step of `loss_fn(batch)` (a dict of loss terms) on `model`."""
    options: dict[str, Any] = {"fused": True} if fused else {}
    opt = torch.optim.Adam(model.parameters(), lr=lr, **options)

    def step() -> None:
        loss = sum(loss_fn(batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def with_tf32(step: Callable[[], None]) -> Callable[[], None]:
    """`step` run with TF32 float32 matmuls, as the Trainer runs CUDA fits where the task allows; the setting is
    restored after each call, so that the reference variant timed between calls stays in full fp32."""

    def call() -> None:
        before = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision("high")
        try:
            step()
        finally:
            torch.set_float32_matmul_precision(before)

    return call


def step_time_table(rows: list, name_key: str) -> list:
    """Markdown lines of the analytic-vs-autograd step-time table (rows from the poisson and pde benchmarks)."""
    lines = ["| task | points/step | analytic eager ms | analytic compiled ms | autograd (reference) ms "
             "| reference ÷ eager | reference ÷ compiled | default path |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[name_key]} | {r['points']} | {r['analytic_ms']:.1f} | {r['compiled_ms']:.1f} | "
                     f"{r['autograd_ms']:.1f} | {r['speedup']:.2f}× | {r['speedup_compiled']:.2f}× | "
                     f"{r['default']} |")
    return lines


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------- workloads
def _mode(device: torch.device, quick: bool) -> str:
    return "quick" if quick else ("cuda" if device.type == "cuda" else "cpu")


def _task_options(name: str, sizes: dict[str, int], quick: bool) -> dict[str, Any]:
    """Task options of workload `name` at these sizes (on top of the device recipe's task section)."""
    if name == "image":
        return {"size": sizes["image"], "batch_pixels": sizes["image_pixels"]}
    if name.startswith("poisson"):
        return {"size": sizes["poisson"], "batch_pixels": sizes["poisson_pixels"]}
    if name == "sdf":
        return {"shape": "torus", "batch_points": sizes["sdf"], "surface_samples": max(2 * sizes["sdf"], 4000),
                "mesh_resolution": 0}
    if name == "helmholtz":
        return {"batch_points": sizes["helmholtz"], "reference_nodes": 61 if quick else 121}
    raise ValueError(f"unknown workload {name!r}")


def build_variant(name: str, variant: str, device: torch.device, quick: bool,
                  keep_sines: bool | None = None) -> dict[str, Any]:
    """Task, model, batch and one-step function of (workload, variant), seeded so both variants match.
    `keep_sines` (compiled variants): whether the backward pass reuses the forward pass's sines; None: as the
    Trainer does (on CPUs)."""
    from ..models import ModelConfig
    from ..models.numerics import plan_numerics
    from ..models.precision import autocast_context, outside_compiled
    from ..tasks import REGISTRY
    from ..train.trainer import compile_loss, keeps_sines

    task_cls = REGISTRY[name]
    recipe = task_cls.recipes["gpu" if device.type == "cuda" else "cpu"]
    sizes = SIZES[_mode(device, quick)]
    fields = {f.name for f in dataclasses.fields(task_cls.Config)}
    options = {**recipe.get("task", {}), **_task_options(name, sizes, quick)}
    if "derivatives" in fields:
        options["derivatives"] = "autograd" if variant == "reference" else options.get("derivatives", "auto")
    task = task_cls(task_cls.Config(**{k: v for k, v in options.items() if k in fields}), device)
    model_options = {**recipe.get("model", {})}
    if quick:
        model_options["hidden_features"] = sizes["width"]
    torch.manual_seed(0)
    model = ModelConfig(**model_options).build(task.in_features, task.out_features, task.samples).to(device)
    batch = task.batch(0, torch.Generator(device=device).manual_seed(0))

    graphs = variant == GRAPHS
    fast = variant in ("default", GRAPHS)
    # the default variants run the plan a default run gets (the reference: eager fp32, as the official code)
    plan = plan_numerics(task.loss_needs(model), device, model, "auto" if fast else "fp32",
                         "auto" if variant == "default" else ("on" if graphs else "off"), cuda_graphs=graphs)
    precision = plan.precision

    def loss_terms(b):
        with autocast_context(device, precision):  # bf16-backward's flag is set around the call, as the Trainer does
            return task.loss_terms(model, b)

    compiled = plan.compile
    backend = getattr(task, "_backend", None)
    if "derivatives" not in fields:
        path = "no derivatives"
    elif variant == "reference":
        path = "autograd"
    elif callable(backend):
        path = backend(model)
    elif hasattr(task.config, "uses_analytic"):
        path = "analytic" if task.config.uses_analytic(model) else "autograd"
    else:
        path = task.config.derivatives
    if path == "auto":
        from ..diff import supports_forward_mode

        path = "analytic" if supports_forward_mode(model) else "autograd"
    fused = fast and device.type == "cuda"
    lr = 1e-4 if variant == "reference" else recipe.get("train", {}).get("lr", 1e-4)
    keep_sines = keeps_sines(device) if keep_sines is None else keep_sines
    loss_fn = compile_loss(loss_terms, cuda_graphs=graphs, keep_sines=keep_sines) if compiled else loss_terms
    loss_fn = outside_compiled(loss_fn, precision)
    step = optimiser_step(model, loss_fn, batch, lr=lr, fused=fused)
    tf32 = plan.tf32
    if tf32:
        step = with_tf32(step)
    desc = (f"{path}{', compiled' if compiled else ', eager'}{', CUDA graphs' if graphs else ''}"
            f"{', fused Adam' if fused else ''}{', TF32' if tf32 else ''}{_PRECISION_LABELS.get(precision, '')}")
    return {"task": task, "model": model, "batch": batch, "step": step, "points": len(batch.coords),
            "path": desc, "options": {k: v for k, v in options.items() if k in fields}}


def _peak_cuda(step: Callable[[], None], device: torch.device, steps: int) -> float:
    """Peak allocated MiB over `steps` calls of `step` (after the warm-up the timing already did)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(steps):
        step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def _child_peak_rss(name: str, variant: str, quick: bool, steps: int, threads: int | None) -> float | None:
    """Peak RSS (MiB) of a fresh Python process that builds (workload, variant) and runs `steps` steps.

    Read from /proc/self/status VmHWM (this process image's high-water mark): getrusage's ru_maxrss would do on
    a fresh interpreter, but Linux carries it over fork and exec, so a child of a large parent reports at least
    the parent's size; ru_maxrss is the fallback where /proc is missing."""
    code = ("import sys, resource, torch\n"
            + (f"torch.set_num_threads({threads})\n" if threads else "")
            + "from sirenkit.bench.suite import build_variant\n"
            + f"v = build_variant({name!r}, {variant!r}, torch.device('cpu'), {quick!r})\n"
            + f"[v['step']() for _ in range({steps})]\n"
            + "kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            + "try:\n"
            + "    kib = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
            + "except (OSError, StopIteration):\n"
            + "    pass\n"
            + "print('RSS', kib)\n")
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "MPLCONFIGDIR": os.environ.get("MPLCONFIGDIR", "/tmp")})
    except (OSError, subprocess.SubprocessError) as exc:
        _log(f"  peak RSS of {name}/{variant}: child failed ({exc})")
        return None
    for line in out.stdout.splitlines():
        if line.startswith("RSS "):
            return int(line.split()[1]) / 1024  # Linux: KiB
    _log(f"  peak RSS of {name}/{variant}: child failed:\n{out.stderr[-2000:]}")
    return None


# --------------------------------------------------------------------------------------------- time to target
class _Reached(Exception):
    """Raised from a callback to stop a trainer run at the PSNR target."""


def image_time_to_target(device: torch.device, quick: bool) -> dict[str, Any]:
    """Training seconds (evaluation excluded) until the image PSNR reaches the mode's target, per variant."""
    from ..models import ModelConfig
    from ..tasks.image import ImageConfig, ImageTask
    from ..train.callbacks import Callback
    from ..train.device import synchronize
    from ..train.trainer import TrainConfig, Trainer

    size, target, budget, every = TARGETS[_mode(device, quick)]
    out: dict[str, Any] = {"size": size, "target_db": target, "budget_s": budget}
    full = ImageTask(ImageConfig(size=size, batch_pixels=0), device)
    width = SIZES["quick"]["width"] if quick else 256
    # reference: eager fp32, full batch, plain Adam lr 1e-4 constant
    torch.manual_seed(0)
    model = ModelConfig(hidden_features=width).build(2, full.out_features, full.samples).to(device)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    batch = full.batch(0, torch.Generator(device=device))
    warm = optimiser_step(model, lambda b: full.loss_terms(model, b), batch)
    for _ in range(2):  # untimed, then undone: library and allocator start-up is not training
        warm()
    model.load_state_dict(start)
    step = optimiser_step(model, lambda b: full.loss_terms(model, b), batch)
    seconds, steps, psnr, reached = 0.0, 0, float("nan"), None
    while seconds < budget:
        synchronize(device)
        t0 = time.perf_counter()
        step()
        synchronize(device)
        seconds += time.perf_counter() - t0
        steps += 1
        if steps % every == 0:
            psnr = full.evaluate(model)["psnr"]
            if psnr >= target:
                reached = seconds
                break
    out["reference"] = {"seconds": reached, "steps": steps, "final_psnr": psnr, "lr": "1e-4 constant",
                        "batch_pixels": full.n_pixels}
    # default: the trainer with the device recipe (pixels per step, lr, schedule, compile auto)
    recipe = ImageTask.recipes["gpu" if device.type == "cuda" else "cpu"]
    bp = recipe["task"]["batch_pixels"] if not quick else SIZES["quick"]["image_pixels"]
    task = ImageTask(ImageConfig(size=size, batch_pixels=bp), device)
    rt = recipe["train"]
    rows: list[dict[str, Any]] = []

    class Stop(Callback):
        def on_log(self, row: dict[str, Any]) -> None:
            rows.append(dict(row))
            if row.get("metric") is not None and row["metric"] >= target:
                raise _Reached

    torch.manual_seed(0)
    model = ModelConfig(hidden_features=width).build(2, task.out_features, task.samples).to(device)
    cfg = TrainConfig(steps=rt["steps"], lr=rt["lr"], schedule=rt["schedule"], seed=0, eval_every=every,
                      log_every=every, checkpoint_every=0, max_seconds=budget, device=str(device))
    hit = None
    # Compilation is not training time: a few untimed steps first compile the loss (cached for the same model),
    # then the weights go back to their start and the timed run begins with a fresh optimiser and schedule.
    start = {k: v.clone() for k, v in model.state_dict().items()}
    t0 = time.perf_counter()
    Trainer(dataclasses.replace(cfg, steps=3, eval_every=10**9, log_every=10**9), device, out_dir=None).fit(task, model)
    synchronize(device)
    warmup_s = time.perf_counter() - t0
    model.load_state_dict(start)
    trainer = Trainer(cfg, device, out_dir=None, callbacks=[Stop()])
    precision = trainer.plan(task, model).precision
    try:
        trainer.fit(task, model)
    except _Reached:
        hit = rows[-1]["seconds"]
    last = rows[-1] if rows else {}
    out["default"] = {"seconds": hit, "steps": last.get("step"), "final_psnr": last.get("metric"),
                      "lr": f"{rt['lr']:g} {rt['schedule']} over {rt['steps']} steps",
                      "batch_pixels": min(bp, task.n_pixels) or task.n_pixels, "precision": precision,
                      "warmup_seconds": round(warmup_s, 2)}
    return out


# --------------------------------------------------------------------------------------------- the suite
def run_suite(device: str = "auto", quick: bool = False, json_path: str | None = None, threads: int | None = None,
              workloads: tuple[str, ...] | list[str] = WORKLOADS, memory: bool = True, target: bool = True,
              rounds: int | None = None, warmup: int | None = None, timed: int | None = None,
              graphs: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Run the suite; returns {"machine", "rows", "time_to_target", "markdown"} and writes `json_path` (an
    existing file there that sirenkit did not write is replaced only with `overwrite`).
    On CUDA with `graphs`, a third variant replays the default path's compiled loss as CUDA graphs. Each
    workload starts with `torch._dynamo.reset()`, which also drops the caller's compiled functions."""
    from ..runs.folder import writing_outputs

    threads = check_threads(threads)
    guard = writing_outputs([(json_path, "--json")], "bench suite", overwrite=overwrite) if json_path else \
        contextlib.nullcontext()
    with guard:
        return _suite(device, quick, json_path, threads, workloads, memory, target, rounds, warmup, timed, graphs)


def _suite(device: str, quick: bool, json_path: str | None, threads: int | None,
           workloads: tuple[str, ...] | list[str], memory: bool, target: bool, rounds: int | None,
           warmup: int | None, timed: int | None, graphs: bool) -> dict[str, Any]:
    from ..train.device import resolve_device

    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        from ..errors import UserError

        raise UserError(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    gpu = dev.type == "cuda"
    variants = (*VARIANTS, GRAPHS) if gpu and graphs else VARIANTS
    rounds = rounds or (2 if quick or gpu else 3)
    warmup = warmup or (1 if quick else (10 if gpu else 2))
    timed = timed or (3 if quick else (15 if gpu else 5))
    start = time.time()
    rows: list[dict[str, Any]] = []

    def result(ttt: dict[str, Any] | None = None, complete: bool = False) -> dict[str, Any]:
        """The result so far, also written to `json_path` after each workload: a run cut short by a timeout (the
        GPU script's lease) keeps the rows it finished."""
        machine = {**machine_info(dev), "quick": quick, "rounds": rounds, "warmup": warmup, "timed": timed,
                   "seconds": round(time.time() - start, 1)}
        out: dict[str, Any] = {"machine": machine, "rows": rows, "time_to_target": ttt, "complete": complete}
        out["markdown"] = markdown(out)
        if json_path:
            write_text(json_path, json.dumps(finite_json(out), indent=2, default=str, allow_nan=False) + "\n")
        return out

    for name in workloads:
        _log(f"[suite] {name}: building both variants")
        torch._dynamo.reset()  # a fresh compile per workload: otherwise the shared loss code recompiles dynamic
        built = {v: build_variant(name, v, dev, quick) for v in variants}
        med = interleaved_step_times({v: b["step"] for v, b in built.items()}, dev, rounds, warmup, timed)
        mem: dict[str, float | None] = {}
        for v, b in built.items():
            if not memory:
                mem[v] = None
            elif gpu:
                mem[v] = _peak_cuda(b["step"], dev, 3)
            else:
                mem[v] = _child_peak_rss(name, v, quick, warmup + 1, threads)
        row = {"workload": name, "points": built["default"]["points"], "options": built["default"]["options"]}
        for v in variants:
            row[v] = {"ms": med[v], "peak_mib": mem[v], "path": built[v]["path"], "points": built[v]["points"]}
        row["ratio"] = med["reference"] / med["default"]
        row["target"] = RATIO_TARGETS.get(_mode(dev, quick), {}).get(name)
        if GRAPHS in med:
            row["ratio_graphs"] = med["reference"] / med[GRAPHS]
        rows.append(row)
        _log(f"  {name}: reference {med['reference']:.1f} ms, default {med['default']:.1f} ms "
             f"({row['ratio']:.2f}×; default = {built['default']['path']}); peak MiB reference "
             f"{_fmt(mem['reference'], '.0f')}, default {_fmt(mem['default'], '.0f')}")
        del built
        if gpu:
            torch.cuda.empty_cache()
        result()
    ttt = image_time_to_target(dev, quick) if target and "image" in workloads else None
    return result(ttt, complete=True)


def missed_targets(result: dict[str, Any]) -> list[str]:
    """The workloads whose reference ÷ default ratio fell below their stated target, as `image 1.20× < 1.5×`."""
    return [f"{r['workload']} {r['ratio']:.2f}× < {r['target']:g}×" for r in result["rows"]
            if r.get("target") is not None and not r["ratio"] >= r["target"]]


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown(result: dict[str, Any]) -> str:
    """The suite's markdown tables (step time and memory; image time to target)."""
    m = result["machine"]
    gpu = m["gpu"] is not None
    mem = "peak allocated MiB (CUDA)" if gpu else "peak RSS MiB (child process, incl. Python + torch)"
    lines = [f"Device {m['device']}{' (' + m['gpu'] + ')' if gpu else ''}, CPU {m['cpu']}, {m['torch_threads']} "
             f"torch threads, torch {m['torch']}; median of {m['rounds']}×{m['timed']} steps after "
             f"{m['warmup']} warm-up, interleaved{'; --quick sizes' if m['quick'] else ''}", "",
             f"| workload | size | points/step | reference ms | default ms | reference ÷ default | target | "
             f"reference {mem} | default {mem} | default path |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        o = r["options"]
        size = (f"{o['size']}²" if "size" in o else f"{o['batch_points']:,} + {o['batch_points']:,}"
                if r["workload"] == "sdf" else f"{o.get('batch_points', r['points']):,}")
        ref, de = r["reference"], r["default"]
        pts = f"{ref['points']:,}" if ref["points"] == de["points"] else f"{ref['points']:,} / {de['points']:,}"
        goal = r.get("target")
        status = "—" if goal is None else f"≥ {goal:g}×: {'met' if r['ratio'] >= goal else 'MISSED'}"
        lines.append(f"| {r['workload']} | {size} | {pts} | {ref['ms']:.1f} | {de['ms']:.1f} | {r['ratio']:.2f}× | "
                     f"{status} | {_fmt(ref['peak_mib'], '.0f')} | {_fmt(de['peak_mib'], '.0f')} | {de['path']} |")
    if any(GRAPHS in r for r in result["rows"]):
        lines += ["", "CUDA graphs (the default path, its compiled loss replayed as graphs: `--cuda-graphs`)", "",
                  "| workload | default ms | graphs ms | reference ÷ graphs | graphs peak MiB |",
                  "|---|---|---|---|---|"]
        lines += [f"| {r['workload']} | {r['default']['ms']:.2f} | {r[GRAPHS]['ms']:.2f} | "
                  f"{r['ratio_graphs']:.2f}× | {_fmt(r[GRAPHS]['peak_mib'], '.0f')} |"
                  for r in result["rows"] if GRAPHS in r]
    t = result.get("time_to_target")
    if t:
        lines += ["", f"Image {t['size']}², seconds of training (evaluation excluded) to {t['target_db']:g} dB PSNR, "
                      f"budget {t['budget_s']:g} s per variant", "",
                  "| variant | pixels/step | lr | seconds to target | steps run | last PSNR dB |",
                  "|---|---|---|---|---|---|"]
        for v in VARIANTS:
            d = t[v]
            sec = _fmt(d["seconds"], ".2f") if d["seconds"] is not None else f"not reached in {t['budget_s']:g} s"
            lines.append(f"| {v} | {d['batch_pixels']:,} | {d['lr']} | {sec} | {d['steps']} | "
                         f"{_fmt(d['final_psnr'], '.2f')} |")
        if t["default"].get("warmup_seconds") is not None:
            lines += ["", f"Before the clock: 2 reference steps and 3 default steps, undone (the default's "
                          f"{t['default']['warmup_seconds']:.1f} s include compiling its loss)."]
    lines += ["", f"(total {m['seconds']:.0f} s)"]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class SuiteConfig:
    """Options of `sirenkit bench suite` (and `python benchmarks/suite.py`)."""

    device: str = device_option()
    quick: bool = option(False, "tiny sizes: a smoke run (about 1.5 minutes on a 2-core CPU, mostly compiling)")
    json: str | None = json_option("every number")
    overwrite: bool = overwrite_option("--json FILE")
    threads: int | None = option(None, "torch CPU threads", default_help="")
    workloads: str = option(",".join(WORKLOADS), "comma-separated subset of the workloads", default_help="")
    no_memory: bool = option(False, "skip the peak-memory measurement")
    no_target: bool = option(False, "skip the image time-to-target part")
    graphs: bool = option(False, "CUDA: also time the default path with its compiled loss replayed as CUDA graphs")


def run_from_config(c: SuiteConfig) -> int:
    """Run the suite and print its markdown; exit code 1 when a stated speed target is missed."""
    result = run_suite(c.device, c.quick, c.json, c.threads, tuple(c.workloads.split(",")),
                       memory=not c.no_memory, target=not c.no_target, graphs=c.graphs, overwrite=c.overwrite)
    print(result["markdown"])
    missed = missed_targets(result)
    if missed:
        print(f"sirenkit: bench suite: below the stated speed target: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python benchmarks/suite.py` entry point (the same options as `sirenkit bench suite`)."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p, SuiteConfig, layered=False)
    return run_from_config(SuiteConfig(**vars(p.parse_args(argv))))
