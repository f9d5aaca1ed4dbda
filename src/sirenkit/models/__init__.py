"""Networks: `Siren`, the generic `FieldMLP` used by every baseline, encodings and the model builder."""

from .activations import Activation, Sine
from .builder import ACTIVATIONS, ModelConfig, build_model, model_spec
from .encodings import IdentityEncoding, PositionalEncoding, RBFEncoding, nyquist_frequencies
from .mlp import FieldMLP, Siren, count_parameters

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "FieldMLP",
    "IdentityEncoding",
    "ModelConfig",
    "PositionalEncoding",
    "RBFEncoding",
    "Sine",
    "Siren",
    "build_model",
    "count_parameters",
    "model_spec",
    "nyquist_frequencies",
]
