"""SDF benchmark on the Stanford bunny: Chamfer against steps and seconds, step time and memory, mesh memory.

Part `curve`: `sirenkit fit sdf` on ../shared/data/bunny_100k.xyz (the official point-cloud format) with
bunny.ply as ground truth; at every evaluation the network is meshed and Chamfer-L1 measured (meshing and
evaluation time is not counted in the seconds).
Part `step_time`: one optimisation step at a given batch (N surface + N uniform points) for the default path
(analytic forward mode under torch.compile on CUDA; autograd on CPU, where it is faster) against the
`reference` path (eager fp32, autograd double backward, what the official code does) and the eager analytic
path; median after warm-up, device-synchronised; peak memory (CUDA: max allocated; CPU: peak RSS of a
fresh subprocess per variant).
Part `mesh`: `sirenkit mesh RUN --resolution R` on the run of part `curve`, in a subprocess: seconds, network
evaluations and peak resident memory.

    python benchmarks/sdf.py                      # CPU defaults (about 15 minutes on 2 cores)
    python benchmarks/sdf.py --quick              # smoke run
    python benchmarks/sdf.py --device cuda        # paper batch 250k + 250k, longer curve, mesh 1024
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())

import torch
from common import cpu_name, shared_data

from sirenkit.geometry.meshing import peak_rss_mb
from sirenkit.models import ModelConfig
from sirenkit.runner import run_task
from sirenkit.tasks.sdf import SdfConfig, SdfTask
from sirenkit.train.device import resolve_device, synchronize

DATA = shared_data()


class ChamferCurveTask(SdfTask):
    """SdfTask whose every evaluation meshes the network and measures Chamfer-L1 against the reference."""

    metric = "chamfer_l1"
    calls = 0
    started = 0.0

    def evaluate(self, model, final=False):
        self.calls += 1
        if self.calls == 1:  # step 0: meshing a random network costs minutes and says nothing
            self.started = time.perf_counter()
            return {**self._surface_stats(model), "chamfer_l1": float("nan")}
        out = super().evaluate(model, final=True)
        # Printed as it comes, so a run cut short (the GPU script's timeout) still shows the curve so far.
        print(f"  evaluation {self.calls - 1}: chamfer_l1 {out['chamfer_l1']:.4g} "
              f"({time.perf_counter() - self.started:.0f} s wall since step 0)", file=sys.stderr, flush=True)
        return {k: v for k, v in out.items() if isinstance(v, float | int)}


def curve(args, device) -> dict:
    out = Path(args.workdir) / "bunny-run"
    options = dict(path=str(DATA / "bunny_100k.xyz"), reference=str(DATA / "bunny.ply"), out=str(out),
                   overwrite=True, batch_points=args.batch, steps=args.steps, lr=1e-4, schedule="cosine",
                   clip_grad=1.0, eval_every=args.eval_every, mesh_resolution=args.resolution,
                   eval_samples=args.eval_samples, device=str(device), quiet=True, checkpoint_every=0)
    result = run_task(ChamferCurveTask, options)
    with open(out / "curve.csv") as f:
        curve_rows = list(csv.DictReader(f))
    rows = [{"step": int(r["step"]), "seconds": float(r["seconds"]), "chamfer_l1": float(r["metric"])}
            for r in curve_rows if r.get("metric") and r["metric"] != "nan"]
    for r in rows:
        print(f"  step {r['step']:6d}  {r['seconds']:8.1f} s  chamfer_l1 {r['chamfer_l1']:.4g}", file=sys.stderr)
    return {"run": str(out), "rows": rows, "final": result.metrics}


def _one_variant(args, device, variant: str) -> dict:
    """Median step time (and CUDA peak memory) of one derivative path at batch N + N."""
    backend, compiled = {"default": (None, None), "reference": ("autograd", False),
                         "analytic": ("analytic", False)}[variant]
    if backend is None:
        backend = "analytic" if device.type == "cuda" else "autograd"
        compiled = device.type == "cuda"
    task = SdfTask(SdfConfig(path=str(DATA / "bunny_100k.xyz"), batch_points=args.time_batch,
                             derivatives=backend, mesh_resolution=0), device)
    torch.manual_seed(0)
    model = ModelConfig().build(3, 1).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=device.type == "cuda")

    def loss_fn(batch):
        return task.loss_terms(model, batch)

    fn = torch.compile(loss_fn) if compiled else loss_fn
    gen = torch.Generator(device=device if device.type == "cuda" else "cpu").manual_seed(0)
    batch = task.batch(0, gen)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for i in range(args.warmup + args.timed):
        synchronize(device)
        t0 = time.perf_counter()
        loss = sum(fn(batch).values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        synchronize(device)
        if i >= args.warmup:
            times.append(1000 * (time.perf_counter() - t0))
    row = {"variant": variant, "backend": backend, "compiled": compiled, "ms": statistics.median(times)}
    if device.type == "cuda":
        row["peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        row["peak_mb"] = peak_rss_mb()
    return row


def step_time(args, device) -> list[dict]:
    rows = []
    for variant in ("reference", "analytic", "default"):
        if device.type == "cuda":
            row = _one_variant(args, device, variant)
        else:  # a fresh process per variant, so that peak RSS belongs to that variant alone
            cmd = [sys.executable, __file__, "--device", str(device), "--one-variant", variant,
                   "--time-batch", str(args.time_batch), "--warmup", str(args.warmup), "--timed", str(args.timed)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {variant:9s} {row['backend']:8s} compiled={row['compiled']!s:5s} {row['ms']:.1f} ms  "
              f"peak {row['peak_mb']:.0f} MB", file=sys.stderr)
    return rows


def mesh_memory(args, run_dir: str) -> dict:
    out = Path(args.workdir) / f"mesh-{args.mesh_resolution}.ply"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sirenkit", "mesh", run_dir, "--resolution",
                           str(args.mesh_resolution), "--out", str(out), "--device", args.device],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"sirenkit mesh failed: {proc.stderr.strip()}")
    text = proc.stdout
    numbers = {k: float(re.search(pattern, text).group(1).replace(",", "")) for k, pattern in {
        "vertices": r"([\d,]+) vertices", "faces": r"([\d,]+) faces", "evaluations": r"([\d,]+) network",
        "seconds": r"([\d.]+) s,", "peak_rss_mb": r"peak resident memory ([\d,]+) MB"}.items()}
    numbers.update({"resolution": args.mesh_resolution, "wall_s": time.perf_counter() - t0})
    print(f"  mesh {args.mesh_resolution}³: {text.strip()}", file=sys.stderr)
    return numbers


def markdown(args, device, curve_res, time_rows, mesh_res) -> str:
    lines = []
    if curve_res:
        final = curve_res["final"]
        lines += [f"Chamfer-L1 against steps: bunny_100k.xyz, {args.batch} + {args.batch} points/step, lr 1e-4 cosine, "
                  f"clip 1, mesh {args.resolution}³, {args.eval_samples:,} samples per side, device {device}", "",
                  "| step | training s | chamfer_l1 |", "|---|---|---|"]
        lines += [f"| {r['step']} | {r['seconds']:.1f} | {r['chamfer_l1']:.3g} |" for r in curve_res["rows"]]
        lines += ["", f"final: chamfer_l1 {final.get('chamfer_l1', float('nan')):.4g}, chamfer_l2 "
                      f"{final.get('chamfer_l2', float('nan')):.3g}, normal consistency "
                      f"{final.get('normal_consistency', float('nan')):.4f}, F-score@{final.get('fscore_threshold')} "
                      f"{final.get('fscore', float('nan')):.4f}", ""]
    if time_rows:
        ref = next(r for r in time_rows if r["variant"] == "reference")
        lines += [f"Step time at {args.time_batch:,} + {args.time_batch:,} points (median of {args.timed} after "
                  f"{args.warmup} warm-up), SIREN 3→256×3→1, device {device}", "",
                  "| path | derivatives | compiled | ms/step | × reference | peak memory MB |",
                  "|---|---|---|---|---|---|"]
        for r in time_rows:
            lines.append(f"| {r['variant']} | {r['backend']} | {r['compiled']} | {r['ms']:.1f} | "
                         f"{ref['ms'] / r['ms']:.2f}× | {r['peak_mb']:.0f} |")
        lines.append("")
    if mesh_res:
        lines += [f"`sirenkit mesh --resolution {mesh_res['resolution']}`: {mesh_res['seconds']:.1f} s, "
                  f"{mesh_res['evaluations']:,.0f} network evaluations "
                  f"({mesh_res['evaluations'] / mesh_res['resolution'] ** 3:.1%} of the grid), "
                  f"{mesh_res['faces']:,.0f} faces, peak resident memory {mesh_res['peak_rss_mb']:,.0f} MB"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--parts", default="curve,step_time,mesh")
    p.add_argument("--batch", type=int, default=None, help="curve: N surface points per step (CPU 4096, GPU 250k)")
    p.add_argument("--steps", type=int, default=None, help="curve steps (CPU 3000, GPU 10000)")
    p.add_argument("--eval-every", type=int, default=None)
    p.add_argument("--resolution", type=int, default=256, help="curve: mesh resolution at each evaluation")
    p.add_argument("--eval-samples", type=int, default=1_000_000)
    p.add_argument("--time-batch", type=int, default=None, help="step time: N (CPU 4096, GPU 250k)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--timed", type=int, default=10)
    p.add_argument("--mesh-resolution", type=int, default=1024)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--workdir", default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--json", default=None)
    p.add_argument("--one-variant", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = device.type == "cuda"
    args.batch = args.batch or (250_000 if gpu else 4096)
    args.steps = args.steps or (10_000 if gpu else 3000)
    args.time_batch = args.time_batch or (250_000 if gpu else 4096)
    if args.quick:
        args.batch, args.steps, args.resolution, args.eval_samples = 512, 60, 64, 20_000
        args.time_batch, args.warmup, args.timed, args.mesh_resolution = 512, 1, 2, 96
    args.eval_every = args.eval_every or max(1, args.steps // 6)
    if args.one_variant:
        print(json.dumps(_one_variant(args, device, args.one_variant)))
        return
    if not DATA.is_dir():
        raise SystemExit(f"data folder {DATA} is absent: this benchmark needs the bunny (set SIRENKIT_DATA)")
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="sirenkit-sdf-bench-")
    parts = args.parts.split(",")
    start = time.time()
    time_rows = step_time(args, device) if "step_time" in parts else []  # first: cheap and always wanted
    curve_res = curve(args, device) if "curve" in parts else None
    mesh_res = mesh_memory(args, curve_res["run"]) if "mesh" in parts and curve_res else None
    print(markdown(args, device, curve_res, time_rows, mesh_res))
    print(f"\n(total {time.time() - start:.0f} s, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{torch.cuda.get_device_name(device) if gpu else cpu_name()})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "curve": curve_res, "step_time": time_rows, "mesh": mesh_res,
                       "device": str(device)}, f, indent=2, default=str)


if __name__ == "__main__":
    main()
