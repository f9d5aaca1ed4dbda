"""The named outputs of a meta network (hypernetwork or CNP) for one batch of images."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class MetaOutput:
    """values (B, N, C) at the query coordinates; latent (B, L); weights: the emitted SIREN parameters
    {name: (B, *shape)}, None for a network that emits none (the CNP)."""

    values: Tensor
    latent: Tensor
    weights: dict[str, Tensor] | None = None
