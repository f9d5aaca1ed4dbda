"""WIRE: a complex Gabor wavelet network (Saragadam et al., CVPR 2023), written in real arithmetic.

Every complex tensor is kept as a (real, imaginary) pair of real tensors, so the network needs no complex
dtype: safetensors checkpoints, ONNX export and float64 tests work as for any other model.
Layout: real linear on the coordinates -> Gabor -> hidden_layers × [complex linear -> Gabor] -> complex
linear head, whose real part is the output. Gabor(z) = exp(i ω0 z) · exp(−|s0 z|²).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def complex_width(hidden_features: int) -> int:
    """Complex units standing in for `hidden_features` real ones: a complex unit holds two reals, so the
    width shrinks by √2 to keep the weight count of a hidden layer about the same (the authors' choice)."""
    return max(1, int(hidden_features / math.sqrt(2.0)))


class ComplexLinear(nn.Module):
    """z = W h + b with complex W, h, b, stored as real and imaginary parts.

    Initialised like a complex `nn.Linear`: both parts of W and b ~ U(−1/√n, 1/√n), n the fan-in.
    `imag_bias=False` drops b's imaginary part (the head, whose imaginary output is discarded).
    """

    def __init__(self, in_features: int, out_features: int, imag_bias: bool = True) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight_real = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_imag = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.bias_real = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_imag = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound)) if imag_bias else None

    def real_part(self, hr: Tensor, hi: Tensor) -> Tensor:
        """Re(W h + b): (N, in) pair -> (N, out)."""
        return hr @ self.weight_real.t() - hi @ self.weight_imag.t() + self.bias_real

    def forward(self, hr: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
        zi = hi @ self.weight_real.t() + hr @ self.weight_imag.t()
        if self.bias_imag is not None:
            zi = zi + self.bias_imag
        return self.real_part(hr, hi), zi


class Gabor(nn.Module):
    """exp(i ω0 z − s0² |z|²) of z = zr + i zi, as (real, imaginary) parts.

    That is exp(−ω0 zi − s0² (zr² + zi²)) · (cos ω0 zr, sin ω0 zr). The log-amplitude is at most
    ω0²/(4 s0²); it is floored at −80 so vanishing units give exp(−80), not subnormal numbers (slow on CPUs).
    """

    min_exponent = -80.0

    def __init__(self, omega: float, scale: float) -> None:
        super().__init__()
        self.omega = float(omega)
        self.scale = float(scale)

    def forward(self, zr: Tensor, zi: Tensor | None = None) -> tuple[Tensor, Tensor]:
        log_amp = -(self.scale**2) * zr * zr
        if zi is not None:
            log_amp = log_amp - self.omega * zi - (self.scale**2) * zi * zi
        amp = torch.exp(torch.clamp(log_amp, min=self.min_exponent))
        phase = self.omega * zr
        return amp * torch.cos(phase), amp * torch.sin(phase)

    def extra_repr(self) -> str:
        return f"omega={self.omega:g}, scale={self.scale:g}"


class Wire(nn.Module):
    """Coordinates (N, in_features) -> values (N, out_features) through complex Gabor wavelet layers.

    `hidden_features` is the width a real network would have; the complex width is `complex_width` of it.
    The first layer is a real `nn.Linear` (PyTorch's default init) on the real coordinates.
    """

    representation = "wire"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_features: int = 256,
        hidden_layers: int = 3,
        omega: float = 20.0,
        scale: float = 10.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.width = complex_width(hidden_features)
        self.first = nn.Linear(in_features, self.width)
        self.hidden = nn.ModuleList(ComplexLinear(self.width, self.width) for _ in range(hidden_layers))
        self.head = ComplexLinear(self.width, out_features, imag_bias=False)
        self.gabor = Gabor(omega, scale)

    def forward(self, coords: Tensor) -> Tensor:
        hr, hi = self.gabor(self.first(coords))
        for layer in self.hidden:
            hr, hi = self.gabor(*layer(hr, hi))
        return self.head.real_part(hr, hi)
