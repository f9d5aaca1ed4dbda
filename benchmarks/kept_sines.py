#!/usr/bin/env python
"""Kept sines, A/B: each workload's default step compiled with and without `keeping_sines`, beside the reference.

On CPUs the Trainer compiles the loss as a selective-checkpoint region that saves sin and cos for the backward
pass (`sirenkit.train.trainer.keeping_sines`); torch.compile on its own recomputes them there. This times both
builds of the suite's `default` variant and its `reference` in one process, in interleaved rounds (median
milliseconds per step, the suite's CPU sizes).

    OMP_NUM_THREADS=1 python benchmarks/kept_sines.py --threads 1                 # every workload, ~3 minutes
    OMP_NUM_THREADS=1 python benchmarks/kept_sines.py --threads 1 --workloads sdf
"""

from __future__ import annotations

import argparse

import torch
from common import cpu_name

from sirenkit.bench.suite import WORKLOADS, build_variant, interleaved_step_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="the suite's tiny sizes (a smoke run)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    lines = ["| workload | reference ms | default, sines recomputed ms | default, sines kept ms | recomputed ÷ kept "
             "| reference ÷ kept |", "|---|---|---|---|---|---|"]
    for name in args.workloads.split(","):
        steps = {"reference": build_variant(name, "reference", device, args.quick)["step"],
                 "recomputed": build_variant(name, "default", device, args.quick, keep_sines=False)["step"],
                 "kept": build_variant(name, "default", device, args.quick, keep_sines=True)["step"]}
        ms = interleaved_step_times(steps, device)
        lines.append(f"| {name} | {ms['reference']:.1f} | {ms['recomputed']:.1f} | {ms['kept']:.1f} "
                     f"| {ms['recomputed'] / ms['kept']:.2f}× | {ms['reference'] / ms['kept']:.2f}× |")
        print(lines[-1], flush=True)
    machine = torch.cuda.get_device_name() if device.type == "cuda" else cpu_name()
    print(f"\nmachine: {machine}; torch {torch.__version__}; threads {torch.get_num_threads()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
