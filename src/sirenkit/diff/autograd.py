"""Derivatives of any network by reverse-mode autograd (`create_graph=True` so losses can use them).

Shapes: x (N, d) is the input the outputs y were computed from; y (N, m).
This is what the official code does; it is the reference the analytic path is tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _grad(outputs: Tensor, inputs: Tensor, create_graph: bool) -> Tensor:
    (g,) = torch.autograd.grad(
        outputs, inputs, grad_outputs=torch.ones_like(outputs), create_graph=create_graph, allow_unused=True
    )
    return torch.zeros_like(inputs) if g is None else g


def jacobian(y: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """∂y_i/∂x_k for every point: (N, m, d). Rows are independent, so one backward per output suffices."""
    cols = [_grad(y[..., i], x, create_graph) for i in range(y.shape[-1])]
    return torch.stack(cols, dim=-2)


def gradient(y: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """∇y of a scalar field y (N, 1) or (N,): (N, d)."""
    if y.dim() == x.dim() and y.shape[-1] != 1:
        raise ValueError(f"gradient needs a scalar field, got {y.shape[-1]} outputs; use jacobian")
    return _grad(y.reshape(y.shape[0], -1).sum(-1) if y.dim() > 1 else y, x, create_graph)


def divergence(y: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """Σ_k ∂y_k/∂x_k of a vector field y (N, d): (N,)."""
    if y.shape[-1] != x.shape[-1]:
        raise ValueError(f"divergence needs as many outputs as inputs ({x.shape[-1]}), got {y.shape[-1]}")
    total = sum(_grad(y[..., k], x, create_graph)[..., k] for k in range(x.shape[-1]))
    assert isinstance(total, Tensor)  # x has at least one coordinate, so the sum is a tensor (not the start 0)
    return total


def laplacian(y: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """Σ_k ∂²y_i/∂x_k² for each output: same shape as y (N, m)."""
    outs = []
    for i in range(y.shape[-1]):
        g = _grad(y[..., i], x, True)
        outs.append(divergence(g, x, create_graph))
    return torch.stack(outs, dim=-1)


def hessian(y: Tensor, x: Tensor, create_graph: bool = True) -> Tensor:
    """∂²y/∂x_j∂x_k of a scalar field y (N, 1): (N, d, d)."""
    g = gradient(y, x, True)
    rows = [_grad(g[..., j], x, create_graph) for j in range(x.shape[-1])]
    return torch.stack(rows, dim=-2)
