#!/usr/bin/env python
"""Image-fitting benchmark: the paper's Figure 1 as a table, plus step time against the official-style loop.

Three parts, all in one run and on one device:

1. sweep     — every network of `sirenkit.models.ACTIVATIONS` fitted to the cameraman with the project's own
               `Trainer`, the same seed and schedule for every method; PSNR at a list of steps and the training
               seconds (evaluation excluded, as the trainer counts them). Two schedules by default: the paper's
               (Adam lr 1e-4, constant) and the project's default (lr 1e-3, cosine decay).
2. step time — `reference`: a stand-alone eager fp32 SIREN trained full batch with plain autograd and a
               non-fused Adam, the way the official research code trains (input coordinates requiring grad,
               loss read back to the host every step), against `default`: the project's `Trainer` with the
               recipe it picks on this device (cpu: 8192 random pixels per step; cuda: full batch,
               torch.compile, fused Adam), and the same trainer full batch for a like-for-like ratio.
               Median step time after warm-up.
3. time to target — seconds of training until the PSNR first reaches `--target-db` (30 dB): the reference at
               the paper's lr 1e-4 constant, full batch, capped at `--ref-budget` seconds, against the default
               recipe (stopped as soon as it gets there).

    python benchmarks/image_fit.py --quick              # smoke run, well under a minute
    python benchmarks/image_fit.py --json results.json  # full run (2-core CPU: ~15 minutes)
    python benchmarks/image_fit.py --threads 1 ...      # steadier timings when other jobs share the CPU

CPU defaults are reduced so that the full run fits in about 15 minutes on 2 cores: the sweep uses 256², 2048
random pixels per step and 250 steps (the paper: 512², every pixel, 10k+ steps); the step-time and
time-to-target parts use the device recipe's size (256² on CPU, 512² on CUDA).

Prints markdown tables; `--json` also stores every number and curve.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from dataclasses import asdict
from typing import Any

import torch
from common import machine_info, report_header, write_json
from torch import nn

from sirenkit.errors import TrainingDiverged
from sirenkit.models import ACTIVATIONS, ModelConfig, count_parameters
from sirenkit.tasks.image import ImageConfig, ImageTask
from sirenkit.train.callbacks import Callback
from sirenkit.train.device import resolve_device, synchronize
from sirenkit.train.trainer import TrainConfig, Trainer

# The paper's numbers (cameraman 512², Adam lr 1e-4, read off the project figure at 10–15k steps) — context only.
PAPER_PSNR = {"sine": "≈ 50", "relu": "≈ 24", "tanh": "≈ 24", "relu-pe": "≈ 40", "rbf-relu": "≈ 28"}
PAPER_STEP_MS_H100 = 13.5  # official code, image 512², full batch, fp32, one H100 (MISSION.md)

SCHEDULES = {
    "paper": {"lr": 1e-4, "schedule": "constant"},
    "default": {"lr": 1e-3, "schedule": "cosine"},
}


# --------------------------------------------------------------------------------------------- helpers
def _recipe(device: torch.device) -> dict[str, dict[str, Any]]:
    """The recipe the runner picks by default on this device (`recipe auto`)."""
    return ImageTask.recipes["gpu" if device.type in ("cuda", "mps") else "cpu"]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _ReachedTarget(Exception):
    """Raised from a callback to end a trainer run once the metric reaches the target."""


class _StopAtTarget(Callback):
    """Records every evaluated row and stops training (by raising) when the PSNR reaches `target`."""

    def __init__(self, target: float | None) -> None:
        self.target = target
        self.rows: list[dict[str, Any]] = []

    def on_log(self, row: dict[str, Any]) -> None:
        self.rows.append(dict(row))
        if self.target is not None and row.get("metric") is not None and row["metric"] >= self.target:
            raise _ReachedTarget


# --------------------------------------------------------------------------------------------- reference
class _RefSine(nn.Module):
    """One sine layer as in the official code: sin(ω0 · Linear(x)), ω0 scaling the bias too."""

    def __init__(self, fan_in: int, fan_out: int, omega: float, first: bool) -> None:
        super().__init__()
        self.omega = omega
        self.linear = nn.Linear(fan_in, fan_out)
        bound = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / omega
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega * self.linear(x))


class ReferenceSiren(nn.Module):
    """Stand-alone eager SIREN 2→256×3→1 (ω0 = 30, the paper's init, linear head), independent of sirenkit."""

    def __init__(self, in_features: int = 2, out_features: int = 1, width: int = 256, hidden: int = 3,
                 omega: float = 30.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [_RefSine(in_features, width, omega, first=True)]
        layers += [_RefSine(width, width, omega, first=False) for _ in range(hidden)]
        head = nn.Linear(width, out_features)
        bound = math.sqrt(6.0 / width) / omega
        with torch.no_grad():
            head.weight.uniform_(-bound, bound)
        layers.append(head)
        self.net = nn.Sequential(*layers)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        return self.net(coords)


def _reference_setup(task: ImageTask, seed: int, lr: float):
    torch.manual_seed(seed)
    model = ReferenceSiren(task.in_features, task.out_features).to(task.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)  # plain Adam: not fused (foreach where torch picks it)
    # The official loop feeds the full grid every step, with coordinates that require grad (so that derivative
    # losses can use them); the image loss does not need it, but the backward pays for it, as it does there.
    coords = task.coords.clone().detach().requires_grad_(True)
    target = task.values
    return model, optimizer, coords, target


def _reference_step(model, optimizer, coords, target) -> float:
    out = model(coords)
    loss = ((out - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()  # the official loop reads the loss back every step (logging)


def reference_step_times(task: ImageTask, seed: int, warmup: int, measure: int) -> list[float]:
    model, optimizer, coords, target = _reference_setup(task, seed, lr=1e-4)
    times = []
    for i in range(warmup + measure):
        synchronize(task.device)
        t0 = time.perf_counter()
        _reference_step(model, optimizer, coords, target)
        synchronize(task.device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def reference_time_to_target(task: ImageTask, seed: int, target_db: float, budget_s: float,
                             eval_every: int) -> dict[str, Any]:
    """Paper schedule (lr 1e-4 constant, full batch) until `target_db` or `budget_s` seconds of training."""
    model, optimizer, coords, target = _reference_setup(task, seed, lr=1e-4)
    seconds, step, curve = 0.0, 0, [{"step": 0, "seconds": 0.0, "psnr": task.evaluate(model)["psnr"]}]
    reached = None
    while seconds < budget_s:
        synchronize(task.device)
        t0 = time.perf_counter()
        _reference_step(model, optimizer, coords, target)
        synchronize(task.device)
        seconds += time.perf_counter() - t0
        step += 1
        if step % eval_every == 0 or seconds >= budget_s:
            psnr = task.evaluate(model)["psnr"]  # not timed
            curve.append({"step": step, "seconds": round(seconds, 3), "psnr": psnr})
            if psnr >= target_db:
                reached = {"step": step, "seconds": seconds}
                break
    return {"reached": reached, "budget_s": budget_s, "steps_run": step, "seconds_run": seconds,
            "final_psnr": curve[-1]["psnr"], "curve": curve, "eval_every": eval_every}


# --------------------------------------------------------------------------------------------- trainer runs
def trainer_run(task: ImageTask, activation: str, train: TrainConfig, device: torch.device,
                target: float | None = None) -> dict[str, Any]:
    """One fit with the project's Trainer; returns the curve of evaluated rows and the training seconds."""
    torch.manual_seed(train.seed)  # same initialisation for a given method whatever ran before
    model = ModelConfig(activation=activation).build(task.in_features, task.out_features, task.samples).to(device)
    stopper = _StopAtTarget(target)
    trainer = Trainer(train, device, out_dir=None, callbacks=[stopper])
    out: dict[str, Any] = {"activation": activation, "parameters": count_parameters(model)}
    try:
        result = trainer.fit(task, model)
        out.update(steps=result.steps, seconds=result.seconds, rows=result.curve, diverged=None, reached=None)
    except _ReachedTarget:
        last = stopper.rows[-1]
        out.update(steps=last["step"], seconds=last["seconds"], rows=stopper.rows, diverged=None,
                   reached={"step": last["step"], "seconds": last["seconds"]})
    except TrainingDiverged as exc:
        rows = stopper.rows
        out.update(steps=rows[-1]["step"] if rows else 0, seconds=rows[-1]["seconds"] if rows else 0.0,
                   rows=rows, diverged=str(exc), reached=None)
    out["psnr"] = {int(r["step"]): r["metric"] for r in out["rows"] if r.get("metric") is not None}
    out["sec_per_step"] = out["seconds"] / out["steps"] if out["steps"] else None
    return out


def trainer_step_times(task: ImageTask, train: TrainConfig, device: torch.device, warmup: int,
                       measure: int, block: int) -> list[float]:
    """Median-able per-step times of the real trainer loop: it synchronises and books the seconds every
    `block` steps (log_every), evaluation off; the first `warmup` steps (compilation on CUDA) are dropped."""
    total = warmup + measure
    cfg = TrainConfig(**{**asdict(train), "steps": total, "log_every": block, "eval_every": total + 1,
                         "checkpoint_every": 0})
    run = trainer_run(task, "sine", cfg, device)
    rows = [r for r in run["rows"] if r["step"] > 0]
    prev_step, prev_sec, times = 0, 0.0, []
    for r in rows:
        n = r["step"] - prev_step
        if prev_step >= warmup and n > 0:
            times.append((r["seconds"] - prev_sec) / n)
        prev_step, prev_sec = r["step"], r["seconds"]
    return times


# --------------------------------------------------------------------------------------------- parts
def part_step_time(args, device) -> dict[str, Any]:
    """Reference, default and default-full steps measured in interleaved rounds, so that load from other
    processes on a shared machine hits all paths alike; the median is over every timed step of every round."""
    recipe = _recipe(device)
    size = recipe["task"]["size"] if args.size_timing is None else args.size_timing
    rt = recipe["train"]
    base = TrainConfig(lr=rt["lr"], schedule=rt["schedule"], steps=rt["steps"], seed=args.seed, device=str(device))
    full = ImageTask(ImageConfig(size=size, batch_pixels=0), device)
    bp = recipe["task"]["batch_pixels"]
    block = 1 if device.type == "cpu" else 10
    paths: list[tuple[str, int, ImageTask]] = [("default_full", 0, full)]
    if bp:
        paths.insert(0, ("default", bp, ImageTask(ImageConfig(size=size, batch_pixels=bp), device)))
    res: dict[str, Any] = {"size": size, "warmup": args.warmup, "measure": args.measure, "rounds": args.rounds,
                           "reference_full": {"batch_pixels": full.n_pixels, "times": []}}
    for name, pixels, task in paths:
        res[name] = {"batch_pixels": min(pixels, task.n_pixels) or task.n_pixels, "times": []}
    for rnd in range(args.rounds):
        _log(f"[step time] round {rnd + 1}/{args.rounds}: reference (eager fp32 full batch {size}²), "
             f"{args.warmup}+{args.measure} steps")
        res["reference_full"]["times"] += reference_step_times(full, args.seed, args.warmup, args.measure)
        for name, pixels, task in paths:
            # minibatch steps are cheap: time more of them so that the median is stable
            scale = max(1, min(8, task.n_pixels // pixels)) if pixels else 1
            warm, meas = args.warmup * scale, args.measure * scale
            if device.type == "cuda":
                warm, meas = max(warm, 20), max(meas, 50)  # torch.compile happens in the warm-up
            _log(f"[step time] round {rnd + 1}/{args.rounds}: {name} (trainer, {res[name]['batch_pixels']} "
                 f"pixels/step), {warm}+{meas} steps")
            res[name]["times"] += trainer_step_times(task, base, device, warm, meas, block)
    for key in ["reference_full", *(name for name, _, _ in paths)]:
        res[key]["median_ms"] = 1e3 * statistics.median(res[key]["times"])
    if not bp:
        res["default"] = res["default_full"]  # the device's default is already full batch
    ref_ms = res["reference_full"]["median_ms"]
    res["ratio_reference_over_default_full"] = ref_ms / res["default_full"]["median_ms"]
    res["ratio_reference_over_default"] = ref_ms / res["default"]["median_ms"]
    return res


def part_time_to_target(args, device) -> dict[str, Any]:
    recipe = _recipe(device)
    size = recipe["task"]["size"] if args.size_timing is None else args.size_timing
    res: dict[str, Any] = {"target_db": args.target_db, "size": size}
    full = ImageTask(ImageConfig(size=size, batch_pixels=0), device)
    _log(f"[time to {args.target_db:g} dB] reference lr 1e-4 constant, full batch {size}², "
         f"budget {args.ref_budget:g} s")
    res["reference"] = reference_time_to_target(full, args.seed, args.target_db, args.ref_budget,
                                                args.ref_eval_every)
    rt = recipe["train"]
    bp = recipe["task"]["batch_pixels"]
    task = ImageTask(ImageConfig(size=size, batch_pixels=bp), device)
    cfg = TrainConfig(steps=rt["steps"], lr=rt["lr"], schedule=rt["schedule"], seed=args.seed,
                      eval_every=args.target_eval_every, log_every=args.target_eval_every, checkpoint_every=0,
                      device=str(device))
    _log(f"[time to {args.target_db:g} dB] default recipe: {bp or 'all'} pixels/step, lr {rt['lr']:g} "
         f"{rt['schedule']} over {rt['steps']} steps")
    run = trainer_run(task, "sine", cfg, device, target=args.target_db)
    res["default"] = {"batch_pixels": min(bp, task.n_pixels) or task.n_pixels,
                      "lr": rt["lr"], "schedule": rt["schedule"],
                      "recipe_steps": rt["steps"], "reached": run["reached"], "steps_run": run["steps"],
                      "seconds_run": run["seconds"], "final_psnr": run["psnr"].get(run["steps"]),
                      "curve": [{"step": s, "psnr": p} for s, p in run["psnr"].items()],
                      "eval_every": args.target_eval_every}
    return res


def part_sweep(args, device) -> dict[str, Any]:
    task = ImageTask(ImageConfig(size=args.size, batch_pixels=args.batch_pixels), device)
    if args.lr is not None or args.schedule is not None:
        sched = args.schedule or "cosine"
        modes = {"custom": {"lr": args.lr if args.lr is not None else (1e-4 if sched == "constant" else 1e-3),
                            "schedule": sched}}
    else:
        modes = {m: SCHEDULES[m] for m in args.modes}
    out: dict[str, Any] = {"size": args.size,
                           "batch_pixels": min(args.batch_pixels, task.n_pixels) or task.n_pixels,
                           "steps": args.steps, "eval_every": args.eval_every, "seed": args.seed, "modes": {}}
    for mode, s in modes.items():
        cfg = TrainConfig(steps=args.steps, lr=s["lr"], schedule=s["schedule"], seed=args.seed,
                          eval_every=args.eval_every, log_every=args.eval_every, checkpoint_every=0,
                          device=str(device))
        runs = []
        for act in args.activations:
            _log(f"[sweep {mode}: lr {s['lr']:g} {s['schedule']}] {act} ...")
            r = trainer_run(task, act, cfg, device)
            r.pop("rows")
            _log(f"    {act}: {r['psnr'].get(r['steps'], float('nan')):.2f} dB after {r['steps']} steps, "
                 f"{r['seconds']:.1f} s" + (" (diverged)" if r["diverged"] else ""))
            runs.append(r)
        out["modes"][mode] = {**s, "runs": runs}
    return out


# --------------------------------------------------------------------------------------------- report
def _fmt_db(v: float | None) -> str:
    if v is None:
        return "—"
    return "∞" if math.isinf(v) else f"{v:.2f}"


def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    sweep = results.get("sweep")
    if sweep:
        for mode, m in sweep["modes"].items():
            lines.append(f"### PSNR (dB) against steps — schedule `{mode}`: Adam lr {m['lr']:g} {m['schedule']}, "
                         f"{sweep['size']}², {sweep['batch_pixels']} pixels/step, seed {sweep['seed']}")
            lines.append("")
            steps = sorted({s for r in m["runs"] for s in r["psnr"] if s > 0})
            head = ["activation", *[f"@{s}" for s in steps], "train s", "ms/step", "paper (512², 10–15k steps)"]
            lines.append("| " + " | ".join(head) + " |")
            lines.append("|" + "---|" * len(head))
            for r in m["runs"]:
                cells = [f"`{r['activation']}`", *[_fmt_db(r["psnr"].get(s)) for s in steps],
                         f"{r['seconds']:.1f}", f"{1e3 * r['sec_per_step']:.1f}" if r["sec_per_step"] else "—",
                         PAPER_PSNR.get(r["activation"], "—")]
                if r["diverged"]:
                    cells[0] += " (diverged)"
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    st = results.get("step_time")
    if st:
        lines.append(f"### Step time at {st['size']}² (median after warm-up)")
        lines.append("")
        lines.append("| path | pixels/step | median ms/step | reference ÷ path |")
        lines.append("|---|---|---|---|")
        ref = st["reference_full"]["median_ms"]
        lines.append(f"| `reference` (eager fp32, plain autograd, Adam, full batch) | "
                     f"{st['reference_full']['batch_pixels']} | {ref:.1f} | 1.00 |")
        seen = set()
        for key, label in (("default", "`default` (trainer, device recipe)"),
                           ("default_full", "`default` trainer, full batch")):
            d = st[key]
            if id(d) in seen:
                continue
            seen.add(id(d))
            lines.append(f"| {label} | {d['batch_pixels']} | {d['median_ms']:.1f} | {ref / d['median_ms']:.2f} |")
        lines.append("")
    tt = results.get("time_to_target")
    if tt:
        target = tt["target_db"]
        lines.append(f"### Training time to {target:g} dB at {tt['size']}² (evaluation not timed)")
        lines.append("")
        lines.append("| run | schedule | pixels/step | reached | steps | train s | PSNR at stop |")
        lines.append("|---|---|---|---|---|---|---|")
        r = tt["reference"]
        reached = "yes" if r["reached"] else f"not reached in {r['budget_s']:g} s"
        lines.append(f"| `reference` | lr 1e-4 constant | {tt['size'] ** 2} | {reached} | {r['steps_run']} | "
                     f"{r['seconds_run']:.1f} | {_fmt_db(r['final_psnr'])} |")
        d = tt["default"]
        reached = "yes" if d["reached"] else f"not reached in {d['recipe_steps']} steps"
        lines.append(f"| `default` recipe | lr {d['lr']:g} {d['schedule']} ({d['recipe_steps']} steps) | "
                     f"{d['batch_pixels']} | {reached} | {d['steps_run']} | {d['seconds_run']:.1f} | "
                     f"{_fmt_db(d['final_psnr'])} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N")
    p.add_argument("--size", type=int, default=None, help="sweep image size (default 256 on CPU, 512 on CUDA)")
    p.add_argument("--steps", type=int, default=None, help="sweep steps per method (default 250 CPU, 2000 CUDA)")
    p.add_argument("--eval-every", type=int, default=None, help="sweep PSNR checkpoint interval (steps)")
    p.add_argument("--batch-pixels", type=int, default=None,
                   help="sweep pixels per step, 0 = full batch (default 2048 on CPU, 0 on CUDA)")
    p.add_argument("--lr", type=float, default=None, help="run the sweep with this lr only (one custom schedule)")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=None,
                   help="run the sweep with this schedule only (one custom schedule)")
    p.add_argument("--modes", default="paper,default",
                   help="sweep schedules when --lr/--schedule are not given: paper (1e-4 constant), "
                        "default (1e-3 cosine)")
    p.add_argument("--activations", default=",".join(ACTIVATIONS), help="comma list of networks to sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parts", default="step_time,time_to_target,sweep", help="comma list of parts to run")
    p.add_argument("--size-timing", type=int, default=None,
                   help="image size of the step-time and time-to-target parts (default: the device recipe's)")
    p.add_argument("--warmup", type=int, default=None,
                   help="full-batch warm-up steps per round (default 1 CPU, 20 CUDA)")
    p.add_argument("--measure", type=int, default=None,
                   help="timed full-batch steps per round (default 3 CPU, 100 CUDA; minibatch paths time more)")
    p.add_argument("--rounds", type=int, default=None, help="interleaved step-time rounds (default 3 CPU, 2 CUDA)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own choice); 1 is steadier on a shared machine")
    p.add_argument("--target-db", type=float, default=30.0)
    p.add_argument("--ref-budget", type=float, default=None,
                   help="training-seconds cap of the reference time-to-target run (default 300)")
    p.add_argument("--ref-eval-every", type=int, default=None, help="reference PSNR check interval (steps)")
    p.add_argument("--target-eval-every", type=int, default=None, help="default-recipe PSNR check interval")
    p.add_argument("--json", metavar="OUT.json", default=None, help="also write every number and curve here")
    p.add_argument("--markdown", metavar="OUT.md", default=None, help="also write the tables here")
    p.add_argument("--quick", action="store_true", help="~1 minute smoke run (tiny sizes, few steps)")
    args = p.parse_args(argv)
    return args


def fill_defaults(args: argparse.Namespace, device: torch.device) -> None:
    cuda = device.type == "cuda"
    if args.quick:
        d = dict(size=64, steps=30, eval_every=15, batch_pixels=512, size_timing=64, warmup=1, measure=3,
                 rounds=2, ref_budget=5.0, ref_eval_every=10, target_eval_every=10)
    elif cuda:
        d = dict(size=512, steps=2000, eval_every=250, batch_pixels=0, size_timing=None, warmup=20, measure=100,
                 rounds=2, ref_budget=300.0, ref_eval_every=50, target_eval_every=50)
    else:
        d = dict(size=256, steps=250, eval_every=50, batch_pixels=2048, size_timing=None, warmup=1, measure=3,
                 rounds=3, ref_budget=300.0, ref_eval_every=10, target_eval_every=10)
    for k, v in d.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    unknown = [a for a in args.activations if a not in ACTIVATIONS]
    if unknown:
        raise SystemExit(f"unknown activation(s) {unknown}; choose from {', '.join(ACTIVATIONS)}")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in args.modes if m not in SCHEDULES]
    if bad:
        raise SystemExit(f"unknown mode(s) {bad}; choose from {', '.join(SCHEDULES)}")
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    fill_defaults(args, device)
    results: dict[str, Any] = {"machine": machine_info(device), "argv": sys.argv[1:],
                               "settings": {k: v for k, v in vars(args).items() if k not in ("json", "markdown")}}
    wall0 = time.perf_counter()

    def save() -> None:
        results["wall_seconds"] = time.perf_counter() - wall0
        write_json(args.json, results)

    runners = {"step_time": part_step_time, "time_to_target": part_time_to_target, "sweep": part_sweep}
    for part in args.parts:
        if part not in runners:
            raise SystemExit(f"unknown part {part!r}; choose from {', '.join(runners)}")
        t0 = time.perf_counter()
        results[part] = runners[part](args, device)
        results[part]["wall_seconds"] = time.perf_counter() - t0
        _log(f"[{part}] done in {results[part]['wall_seconds']:.0f} s wall")
        save()
    try:
        results["machine"]["loadavg_end"] = os.getloadavg()
    except OSError:
        pass
    results["wall_seconds"] = time.perf_counter() - wall0
    save()
    text = report_header(results) + markdown(results)
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
