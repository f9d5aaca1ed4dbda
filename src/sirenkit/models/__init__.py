"""Networks: `Siren`, the generic `FieldMLP` used by every MLP baseline, encodings, `Wire`, `Grid` and the model
builder (docs/representations.md)."""

from .activations import Activation, Sine
from .builder import ACTIVATIONS, ModelConfig, build_model, model_spec
from .encodings import FourierFeatures, IdentityEncoding, PositionalEncoding, RBFEncoding, nyquist_frequencies
from .grid import Grid
from .mlp import FieldMLP, Siren, count_parameters
from .wire import Wire

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "FieldMLP",
    "FourierFeatures",
    "Grid",
    "IdentityEncoding",
    "ModelConfig",
    "PositionalEncoding",
    "RBFEncoding",
    "Sine",
    "Siren",
    "build_model",
    "Wire",
    "count_parameters",
    "model_spec",
    "nyquist_frequencies",
]
