"""Poisson reconstruction benchmark: PSNR against steps per activation, and analytic vs autograd step time.

Part `tune`: every activation's learning rate picked from `--lr-grid` on another image (`--tune-image`,
default scikit-image's astronaut in grey), by the final aligned PSNR; the sweep then uses those.
Part `sweep`: sine, tanh and relu-pe fitted from the gradient and from the Laplacian of the cameraman (same
size, schedule and seed; each activation at its own lr from `tune` or `--lrs`, else `--lr`), aligned PSNR
recorded every `--eval-every` steps, plus the final fitted-derivative PSNR and `psnr_null` (the aligned zero
image: what a reconstruction that recovered nothing scores).
`--first-omega-0 scaled` gives the sine network 30·(size − 1)/255, the paper's frequency per pixel at 256².
Part `step_time`: one optimisation step of each Poisson task with the analytic forward-mode derivatives
(eager, and under torch.compile) against the autograd double-backward path (`reference`, what the official
code does), interleaved rounds, median after warm-up. `default` names what `sirenkit poisson …` runs with
`--compile auto` on this device.

    python benchmarks/poisson.py                 # CPU defaults (about 10 minutes on 2 cores)
    python benchmarks/poisson.py --quick         # smoke run
    python benchmarks/poisson.py --device cuda --size 256 --steps 2000
    python benchmarks/poisson.py --parts tune,sweep --size 32 --steps 200 --hidden-features 64 --compile off \
        --first-omega-0 scaled --threads 1        # the tuned small-scale comparison of docs/poisson.md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())

import torch
from common import interleaved_step_times, optimiser_step, step_time_table

from sirenkit import ModelConfig
from sirenkit.models.numerics import plan_numerics
from sirenkit.tasks.poisson import PoissonConfig, PoissonGradientTask, PoissonLaplacianTask
from sirenkit.train.device import resolve_device
from sirenkit.train.trainer import TrainConfig, Trainer

TASKS = {"gradient": PoissonGradientTask, "laplacian": PoissonLaplacianTask}
PAPER = {"gradient": {"sine": 32.9, "tanh": 25.8, "relu-pe": 26.4}}


def first_omega_0(args) -> float:
    """The sine network's first-layer ω0: a number, or `scaled` = 30·(size − 1)/255 (the paper's 30 at 256²
    in radians per pixel: with derivative supervision a sine network much faster than the pixel grid fits the
    target at the pixels with sub-pixel ripples and leaves the image between them free, docs/poisson.md)."""
    if args.first_omega_0 == "scaled":
        return 30.0 * (args.size - 1) / 255
    return float(args.first_omega_0)


def fit_one(args, device, task, target: str, activation: str, lr: float, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model_cfg = ModelConfig(activation=activation, hidden_features=args.hidden_features,
                            first_omega_0=first_omega_0(args))
    model = model_cfg.build(2, task.out_features, task.samples).to(device)
    cfg = TrainConfig(steps=args.steps, lr=lr, schedule=args.schedule, eval_every=args.eval_every,
                      log_every=args.eval_every, seed=seed, checkpoint_every=0, compile=args.compile)
    result = Trainer(cfg, device).fit(task, model)
    curve = {r["step"]: r["metric"] for r in result.curve if r.get("metric") is not None}
    final = task.evaluate(model, final=True)
    return {"target": target, "activation": activation, "lr": lr, "seed": seed, "psnr": curve,
            "psnr_final": final["psnr"], "psnr_derivative": final[f"psnr_{target}"], "psnr_null": final["psnr_null"],
            "seconds": result.seconds, "ms_per_step": 1000 * result.seconds / result.steps}


def tune(args, device) -> tuple[dict, list[dict]]:
    """Best lr per (target, activation) on the tuning image, by the final aligned PSNR."""
    best: dict[tuple[str, str], float] = {}
    rows = []
    for target, task_cls in TASKS.items():
        task = task_cls(PoissonConfig(path=args.tune_image, size=args.size, grey=True,
                                      batch_pixels=args.batch_pixels), device)
        for activation in args.activations:
            scores = {}
            for lr in args.lr_grid:
                row = fit_one(args, device, task, target, activation, lr)
                rows.append(row)
                scores[lr] = row["psnr_final"]
                print(f"  tune {target:9s} {activation:8s} lr {lr:g}: {row['psnr_final']:.2f} dB", file=sys.stderr)
            best[(target, activation)] = max(scores, key=lambda lr: scores[lr])
    return best, rows


def sweep(args, device, lrs: dict) -> list[dict]:
    rows = []
    for target, task_cls in TASKS.items():
        task = task_cls(PoissonConfig(size=args.size, batch_pixels=args.batch_pixels), device)
        for activation in args.activations:
            for seed in range(args.seeds):
                lr = lrs.get((target, activation), lrs.get(activation, args.lr))
                row = fit_one(args, device, task, target, activation, lr, seed)
                rows.append(row)
                print(f"  {target:9s} {activation:8s} lr {lr:g} seed {seed} psnr@{args.steps} "
                      f"{row['psnr_final']:.2f} dB, psnr_{target} {row['psnr_derivative']:.2f} dB "
                      f"({row['ms_per_step']:.0f} ms/step)", file=sys.stderr)
    return rows


def step_time(args, device) -> list[dict]:
    rows = []
    for target, task_cls in TASKS.items():
        task = task_cls(PoissonConfig(size=args.time_size, batch_pixels=args.time_pixels), device)
        gen = torch.Generator().manual_seed(0)
        batch = task.batch(0, gen)
        variants = {"analytic": ("analytic", False), "compiled": ("analytic", True), "autograd": ("autograd", False)}
        models, losses = {}, {}
        for name, (backend, compiled) in variants.items():
            torch.manual_seed(0)
            models[name] = model = ModelConfig().build(2, task.out_features).to(device)
            fn = _loss_fn(task_cls, args, device, model, backend)
            losses[name] = torch.compile(fn) if compiled else fn
        task.config = dataclasses.replace(task.config, derivatives="auto")
        default = "compiled" if plan_numerics(task.loss_needs(models["analytic"]), device, models["analytic"]).compile \
            else "analytic"
        recipe = task_cls.recipes["cpu" if device.type == "cpu" else "gpu"]
        if recipe["task"].get("derivatives") == "autograd":
            default = "autograd"
        med = interleaved_step_times({name: optimiser_step(models[name], losses[name], batch) for name in models},
                                     device, args.rounds, args.warmup, args.timed)
        rows.append({"target": target, "points": len(batch.coords), "analytic_ms": med["analytic"],
                     "compiled_ms": med["compiled"], "autograd_ms": med["autograd"], "default": default,
                     "speedup": med["autograd"] / med["analytic"],
                     "speedup_compiled": med["autograd"] / med["compiled"]})
        print(f"  {target}: analytic {med['analytic']:.1f} ms, compiled {med['compiled']:.1f} ms, "
              f"autograd {med['autograd']:.1f} ms (default path: {default})", file=sys.stderr)
    return rows


def _loss_fn(task_cls, args, device, model, backend: str):
    """The task's loss with a fixed derivative backend (what the trainer builds, minus the bookkeeping)."""
    task = task_cls(PoissonConfig(size=args.time_size, batch_pixels=args.time_pixels, derivatives=backend), device)

    def loss_terms(batch):
        return task.loss_terms(model, batch)

    return loss_terms


