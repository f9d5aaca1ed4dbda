"""The non-neural baseline: a learnable grid of values over [−1, 1]^d read by (bi/tri)linear interpolation.

The interpolation is written out (floor, the 2^d corners, their weights) rather than taken from
`F.grid_sample`, whose double backward is missing and which complicates ONNX export. Autograd then gives
the piecewise-constant gradient and second derivatives along each axis that are zero (mixed ones are not).
Coordinates outside [−1, 1] read the border value.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

MAX_DIMENSIONS = 3


def largest_resolution(budget: int, in_features: int, out_features: int) -> int:
    """The largest node count r per axis with r^d · out_features ≤ budget (at least 2)."""
    r = max(2, int(round((budget / out_features) ** (1.0 / in_features))) + 1)
    while r > 2 and r**in_features * out_features > budget:
        r -= 1
    return r


class Grid(nn.Module):
    """`values` (r, …, r, out_features), one node every 2/(r − 1) along each of the d axes, initially 0.

    forward: coords (N, d) -> (N, out_features); each point mixes the 2^d nodes of its cell with weights
    Π_k (1 − f_k or f_k), f the point's position inside the cell.
    """

    representation = "grid"
    strides: Tensor  # buffers (register_buffer): declared for the type checker
    corners: Tensor

    def __init__(self, in_features: int, out_features: int, resolution: int) -> None:
        super().__init__()
        if not 1 <= in_features <= MAX_DIMENSIONS:
            raise ValueError(f"a grid needs 1 to {MAX_DIMENSIONS} coordinates, got {in_features}")
        if resolution < 2:
            raise ValueError(f"a grid needs at least 2 nodes per axis, got {resolution}")
        self.in_features = in_features
        self.out_features = out_features
        self.resolution = resolution
        self.values = nn.Parameter(torch.zeros(*([resolution] * in_features), out_features))
        # Flat index of node (i_0, …, i_{d-1}) is Σ i_k · r^(d-1-k) (row-major, as `values` is stored).
        strides = [resolution ** (in_features - 1 - k) for k in range(in_features)]
        self.register_buffer("strides", torch.tensor(strides, dtype=torch.long), persistent=False)
        corners = list(itertools.product((0, 1), repeat=in_features))
        self.register_buffer("corners", torch.tensor(corners, dtype=torch.long), persistent=False)

    def forward(self, coords: Tensor) -> Tensor:
        r = self.resolution
        # Position in node units, clamped to the border; clamp(x) = −1 + relu(x + 1) − relu(x − 1) keeps the
        # coordinates in the autograd graph of the gradient, so a double backward finds them (1-D included).
        x = -1.0 + torch.relu(coords + 1.0) - torch.relu(coords - 1.0)
        t = (x + 1.0) * (0.5 * (r - 1))
        cell = torch.clamp(torch.floor(t.detach()), 0, r - 2)  # the last node closes the last cell
        f = t - cell  # (N, d) in [0, 1]
        base = (cell.long() * self.strides).sum(-1)  # (N,)
        flat = self.values.reshape(-1, self.out_features)
        out = torch.zeros(coords.shape[0], self.out_features, dtype=flat.dtype, device=flat.device)
        for corner in self.corners:
            factors = torch.where(corner.bool(), f, 1.0 - f)  # (N, d)
            weight = factors[:, :1]
            for k in range(1, self.in_features):  # plain products (not prod(), whose backward divides), so
                weight = weight * factors[:, k : k + 1]  # each weight is exactly linear in every f_k
            out = out + weight * flat[base + (corner * self.strides).sum()]
        return out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, resolution={self.resolution}"
