"""PDE benchmark: error against steps and seconds for sine vs tanh, and the derivative paths' step time.

Part `curve`: `sirenkit solve helmholtz` with the device's default recipe (cpu: k 10; gpu: k 20), once per
activation, same seed and budget; relative MSE and MSE against the reference at every evaluation.
Part `step_time`: one optimisation step of the Helmholtz, wave and inverse-Helmholtz losses with the analytic
per-axis forward-mode streams (eager and compiled) against autograd's double backward (`reference`, what the
official code does), interleaved rounds, median after warm-up.

    python benchmarks/pde.py                      # CPU defaults (about 15 minutes on 2 cores)
    python benchmarks/pde.py --quick              # smoke run
    python benchmarks/pde.py --device cuda
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())

import torch
from common import cpu_name, interleaved_step_times, optimiser_step, step_time_table

import sirenkit
from sirenkit import ModelConfig
from sirenkit.tasks import REGISTRY
from sirenkit.train.device import resolve_device

PAPER = {"helmholtz": "MSE vs analytic at k 20: SIREN 7.9e-6, tanh 2.6e-5 (50k steps; the paper's own field scale)"}


def curve(args, device) -> list[dict]:
    rows = []
    for activation in args.activations:
        with tempfile.TemporaryDirectory() as tmp:
            options = {"steps": args.steps} if args.steps else {}
            if args.quick:
                options.update(steps=60, batch_points=256, source_points=32, hidden_features=32, eval_every=20,
                               reference_nodes=121)
            t0 = time.perf_counter()
            result = sirenkit.fit("helmholtz", out=os.path.join(tmp, "run"), device=str(device), quiet=True,
                                  activation=activation, **options)
            wall = time.perf_counter() - t0
            with open(os.path.join(tmp, "run", "curve.csv")) as f:
                points = [(int(r["step"]), float(r["seconds"]), float(r["metric"]))
                          for r in csv.DictReader(f) if r["metric"]]
        rows.append({"activation": activation, "curve": points, "metrics": result.metrics, "wall": wall})
        print(f"  helmholtz {activation}: relative_mse {result.metrics['relative_mse']:.4g} after "
              f"{result.metrics['steps']} steps, {result.metrics['seconds']:.0f} s training", file=sys.stderr)
    return rows


def _task_and_batch(name: str, device, backend: str, quick: bool):
    """A task instance using `backend`, the model its default recipe builds, and one training batch."""
    task_cls = REGISTRY[name]
    recipe = task_cls.recipes["cpu" if device.type == "cpu" else "gpu"]
    options = dict(recipe.get("task", {}))
    if quick:
        options.update(batch_points=256, reference_nodes=121)
    fields = {f.name for f in dataclasses.fields(task_cls.Config)}
    if "eval_nodes" in fields:
        options.setdefault("eval_nodes", 21)
    task = task_cls(task_cls.Config(**{k: v for k, v in options.items() if k in fields}, derivatives=backend), device)
    model_options = dict(recipe.get("model", {}))
    if quick:
        model_options["hidden_features"] = 32
    torch.manual_seed(0)
    model = ModelConfig(**model_options).build(task.in_features, task.out_features, task.samples).to(device)
    step = getattr(task.config, "pretrain_steps", 0) + getattr(task.config, "window_steps", 0)
    batch = task.batch(step, torch.Generator(device=device).manual_seed(0))
    return task, model, batch


def step_time(args, device, on_row=None) -> list[dict]:
    """Step-time rows, one per task; `on_row(rows)` after each (the GPU script saves partial results)."""
    rows = []
    for name in args.tasks:
        if name not in REGISTRY:
            print(f"  {name}: not registered, skipped", file=sys.stderr)
            continue
        torch._dynamo.reset()  # each task compiles afresh, with static shapes
        variants = {"analytic": ("analytic", False), "compiled": ("analytic", True), "autograd": ("autograd", False)}
        steps, points, default = {}, 0, None
        for label, (backend, compiled) in variants.items():
            task, model, batch = _task_and_batch(name, device, backend, args.quick)
            points = len(batch.coords)

            def loss_fn(b, task=task, model=model):
                return task.loss_terms(model, b)

            steps[label] = optimiser_step(model, torch.compile(loss_fn) if compiled else loss_fn, batch)
            if default is None:
                task.config = dataclasses.replace(task.config, derivatives="auto")
                default = "compiled" if task.compile_by_default(model) else "analytic"
        med = interleaved_step_times(steps, device, args.rounds, args.warmup, args.timed)
        rows.append({"task": name, "points": points, **{f"{k}_ms": v for k, v in med.items()}, "default": default,
                     "speedup": med["autograd"] / med["analytic"],
                     "speedup_compiled": med["autograd"] / med["compiled"]})
        print(f"  {name}: analytic {med['analytic']:.1f} ms, compiled {med['compiled']:.1f} ms, "
              f"autograd {med['autograd']:.1f} ms", file=sys.stderr, flush=True)
        if on_row:
            on_row(rows)
    return rows


def markdown(args, device, curve_rows, time_rows) -> str:
    lines = [f"device: {device} ({cpu_name() if device.type == 'cpu' else torch.cuda.get_device_name()}), "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads", ""]
    if curve_rows:
        steps = sorted({s for r in curve_rows for s, _, _ in r["curve"] if s > 0})
        lines.append("Helmholtz, default recipe: relative MSE against the reference (seconds of training in brackets)")
        lines.append("")
        lines.append("| activation | " + " | ".join(f"@{s}" for s in steps) + " | mse_vs_reference | wall s |")
        lines.append("|---|" + "---|" * len(steps) + "---|---|")
        for r in curve_rows:
            at = {s: (sec, m) for s, sec, m in r["curve"]}
            vals = " | ".join(f"{at[s][1]:.3g} ({at[s][0]:.0f})" if s in at else "—" for s in steps)
            lines.append(f"| {r['activation']} | {vals} | {r['metrics']['mse_vs_reference']:.3g} | {r['wall']:.0f} |")
        lines.append("")
        lines.append(f"Paper: {PAPER['helmholtz']}.")
        lines.append("")
    if time_rows:
        lines.append(f"Step time (median of {args.rounds}×{args.timed} after warm-up), default recipe sizes")
        lines.append("")
        lines.extend(step_time_table(time_rows, "task"))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--parts", default="curve,step_time")
    p.add_argument("--activations", default="sine,tanh")
    p.add_argument("--steps", type=int, default=None, help="curve steps (default: the recipe's)")
    p.add_argument("--tasks", default="helmholtz,wave,fwi", help="tasks whose step is timed")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--timed", type=int, default=10)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.activations, args.tasks = args.activations.split(","), args.tasks.split(",")
    if args.quick:
        args.rounds, args.warmup, args.timed = 1, 2, 2
    parts = args.parts.split(",")
    start = time.time()

    def save(curve_rows: list, time_rows: list, complete: bool = False) -> None:
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "curve": curve_rows, "step_time": time_rows, "device": str(device),
                           "complete": complete}, f, indent=2, default=str)

    curve_rows = curve(args, device) if "curve" in parts else []
    save(curve_rows, [])
    time_rows = step_time(args, device, lambda rows: save(curve_rows, rows)) if "step_time" in parts else []
    print(markdown(args, device, curve_rows, time_rows))
    print(f"\n(total {time.time() - start:.0f} s)")
    save(curve_rows, time_rows, complete=True)


if __name__ == "__main__":
    main()
