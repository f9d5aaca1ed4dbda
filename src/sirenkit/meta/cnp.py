"""The baseline: a Conditional Neural Process (Garnelo et al. 2018) of the same size as the SIREN it stands against.

Encoder: the same set encoder (ReLU) to a latent r (mean aggregation); decoder: a ReLU MLP on (r, y, x) with the
SIREN's width and depth, built by the project's model builder (Kaiming init). It is trained on the MSE like the
hypernetwork (a deterministic CNP: the paper compares mean predictions only).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..models.builder import ModelConfig
from .encoders import SetEncoder
from .types import MetaOutput


class ConditionalNeuralProcess(nn.Module):
    """(context values, coords, mask), query coords -> values (B, N, C) and the latent r (B, L)."""

    def __init__(self, channels: int, latent_features: int, encoder_hidden_features: int, encoder_hidden_layers: int,
                 decoder_hidden_features: int, decoder_hidden_layers: int) -> None:
        super().__init__()
        self.encoder = SetEncoder(channels, latent_features, encoder_hidden_features, encoder_hidden_layers, "relu")
        self.decoder = ModelConfig(activation="relu", hidden_features=decoder_hidden_features,
                                   hidden_layers=decoder_hidden_layers).build(latent_features + 2, channels)

    def decode(self, latent: Tensor, coords: Tensor) -> Tensor:
        """latent (B, L), coords (N, 2) or (B, N, 2) -> values (B, N, C)."""
        b = latent.shape[0]
        q = coords.expand(b, *coords.shape) if coords.dim() == 2 else coords
        n = q.shape[1]
        x = torch.cat([latent.unsqueeze(1).expand(b, n, latent.shape[-1]), q], dim=-1)
        return self.decoder(x.reshape(b * n, -1)).reshape(b, n, -1)

    def forward(self, values: Tensor, coords: Tensor, mask: Tensor, query: Tensor) -> MetaOutput:
        """Context (B, K, C), (B, K, 2), (B, K) and query coords (N, 2) or (B, N, 2) -> MetaOutput."""
        latent = self.encoder(values, coords, mask)
        return MetaOutput(self.decode(latent, query), latent)
