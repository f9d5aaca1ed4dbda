"""The one model builder: `ModelConfig(...).build(in_features, out_features)` for SIREN and every baseline.

Besides the coordinate MLPs (`FieldMLP`, which the analytic derivative engine understands) it builds two
representations of their own: the complex Gabor network `Wire` and the non-neural `Grid`.
docs/representations.md describes each one, its initialisation and its defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
from torch import nn

from ..config import (
    MAX_DEPTH,
    MAX_PARAMETERS,
    MAX_SCALE,
    MAX_WIDTH,
    check_values,
    from_dict,
    in_range,
    option,
)
from ..errors import UserError, check_all
from .activations import (
    ELU,
    SELU,
    Activation,
    Finer,
    Gauss,
    ReLU,
    Softplus,
    Tanh,
    init_elu_normal,
    init_kaiming_normal,
    init_lecun_normal,
    init_xavier_normal,
)
from .encodings import Encoding, FourierFeatures, PositionalEncoding, RBFEncoding, nyquist_frequencies
from .grid import MAX_DIMENSIONS, Grid, largest_resolution
from .mlp import FieldMLP, Siren, count_parameters, siren_init
from .wire import Wire, complex_width

ActivationName = Literal[
    "sine", "relu", "tanh", "softplus", "elu", "selu", "relu-pe", "rbf-relu", "fourier", "finer", "gauss", "wire",
    "grid",
]
ACTIVATIONS: tuple[ActivationName, ...] = ActivationName.__args__  # type: ignore[attr-defined]

# Activation class and weight init of each plain baseline (the paper's choices).
_BASELINES = {
    "relu": (ReLU, init_kaiming_normal),
    "relu-pe": (ReLU, init_kaiming_normal),
    "rbf-relu": (ReLU, init_kaiming_normal),
    "tanh": (Tanh, init_xavier_normal),
    "softplus": (Softplus, init_kaiming_normal),
    "elu": (ELU, init_elu_normal),
    "selu": (SELU, init_lecun_normal),
    "fourier": (ReLU, init_kaiming_normal),
}

DEFAULT_PE_FREQUENCIES = 10  # the official count for 3-D inputs, and ours when no sampling rate is known
FINER_FIRST_BIAS = 1.0  # measured on the cameraman, see docs/representations.md
GAUSS_SCALE = 10.0  # measured on the cameraman, see docs/representations.md
MAX_PE_FREQUENCIES = 32  # relu-pe: 2^31·π already exceeds what float32 coordinates resolve
MAX_WIRE_EXPONENT = 20.0  # wire: the Gabor amplitude exp(ω0²/(4 s0²)) stays ≤ e^20 ≈ 5e8 (squares fit float32)
MIN_HIDDEN_OMEGA = 1e-6  # the hidden layers' init bound √(6/n)/ω0 stays finite in float32 (≤ 2.5e6; 1e-57 overflowed)


@dataclass(frozen=True)
class ModelConfig:
    """Which network to build and its size."""

    activation: ActivationName = option(
        "sine", "representation: sine (SIREN), an MLP baseline, wire or grid (docs/representations.md)"
    )
    hidden_features: int = option(256, "width of every hidden layer")
    hidden_layers: int = option(3, "number of hidden-to-hidden layers (3 gives the paper's 5-layer network)")
    first_omega_0: float = option(30.0, "ω0 of the first sine layer (the paper uses ≈3000 for audio)")
    hidden_omega_0: float = option(30.0, "ω0 of the other sine layers; also sets their init bound")
    pe_frequencies: int | None = option(
        None, "relu-pe: number of encoding frequencies (auto, as the official code: floor(log2(samples/4)) for "
        "1-D/2-D signals, 10 for 3-D inputs or without a sampling)"
    )
    rbf_centers: int = option(1024, "rbf-relu: number of RBF centres c")
    rbf_sigma: float = option(10.0, "rbf-relu: initial σ of every centre in exp(−(σ‖x − c‖²)²) (larger is narrower)")
    ff_features: int = option(256, "fourier: number m of random Fourier features (the encoding has 2m outputs)")
    ff_sigma: float = option(10.0, "fourier: standard deviation σ of the random frequencies B ~ N(0, σ²)")
    finer_first_bias: float = option(FINER_FIRST_BIAS, "finer: first-layer biases start uniform in ±k, this k")
    gauss_scale: float = option(GAUSS_SCALE, "gauss: s in exp(−(s u)²); larger is narrower")
    wire_omega: float = option(20.0, "wire: frequency ω0 of the complex Gabor wavelet")
    wire_scale: float = option(10.0, "wire: scale s0 of the Gabor wavelet's Gaussian envelope")
    grid_resolution: int | None = option(
        None, "grid: nodes per axis (auto: the most that fit the parameters of a sine network of the same size)"
    )

    def resolved(
        self, samples: int | None = None, in_features: int | None = None, out_features: int | None = None
    ) -> ModelConfig:
        """A copy with automatic settings fixed: relu-pe's pe_frequencies from the signal's samples per side,
        grid's grid_resolution from the parameter count of the sine network of the same size."""
        if self.activation == "relu-pe" and self.pe_frequencies is None:
            return replace(self, pe_frequencies=pe_frequency_count(samples, in_features))
        if self.activation == "grid" and self.grid_resolution is None:
            if in_features is None or out_features is None:
                raise ValueError("an automatic grid resolution needs in_features and out_features")
            _check_grid_dimensions(in_features)
            budget = count_parameters(replace(self, activation="sine")._build_on_meta(in_features, out_features))
            return replace(self, grid_resolution=largest_resolution(budget, in_features, out_features))
        return self

    def build(self, in_features: int, out_features: int, samples: int | None = None) -> nn.Module:
        """Build the network; `samples` (samples per side of the signal) sets relu-pe's frequency count.

        Returns a `FieldMLP` for every MLP activation, a `Wire` or a `Grid` for those two; each maps
        coordinates (N, in_features) to values (N, out_features).
        """
        cfg = self.resolved(samples, in_features, out_features)
        cfg.validate()
        cfg.check_size(in_features, out_features)
        if cfg.activation == "sine":
            return Siren(
                in_features,
                out_features,
                cfg.hidden_features,
                cfg.hidden_layers,
                cfg.first_omega_0,
                cfg.hidden_omega_0,
            )
        if cfg.activation == "wire":
            return Wire(in_features, out_features, cfg.hidden_features, cfg.hidden_layers, cfg.wire_omega,
                        cfg.wire_scale)
        if cfg.activation == "grid":
            _check_grid_dimensions(in_features)
            return Grid(in_features, out_features, int(cfg.grid_resolution or 2))
        if cfg.activation == "finer":
            acts: list[Activation] = [Finer(cfg.first_omega_0), *(Finer(cfg.hidden_omega_0)
                                                                 for _ in range(cfg.hidden_layers))]
            net = FieldMLP(in_features, out_features, cfg.hidden_features, cfg.hidden_layers, acts)
            siren_init(net, cfg.hidden_omega_0)
            with torch.no_grad():
                net.linears()[0].bias.uniform_(-cfg.finer_first_bias, cfg.finer_first_bias)  # = layers[0]
            return net
        if cfg.activation == "gauss":  # PyTorch's default Linear init, as public Gaussian-network code uses
            acts = [Gauss(cfg.gauss_scale) for _ in range(cfg.hidden_layers + 1)]
            return FieldMLP(in_features, out_features, cfg.hidden_features, cfg.hidden_layers, acts)
        act_cls, init = _BASELINES[cfg.activation]
        encoding: Encoding | None = None
        if cfg.activation == "relu-pe":
            encoding = PositionalEncoding(in_features, int(cfg.pe_frequencies or DEFAULT_PE_FREQUENCIES))
        elif cfg.activation == "rbf-relu":
            encoding = RBFEncoding(in_features, cfg.rbf_centers, cfg.rbf_sigma)
        elif cfg.activation == "fourier":
            encoding = FourierFeatures(in_features, cfg.ff_features, cfg.ff_sigma)
        acts = [act_cls() for _ in range(cfg.hidden_layers + 1)]
        return FieldMLP(
            in_features, out_features, cfg.hidden_features, cfg.hidden_layers, acts, encoding, init_weight=init
        )

    def validate(self) -> None:
        """Refuse sizes and hyperparameters no network can be built with, or whose float32 arithmetic would
        overflow (one-line UserErrors). Every field is checked, whichever activation uses it."""
        check_values(self)
        ratio = self.wire_omega / (2 * self.wire_scale) if self.wire_scale > 0 else math.inf
        wire_exponent = ratio * ratio  # ω0²/(4 s0²); products give inf where ** would raise OverflowError
        check_all([
            (self.hidden_features >= 1 and self.hidden_layers >= 0,
             "--hidden-features must be ≥ 1 and --hidden-layers ≥ 0"),
            in_range("--hidden-features", self.hidden_features, high=MAX_WIDTH),
            in_range("--hidden-layers", self.hidden_layers, high=MAX_DEPTH),
            in_range("--first-omega-0", self.first_omega_0, 0, MAX_SCALE, above=True),
            in_range("--hidden-omega-0", self.hidden_omega_0, MIN_HIDDEN_OMEGA, MAX_SCALE),
            in_range("--pe-frequencies", 1 if self.pe_frequencies is None else self.pe_frequencies, 1,
                     MAX_PE_FREQUENCIES, note=" (or auto; 2^L·π beyond that is float32 noise)"),
            in_range("--rbf-centers", self.rbf_centers, 1, MAX_WIDTH),
            in_range("--rbf-sigma", self.rbf_sigma, 0, MAX_SCALE, above=True),
            (self.ff_features >= 1, f"--ff-features must be ≥ 1 (got {self.ff_features})"),
            in_range("--ff-features", self.ff_features, high=MAX_WIDTH),
            in_range("--ff-sigma", self.ff_sigma, 0, MAX_SCALE, above=True),
            (self.finer_first_bias >= 0, f"--finer-first-bias must be ≥ 0 (got {self.finer_first_bias:g})"),
            in_range("--finer-first-bias", self.finer_first_bias, high=MAX_SCALE),
            (self.gauss_scale > 0, f"--gauss-scale must be > 0 (got {self.gauss_scale:g})"),
            in_range("--gauss-scale", self.gauss_scale, high=MAX_SCALE),
            in_range("--wire-omega", self.wire_omega, 0, MAX_SCALE, above=True),
            in_range("--wire-scale", self.wire_scale, 0, MAX_SCALE, above=True),
            (wire_exponent <= MAX_WIRE_EXPONENT,
             (f"--wire-omega {self.wire_omega:g} with --wire-scale {self.wire_scale:g}: the Gabor wavelet reaches "
              f"exp(ω0²/(4·s0²)) = exp({wire_exponent:.3g}), which overflows float32 losses; keep ω0 ≤ "
              f"{2 * math.sqrt(MAX_WIRE_EXPONENT):.3g}·s0")),
            (self.grid_resolution is None or self.grid_resolution >= 2,
             f"--grid-resolution must be ≥ 2 (got {self.grid_resolution})"),
        ])

    def check_size(self, in_features: int, out_features: int) -> None:
        """Refuse a network of more than MAX_PARAMETERS parameters before any memory is taken for it (counted
        in Python integers from the settings, so an absurd --grid-resolution cannot overflow the count)."""
        count = self.estimate_parameters(in_features, out_features)
        if count > MAX_PARAMETERS:
            raise UserError(f"the {self.activation} network would have {count:,} parameters, more than "
                            f"{MAX_PARAMETERS:,} (their weights, gradients and Adam state alone take 16 bytes "
                            "each); lower --hidden-features, --hidden-layers or --grid-resolution")

    def estimate_parameters(self, in_features: int, out_features: int) -> int:
        """The parameter count of the network `build` makes, from the settings alone (no tensor is made)."""
        if self.activation == "grid":
            return (self.grid_resolution or 2) ** in_features * out_features
        h, layers = self.hidden_features, self.hidden_layers
        if self.activation == "wire":
            w = complex_width(h)
            return in_features * w + w + layers * 2 * (w * w + w) + 2 * w * out_features + out_features
        width = {"relu-pe": in_features * (1 + 2 * (self.pe_frequencies or DEFAULT_PE_FREQUENCIES)),
                 "rbf-relu": self.rbf_centers, "fourier": 2 * self.ff_features}.get(self.activation, in_features)
        encoding = self.rbf_centers * (in_features + 1) if self.activation == "rbf-relu" else 0
        return encoding + width * h + h + layers * (h * h + h) + h * out_features + out_features

    def _build_on_meta(self, in_features: int, out_features: int, samples: int | None = None) -> nn.Module:
        """The network's skeleton on the meta device: parameter shapes without memory or random draws."""
        with torch.device("meta"):
            return self.build(in_features, out_features, samples)

    def with_parameter_budget(
        self, budget: int, in_features: int, out_features: int, samples: int | None = None
    ) -> ModelConfig:
        """A copy whose width (hidden_features; grid_resolution for a grid) gives the largest parameter count
        that does not exceed `budget`, for fair comparisons of representations at equal size.

        Other settings (depth, encodings, automatic ones resolved with `samples`) stay as they are.
        """
        cfg = self.resolved(samples, in_features) if self.activation != "grid" else self
        if cfg.activation == "grid":
            _check_grid_dimensions(in_features)
            resolution = largest_resolution(budget, in_features, out_features)
            if resolution**in_features * out_features > budget:
                raise UserError(f"a parameter budget of {budget:,} is below the smallest grid "
                                f"({resolution**in_features * out_features:,} parameters)")
            return replace(cfg, grid_resolution=resolution)

        def count(width: int) -> int:
            return count_parameters(replace(cfg, hidden_features=width)._build_on_meta(in_features, out_features))

        if count(1) > budget:
            raise UserError(f"a parameter budget of {budget:,} is below the smallest {cfg.activation} network "
                            f"({count(1):,} parameters at width 1)")
        low, high = 1, 2
        while count(high) <= budget:  # the count grows with the width: bracket, then bisect
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if count(mid) <= budget else (low, mid)
        return replace(cfg, hidden_features=low)


