"""The one model builder: `ModelConfig(...).build(in_features, out_features)` for SIREN and every baseline."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from ..config import from_dict, option
from .activations import (
    ELU,
    SELU,
    Activation,
    ReLU,
    Softplus,
    Tanh,
    init_elu_normal,
    init_kaiming_normal,
    init_lecun_normal,
    init_xavier_normal,
)
from .encodings import PositionalEncoding, RBFEncoding, nyquist_frequencies
from .mlp import FieldMLP, Siren

ActivationName = Literal["sine", "relu", "tanh", "softplus", "elu", "selu", "relu-pe", "rbf-relu"]
ACTIVATIONS: tuple[str, ...] = ActivationName.__args__  # type: ignore[attr-defined]

# Activation class and weight init of each plain baseline (the paper's choices).
_BASELINES = {
    "relu": (ReLU, init_kaiming_normal),
    "relu-pe": (ReLU, init_kaiming_normal),
    "rbf-relu": (ReLU, init_kaiming_normal),
    "tanh": (Tanh, init_xavier_normal),
    "softplus": (Softplus, init_kaiming_normal),
    "elu": (ELU, init_elu_normal),
    "selu": (SELU, init_lecun_normal),
}

DEFAULT_PE_FREQUENCIES = 10  # the paper's count when no sampling rate is known (3-D shapes)


@dataclass(frozen=True)
class ModelConfig:
    """Which network to build and its size."""

    activation: ActivationName = option("sine", "network type: sine (SIREN) or a baseline")
    hidden_features: int = option(256, "width of every hidden layer")
    hidden_layers: int = option(3, "number of hidden-to-hidden layers (3 gives the paper's 5-layer network)")
    first_omega_0: float = option(30.0, "ω0 of the first sine layer (the paper uses ≈3000 for audio)")
    hidden_omega_0: float = option(30.0, "ω0 of the other sine layers; also sets their init bound")
    pe_frequencies: int | None = option(
        None, "relu-pe: number of encoding frequencies (auto: floor(log2(samples/4)), 10 without a sampling)"
    )
    rbf_centers: int = option(1024, "rbf-relu: number of Gaussian RBF centres")
    rbf_sigma: float = option(10.0, "rbf-relu: initial RBF width σ")

    def resolved(self, samples: int | None = None) -> ModelConfig:
        """A copy with automatic settings fixed (pe_frequencies from the signal's samples per side)."""
        if self.activation == "relu-pe" and self.pe_frequencies is None:
            count = nyquist_frequencies(samples) if samples else DEFAULT_PE_FREQUENCIES
            return replace(self, pe_frequencies=count)
        return self

    def build(self, in_features: int, out_features: int, samples: int | None = None) -> FieldMLP:
        """Build the network; `samples` (samples per side of the signal) sets relu-pe's frequency count."""
        cfg = self.resolved(samples)
        if cfg.hidden_features < 1 or cfg.hidden_layers < 0:
            from ..errors import UserError

            raise UserError("--hidden-features must be ≥ 1 and --hidden-layers ≥ 0")
        if cfg.activation == "sine":
            return Siren(
                in_features,
                out_features,
                cfg.hidden_features,
                cfg.hidden_layers,
                cfg.first_omega_0,
                cfg.hidden_omega_0,
            )
        act_cls, init = _BASELINES[cfg.activation]
        encoding = None
        if cfg.activation == "relu-pe":
            encoding = PositionalEncoding(in_features, int(cfg.pe_frequencies or DEFAULT_PE_FREQUENCIES))
        elif cfg.activation == "rbf-relu":
            encoding = RBFEncoding(in_features, cfg.rbf_centers, cfg.rbf_sigma)
        acts: list[Activation] = [act_cls() for _ in range(cfg.hidden_layers + 1)]
        return FieldMLP(
            in_features, out_features, cfg.hidden_features, cfg.hidden_layers, acts, encoding, init_weight=init
        )


def build_model(spec: dict[str, Any]) -> FieldMLP:
    """Rebuild a network from a stored spec: ModelConfig fields plus `in_features` and `out_features`."""
    spec = dict(spec)
    in_features, out_features = int(spec.pop("in_features")), int(spec.pop("out_features"))
    return from_dict(ModelConfig, spec, "model spec").build(in_features, out_features)


def model_spec(config: ModelConfig, in_features: int, out_features: int, samples: int | None = None) -> dict:
    """Plain-value description that `build_model` turns back into the same architecture."""
    from dataclasses import asdict

    return {"in_features": in_features, "out_features": out_features, **asdict(config.resolved(samples))}
