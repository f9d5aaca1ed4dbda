#!/usr/bin/env python
"""TF32 emulated on a CPU against fp32: the operands of every linear layer's and matmul's products, forward and
backward, rounded to TF32's 10 mantissa bits (round to nearest), the products summed in fp32. What a CUDA run
with `torch.set_float32_matmul_precision("high")` does to the fit, measured where no GPU is at hand.

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
    return ((t.view(torch.int32) + 0x1000) & ~0x1FFF).view(torch.float32)


class Tf32Matmul(torch.autograd.Function):
    """a @ b with TF32 operands in the forward pass and in both products of the backward pass, as a GPU does.
    Its backward pass is not itself differentiable: enough for sirenkit's forward-mode and closed-form reverse
    derivatives, which need only a first-order backward pass."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return MATMUL(tf32(a), tf32(b))

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        a, b = ctx.saved_tensors
        g = tf32(g)
        ga = MATMUL(g, tf32(b).transpose(-1, -2)) if ctx.needs_input_grad[0] else None
        gb = MATMUL(tf32(a).transpose(-1, -2), g) if ctx.needs_input_grad[1] else None
        if gb is not None and gb.shape != b.shape:  # b was broadcast over leading dimensions
            gb = gb.reshape(-1, *b.shape).sum(0) if b.dim() == 2 else gb
        if ga is not None and ga.shape != a.shape:
            ga = ga.reshape(-1, *a.shape).sum(0) if a.dim() == 2 else ga
        return ga, gb


MATMUL = torch.matmul
if mode == "tf32":  # every linear layer and matmul of sirenkit goes through these two (einsum does not: unused here)
    def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        y = Tf32Matmul.apply(x, w.t())
        return y if b is None else y + b

    F.linear = linear
    torch.matmul = Tf32Matmul.apply
options = ({"shape": "torus", "steps": 1000, "mesh_resolution": 0} if task == "sdf" else {"steps": 600})
r = sirenkit.fit(task, compile="off", precision="fp32", device="cpu", seed=seed, quiet=True, out=out, overwrite=True,
                 **options)
metric = {"sdf": "surface_distance", "helmholtz": "relative_mse"}[task]
print(json.dumps({"task": task, "mode": mode, "seed": seed, metric: r.metrics[metric],
                  "seconds": r.metrics["seconds"]}))
