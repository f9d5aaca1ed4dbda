#!/usr/bin/env python
"""Audio-fitting benchmark: the paper's Bach experiment (Section 4.1) as a table, plus the 12-second speech check.

1. bach   — `sirenkit fit audio ../shared/data/bach.wav` for SIREN (with the recipe's first-layer ω0
            and, as `sine@3000`, the paper's) and the baselines `relu` and `relu-pe`, through the project's
            own runner with the same seed, recipe and schedule for every network. MSE on the whole clip
            (amplitudes scaled to [-1, 1], as the paper) at a list of steps, beside the training seconds
            (evaluation excluded, as the trainer counts them) and the final SNR. The recipe is the device
            default (`cpu`: random sample batches; `gpu`: the whole clip every step) or `--recipe paper`
            (whole clip, lr 5e-5 constant, 9000 steps: GPU only in practice).
2. speech — the acceptance check of the audio task: about 12 s of counting speech at 44.1 kHz, synthesised
            with `espeak-ng` (skipped when it is not on PATH) and resampled with scipy, fitted with plain
            `sirenkit fit audio CLIP` in a subprocess (the default recipe of the device); reports the wall time
            of the whole command and the MSE on the whole clip. Predicting silence gives MSE = mean(x²).

    python benchmarks/audio_fit.py --quick                # smoke run, about 30 s
    python benchmarks/audio_fit.py --threads 1 --eval-every 500   # full run (2-core CPU: about 17 minutes)
    python benchmarks/audio_fit.py --parts speech          # the 12 s speech check only
    python benchmarks/audio_fit.py --json out.json --markdown out.md

Prints markdown tables; `--json` also stores every curve.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from common import machine_info, report_header, shared_data, write_json

import sirenkit
from sirenkit.io.speech import make_speech_clip
from sirenkit.tasks.audio import AudioTask
from sirenkit.train.device import resolve_device

ROOT = Path(__file__).resolve().parents[1]
BACH = shared_data() / "bach.wav"
PAPER_MSE = {"sine": "1.1e-5 (ω0 3000)", "relu": "2.5e-2"}  # paper, Bach, ~9k full-clip steps

def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _read_curve(path: Path) -> list[dict[str, float]]:
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            if raw.get("metric"):
                rows.append({"step": int(raw["step"]), "seconds": float(raw["seconds"]), "mse": float(raw["metric"])})
    return rows


# --------------------------------------------------------------------------------------------- Bach
def part_bach(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    if not BACH.is_file():
        _log(f"[bach] skipped: {BACH} is absent")
        return {"skipped": f"{BACH} is absent"}
    recipe = args.recipe if args.recipe != "auto" else ("gpu" if device.type in ("cuda", "mps") else "cpu")
    options: dict[str, Any] = {"recipe": recipe, "device": str(device), "seed": args.seed, "quiet": True,
                               "checkpoint_every": 0}
    for key in ("steps", "lr", "schedule", "batch_samples", "eval_every", "duration"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    settings = {**{k: v for s in AudioTask.recipes[recipe].values() for k, v in s.items()}, **options}
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sirenkit-audio-bench-") as tmp:
        for name in args.activations:
            activation, _, omega = name.partition("@")
            extra = {"first_omega_0": float(omega)} if omega else {}
            _log(f"[bach] {name}: {settings} {extra}")
            t0 = time.perf_counter()
            result = sirenkit.fit("audio", path=str(BACH), activation=activation, out=f"{tmp}/{name}",
                                  **options, **extra)
            m = result.metrics
            runs[name] = {"curve": _read_curve(result.out_dir / "curve.csv"), "mse": m["mse"],
                                "snr_db": m["snr_db"], "seconds": m["seconds"], "steps": m["steps"],
                                "step_time_ms": m["step_time_ms"], "parameters": m["parameters"],
                                "wall_seconds": time.perf_counter() - t0}
            _log(f"[bach] {name}: MSE {m['mse']:.3g}, SNR {m['snr_db']:.1f} dB, {m['seconds']:.0f} s")
    return {"recipe": recipe, "settings": settings, "runs": runs}


# --------------------------------------------------------------------------------------------- speech
def part_speech(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sirenkit-speech-") as tmp:
        clip = Path(tmp) / "counting.wav"
        info = make_speech_clip(clip, seconds=args.speech_seconds)
        if info is None:
            _log("[speech] skipped: espeak-ng is not on PATH")
            return {"skipped": "espeak-ng is not on PATH"}
        cmd = [sys.executable, "-m", "sirenkit", "fit", "audio", str(clip), "--out", f"{tmp}/run", "--quiet",
               "--device", str(device), *args.speech_args]
        _log(f"[speech] {' '.join(cmd[1:])}  (silence MSE {info['silence_mse']:.3g})")
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"speech run failed: {proc.stderr.strip()}")
        metrics = json.loads(Path(f"{tmp}/run/metrics.json").read_text())
        config = json.loads(Path(f"{tmp}/run/config.json").read_text())
    _log(f"[speech] MSE {metrics['mse']:.3g}, SNR {metrics['snr_db']:.1f} dB, {wall:.0f} s wall")
    return {**info, "command": "sirenkit fit audio CLIP " + " ".join(args.speech_args), "wall_seconds": wall,
            "mse": metrics["mse"], "snr_db": metrics["snr_db"], "train_seconds": metrics["seconds"],
            "steps": metrics["steps"], "recipe": config["recipe"], "train": config["train"],
            "task": config["task"]}


# --------------------------------------------------------------------------------------------- report
def markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    bach = results.get("bach")
    if bach and "runs" in bach:
        s = bach["settings"]
        batch = "whole clip" if not s.get("batch_samples") else f"{s['batch_samples']} samples"
        drawn = f" ({s['sampling']} sampling)" if s.get("batch_samples") else ""
        lines += [f"### Bach (6.99 s, 44.1 kHz, 308,207 samples) — recipe `{bach['recipe']}`: {batch} per step"
                  f"{drawn}, Adam lr {s['lr']:g} {s['schedule']}, {s['steps']} steps, first-layer ω0 "
                  f"{s.get('first_omega_0', 30):g} (sine; `sine@W`: ω0 W)", ""]
        steps = sorted({r["step"] for run in bach["runs"].values() for r in run["curve"] if r["step"] > 0})
        lines.append("| network | " + " | ".join(f"MSE @{k}" for k in steps)
                     + " | final SNR (dB) | train s | ms/step | paper MSE |")
        lines.append("|---" * (len(steps) + 5) + "|")
        for name, run in bach["runs"].items():
            by_step = {r["step"]: r["mse"] for r in run["curve"]}
            cells = [f"{by_step[k]:.2e}" if k in by_step else "" for k in steps]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {run['snr_db']:.1f} | {run['seconds']:.0f} | "
                         f"{run['step_time_ms']:.0f} | {PAPER_MSE.get(name.partition('@')[0], '—')} |")
        lines.append("")
        lines.append("Seconds at each evaluation: " + "; ".join(
            f"{name}: " + ", ".join(f"{r['step']}→{r['seconds']:.0f}s" for r in run["curve"] if r["step"] > 0)
            for name, run in bach["runs"].items()))
        lines.append("")
    speech = results.get("speech")
    if speech and "mse" in speech:
        lines += [f"### {speech['seconds']:g} s counting speech, {speech['rate'] / 1000:g} kHz (espeak-ng at "
                  f"{speech['espeak_rate']} Hz, resampled)", "",
                  "| command | recipe | steps | train s | wall s (whole command) | MSE | SNR (dB) | silence MSE |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| `{speech['command'].strip()}` | {speech['recipe']} | {speech['steps']} | "
                  f"{speech['train_seconds']:.0f} | {speech['wall_seconds']:.0f} | {speech['mse']:.2e} | "
                  f"{speech['snr_db']:.1f} | {speech['silence_mse']:.2e} |", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", default="bach,speech", help="comma list: bach, speech")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N")
    p.add_argument("--recipe", default="auto", choices=["auto", "paper", "gpu", "cpu"],
                   help="Bach runs: the sirenkit recipe (auto: by device)")
    p.add_argument("--activations", default="sine,sine@3000,relu,relu-pe",
                   help="comma list of networks for the Bach table; NAME@W sets the first-layer ω0 to W")
    p.add_argument("--steps", type=int, default=None, help="Bach: override the recipe's steps")
    p.add_argument("--lr", type=float, default=None, help="Bach: override the recipe's lr")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=None, help="Bach: override the schedule")
    p.add_argument("--batch-samples", type=int, default=None, help="Bach: samples per step (0: whole clip)")
    p.add_argument("--eval-every", type=int, default=None, help="Bach: MSE evaluation interval (steps)")
    p.add_argument("--duration", type=float, default=None, help="Bach: fit only the first SECONDS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speech-seconds", type=float, default=12.0, help="length of the synthetic speech clip")
    p.add_argument("--speech-args", default="", help="extra flags for the speech run's `sirenkit fit audio`")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (also for the speech subprocess)")
    p.add_argument("--quick", action="store_true", help="about a minute: 0.5 s of Bach, 2 s of speech, few steps")
    p.add_argument("--json", metavar="OUT.json", default=None)
    p.add_argument("--markdown", metavar="OUT.md", default=None)
    args = p.parse_args(argv)
    args.parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    args.activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    args.speech_args = args.speech_args.split()
    if args.quick:
        args.duration = args.duration or 0.5
        args.steps = args.steps or 60
        args.eval_every = args.eval_every or 30
        args.speech_seconds = 2.0
        args.speech_args = args.speech_args or ["--steps", "30"]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    device = resolve_device(args.device)
    results: dict[str, Any] = {"machine": machine_info(device), "argv": sys.argv[1:]}
    wall0 = time.perf_counter()
    runners = {"bach": part_bach, "speech": part_speech}
    for part in args.parts:
        if part not in runners:
            raise SystemExit(f"unknown part {part!r}; choose from {', '.join(runners)}")
        results[part] = runners[part](args, device)
        write_json(args.json, results)
    results["wall_seconds"] = time.perf_counter() - wall0
    text = report_header(results) + markdown(results)
    print(text)
    write_json(args.json, results)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
