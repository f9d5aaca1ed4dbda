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
  context pixel whose value is 0 (mid-grey) is not mistaken for a missing one. With `stem="partial"` the first
  3×3 conv is a partial convolution (Liu et al. 2018; the official code's `PartialConvImgEncoder` uses one too):
  each output is rescaled by 9 / (context pixels under the kernel) and is zero where the kernel covers none, so
  its features estimate local colour at any context density instead of growing with it (measured: see
  docs/meta.md, "Why the CNN's error rose with more context").
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
        x = torch.cat([coords, values], dim=-1)
        keep = mask != 0
        if bool(keep.all()):
            features = self.out_activation(self.mlp(x.reshape(b * k, -1))).reshape(b, k, -1)
            return masked_mean(features, mask)
        # padded contexts (sizes differ within the batch): run the MLP on the real entries only, then the same
        # masked mean — with context sizes drawn up to every pixel most of a padded batch is padding
        rows = torch.arange(b, device=x.device).unsqueeze(1).expand(b, k)[keep]
        weights = mask[keep].to(x.dtype).unsqueeze(-1)
        features = self.out_activation(self.mlp(x[keep])) * weights
        sums = features.new_zeros(b, features.shape[-1]).index_add_(0, rows, features)
        return sums / mask.to(x.dtype).sum(1, keepdim=True).clamp_min(1.0)


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


class PartialConv2d(nn.Conv2d):
    """A convolution of the rasterised context (values and mask channel, `rasterise`) renormalised by the number
    of context pixels under the kernel: (W ∗ x) · k² / count + b where count > 0, and 0 where count = 0."""

    def forward(self, x: Tensor) -> Tensor:
        mask = x[:, -1:]  # the context mask channel
        k = self.kernel_size
        ones = mask.new_ones(1, 1, *k)
        count = nn.functional.conv2d(mask, ones, padding=self.padding)
        raw = nn.functional.conv2d(x, self.weight, None, self.stride, self.padding)
        scale = (k[0] * k[1]) / count.clamp_min(1.0)
        out = raw * scale
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1)
        return out * (count > 0).to(out.dtype)


class ConvEncoder(nn.Module):
    """The paper's CNN encoder on the rasterised context (values and mask), for side×side images.

    `stem`: "masked" — a plain 3×3 conv first (the paper's); "partial" — a partial convolution first, whose
    features do not scale with the context density."""

    def __init__(self, channels: int, latent_features: int, side: int, width: int = 256, blocks: int = 4,
                 stem: Literal["masked", "partial"] = "masked") -> None:
        super().__init__()
        self.side = side
        hidden = max(1, width // 2)
        first = PartialConv2d if stem == "partial" else nn.Conv2d
        self.net = nn.Sequential(
            first(channels + 1, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, width, 3, padding=1), nn.ReLU(),
            *[ResidualBlock(width) for _ in range(blocks)],
            nn.Conv2d(width, latent_features, 1), nn.ReLU(),
        )
        self.positions = nn.Linear(side * side, 1)  # one learned weight per pixel position, shared by channels

    def forward(self, values: Tensor, coords: Tensor, mask: Tensor) -> Tensor:
        grid = rasterise(values, coords, mask, self.side)
        features = self.net(grid)  # (B, L, side, side)
        return self.positions(features.flatten(2)).squeeze(-1)
