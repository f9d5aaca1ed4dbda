"""Encoders from a context set of pixels to one latent code per image.

A context is K pixels per image: `values` (B, K, C) in [-1, 1], `coords` (B, K, 2) in [-1, 1]² (row, column) and
a `mask` (B, K) that is 1 for real context pixels and 0 for padding (images of one batch may have different
context sizes). Every encoder maps (values, coords, mask) -> latent (B, L).

- `SetEncoder`: an MLP on each (y, x, r, g, b), then the mean over the real context pixels (the paper's set
  encoder), built by the project's one model builder: ReLU with Kaiming init, or sine with SIREN init (the
  official default) and a first-layer ω0 matching the official encoder's frequencies.
- `ConvEncoder`: the paper's CNN on the image with the context pixels filled in and the rest zero: a 3×3 conv
  stem, residual blocks of two 5×5 convs, a 1×1 conv to L channels and a learned linear map over the S² positions
  of each channel. One difference from the official code: a fourth input channel carries the context mask, so a
  context pixel whose value is 0 (mid-grey) is not mistaken for a missing one.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from ..models.activations import Sine
from ..models.builder import ModelConfig


def masked_mean(features: Tensor, mask: Tensor) -> Tensor:
    """Mean of features (B, K, F) over the K axis where mask (B, K) is 1 -> (B, F).

    >>> masked_mean(torch.tensor([[[1.0], [3.0], [100.0]]]), torch.tensor([[1.0, 1.0, 0.0]])).item()
    2.0
    """
    weights = mask.to(features.dtype).unsqueeze(-1)
    return (features * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class SetEncoder(nn.Module):
    """MLP on each context pixel's (y, x, values), activation on its output too, then a masked mean.

    `hidden_layers` counts hidden-to-hidden layers as in `ModelConfig` (2: in → H → H → H → L, the paper's).
    """

    def __init__(self, channels: int, latent_features: int, hidden_features: int = 256, hidden_layers: int = 2,
                 activation: Literal["sine", "relu"] = "sine") -> None:
        super().__init__()
        n = 2 + channels
        # sine: the first layer's ω0 is √(6n) so that, with SIREN's U(−1/n, 1/n) first-layer init, it spans the
        # frequencies of the official encoder (every layer U(±√(6/n)/30) at ω0 = 30); SIREN's ω0 = 30 there makes
        # the encoder's features far too oscillatory in colour and position (measured: see docs/meta.md).
        config = ModelConfig(activation=activation, hidden_features=hidden_features, hidden_layers=hidden_layers,
                             first_omega_0=math.sqrt(6.0 * n))
        self.mlp = config.build(n, latent_features)
        self.out_activation: nn.Module = Sine(config.hidden_omega_0) if activation == "sine" else nn.ReLU()

    def forward(self, values: Tensor, coords: Tensor, mask: Tensor) -> Tensor:
        b, k, _ = values.shape
        x = torch.cat([coords, values], dim=-1).reshape(b * k, -1)
        features = self.out_activation(self.mlp(x)).reshape(b, k, -1)
        return masked_mean(features, mask)


def rasterise(values: Tensor, coords: Tensor, mask: Tensor, side: int) -> Tensor:
    """Context pixels onto a side×side grid: (B, C + 1, side, side), the values and a 0/1 mask channel."""
    b, k, c = values.shape
    rc = torch.round((coords + 1.0) * 0.5 * (side - 1)).long().clamp_(0, side - 1)
    index = (rc[..., 0] * side + rc[..., 1]).unsqueeze(-1)  # (B, K, 1), row-major
    m = mask.to(values.dtype).unsqueeze(-1)
    grid = values.new_zeros(b, side * side, c + 1)
    grid.scatter_(1, index.expand(b, k, c + 1), torch.cat([values * m, m], dim=-1))
    return grid.transpose(1, 2).reshape(b, c + 1, side, side)


class ResidualBlock(nn.Module):
    """relu(x + relu(conv5(relu(conv5(x))))), channels unchanged."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(channels, channels, 5, padding=2), nn.ReLU(),
            nn.Conv2d(channels, channels, 5, padding=2), nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.convs(x))


class ConvEncoder(nn.Module):
    """The paper's CNN encoder on the rasterised context (values and mask), for side×side images."""

    def __init__(self, channels: int, latent_features: int, side: int, width: int = 256, blocks: int = 4) -> None:
        super().__init__()
        self.side = side
        stem = max(1, width // 2)
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, stem, 3, padding=1), nn.ReLU(),
            nn.Conv2d(stem, width, 3, padding=1), nn.ReLU(),
            *[ResidualBlock(width) for _ in range(blocks)],
            nn.Conv2d(width, latent_features, 1), nn.ReLU(),
        )
        self.positions = nn.Linear(side * side, 1)  # one learned weight per pixel position, shared by channels

    def forward(self, values: Tensor, coords: Tensor, mask: Tensor) -> Tensor:
        grid = rasterise(values, coords, mask, self.side)
        features = self.net(grid)  # (B, L, side, side)
        return self.positions(features.flatten(2)).squeeze(-1)
