"""The network side of the PML Helmholtz equation: its residual for fields given by a network.

For S complex fields stored as network outputs (Re u_j, Im u_j) = outputs (2j, 2j + 1), each driven by its
own Gaussian source at `sources[j]`, the residual of field j is
    R_j = A·∂xx u_j + (∂x A)·∂x u_j + B·∂yy u_j + (∂y B)·∂y u_j + C·k²·m·u_j − s·g_σ(x − x_j),
with A, B, C the stretching coefficients of `sirenkit.pde.helmholtz` and m the squared slowness (given, or
itself a network output in the inverse problem). Inside the layer the stretching differs along x and y, so
the operator needs the second derivatives per axis (`derivatives(..., per_axis=True)`). Everything is real
arithmetic on (re, im) pairs, which torch.compile turns into generated code (it does not for complex dtypes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..diff import Backend, Derivatives, derivatives

Pair = tuple[Tensor, Tensor]


def _mul(p: Pair, q: Pair) -> Pair:
    """(p_re + i p_im)(q_re + i q_im) as a real pair."""
    return p[0] * q[0] - p[1] * q[1], p[0] * q[1] + p[1] * q[0]


def _div(p: Pair, q: Pair) -> Pair:
    """p / q as a real pair."""
    norm = q[0] * q[0] + q[1] * q[1]
    re, im = _mul(p, (q[0], -q[1]))
    return re / norm, im / norm


class PmlOperator:
    """The PML Helmholtz residual at wavenumber k for a layer `width` wide of strength a0, with normalised
    Gaussian sources of width `sigma` and complex amplitude `amplitude`."""

    def __init__(self, k: float, width: float = 0.5, a0: float = 5.0, sigma: float = 0.01,
                 amplitude: complex = 1 + 1j) -> None:
        self.k, self.width, self.a0, self.sigma, self.amplitude = k, width, a0, sigma, amplitude
        self.inner = 1.0 - width

    def _stretch(self, c: Tensor) -> Pair:
        """Imaginary part of e = 1 − i·a0·(depth/width)² and its derivative along c (the real part is 1)."""
        depth = (c.abs() - self.inner).clamp(min=0.0)
        im = -self.a0 * (depth / self.width) ** 2
        d_im = -2.0 * self.a0 * depth / self.width**2 * torch.sign(c)
        return im, d_im

    def coefficients(self, x: Tensor) -> tuple[Pair, Pair, Pair, Pair, Pair]:
        """A, ∂x A, B, ∂y B, C at x (N, 2), each a (re, im) pair of (N,) tensors."""
        ex_im, dex = self._stretch(x[:, 0])
        ey_im, dey = self._stretch(x[:, 1])
        one, zero = torch.ones_like(ex_im), torch.zeros_like(ex_im)
        ex, ey = (one, ex_im), (one, ey_im)
        a_x = _div(_mul((zero, -dex), ey), _mul(ex, ex))  # ∂x (e_y / e_x) = −i·e_x'·e_y / e_x²
        b_y = _div(_mul((zero, -dey), ex), _mul(ey, ey))
        return _div(ey, ex), a_x, _div(ex, ey), b_y, _mul(ex, ey)

    def source(self, x: Tensor, at: Sequence[float]) -> Tensor:
        """The normalised Gaussian g_σ(x − at) (N,), integral 1."""
        r2 = (x[:, 0] - at[0]) ** 2 + (x[:, 1] - at[1]) ** 2
        return torch.exp(-0.5 * r2 / self.sigma**2) / (2 * math.pi * self.sigma**2)

    def residual(self, d: Derivatives, x: Tensor, m: Tensor, sources: Sequence[Sequence[float]]) -> Pair:
        """(Re R, Im R), each (N, S), for the S = len(sources) fields in outputs 0 … 2S − 1 of `d`
        (d from `derivatives(..., per_axis=True)`); m the squared slowness (N,)."""
        s = len(sources)
        u, grad, diag = d.value, d.gradient, d.hessian_diagonal
        if diag is None:
            raise ValueError("the PML residual needs per-axis second derivatives (per_axis=True)")
        re, im = slice(0, 2 * s, 2), slice(1, 2 * s, 2)
        part = lambda t: (t[:, re], t[:, im])  # noqa: E731 - (Re, Im) columns of a network quantity (N, S)
        col = lambda p: (p[0].unsqueeze(-1), p[1].unsqueeze(-1))  # noqa: E731 - (N,) coefficient → (N, 1)
        a, a_x, b, b_y, c = (col(p) for p in self.coefficients(x))
        km = (self.k**2 * m).unsqueeze(-1)
        terms = [_mul(a, part(diag[..., 0])), _mul(a_x, part(grad[..., 0])), _mul(b, part(diag[..., 1])),
                 _mul(b_y, part(grad[..., 1])), _mul(c, (km * u[:, re], km * u[:, im]))]
        g = torch.stack([self.source(x, at) for at in sources], dim=-1)
        return (sum(t[0] for t in terms) - self.amplitude.real * g,
                sum(t[1] for t in terms) - self.amplitude.imag * g)

    def __call__(self, model: nn.Module, x: Tensor, m: Tensor, at: Sequence[float],
                 backend: Backend = "auto") -> Pair:
        """The residual (Re R, Im R), each (N,), of a network with outputs (Re u, Im u) and one source."""
        d = derivatives(model, x, order=2, backend=backend, per_axis=True)
        re, im = self.residual(d, x, m, [at])
        return re[:, 0], im[:, 0]
