"""A SIREN evaluated with B different parameter sets in one call (batched matmuls, no Python loop over B).

`BatchedSiren(template)` reads the layout of a `sirenkit.Siren` (tensor names and shapes, ω0 of each layer) and
holds no parameters of its own: `forward(params, coords)` takes the parameters as a dict of batched tensors,
`{name: (B, *shape)}` with the names of `Siren.state_dict()`, as a hypernetwork emits them. For every b,
`out[b]` equals `Siren` with `params[·][b]` loaded applied to `coords[b]` (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models.mlp import Siren


class BatchedSiren(nn.Module):
    """Functional twin of a `Siren` layout: sin(ω0(W h + b)) per hidden layer, then a linear head, per batch item."""

    def __init__(self, template: Siren) -> None:
        super().__init__()
        self.in_features = template.in_features
        self.out_features = template.out_features
        self.activations = template.activations  # Sine modules: no parameters, they only carry ω0
        self.layer_names = [(f"layers.{i}.weight", f"layers.{i}.bias") for i in range(len(template.layers))]
        self.head_names = ("head.weight", "head.bias")
        self.shapes: dict[str, tuple[int, ...]] = {n: tuple(p.shape) for n, p in template.named_parameters()}

    @property
    def names(self) -> list[str]:
        """Parameter names in layer order (the order of `Siren.named_parameters()`)."""
        return list(self.shapes)

    def forward(self, params: dict[str, Tensor], coords: Tensor) -> Tensor:
        """params: {name: (B, *shape)}; coords: (N, in) shared by all B, or (B, N, in) -> values (B, N, out)."""
        batch = params[self.head_names[0]].shape[0]
        h = coords.expand(batch, *coords.shape) if coords.dim() == 2 else coords
        for (w_name, b_name), act in zip(self.layer_names, self.activations):
            h = act(_batched_linear(params[w_name], params[b_name], h))
        return _batched_linear(params[self.head_names[0]], params[self.head_names[1]], h)


def _batched_linear(weight: Tensor, bias: Tensor, h: Tensor) -> Tensor:
    """h (B, N, in) @ weight(B, out, in)^T + bias (B, out) -> (B, N, out), as one baddbmm."""
    return torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