def markdown(args, device, sweep_rows, time_rows) -> str:
    lines = []
    if sweep_rows:
        steps = sorted({s for r in sweep_rows for s in r["psnr"] if s > 0})
        lines.append(f"PSNR (dB, aligned) against steps: {args.size}², batch {args.batch_pixels or 'all'} pixels, "
                     f"{args.schedule} schedule, hidden {args.hidden_features}, sine first ω0 "
                     f"{first_omega_0(args):.3g}, device {device}; psnr_null: the aligned zero image")
        lines.append("")
        lines.append("| target | activation | lr | seed | " + " | ".join(f"@{s}" for s in steps)
                     + " | fitted derivative | psnr_null | ms/step | paper (256², 10k) |")
        lines.append("|---|---|---|---|" + "---|" * len(steps) + "---|---|---|---|")
        for r in sweep_rows:
            paper = PAPER.get(r["target"], {}).get(r["activation"], "—")
            vals = " | ".join(f"{r['psnr'].get(s, float('nan')):.2f}" for s in steps)
            lines.append(f"| {r['target']} | {r['activation']} | {r['lr']:g} | {r['seed']} | {vals} | "
                         f"{r['psnr_derivative']:.2f} | {r['psnr_null']:.2f} | {r['ms_per_step']:.0f} | {paper} |")
        lines.append("")
    if time_rows:
        lines.append(f"Step time (median of {args.rounds}×{args.timed} after warm-up), SIREN 256×3, device {device}")
        lines.append("")
        lines.extend(step_time_table(time_rows, "target"))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--parts", default="sweep,step_time")
    p.add_argument("--size", type=int, default=None, help="sweep image size (CPU 96, GPU 256)")
    p.add_argument("--steps", type=int, default=None, help="sweep steps (CPU 500, GPU 2000)")
    p.add_argument("--batch-pixels", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-4, help="lr of every activation without its own")
    p.add_argument("--lrs", default="", help="per-activation lr, e.g. sine=1e-3,tanh=3e-3 (tune overrides)")
    p.add_argument("--lr-grid", default="1e-4,3e-4,1e-3,3e-3", help="part tune: the lrs tried")
    p.add_argument("--tune-image", default=None, help="part tune: image (default: scikit-image's astronaut)")
    p.add_argument("--seeds", type=int, default=1, help="sweep seeds 0..N-1 per activation")
    p.add_argument("--hidden-features", type=int, default=256)
    p.add_argument("--first-omega-0", default="30", help="sine first-layer ω0: a number or `scaled`")
    p.add_argument("--compile", default="auto", choices=("auto", "on", "off"))
    p.add_argument("--schedule", default="cosine")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--activations", default="sine,tanh,relu-pe")
    p.add_argument("--time-size", type=int, default=256)
    p.add_argument("--time-pixels", type=int, default=None, help="points per timed step (CPU 8192, GPU all)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--timed", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    if args.threads:
        torch.set_num_threads(args.threads)
    args.activations = args.activations.split(",")
    args.size = args.size or (256 if gpu else 96)
    args.steps = args.steps or (2000 if gpu else 500)
    args.time_pixels = args.time_pixels if args.time_pixels is not None else (0 if gpu else 8192)
    if args.quick:
        args.size, args.steps, args.time_size, args.time_pixels = 32, 40, 64, 1024
        args.rounds, args.warmup, args.timed = 1, 1, 2
    args.eval_every = args.eval_every or max(1, args.steps // 5)
    args.lr_grid = [float(v) for v in args.lr_grid.split(",")]
    lrs: dict = {k: float(v) for k, v in (item.split("=") for item in args.lrs.split(",") if item)}
    if args.tune_image is None:
        import skimage.data

        args.tune_image = os.path.join(os.path.dirname(skimage.data.__file__), "astronaut.png")
    parts = args.parts.split(",")
    start = time.time()
    tune_rows: list[dict] = []
    if "tune" in parts:
        best, tune_rows = tune(args, device)
        lrs.update(best)
        print("tuned lr: " + ", ".join(f"{t}/{a} {lr:g}" for (t, a), lr in best.items()))
    sweep_rows = sweep(args, device, lrs) if "sweep" in parts else []
    time_rows = step_time(args, device) if "step_time" in parts else []
    table = markdown(args, device, sweep_rows, time_rows)
    print(table)
    print(f"\n(total {time.time() - start:.0f} s, torch {torch.__version__}, {torch.get_num_threads()} threads)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "tune": tune_rows, "sweep": sweep_rows, "step_time": time_rows,
                       "device": str(device)}, f, indent=2, default=str)


if __name__ == "__main__":
    main()
