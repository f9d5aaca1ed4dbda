#!/usr/bin/env python
"""Where a training step's time goes: torch.profiler over the suite's workloads, reference and default.

For each (workload, variant) of `sirenkit bench suite` at its CPU size (or `--quick`), a few warm-up steps,
then one profiled step; prints the share of self time of the heaviest operators and the share spent in matrix
multiplies (aten::mm / addmm / bmm / matmul kernels), which bounds what fusing elementwise work can gain.

    OMP_NUM_THREADS=1 python benchmarks/profile_steps.py --threads 1
    python benchmarks/profile_steps.py --device cuda --workloads sdf
"""

from __future__ import annotations

import argparse
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from sirenkit.bench.suite import VARIANTS, WORKLOADS, build_variant
from sirenkit.train.device import resolve_device, synchronize

MATMUL = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def profile_step(step, device: torch.device, top: int) -> tuple[float, list[tuple[str, float]], float]:
    """(step ms, [(op, share of self time)], matmul share) of one profiled call of `step`."""
    for _ in range(3):
        step()
    synchronize(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
        synchronize(device)
    events = prof.key_averages()
    use_cuda = device.type == "cuda"

    def self_time(e) -> float:
        return float(e.self_device_time_total if use_cuda else e.self_cpu_time_total)

    total = sum(self_time(e) for e in events) or 1.0
    shares: dict[str, float] = {}
    for e in events:  # inductor's generated graphs are named by hash: one label for all of them
        key = "compiled kernels" if "CompiledFxGraph" in e.key else e.key
        shares[key] = shares.get(key, 0.0) + self_time(e) / total
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
    mm = sum(self_time(e) for e in events if e.key in MATMUL) / total
    return total / 1000.0, ranked, mm


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--top", type=int, default=5)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device {device}, {torch.get_num_threads()} thread(s); self time of one step after warm-up\n")
    print("| workload | variant | path | profiled ms | matmul share | heaviest operators (share of self time) |")
    print("|---|---|---|---:|---:|---|")
    for name in args.workloads.split(","):
        for variant in VARIANTS:
            v = build_variant(name, variant, device, args.quick)
            ms, ranked, mm = profile_step(v["step"], device, args.top)
            ops = ", ".join(f"{k.replace('aten::', '')} {100 * f:.0f} %" for k, f in ranked)
            print(f"| {name} | {variant} | {v['path']} | {ms:.0f} | {100 * mm:.0f} % | {ops} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
