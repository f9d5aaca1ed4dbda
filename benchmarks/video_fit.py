#!/usr/bin/env python
"""Video-fitting benchmark: mean PSNR against steps on the bikes clip (the paper's Section 4.1, Figure 4).

Every run uses the project's own `VideoTask` and `Trainer` with one seed; runs differ only in the settings of
their preset. The PSNR at each checkpoint step is the mean over `--eval-frames` evenly spaced frames (cheap);
the final column is the mean ± standard deviation over every frame, as `sirenkit fit video` reports it.

Presets (the sizes of the device's recipe: on CPU 128 px on the longer side and 3→256×3→3, on CUDA the native
272×640 and 3→1024×3→3; 0.38 % of all pixels per step in every preset):

    recipe   SIREN, Adam lr 5e-4 (CPU) / 1.5e-4 (CUDA) with cosine decay — what `sirenkit fit video` runs
    paper    SIREN, the paper's schedule: Adam lr 1e-4 constant
    lr1e-3   SIREN, lr 1e-3 with cosine decay (the image recipe's schedule; too fast for video)
    relu     ReLU MLP of the same size, Kaiming init, the recipe's schedule (the paper's baseline: 25.1 dB on cat)

    python benchmarks/video_fit.py --quick                      # smoke run, about a minute
    python benchmarks/video_fit.py --threads 1 --markdown t.md  # full CPU run (~10 minutes on one core)
    python benchmarks/video_fit.py --runs recipe --steps 3000 --set hidden_features=384

`--set KEY=VALUE` (repeatable) overrides a task, model or train setting in every run (flat names as on the
command line). Prints a markdown table; `--json` also stores every number and curve.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch
from common import machine_info, report_header, shared_data, write_json

from sirenkit.config import from_dict
from sirenkit.models import ModelConfig, count_parameters
from sirenkit.tasks.video import VideoConfig, VideoTask
from sirenkit.train.device import resolve_device
from sirenkit.train.trainer import TrainConfig, Trainer

DEFAULT_VIDEO = shared_data() / "bikes.mp4"
PAPER = "cat video, 3→1024×3→3, 100k steps: SIREN 29.9 ± 1.1 dB, ReLU 25.1 dB (bikes: no number in the paper)"

PRESETS: dict[str, dict[str, Any]] = {
    "recipe": {},
    "paper": {"lr": 1e-4, "schedule": "constant"},
    "lr1e-3": {"lr": 1e-3, "schedule": "cosine"},
    "relu": {"activation": "relu"},
}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _parse_value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def settings_for(preset: str, args: argparse.Namespace, device: torch.device) -> dict[str, dict[str, Any]]:
    """Task / model / train settings of one run: the device recipe, then the preset, then the command line."""
    recipe = VideoTask.recipes["gpu" if device.type == "cuda" else "cpu"]
    sections = {s: dict(recipe.get(s, {})) for s in ("task", "model", "train")}
    sections["task"]["path"] = str(args.video) if args.video else None
    flat = {**PRESETS[preset], **args.overrides}
    for key, value in (("steps", args.steps), ("size", args.size), ("frames", args.frames),
                       ("eval_every", args.eval_every), ("eval_frames", args.eval_frames)):
        if value is not None:
            flat[key] = value
    owners = {f.name: s for s, cls in (("task", VideoConfig), ("model", ModelConfig), ("train", TrainConfig))
              for f in dataclasses.fields(cls)}
    for key, value in flat.items():
        if key not in owners:
            raise SystemExit(f"unknown setting {key!r}")
        sections[owners[key]][key] = value
    sections["train"].update({"seed": args.seed, "device": str(device), "checkpoint_every": 0})
    return sections


def run_one(preset: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    s = settings_for(preset, args, device)
    task_cfg, model_cfg = from_dict(VideoConfig, s["task"]), from_dict(ModelConfig, s["model"])
    train_cfg = from_dict(TrainConfig, s["train"])
    task = VideoTask(task_cfg, device)
    torch.manual_seed(train_cfg.seed)
    model = model_cfg.build(3, 3, task.samples).to(device)
    wall = time.perf_counter()
    result = Trainer(train_cfg, device).fit(task, model)
    model.eval()
    final = task.evaluate(model, final=True)
    t, h, w = task.shape
    return {
        "preset": preset, "settings": s, "clip": f"{t}×{h}×{w}", "batch": task.batch_size,
        "parameters": count_parameters(model), "steps": result.steps, "train_seconds": result.seconds,
        "wall_seconds": time.perf_counter() - wall,
        "curve": {r["step"]: r["metric"] for r in result.curve if r.get("metric") is not None},
        "final": final,
    }


def markdown(results: dict[str, Any]) -> str:
    runs = results["runs"]
    steps = sorted({int(s) for r in runs for s in r["curve"] if int(s) > 0})
    first = runs[0]
    lines = [
        f"### Video fitting: {Path(results['video']).name if results['video'] else 'generated clip'}, "
        f"{first['clip']} (T×H×W), {first['batch']:,} random pixels per step, seed {results['seed']}",
        "",
        f"Mean PSNR (dB) over {results['eval_frames']} evenly spaced frames at each step; last columns: every frame "
        "(mean ± std over frames), training seconds (evaluation not timed).",
        "",
    ]
    head = ["run", "network", "schedule", *[f"@{s}" for s in steps], "final (all frames)", "train s"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in runs:
        m, t = r["settings"]["model"], r["settings"]["train"]
        net = f"{m.get('activation', 'sine')} 3→{m.get('hidden_features', 256)}×3→3"
        sched = f"lr {t['lr']:g} {t['schedule']}"
        cells = [f"`{r['preset']}`", net, sched, *[f"{r['curve'][s]:.2f}" if s in r["curve"] else "—" for s in steps],
                 f"{r['final']['psnr_mean']:.2f} ± {r['final']['psnr_std']:.2f}", f"{r['train_seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Paper: {PAPER}.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path, default=DEFAULT_VIDEO,
                   help="clip to fit (default ../shared/data/bikes.mp4; 'none': the generated clip)")
    p.add_argument("--runs", default="recipe,paper,lr1e-3,relu", help=f"comma list of presets: {', '.join(PRESETS)}")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the recipe's)")
    p.add_argument("--size", type=int, default=None, help="longer side in pixels (default: the recipe's)")
    p.add_argument("--frames", type=int, default=None, help="frames to fit (default: all)")
    p.add_argument("--eval-every", type=int, default=None, help="PSNR checkpoint interval (default: the recipe's)")
    p.add_argument("--eval-frames", type=int, default=25, help="frames scored at each checkpoint step")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting in every run (repeatable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (1 is steadier on a shared CPU)")
    p.add_argument("--quick", action="store_true", help="smoke run: 60 steps, 32 frames at 64 px")
    p.add_argument("--json", metavar="OUT.json", default=None, help="also write every number and curve here")
    p.add_argument("--markdown", metavar="OUT.md", default=None, help="also write the table here")
    args = p.parse_args(argv)
    if str(args.video).lower() == "none":
        args.video = None
    elif not args.video.is_file():
        raise SystemExit(f"video {args.video} not found; pass --video PATH or --video none")
    args.overrides = {}
    for item in args.sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        args.overrides[key.replace("-", "_")] = _parse_value(value)
    args.runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in args.runs if r not in PRESETS]
    if unknown:
        raise SystemExit(f"unknown preset(s) {unknown}; choose from {', '.join(PRESETS)}")
    if args.quick:
        for key, value in (("steps", 60), ("size", 64), ("frames", 32), ("eval_every", 20)):
            if getattr(args, key) is None:
                setattr(args, key, value)
        args.eval_frames = min(args.eval_frames, 8)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    results: dict[str, Any] = {"machine": machine_info(device), "argv": sys.argv[1:], "seed": args.seed,
                               "video": str(args.video) if args.video else None, "eval_frames": args.eval_frames,
                               "runs": []}
    wall = time.perf_counter()
    for preset in args.runs:
        _log(f"[{preset}] ...")
        r = run_one(preset, args, device)
        _log(f"[{preset}] {r['final']['psnr_mean']:.2f} ± {r['final']['psnr_std']:.2f} dB after {r['steps']} "
             f"steps, {r['train_seconds']:.0f} s training, {r['wall_seconds']:.0f} s wall")
        results["runs"].append(r)
        write_json(args.json, results)
    results["wall_seconds"] = time.perf_counter() - wall
    text = report_header(results, "video_fit.py") + markdown(results)
    print(text)
    write_json(args.json, results)
    if args.markdown:
        Path(args.markdown).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
