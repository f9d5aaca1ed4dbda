"""Triton kernels for the elementwise passes of `sirenkit.diff.fused` (import fails without Triton).

Each program handles BLOCK positions of the (N × F) plane and loops over the streams in registers: the value
stream's sin and cos are computed once and every output (forward) or input gradient (backward) is written once.
The formulas are those of `streams_forward_torch` / `streams_backward_torch`, against which the tests check them.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

BLOCK = 1024


@triton.jit
def _forward_kernel(u_ptr, out_ptr, plane, omega, D: tl.constexpr, LAPLACIAN: tl.constexpr, BLOCK: tl.constexpr):
    # 64-bit offsets, and stream k reached by stepping the pointers by `plane`: (D + 1)·plane may pass 2³¹.
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < plane
    u_k, out_k = u_ptr + offs, out_ptr + offs
    z = omega * tl.load(u_k, mask=mask, other=0.0)
    sn = tl.sin(z)
    cs = tl.cos(z)
    tl.store(out_k, sn, mask=mask)
    q = tl.zeros([BLOCK], dtype=tl.float32)
    for _k in tl.static_range(1, D + 1):
        u_k += plane
        out_k += plane
        uk = tl.load(u_k, mask=mask, other=0.0)
        tl.store(out_k, omega * cs * uk, mask=mask)
        q += uk * uk
    if LAPLACIAN:
        us = tl.load(u_k + plane, mask=mask, other=0.0)
        tl.store(out_k + plane, -omega * omega * sn * q + omega * cs * us, mask=mask)


@triton.jit
def _backward_kernel(u_ptr, g_ptr, du_ptr, plane, omega, D: tl.constexpr, LAPLACIAN: tl.constexpr,
                     BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)  # 64-bit, as in the forward kernel
    mask = offs < plane
    u_k, g_k, du_k = u_ptr + offs, g_ptr + offs, du_ptr + offs
    z = omega * tl.load(u_k, mask=mask, other=0.0)
    sn = tl.sin(z)
    cs = tl.cos(z)
    du0 = omega * cs * tl.load(g_k, mask=mask, other=0.0)
    gs = tl.zeros([BLOCK], dtype=tl.float32)
    if LAPLACIAN:
        g_s = g_k
        for _k in tl.static_range(D + 1):
            g_s += plane
        gs = tl.load(g_s, mask=mask, other=0.0)
    q = tl.zeros([BLOCK], dtype=tl.float32)
    for _k in tl.static_range(1, D + 1):
        u_k += plane
        g_k += plane
        du_k += plane
        uk = tl.load(u_k, mask=mask, other=0.0)
        gk = tl.load(g_k, mask=mask, other=0.0)
        du0 += -omega * omega * sn * gk * uk
        duk = omega * cs * gk
        if LAPLACIAN:
            duk += -2.0 * omega * omega * sn * gs * uk
            q += uk * uk
        tl.store(du_k, duk, mask=mask)
    if LAPLACIAN:
        us = tl.load(u_k + plane, mask=mask, other=0.0)
        du0 += -(omega * omega * omega * cs * q + omega * omega * sn * us) * gs
        tl.store(du_k + plane, omega * cs * gs, mask=mask)
    tl.store(du_ptr + offs, du0, mask=mask)


def _check(u: Tensor, d: int, laplacian: bool) -> int:
    if u.dtype != torch.float32:
        raise TypeError(f"the Triton stream kernels take float32, got {u.dtype}")
    if u.shape[0] != 1 + d + int(laplacian):
        raise ValueError(f"expected {1 + d + int(laplacian)} streams, got {u.shape[0]}")
    return u[0].numel()


def streams_forward(u: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    """Output streams (S, N, F) of a sine layer from pre-activation streams u (S, N, F), float32."""
    u = u.contiguous()
    plane = _check(u, d, laplacian)
    out = torch.empty_like(u)
    _forward_kernel[(triton.cdiv(plane, BLOCK),)](u, out, plane, float(omega), D=d, LAPLACIAN=laplacian, BLOCK=BLOCK)
    return out


def streams_backward(u: Tensor, g: Tensor, omega: float, d: int, laplacian: bool) -> Tensor:
    """dL/du (S, N, F) from pre-activation streams u and output-stream gradients g, float32."""
    u, g = u.contiguous(), g.contiguous()
    plane = _check(u, d, laplacian)
    du = torch.empty_like(u)
    _backward_kernel[(triton.cdiv(plane, BLOCK),)](u, g, du, plane, float(omega), D=d, LAPLACIAN=laplacian,
                                                   BLOCK=BLOCK)
    return du
