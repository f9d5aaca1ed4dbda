#!/usr/bin/env python
"""Space-of-SIRENs benchmark: the paper's table (test MSE from 10 / 100 / 1000 context pixels) for the set encoder,
the CNN encoder and the CNP baseline, on the offline default image set, every method given the same training time.

1. The set encoder runs the device recipe (`sirenkit meta train`, cpu or gpu recipe); its training time T (the
   trainer's own clock: no start-up, evaluation or checkpoint writes) is the budget.
2. Every other method is calibrated with a short run (its step time), then trained with the same recipe for
   ⌊T / step time⌋ steps — so that its cosine schedule completes — and stopped at T at the latest
   (`--max-seconds`). Same data, same seed, same batch, same learning rate.
3. The table lists steps, training seconds, wall seconds of the whole run, mse_10 / mse_100 / mse_1000 / mse_half
   on the whole test split (MSE of images in [0, 1], the official test script's measure), and the paper's CelebA
   numbers beside them.

    python benchmarks/meta.py --threads 1                     # cpu recipe: ≈ 3 × 7 minutes on one core
    python benchmarks/meta.py --encoders set,cnp --threads 1  # the two the acceptance check compares
    python benchmarks/meta.py --quick                         # smoke run, about a minute
    python benchmarks/meta.py --data ~/celeba --recipe paper  # the paper's setting on CelebA (GPU, days)

Prints a markdown table; `--json FILE` also stores every number.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import cpu_name

import sirenkit

# The paper's Table (CelebA 32², test MSE from 10 / 100 / 1000 context pixels) — context only.
PAPER = {"cnp": (0.039, 0.016, 0.009), "set": (0.035, 0.013, 0.009), "cnn": (0.033, 0.009, 0.008)}
NAMES = {"set": "set encoder + hypernetwork", "cnn": "CNN encoder + hypernetwork", "cnp": "CNP"}
QUICK = {"steps": 60, "batch_size": 8, "latent_features": 16, "encoder_hidden_features": 16,
         "hyper_hidden_features": 16, "hidden_features": 16, "cnn_width": 8, "cnn_blocks": 1, "eval_every": 60}


def train(encoder: str, out: Path, options: dict) -> dict:
    """One `meta train` run; returns its metrics.json content plus the run's wall time (data loading included)."""
    t0 = time.perf_counter()
    result = sirenkit.fit("meta", encoder=encoder, out=str(out), quiet=True, overwrite=True, **options)
    return {**result.metrics, "wall_seconds": time.perf_counter() - t0}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoders", default="set,cnn,cnp", help="comma-separated: set, cnn, cnp (set first)")
    p.add_argument("--data", default=None, help="image folder (default: the offline default set)")
    p.add_argument("--recipe", default="auto", choices=["auto", "cpu", "gpu", "paper"])
    p.add_argument("--steps", type=int, default=None, help="steps of the set-encoder run (default: the recipe's)")
    p.add_argument("--calibration-steps", type=int, default=200, help="steps of each timing run")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="auto")
    p.add_argument("--eval-split", default="test", choices=["test", "validation"],
                   help="split of every metric: test (report) or validation (held out of training: tune on it)")
    p.add_argument("--quick", action="store_true", help="tiny networks and 60 steps: checks that it runs")
    p.add_argument("--out", default=None, help="keep the run folders here (default: a temporary folder)")
    p.add_argument("--json", default=None, help="also write every number to this file")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    if not encoders or encoders[0] != "set" or set(encoders) - set(NAMES):
        p.error("--encoders must start with set and use only set, cnn, cnp")
    base: dict = {"recipe": args.recipe, "device": args.device, "data": args.data, "eval_split": args.eval_split}
    if args.quick:
        base.update(QUICK, size=32)
    if args.steps:
        base["steps"] = args.steps
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="sirenkit-meta-bench-"))
    root.mkdir(parents=True, exist_ok=True)

    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    rows["set"] = train("set", root / "set", base)
    budget = rows["set"]["seconds"]
    print(f"set encoder: {rows['set']['steps']} steps in {budget:.1f} s (budget for the others)", file=sys.stderr)
    for enc in encoders[1:]:
        calib = train(enc, root / f"{enc}-timing", {**base, "steps": args.calibration_steps,
                                                    "eval_every": args.calibration_steps})
        step_time = calib["seconds"] / calib["steps"]
        steps = max(1, int(budget / step_time))
        rows[enc] = train(enc, root / enc, {**base, "steps": steps, "max_seconds": budget})
        rows[enc]["calibrated_step_ms"] = 1000 * step_time
        print(f"{enc}: {rows[enc]['steps']} steps in {rows[enc]['seconds']:.1f} s", file=sys.stderr)
    wall = time.perf_counter() - t0

    config = json.loads((root / "set" / "config.json").read_text())
    print(f"\nSpace of SIRENs, {config['recipe']} recipe on {config['device']} ({cpu_name()}, "
          f"{torch.get_num_threads()} thread(s)), torch {torch.__version__}, {_dt.date.today()}")
    signal = json.loads((root / "set" / "checkpoint.json").read_text())["signal"]
    print(f"data: {signal['description']}; metrics on the {args.eval_split} split\n")
    print("| method | steps | train s | wall s | mse_10 | mse_100 | mse_1000 | mse_half "
          "| paper (CelebA) 10 / 100 / 1000 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for enc in encoders:
        m = rows[enc]
        cells = [f"{m[k]:.4f}" if k in m else "—" for k in ("mse_10", "mse_100", "mse_1000", "mse_half")]
        paper = " / ".join(f"{v:.3f}" for v in PAPER[enc])
        print(f"| {NAMES[enc]} | {m['steps']} | {m['seconds']:.0f} | {m['wall_seconds']:.0f} | {' | '.join(cells)} "
              f"| {paper} |")
    print(f"\ntotal wall time {wall / 60:.1f} min; runs in {root}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": str(_dt.date.today()), "cpu": cpu_name(), "machine": platform.machine(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "recipe": config["recipe"],
            "device": config["device"], "data": signal["description"], "paper": PAPER, "runs": rows,
            "wall_seconds": wall}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
