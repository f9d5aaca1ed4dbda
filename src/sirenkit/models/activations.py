"""Elementwise activations that also return their first and second derivatives.

`with_derivatives(u)` gives (a(u), a'(u), a''(u)) from one pass, which is what the forward-mode derivative
engine needs to push gradient and Laplacian streams through a layer. A second derivative that is zero
almost everywhere (ReLU) is returned as None so that the engine can skip it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

Derivs = tuple[Tensor, Tensor, Tensor | None]


class Activation(nn.Module):
    """Base class: `forward(u)` is the activation, `with_derivatives(u)` adds a' and a''."""

    def with_derivatives(self, u: Tensor) -> Derivs:  # pragma: no cover - abstract
        raise NotImplementedError


class Sine(Activation):
    """sin(ω0·u) with u = W h + b, so the bias is scaled by ω0 too, as in the official code."""

    def __init__(self, omega_0: float) -> None:
        super().__init__()
        self.omega_0 = float(omega_0)

    def forward(self, u: Tensor) -> Tensor:
        return torch.sin(self.omega_0 * u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        z = self.omega_0 * u
        s = torch.sin(z)
        return s, self.omega_0 * torch.cos(z), (-self.omega_0**2) * s

    def extra_repr(self) -> str:
        return f"omega_0={self.omega_0:g}"


class Tanh(Activation):
    def forward(self, u: Tensor) -> Tensor:
        return torch.tanh(u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        a = torch.tanh(u)
        a1 = 1.0 - a * a
        return a, a1, -2.0 * a * a1


class ReLU(Activation):
    def forward(self, u: Tensor) -> Tensor:
        return torch.relu(u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        return torch.relu(u), (u > 0).to(u.dtype), None


class Softplus(Activation):
    def forward(self, u: Tensor) -> Tensor:
        return nn.functional.softplus(u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        s = torch.sigmoid(u)
        return nn.functional.softplus(u), s, s * (1.0 - s)


class ELU(Activation):
    def forward(self, u: Tensor) -> Tensor:
        return nn.functional.elu(u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        neg = torch.exp(torch.clamp(u, max=0.0))
        pos = u > 0
        a1 = torch.where(pos, torch.ones_like(u), neg)
        a2 = torch.where(pos, torch.zeros_like(u), neg)
        return nn.functional.elu(u), a1, a2


class SELU(Activation):
    # Constants of the SELU definition (Klambauer et al. 2017), the same as torch.nn.SELU.
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946

    def forward(self, u: Tensor) -> Tensor:
        return nn.functional.selu(u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        neg = self.scale * self.alpha * torch.exp(torch.clamp(u, max=0.0))
        pos = u > 0
        a1 = torch.where(pos, torch.full_like(u, self.scale), neg)
        a2 = torch.where(pos, torch.zeros_like(u), neg)
        return nn.functional.selu(u), a1, a2


class Finer(Activation):
    """FINER's variable-periodic sine sin(ω0 (|u| + 1) u) (Liu et al., CVPR 2024).

    The local frequency ω0 (2|u| + 1) grows with |u|, so the bias range of the first layer chooses which
    frequencies a unit starts with. The true derivative of |u| is used in training and in the analytic
    streams (the authors' code treats |u| + 1 as a constant in backward instead).
    """

    def __init__(self, omega_0: float) -> None:
        super().__init__()
        self.omega_0 = float(omega_0)

    def forward(self, u: Tensor) -> Tensor:
        return torch.sin(self.omega_0 * (u.abs() + 1.0) * u)

    def with_derivatives(self, u: Tensor) -> Derivs:
        # z = ω0 (|u| + 1) u, z' = ω0 (2|u| + 1), z'' = 2 ω0 sign(u); a = sin z.
        z = self.omega_0 * (u.abs() + 1.0) * u
        z1 = self.omega_0 * (2.0 * u.abs() + 1.0)
        s, c = torch.sin(z), torch.cos(z)
        return s, c * z1, c * (2.0 * self.omega_0) * torch.sign(u) - s * z1 * z1

    def extra_repr(self) -> str:
        return f"omega_0={self.omega_0:g}"


class Gauss(Activation):
    """Gaussian bump exp(−(s u)²) (Ramasinghe & Lucey 2022); s sets its width 1/s.

    The exponent is capped (as in the RBF layer) so that far-off units give exactly exp(−80) instead of
    subnormal numbers, which slow CPU arithmetic several-fold; their derivatives are then exactly zero.
    """

    max_exponent = 80.0

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, u: Tensor) -> Tensor:
        return torch.exp(-torch.clamp((self.scale * u) ** 2, max=self.max_exponent))

    def with_derivatives(self, u: Tensor) -> Derivs:
        q = (self.scale * u) ** 2
        a = torch.exp(-torch.clamp(q, max=self.max_exponent))
        live = torch.where(q < self.max_exponent, a, torch.zeros_like(a))  # the cap has zero slope
        s2 = self.scale**2
        return a, -2.0 * s2 * u * live, (4.0 * s2 * q - 2.0 * s2) * live

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}"


# How each activation's linear layers are initialised (the paper's choices for its baselines).
def init_kaiming_normal(weight: Tensor) -> None:
    nn.init.kaiming_normal_(weight, a=0.0, mode="fan_in", nonlinearity="relu")


def init_xavier_normal(weight: Tensor) -> None:
    nn.init.xavier_normal_(weight)


def init_lecun_normal(weight: Tensor) -> None:
    """std 1/sqrt(fan_in), the self-normalising init for SELU."""
    nn.init.normal_(weight, std=1.0 / math.sqrt(weight.shape[1]))


def init_elu_normal(weight: Tensor) -> None:
    """std sqrt(1.5505)/sqrt(fan_in): the variance-preserving gain for ELU used by the paper's baselines."""
    nn.init.normal_(weight, std=math.sqrt(1.5505188080679277) / math.sqrt(weight.shape[1]))
