"""Coordinate MLPs: `FieldMLP` (any activation, optional input encoding) and `Siren`.

Layout for every network: encoding -> (hidden_layers + 1) × [Linear, activation] -> linear head.
`Siren(2, 1)` with the defaults is the paper's 5-layer network: 2 → 256 → 256 → 256 → 256 → 1,
198,401 parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import torch
from torch import Tensor, nn

from .activations import Activation, Sine
from .encodings import Encoding, IdentityEncoding
from .precision import dense_layer, full_precision, upcast


class FieldMLP(nn.Module):
    """Maps coordinates (N, in_features) to values (N, out_features). No state beyond its parameters."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_features: int,
        hidden_layers: int,
        activations: list[Activation],
        encoding: Encoding | None = None,
        init_weight: Callable[[Tensor], None] | None = None,
    ) -> None:
        super().__init__()
        if len(activations) != hidden_layers + 1:
            raise ValueError(f"need {hidden_layers + 1} activations, got {len(activations)}")
        self.in_features = in_features
        self.out_features = out_features
        self.encoding = encoding if encoding is not None else IdentityEncoding(in_features)
        widths = [self.encoding.out_features] + [hidden_features] * (hidden_layers + 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.activations = nn.ModuleList(activations)
        self.head = nn.Linear(hidden_features, out_features)
        if init_weight is not None:
            with torch.no_grad():
                for linear in self.linears():
                    init_weight(linear.weight)

    def linears(self) -> list[nn.Linear]:
        """All linear layers in order, head last."""
        return [*self.layers, self.head]

    def forward(self, coords: Tensor) -> Tensor:
        # Under bf16 autocast (models/precision.py) the encoding and first layer stay fp32, every
        # pre-activation is upcast before its activation and the output is fp32; without autocast `upcast`
        # returns its input unchanged. `dense_layer` is the layer's own call unless `--precision bf16-backward`
        # asks for a bf16 backward pass (the first layer, with 2 or 3 inputs, gains nothing from it).
        with full_precision(coords.device.type):
            h = self.activations[0](self.layers[0](self.encoding(coords)))
        for linear, act in zip(self.layers[1:], self.activations[1:]):
            # `layers` holds only nn.Linear (built in __init__); ModuleList yields plain Modules to the type checker
            h = act(upcast(dense_layer(cast(nn.Linear, linear), h)))
        return upcast(dense_layer(self.head, h))


class Siren(FieldMLP):
    """Sine network Φ(x) = W_n(φ_{n-1} ∘ … ∘ φ_0)(x) + b_n, φ_i(h) = sin(ω0 (W_i h + b_i)).

    Initialisation (the paper's): first layer W ~ U(−1/n, 1/n); every later layer, the linear head
    included, W ~ U(−√(6/n)/ω0, √(6/n)/ω0) with n the fan-in and ω0 = `hidden_omega_0`; biases keep
    PyTorch's U(−1/√n, 1/√n). `first_omega_0` scales only the first layer (≈3000 for audio).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_features: int = 256,
        hidden_layers: int = 3,
        first_omega_0: float = 30.0,
        hidden_omega_0: float = 30.0,
    ) -> None:
        acts: list[Activation] = [Sine(first_omega_0), *(Sine(hidden_omega_0) for _ in range(hidden_layers))]
        super().__init__(in_features, out_features, hidden_features, hidden_layers, acts)
        self.first_omega_0 = float(first_omega_0)
        self.hidden_omega_0 = float(hidden_omega_0)
        siren_init(self, self.hidden_omega_0)


def siren_init(net: FieldMLP, hidden_omega_0: float) -> None:
    """SIREN's weight init on any FieldMLP: first layer U(±1/n), later ones and the head U(±√(6/n)/ω0), n the
    fan-in; biases keep PyTorch's default."""
    with torch.no_grad():
        for i, linear in enumerate(net.linears()):
            fan_in = linear.weight.shape[1]
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / hidden_omega_0
            linear.weight.uniform_(-bound, bound)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