def pe_frequency_count(samples: int | None, in_features: int | None = None) -> int:
    """relu-pe's automatic frequency count, the official PosEncodingNeRF rule: 10 for 3-D inputs whatever
    their sampling (a video too), floor(log2(samples / 4)) for 1-D and 2-D signals sampled `samples` times
    per side, and 10 when there is no sampling (the official code requires one there).
    >>> pe_frequency_count(512, 2), pe_frequency_count(256, 2), pe_frequency_count(300, 3), pe_frequency_count(None)
    (7, 6, 10, 10)
    """
    if in_features == 3 or not samples:
        return DEFAULT_PE_FREQUENCIES
    return nyquist_frequencies(samples)


def _check_grid_dimensions(in_features: int) -> None:
    if not 1 <= in_features <= MAX_DIMENSIONS:
        raise UserError(f"--activation grid needs 1-, 2- or 3-D coordinates; this task has {in_features}")


def build_model(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a network from a stored spec: ModelConfig fields plus `in_features` and `out_features`."""
    spec = dict(spec)
    in_features, out_features = int(spec.pop("in_features")), int(spec.pop("out_features"))
    try:
        return from_dict(ModelConfig, spec, "model spec").build(in_features, out_features)
    except UserError as exc:  # a stored spec out of range is damage: the caller names the checkpoint
        raise ValueError(str(exc)) from None


def model_spec(config: ModelConfig, in_features: int, out_features: int, samples: int | None = None) -> dict:
    """Plain-value description that `build_model` turns back into the same architecture."""
    from dataclasses import asdict

    resolved = config.resolved(samples, in_features, out_features)
    return {"in_features": in_features, "out_features": out_features, **asdict(resolved)}
