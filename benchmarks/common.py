"""Helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path)."""

from __future__ import annotations

import platform
import subprocess


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


def interleaved_step_times(steps: dict, device, rounds: int = 3, warmup: int = 2, timed: int = 5) -> dict:
    """Median milliseconds of each zero-argument step function in `steps` (name → fn), device-synchronised.

    The functions run in interleaved rounds (each round: warm-up, then timed calls, for every function in
    turn), so that background load on a shared machine hits every variant alike."""
    import statistics
    import time

    from sirenkit.train.device import synchronize

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


def optimiser_step(model, loss_fn, batch, lr: float = 1e-4):
    """A zero-argument function doing one Adam step of `loss_fn(batch)` (a dict of loss terms) on `model`."""
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step() -> None:
        loss = sum(loss_fn(batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def step_time_table(rows: list, name_key: str) -> list:
    """Markdown lines of the analytic-vs-autograd step-time table (rows from the poisson and pde benchmarks)."""
    lines = ["| task | points/step | analytic eager ms | analytic compiled ms | autograd (reference) ms "
             "| reference ÷ eager | reference ÷ compiled | default path |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r[name_key]} | {r['points']} | {r['analytic_ms']:.1f} | {r['compiled_ms']:.1f} | "
                     f"{r['autograd_ms']:.1f} | {r['speedup']:.2f}× | {r['speedup_compiled']:.2f}× | "
                     f"{r['default']} |")
    return lines
