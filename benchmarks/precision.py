#!/usr/bin/env python
"""Mixed-precision benchmark: every task's own recipe trained in fp32 and in bf16 (`--precision`), same seed.

For each workload it reports the task metric, the training seconds and the step time of both runs. This is the
measurement behind `--precision auto`: bf16 is the default only for the tasks where it loses nothing here
(image, audio, video, Poisson) and stays off where it does (the SDF, which gets `bf16-backward` instead: compare
with `--modes fp32,bf16-backward`) or where it was not measured to the end. Each run is a real `sirenkit.fit`
with the device's recipe, shortened where the full recipe would take many minutes on a CPU (the steps are in
the table).

    python benchmarks/precision.py --quick                 # smoke run, tiny sizes, seconds
    python benchmarks/precision.py --threads 2             # CPU table for RESULTS.md (~30 minutes on 2 cores)
    python benchmarks/precision.py --device cuda           # the same on a GPU (gpu.sh)
    python benchmarks/precision.py --only sdf --modes fp32,bf16,bf16-backward --threads 2   # the SDF rows
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from common import cpu_name, shared_data

import sirenkit
from sirenkit.tasks import REGISTRY

# workload -> (task, options on top of the device recipe). Steps are shortened on a CPU only where noted.
CPU_WORKLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "image (cameraman 256², cpu recipe)": ("image", {}),
    "image memorised (64², 4096 px, 1500 steps)": ("image", {"size": 64, "batch_pixels": 4096, "steps": 1500}),
    "audio (bach, 1000 steps)": ("audio", {"steps": 1000}),
    "video (bikes 128 px, 500 steps)": ("video", {"steps": 500}),
    "poisson gradient (500 steps)": ("poisson-gradient", {"steps": 500}),
    "poisson laplacian (500 steps)": ("poisson-laplacian", {"steps": 500}),
    "sdf (torus, 1000 steps)": ("sdf", {"shape": "torus", "steps": 1000, "mesh_resolution": 0}),
    "helmholtz k 10 (500 steps)": ("helmholtz", {"k": 10.0, "steps": 500}),
    "sdf (bunny.ply, cpu recipe, full)": ("sdf", {"path": "bunny.ply"}),
}
# The full CPU recipes of the Poisson tasks (run with --only "full recipe"): whether bf16 still matches fp32 at
# the end of training, where --precision auto would use it.
CPU_WORKLOADS.update({
    "poisson gradient (cpu recipe, full)": ("poisson-gradient", {}),
    "poisson laplacian (cpu recipe, full)": ("poisson-laplacian", {}),
})
QUICK_WORKLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "image 32²": ("image", {"size": 32, "batch_pixels": 512, "steps": 60, "hidden_features": 32}),
    "poisson gradient 32²": ("poisson-gradient", {"size": 32, "batch_pixels": 512, "steps": 60,
                                                  "hidden_features": 32}),
}


SHARED_DATA = shared_data()


def data_options(task: str) -> dict[str, Any]:
    """The shared data file of `task` where the CPU workloads use one (audio: the Bach clip, video: bikes)."""
    files = {"audio": SHARED_DATA / "bach.wav", "video": SHARED_DATA / "bikes.mp4"}
    path = files.get(task)
    return {"path": str(path)} if path is not None and path.is_file() else {}


def resolve_paths(options: dict[str, Any]) -> dict[str, Any] | None:
    """`options` with a `path` naming a file in ../shared/data made absolute; None when that file is absent."""
    if "path" not in options:
        return options
    path = SHARED_DATA / options["path"]
    return {**options, "path": str(path)} if path.is_file() else None


def run_modes(name: str, task: str, options: dict[str, Any], device: str, folder: Path,
              modes: list[str]) -> dict[str, Any]:
    """Fit `task` with `options` once per precision in `modes` (fp32 first); metric, seconds, step time."""
    row: dict[str, Any] = {"workload": name, "task": task, "metric": REGISTRY[task].metric,
                           "higher_is_better": REGISTRY[task].higher_is_better}
    for precision in modes:
        out = folder / f"{abs(hash(name)) % 10**8}-{precision}"
        print(f"[precision] {name}: {precision} ...", file=sys.stderr, flush=True)
        result = sirenkit.fit(task, **data_options(task), **options, precision=precision, device=device,
                              quiet=True, out=str(out), seed=0)
        m = result.metrics
        row[precision] = {"metric": m[m["metric"]], "seconds": m["seconds"], "step_ms": m["step_time_ms"],
                          "steps": m["steps"]}
        if precision != "fp32":
            row[f"speedup_{precision}"] = row["fp32"]["step_ms"] / m["step_time_ms"]
    return row


def table(rows: list[dict[str, Any]], modes: list[str]) -> list[str]:
    low = [m for m in modes if m != "fp32"]
    head = (["workload", "metric"] + modes + [f"{m} ms/step" for m in modes]
            + [f"fp32 ÷ {m} time" for m in low])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        fmt = (lambda v: f"{v:.2f}") if r["metric"].startswith("psnr") else (lambda v: f"{v:.3g}")
        cells = ([r["workload"], r["metric"]] + [fmt(r[m]["metric"]) for m in modes]
                 + [f"{r[m]['step_ms']:.1f}" for m in modes] + [f"{r[f'speedup_{m}']:.2f}×" for m in low])
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="two tiny workloads (a smoke run)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--only", default=None, help="comma-separated substrings of the workload names to run")
    parser.add_argument("--json", default=None, help="write the rows here")
    parser.add_argument("--modes", default="fp32,bf16",
                        help="comma-separated precisions to compare, fp32 first (also: bf16-backward)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    workloads = QUICK_WORKLOADS if args.quick else CPU_WORKLOADS
    if args.device.startswith("cuda") and not args.quick:  # the GPU recipes at their own sizes, shortened
        workloads = {f"{n} (gpu recipe)": (t, {k: v for k, v in o.items() if k in ("shape", "k", "steps", "path")})
                     for n, (t, o) in CPU_WORKLOADS.items()}
    if args.only:
        keys = [k.strip() for k in args.only.split(",")]
        workloads = {n: w for n, w in workloads.items() if any(k in n for k in keys)}
    modes = ["fp32"] + [m.strip() for m in args.modes.split(",") if m.strip() not in ("", "fp32")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sirenkit-precision-") as tmp:
        for name, (task, options) in workloads.items():
            resolved = resolve_paths(options)
            if resolved is None:
                print(f"[precision] {name}: skipped, {options['path']} is not in {SHARED_DATA}", file=sys.stderr)
                continue
            rows.append(run_modes(name, task, resolved, args.device, Path(tmp), modes))
    machine = torch.cuda.get_device_name() if args.device.startswith("cuda") else cpu_name()
    print(f"\nmachine: {machine}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    print("\n".join(table(rows, modes)))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
