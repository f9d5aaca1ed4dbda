"""The space-of-SIRENs network: encoder → latent → hypernetwork → batched SIREN, and its builder.

`MetaNetConfig` describes the whole architecture in plain values (it is what a checkpoint stores);
`MetaNetConfig.build()` returns a `MetaSiren` (set or CNN encoder) or the `ConditionalNeuralProcess` baseline.
Every network maps a context (values (B, K, C), coords (B, K, 2), mask (B, K)) and query coordinates to a
`MetaOutput`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from torch import Tensor, nn

from ..config import from_dict
from ..models.mlp import Siren
from .cnp import ConditionalNeuralProcess
from .encoders import ConvEncoder, SetEncoder
from .functional import BatchedSiren
from .hypernetwork import HyperNetwork
from .types import MetaOutput

EncoderName = Literal["set", "cnn", "cnp"]


@dataclass(frozen=True)
class MetaNetConfig:
    """Architecture of a meta network; the defaults are the paper's (SIREN 2 → 256×3 → 3, latent 256)."""

    encoder: EncoderName = "set"
    channels: int = 3
    side: int = 32
    latent_features: int = 256
    encoder_activation: Literal["sine", "relu"] = "relu"
    encoder_hidden_features: int = 256
    encoder_hidden_layers: int = 2
    cnn_width: int = 256
    cnn_blocks: int = 4
    cnn_stem: Literal["masked", "partial"] = "masked"  # "masked" for checkpoints written before the option
    hyper_hidden_features: int = 256
    hyper_hidden_layers: int = 1
    hyper_output_scale: float = 0.1
    hidden_features: int = 256
    hidden_layers: int = 3
    first_omega_0: float = 30.0
    hidden_omega_0: float = 30.0

    def build(self) -> nn.Module:
        """The network this config describes (random init; seed torch first for a reproducible one)."""
        if self.encoder == "cnp":
            return ConditionalNeuralProcess(self.channels, self.latent_features, self.encoder_hidden_features,
                                            self.encoder_hidden_layers, self.hidden_features, self.hidden_layers)
        if self.encoder == "cnn":
            encoder: nn.Module = ConvEncoder(self.channels, self.latent_features, self.side, self.cnn_width,
                                             self.cnn_blocks, self.cnn_stem)
        else:
            encoder = SetEncoder(self.channels, self.latent_features, self.encoder_hidden_features,
                                 self.encoder_hidden_layers, self.encoder_activation)
        template = Siren(2, self.channels, self.hidden_features, self.hidden_layers, self.first_omega_0,
                         self.hidden_omega_0)
        hyper = HyperNetwork(template, self.latent_features, self.hyper_hidden_features, self.hyper_hidden_layers,
                             self.hyper_output_scale)
        return MetaSiren(encoder, hyper, BatchedSiren(template))

    def describe(self) -> str:
        """One line: encoder, latent and SIREN sizes."""
        siren = f"SIREN 2→{self.hidden_features}×{self.hidden_layers}→{self.channels}"  # W×L: L hidden layers
        if self.encoder == "cnp":
            return (f"CNP baseline: ReLU set encoder → latent {self.latent_features} → ReLU decoder "
                    f"{self.latent_features + 2}→{self.hidden_features}×{self.hidden_layers}→{self.channels}")
        stem = ", partial-conv stem" if self.cnn_stem == "partial" else ""
        enc = (f"CNN encoder (width {self.cnn_width}, {self.cnn_blocks} residual blocks{stem})"
               if self.encoder == "cnn"
               else f"{self.encoder_activation} set encoder (width {self.encoder_hidden_features})")
        return (f"{enc} → latent {self.latent_features} → hypernetwork ({self.hyper_hidden_features} wide, "
                f"one MLP per tensor) → {siren}")

    def to_spec(self) -> dict[str, Any]:
        """Plain values for the checkpoint; `from_spec` rebuilds the same architecture."""
        return {"kind": "meta", **asdict(self)}

    @staticmethod
    def from_spec(spec: dict[str, Any]) -> MetaNetConfig:
        """Inverse of `to_spec` (unknown keys are an error)."""
        values = {k: v for k, v in spec.items() if k != "kind"}
        return from_dict(MetaNetConfig, values, "meta network spec")


class MetaSiren(nn.Module):
    """Context → latent (encoder) → SIREN parameters (hypernetwork) → values at the query coordinates."""

    def __init__(self, encoder: nn.Module, hypernet: HyperNetwork, siren: BatchedSiren) -> None:
        super().__init__()
        self.encoder = encoder
        self.hypernet = hypernet
        self.siren = siren

    def decode(self, latent: Tensor, coords: Tensor) -> Tensor:
        """latent (B, L), coords (N, 2) or (B, N, 2) -> values (B, N, C) of the emitted SIRENs."""
        return self.siren(self.hypernet(latent), coords)

    def forward(self, values: Tensor, coords: Tensor, mask: Tensor, query: Tensor) -> MetaOutput:
        """Context (B, K, C), (B, K, 2), (B, K) and query coords (N, 2) or (B, N, 2) -> MetaOutput."""
        latent = self.encoder(values, coords, mask)
        weights = self.hypernet(latent)
        return MetaOutput(self.siren(weights, query), latent, weights)

