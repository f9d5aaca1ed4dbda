"""Fused forward-mode derivative streams for SIRENs: one autograd node per sine layer, recomputing instead of storing.

`fused_derivatives(siren, x, order)` returns what `forward_derivatives` returns (value, gradient, Laplacian sum)
but each sine layer is a custom `torch.autograd.Function`:

* forward: U = H Wᵀ (+ b on the value stream) for the stacked streams H (S, N, F_in) with S = 1 + d (+ 1 with the
  Laplacian), then one elementwise pass computes every output stream from U (sin and cos of the value stream
  once, the tangents ω cos ⊙ U_k, the Laplacian −ω² sin ⊙ Σ_k U_k² + ω cos ⊙ U_s);
* backward: only H was kept; U is recomputed with one matmul, one elementwise pass gives dL/dU from dL/dout,
  and two matmuls give dL/dH and dL/dW. Autograd would keep U, sin, cos and several products per layer.

The elementwise passes are Triton kernels on CUDA (when Triton is installed) and the same formulas in PyTorch
elsewhere; `SIRENKIT_TRITON=1` forces the kernels (with `TRITON_INTERPRET=1` they run on the CPU, which is how the
tests check them), `SIRENKIT_TRITON=0` forbids them. The fused path is first-order differentiable (a loss on its
outputs backpropagates to the weights), not twice.

Formulas for one layer with z = ω U₀, sn = sin z, cs = cos z, Q = Σ_k U_k² and upstream gradients G:
  dU_k = ω cs G_k − 2ω² sn U_k G_s,   dU_s = ω cs G_s,
  dU₀  = ω cs G₀ − ω² sn Σ_k G_k U_k − (ω³ cs Q + ω² sn U_s) G_s.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import cast

import torch
from torch import Tensor

from ..models.activations import Sine
from ..models.encodings import IdentityEncoding
from ..models.mlp import FieldMLP
from .shapes import over_leading_axes
from .types import Derivatives


def supports_fused(model: torch.nn.Module) -> bool:
    """True for a SIREN: a FieldMLP on raw coordinates whose every activation is a sine."""
    from .forward import unwrap

    net = unwrap(model)
    return (isinstance(net, FieldMLP) and isinstance(net.encoding, IdentityEncoding)
            and all(type(a) is Sine for a in net.activations))


# --------------------------------------------------------------------------------------------- PyTorch formulas
def streams_forward_torch(u: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    """Output streams of a sine layer from its pre-activation streams u (S, N, F)."""
    z = omega * u[0]
    sn, cs = torch.sin(z), torch.cos(z)
    parts = [sn.unsqueeze(0), (omega * cs) * u[1 : 1 + d]]
    if laplacian:
        q = (u[1 : 1 + d] ** 2).sum(0)
        parts.append((-omega * omega * sn * q + omega * cs * u[1 + d]).unsqueeze(0))
    return torch.cat(parts, 0)


def streams_backward_torch(u: Tensor, g: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    """dL/du (S, N, F) from the pre-activation streams u and the output-stream gradients g."""
    z = omega * u[0]
    sn, cs = torch.sin(z), torch.cos(z)
    ut, gt = u[1 : 1 + d], g[1 : 1 + d]
    du0 = omega * cs * g[0] - omega * omega * sn * (gt * ut).sum(0)
    dut = omega * cs * gt
    parts = [None, dut]
    if laplacian:
        gs, us = g[1 + d], u[1 + d]
        q = (ut**2).sum(0)
        du0 = du0 - (omega**3 * cs * q + omega * omega * sn * us) * gs
        parts[1] = dut - 2.0 * omega * omega * (sn * gs) * ut
        parts.append((omega * cs * gs).unsqueeze(0))
    parts[0] = du0.unsqueeze(0)
    return torch.cat(cast(list[Tensor], parts), 0)  # every entry is set now


# --------------------------------------------------------------------------------------------- Triton kernels
def triton_requested(t: Tensor) -> bool:
    """Whether the elementwise passes run as Triton kernels for tensor `t` (see the module docstring)."""
    flag = os.environ.get("SIRENKIT_TRITON", "").strip()
    if flag == "0" or t.dtype != torch.float32:  # the kernels are float32; float64 uses the PyTorch formulas
        return False
    if flag == "1":
        return _kernels() is not None
    return t.is_cuda and _kernels() is not None


@lru_cache(maxsize=1)
def _kernels():
    """The compiled Triton kernels, or None when Triton is not installed or older than 3.0 (the kernels are
    written and tested for 3.x; torch 2.3 pins Triton 2.3, whose interpreter rejects them)."""
    try:
        import triton

        if int(triton.__version__.split(".")[0]) < 3:
            return None
        from . import triton_kernels
    except ImportError:
        return None
    return triton_kernels


def _streams_forward(u: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    if triton_requested(u):
        return _kernels().streams_forward(u, omega, d, laplacian)
    return streams_forward_torch(u, omega, d, laplacian)


def _streams_backward(u: Tensor, g: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    if triton_requested(u):
        return _kernels().streams_backward(u, g, omega, d, laplacian)
    return streams_backward_torch(u, g, omega, d, laplacian)


# --------------------------------------------------------------------------------------------- autograd node
def _pre_activation(h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    u = torch.matmul(h, weight.t())
    u[0] += bias
    return u


class SineStreams(torch.autograd.Function):
    """One sine layer on stacked streams (value, d tangents[, Laplacian]); saves only its input."""

    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
        ctx.save_for_backward(h, weight, bias)
        ctx.omega, ctx.d, ctx.laplacian = omega, d, laplacian
        return _streams_forward(_pre_activation(h, weight, bias), omega, d, laplacian)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g: Tensor):
        h, weight, bias = ctx.saved_tensors
        u = _pre_activation(h, weight, bias)  # recomputed: cheaper in memory than keeping it
        du = _streams_backward(u, g.contiguous(), ctx.omega, ctx.d, ctx.laplacian)
        dh = torch.matmul(du, weight) if ctx.needs_input_grad[0] else None
        dw = du.reshape(-1, du.shape[-1]).t() @ h.reshape(-1, h.shape[-1])
        return dh, dw, du[0].sum(0), None, None, None


@over_leading_axes
def fused_derivatives(model: torch.nn.Module, x: Tensor, order: int = 2) -> Derivatives:
    """Value (N, m), gradient (N, m, d) and Laplacian (N, m) (None for order 1) of a SIREN at x (N, d)."""
    from .forward import unwrap

    net = unwrap(model)
    if not supports_fused(net):
        raise TypeError("fused derivatives need a SIREN (sine activations on raw coordinates), "
                        f"got {type(net).__name__}")
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2")
    assert isinstance(net, FieldMLP)
    n, d = x.shape
    laplacian = order == 2
    eye = torch.eye(d, dtype=x.dtype, device=x.device).unsqueeze(1).expand(d, n, d)
    parts = [x.unsqueeze(0), eye] + ([torch.zeros_like(x).unsqueeze(0)] if laplacian else [])
    h = torch.cat(parts, 0)  # (S, N, d): the coordinates, their unit tangents, a zero Laplacian
    for linear, act in zip(net.layers, net.activations):
        omega_0 = cast(Sine, act).omega_0  # supports_fused checked that every activation is a Sine
        h = SineStreams.apply(h, linear.weight, linear.bias, float(omega_0), d, laplacian)
    out = torch.matmul(h, net.head.weight.t())
    value = out[0] + net.head.bias
    grad = out[1 : 1 + d].permute(1, 2, 0)
    return Derivatives(value, grad, out[1 + d] if laplacian else None)
