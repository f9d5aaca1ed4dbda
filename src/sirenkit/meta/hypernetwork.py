"""A hypernetwork that emits every parameter of a SIREN from a latent code (the paper's Section 4.4).

One ReLU MLP per SIREN tensor (`latent → hidden → … → numel(tensor)`), as in the paper: for the default SIREN
2 → 256×3 → 3 that is ten MLPs of shape 256 → 256 → 256 → P. Initialisation: the hidden layers are
Kaiming-normal (ReLU), and each MLP's last layer starts with its bias equal to a freshly SIREN-initialised tensor
(`sirenkit.Siren`'s own init, so every bound is the SIREN one) and its weights Kaiming-normal scaled by
`output_scale` times the SIREN tensor's own standard deviation. The emitted network at initialisation is
therefore a SIREN-initialised network plus a perturbation of about `output_scale`·rms(h) of each tensor's
spread (h: the MLP's last hidden features), whatever the latent's scale — tested statistically.
(The official code scales Kaiming-normal by a fixed 1e-2 and draws the bias from U(−1/n, 1/n).)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..models.activations import init_kaiming_normal
from ..models.mlp import Siren


def relu_mlp(in_features: int, hidden_features: int, hidden_layers: int, out_features: int) -> nn.Sequential:
    """Linear → ReLU, `hidden_layers` × (Linear → ReLU), Linear; Kaiming-normal weights (the paper's ReLU init)."""
    widths = [in_features] + [hidden_features] * (hidden_layers + 1)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out_features))
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Linear):
                init_kaiming_normal(m.weight)
    return nn.Sequential(*layers)


class HyperNetwork(nn.Module):
    """latent (B, L) -> {SIREN tensor name: (B, *shape)}, one ReLU MLP per tensor of `template`."""

    def __init__(self, template: Siren, latent_features: int, hidden_features: int = 256, hidden_layers: int = 1,
                 output_scale: float = 0.1) -> None:
        super().__init__()
        self.shapes = {name: tuple(p.shape) for name, p in template.named_parameters()}
        self.nets = nn.ModuleDict()
        with torch.no_grad():
            for name, param in template.named_parameters():
                net = relu_mlp(latent_features, hidden_features, hidden_layers, param.numel())
                last = net[-1]
                assert isinstance(last, nn.Linear)  # relu_mlp ends with its output layer
                spread = float(param.std()) if param.numel() > 1 else float(param.abs().max())
                last.weight.normal_(0.0, output_scale * spread / math.sqrt(hidden_features))
                last.bias.copy_(param.detach().reshape(-1))
                self.nets[_key(name)] = net

    def forward(self, latent: Tensor) -> dict[str, Tensor]:
        batch = latent.shape[0]
        return {name: self.nets[_key(name)](latent).reshape(batch, *shape) for name, shape in self.shapes.items()}


def _key(name: str) -> str:
    """ModuleDict keys may not contain dots: 'layers.0.weight' -> 'layers_0_weight'."""
    return name.replace(".", "_")
