#!/usr/bin/env python
"""TF32 emulated on a CPU against fp32: the inputs of every fp32 matmul rounded to TF32's 10 mantissa bits
(round to nearest), products and sums in fp32, gradients passed straight through. What a CUDA run with
`torch.set_float32_matmul_precision("high")` does to the fit, measured where no GPU is at hand.

    OMP_NUM_THREADS=1 python benchmarks/tf32_emulated.py sdf fp32 0 /tmp/sdf_fp32     # torus, 1,000 steps
    OMP_NUM_THREADS=1 python benchmarks/tf32_emulated.py sdf tf32 0 /tmp/sdf_tf32
    OMP_NUM_THREADS=1 python benchmarks/tf32_emulated.py helmholtz tf32 0 /tmp/h_tf32  # k 10, 600 steps

Prints one JSON line with the task's metric and the training seconds (emulation makes the TF32 runs slower; the
seconds say nothing about a GPU).
"""

import json
import sys

import torch
import torch.nn.functional as F

import sirenkit

task, mode, seed, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
torch.set_num_threads(1)


def tf32(t: torch.Tensor) -> torch.Tensor:
    """`t` rounded to TF32 (the low 13 of fp32's 23 mantissa bits dropped, round half up), fp32 tensors only."""
    if t.dtype != torch.float32:
        return t
    r = ((t.detach().view(torch.int32) + 0x1000) & ~0x1FFF).view(torch.float32)
    return t + (r - t.detach()).detach() if t.requires_grad else r  # straight-through: gradients as in fp32


if mode == "tf32":  # every linear layer and matmul of sirenkit goes through these two
    lin, mm = F.linear, torch.matmul
    F.linear = lambda x, w, b=None: lin(tf32(x), tf32(w), b)
    torch.matmul = lambda a, b: mm(tf32(a), tf32(b))
options = ({"shape": "torus", "steps": 1000, "mesh_resolution": 0} if task == "sdf" else {"steps": 600})
r = sirenkit.fit(task, compile="off", precision="fp32", device="cpu", seed=seed, quiet=True, out=out, overwrite=True,
                 **options)
metric = {"sdf": "surface_distance", "helmholtz": "relative_mse"}[task]
print(json.dumps({"task": task, "mode": mode, "seed": seed, metric: r.metrics[metric], "seconds": r.metrics["seconds"]}))
