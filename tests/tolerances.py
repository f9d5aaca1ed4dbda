"""The relative errors the derivative and precision tests compare with, in one place."""

from __future__ import annotations

import torch

REL_TOL = 1e-10
"""Float64 agreement between two exact derivative paths (closed form against autograd)."""


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b| relative to max |b| (b is the reference)."""
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def rel_norm(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ relative to ‖b‖: the whole-vector error, for gradients that move by a few bf16 ulps."""
    return float((a - b).norm() / b.norm())
