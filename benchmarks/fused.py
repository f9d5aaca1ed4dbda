#!/usr/bin/env python
"""Fused derivative streams (`sirenkit.diff.fused`) against the forward-mode and autograd paths.

Two losses on a 256×3 SIREN, one Adam step each (forward, first-order backward, update):
  * laplacian — 2-D, value + gradient + Laplacian (the Poisson-from-Laplacian loss shape), N points;
  * sdf       — 3-D, value + gradient (the SDF loss shape: |Φ|, normal alignment, eikonal), N points; here
                also the closed-form reverse sweep (`--derivatives reverse`, the SDF default, compiled with --compile).
Per path: median step time (interleaved rounds, device-synchronised), peak memory of one step (CUDA allocator
peak; on the CPU the bytes autograd keeps for backward), and the relative difference of the fused outputs from
the forward-mode path's. On CUDA with Triton installed the fused path runs its Triton kernels
(`SIRENKIT_TRITON=0` turns them off, so both variants can be compared on one machine).

    python benchmarks/fused.py --device cpu --points 8192 --threads 1
    python benchmarks/fused.py --device cuda --points 250000
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from common import cpu_name, interleaved_step_times
from torch.nn import functional as F

from sirenkit.diff import autograd_derivatives
from sirenkit.diff.forward import forward_derivatives
from sirenkit.diff.fused import fused_derivatives, triton_requested
from sirenkit.diff.reverse import reverse_derivatives
from sirenkit.models import Siren
from sirenkit.train.device import resolve_device

PATHS = {"autograd": autograd_derivatives, "analytic": forward_derivatives, "fused": fused_derivatives,
         "reverse": lambda model, x, order: reverse_derivatives(model, x)}  # first-order (SDF) only


def loss_of(kind: str, d) -> torch.Tensor:
    if kind == "laplacian":
        return (d.laplacian**2).mean() + 1e-3 * (d.gradient**2).mean() + (d.value**2).mean()
    grad = d.gradient[:, 0, :]
    return d.value.abs().mean() + (grad.norm(dim=-1) - 1).abs().mean() + (1 - F.normalize(grad, dim=-1)[:, 0]).mean()


def setup(kind: str, path: str, points: int, device: torch.device, compiled: bool):
    dims, order = (2, 2) if kind == "laplacian" else (3, 1)
    torch.manual_seed(0)
    model = Siren(dims, 1).to(device)
    x = (torch.rand(points, dims, device=device) * 2 - 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    fn = PATHS[path]

    def loss() -> torch.Tensor:
        return loss_of(kind, fn(model, x, order))

    run = torch.compile(loss) if compiled else loss

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        run().backward()
        opt.step()

    return model, x, order, step


def peak_mb(step, device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    step()
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def saved_mb(kind: str, path: str, points: int, device: torch.device) -> float:
    """Distinct storages autograd keeps for backward while the loss is built (device-independent measure)."""
    model, x, order, _ = setup(kind, path, points, device, False)
    storages: dict[int, int] = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_of(kind, PATHS[path](model, x, order))
    return sum(storages.values()) / 2**20


def measure(kind: str, points: int, device: torch.device, compiled: bool) -> list[dict]:
    """Rows (one per path) of one loss: step time, peak memory, saved bytes, and the fused outputs' agreement."""
    variants = {name: (name, False) for name in PATHS if name != "reverse" or kind == "sdf"}
    if compiled:
        variants["analytic, compiled"] = ("analytic", True)
        if kind == "sdf":
            variants["reverse, compiled"] = ("reverse", True)  # the SDF's default path
    steps = {label: setup(kind, path, points, device, comp)[3] for label, (path, comp) in variants.items()}
    times = interleaved_step_times(steps, device, rounds=3, warmup=2, timed=4)
    model, x, order, _ = setup(kind, "fused", min(points, 20000), device, False)
    ref, got = forward_derivatives(model, x, order), fused_derivatives(model, x, order)
    diff = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(got[:order + 1], ref[:order + 1]))
    rows = []
    for label, (path, _) in variants.items():
        rows.append({"loss": kind, "path": label, "step_ms": times[label],
                     "ratio_vs_autograd": times["autograd"] / times[label], "peak_mb": peak_mb(steps[label], device),
                     "saved_mb": saved_mb(kind, path, points, device), "fused_rel_diff": diff})
        print(table_row(rows[-1]), file=sys.stderr, flush=True)
    return rows


def table_row(r: dict) -> str:
    peak = "–" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
    return (f"| {r['loss']} | {r['path']} | {r['step_ms']:.1f} | {r['ratio_vs_autograd']:.2f} | {peak} "
            f"| {r['saved_mb']:.0f} | {r['fused_rel_diff']:.1e} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--points", type=int, default=None, help="points per step (default: 8192 CPU, 250000 CUDA)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--compile", action="store_true",
                   help="also time the forward-mode path (and the SDF's reverse sweep) under torch.compile")
    p.add_argument("--json", default=None, metavar="FILE")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    points = args.points or (250_000 if device.type == "cuda" else 8192)
    kernels = "Triton kernels" if triton_requested(torch.zeros(1, device=device)) else "PyTorch formulas"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    rows: list[dict] = []
    for kind in ("laplacian", "sdf"):
        torch._dynamo.reset()  # each loss compiles afresh, with static shapes
        rows += measure(kind, points, device, args.compile)
        # Written after each loss: a run cut short (the GPU script's timeouts) keeps what it measured.
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"device": str(device), "name": name, "points": points, "kernels": kernels, "rows": rows,
                           "complete": kind == "sdf"}, f, indent=2)
    print(f"{points:,} points, 256×3 SIREN, one Adam step; {device} ({name}), {torch.get_num_threads()} thread(s); "
          f"fused elementwise passes: {kernels}\n")
    print("| loss | path | step ms | × vs autograd | peak MB | kept for backward MB | fused vs forward-mode |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(table_row(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
