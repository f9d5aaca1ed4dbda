"""Input encodings placed before an MLP: identity, NeRF positional encoding, the paper's RBF layer, random
Fourier features.

Each encoding can also return its value together with its Jacobian columns (one tangent per input
coordinate) and the sum of its second derivatives, so that forward-mode derivatives work through it.
Shapes: x (N, d) -> value (N, F); tangents (d, N or 1, F); laplacian (N, F) or None when identically zero.
With `per_axis=True` the last stream holds the second derivatives along each axis separately, (d, N, F).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

Streams = tuple[Tensor, Tensor, Tensor | None]


class Encoding(nn.Module):
    """Base class; `out_features` is the width the first linear layer sees."""

    out_features: int

    def streams(self, x: Tensor, per_axis: bool = False) -> Streams:  # pragma: no cover - abstract
        raise NotImplementedError


class IdentityEncoding(Encoding):
    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.out_features = in_features

    def forward(self, x: Tensor) -> Tensor:
        return x

    def streams(self, x: Tensor, per_axis: bool = False) -> Streams:
        d = x.shape[-1]
        # d/dx_k of x is the unit vector e_k, the same for every point: keep a broadcastable (d, 1, d).
        eye = torch.eye(d, dtype=x.dtype, device=x.device).unsqueeze(1)
        return x, eye, None


def nyquist_frequencies(samples: int) -> int:
    """NeRF encoding frequency count for a signal with `samples` per side: floor(log2(samples / 4)).

    The official code's rule for 1-D and 2-D signals (PosEncodingNeRF: log2 of its "Nyquist rate" samples/4,
    floored; it uses the shorter side of an image, which it always resizes to a square). The highest encoded
    frequency, sin(2^(L−1) π x), then has 2^(L−2) ≤ samples/16 periods per unit, well below the sampling's Nyquist
    limit of samples/4 (spacing 2/samples over [−1, 1]). 7 for 512, 6 for 256, 5 for 128; at least 1.
    >>> nyquist_frequencies(512), nyquist_frequencies(256)
    (7, 6)
    """
    return max(1, int(math.floor(math.log2(samples / 4.0))))


class PositionalEncoding(Encoding):
    """[x, sin(2^i π x), cos(2^i π x) for i < L]: the NeRF encoding, raw coordinates included.

    The same features as the official PosEncodingNeRF (π included, raw coordinates first); only their order
    differs (it interleaves sin/cos per frequency and axis), which the fully connected layer after it does not
    see: its Kaiming-normal weights are i.i.d., so a permutation of its inputs gives the same distribution.
    """

    omegas: Tensor  # a buffer (register_buffer): declared for the type checker

    def __init__(self, in_features: int, frequencies: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.frequencies = frequencies
        self.register_buffer("omegas", math.pi * 2.0 ** torch.arange(frequencies, dtype=torch.float32))
        self.out_features = in_features * (1 + 2 * frequencies)

    def _phases(self, x: Tensor) -> Tensor:
        return x.unsqueeze(-2) * self.omegas.to(x.dtype).unsqueeze(-1)  # (N, L, d)

    def forward(self, x: Tensor) -> Tensor:
        p = self._phases(x)
        # Explicit sizes, not flatten: an exported ONNX graph would reshape to (N, -1), which no runtime can
        # resolve for N = 0 points.
        shape = (*x.shape[:-1], self.frequencies * self.in_features)
        return torch.cat([x, torch.sin(p).reshape(shape), torch.cos(p).reshape(shape)], dim=-1)

    def streams(self, x: Tensor, per_axis: bool = False) -> Streams:
        n, d = x.shape
        p = self._phases(x)
        s, c = torch.sin(p), torch.cos(p)
        w = self.omegas.to(x.dtype).unsqueeze(-1)  # (L, 1)
        eye = torch.eye(d, dtype=x.dtype, device=x.device)
        # Tangent k: only the features built from x_k move; d/dx sin(w x) = w cos(w x), d/dx cos = -w sin.
        sel = eye[:, None, None, :]  # (d, 1, 1, d) picks column j == k
        t_sin = (sel * (w * c).unsqueeze(0)).flatten(-2)
        t_cos = (sel * (-w * s).unsqueeze(0)).flatten(-2)
        t_x = eye.unsqueeze(1).expand(d, n, d)
        tangents = torch.cat([t_x, t_sin, t_cos], dim=-1)
        w2 = w * w
        if per_axis:  # ∂²/∂x_k² moves only the features built from x_k
            lap = torch.cat([torch.zeros_like(t_x), (sel * (-w2 * s).unsqueeze(0)).flatten(-2),
                             (sel * (-w2 * c).unsqueeze(0)).flatten(-2)], dim=-1)
        else:
            lap = torch.cat([torch.zeros_like(x), (-w2 * s).flatten(-2), (-w2 * c).flatten(-2)], dim=-1)
        value = torch.cat([x, s.flatten(-2), c.flatten(-2)], dim=-1)
        return value, tangents, lap

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, frequencies={self.frequencies}"


class RBFEncoding(Encoding):
    """The RBF input layer of the SIREN paper's rbf-relu baseline: φ_c(x) = exp(−(σ_c ‖x − c‖²)²).

    This is the official code's definition (vsitzmann/siren, modules.py, RBFLayer): the distance is the squared
    Euclidean one multiplied by σ_c (not σ_c²), and the "gaussian" then squares it again, so in r = ‖x − c‖ the
    bump is exp(−σ_c² r⁴), flat-topped, falling to 1/e at r = σ_c^(−1/2) (0.32 for σ = 10; a Gaussian
    exp(−(σ r)²) would already be at 1/e at r = 0.1). Centres c ~ U(−1, 1)^d and widths σ_c (initially all
    `sigma`) are both learned. No raw coordinates are appended.
    """

    def __init__(self, in_features: int, centers: int, sigma: float) -> None:
        super().__init__()
        self.centers = nn.Parameter(torch.empty(centers, in_features).uniform_(-1.0, 1.0))
        self.sigmas = nn.Parameter(torch.full((centers,), float(sigma)))
        self.out_features = centers

    # exp(-80) ≈ 1.8e-35 is still a normal float32; beyond it the bump would underflow into subnormal
    # numbers, which make CPU arithmetic several times slower. Capping the exponent changes values by < 2e-35.
    max_exponent = 80.0

    def _sq_dist(self, x: Tensor) -> tuple[Tensor, Tensor]:
        diff = x.unsqueeze(-2) - self.centers  # (N, C, d)
        return diff, (diff * diff).sum(-1)

    def _bump(self, q: Tensor) -> Tensor:
        """exp(−(σ q)²) of the squared distance q, exponent capped."""
        a = self.sigmas * q
        return torch.exp(-torch.clamp(a * a, max=self.max_exponent))

    def forward(self, x: Tensor) -> Tensor:
        # ‖x − c‖² = ‖x‖² − 2 x·c + ‖c‖²: one (N, d) × (d, C) product instead of an (N, C, d) difference tensor and
        # its backward (5× faster a step at 4,096 points and 1,024 centres on a CPU). Rounding in the expansion is
        # ≈ 1e-7 for |x|, |c| ≤ 1, far below the bump's width; clamped at 0 so that it never goes negative.
        q = (x * x).sum(-1, keepdim=True) - 2.0 * x @ self.centers.T + (self.centers * self.centers).sum(-1)
        return self._bump(q.clamp_min(0.0))

    def streams(self, x: Tensor, per_axis: bool = False) -> Streams:
        # φ = exp(−s q²), s = σ², q = Σ_k (x_k − c_k)²:
        # ∂φ/∂x_k = −4 s q (x_k − c_k) φ,  ∂²φ/∂x_k² = φ (16 s² q² (x_k − c_k)² − 8 s (x_k − c_k)² − 4 s q).
        d = x.shape[-1]
        diff, q = self._sq_dist(x)
        s = self.sigmas**2
        phi = self._bump(q)
        live = torch.where(s * q * q < self.max_exponent, phi, torch.zeros_like(phi))  # the cap has zero slope
        dk = diff.permute(2, 0, 1)  # (d, N, C)
        tangents = (-4.0 * s * q * live).unsqueeze(0) * dk
        if per_axis:
            lap = live * ((16.0 * s * s * q * q - 8.0 * s) * dk * dk - 4.0 * s * q)
        else:
            lap = live * (16.0 * s * s * q * q * q - 8.0 * s * q - 4.0 * d * s * q)
        return phi, tangents, lap

    def extra_repr(self) -> str:
        return f"centers={self.out_features}"


class FourierFeatures(Encoding):
    """Gaussian random Fourier features [cos(2π B x), sin(2π B x)] (Tancik et al. 2020), B (m, d) ~ N(0, σ²).

    B is drawn once, from torch's global generator, when the encoding is built (so the run's seed fixes it)
    and kept as a buffer: it is saved with the checkpoint but never trained. Output width 2m.
    """

    matrix: Tensor  # a buffer (register_buffer): declared for the type checker

    def __init__(self, in_features: int, features: int, sigma: float) -> None:
        super().__init__()
        self.in_features = in_features
        self.sigma = float(sigma)
        self.register_buffer("matrix", torch.randn(features, in_features) * self.sigma)
        self.out_features = 2 * features

    def _omegas(self, x: Tensor) -> Tensor:
        return 2.0 * math.pi * self.matrix.to(x.dtype)  # (m, d): angular frequency of feature j along x_k

    def forward(self, x: Tensor) -> Tensor:
        p = x @ self._omegas(x).t()
        return torch.cat([torch.cos(p), torch.sin(p)], dim=-1)

    def streams(self, x: Tensor, per_axis: bool = False) -> Streams:
        w = self._omegas(x)  # (m, d)
        p = x @ w.t()
        c, s = torch.cos(p), torch.sin(p)  # (N, m)
        wk = w.t().unsqueeze(1)  # (d, 1, m): ∂p/∂x_k
        # d/dx_k cos p = −w_k sin p, d/dx_k sin p = w_k cos p; twice: −w_k² times the feature itself.
        tangents = torch.cat([-s * wk, c * wk], dim=-1)  # (d, N, 2m)
        value = torch.cat([c, s], dim=-1)
        w2 = wk * wk if per_axis else (w * w).sum(-1)  # (d, 1, m) or (m,)
        second = torch.cat([-c * w2, -s * w2], dim=-1)  # (d, N, 2m) or (N, 2m)
        return value, tangents, second

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, features={self.out_features // 2}, sigma={self.sigma:g}"
