"""SIREN architecture and initialisation, tested statistically; every baseline builds with its init."""

from __future__ import annotations

import math

import pytest
import torch

from sirenkit import ModelConfig, Siren, count_parameters
from sirenkit.models import ACTIVATIONS, PositionalEncoding, RBFEncoding, nyquist_frequencies
from sirenkit.models.activations import Sine


def test_official_parameter_count():
    assert count_parameters(Siren(2, 1)) == 198_401
    assert count_parameters(ModelConfig().build(2, 1)) == 198_401


def test_layout_and_sine_semantics():
    net = Siren(3, 2, hidden_features=16, hidden_layers=2, first_omega_0=60.0, hidden_omega_0=30.0)
    assert [tuple(layer.weight.shape) for layer in net.linears()] == [(16, 3), (16, 16), (16, 16), (2, 16)]
    assert [a.omega_0 for a in net.activations] == [60.0, 30.0, 30.0]
    x = torch.rand(5, 3) * 2 - 1
    # sin(ω0 (W x + b)): the bias is scaled by ω0 too; the head is linear.
    h = torch.sin(60.0 * (x @ net.layers[0].weight.T + net.layers[0].bias))
    for layer in net.layers[1:]:
        h = torch.sin(30.0 * (h @ layer.weight.T + layer.bias))
    expected = h @ net.head.weight.T + net.head.bias
    torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize("fan_in,width", [(2, 256), (3, 512)])
def test_init_bounds(fan_in, width):
    torch.manual_seed(0)
    net = Siren(fan_in, 1, hidden_features=width, hidden_layers=3)
    first = net.layers[0].weight
    assert first.abs().max() <= 1.0 / fan_in
    assert first.abs().max() > 0.9 / fan_in  # really uniform over the whole range, not narrower
    bound = math.sqrt(6.0 / width) / 30.0
    for layer in [*net.layers[1:], net.head]:
        w = layer.weight
        assert w.abs().max() <= bound
        assert w.abs().max() > 0.95 * bound
    for layer in net.layers[1:]:  # enough weights for a tight variance estimate: U(-b, b) has variance b²/3
        assert abs(layer.weight.var().item() - bound**2 / 3) < 0.05 * bound**2 / 3
    for layer in net.linears():
        n = layer.weight.shape[1]
        assert layer.bias.abs().max() <= 1.0 / math.sqrt(n)


def test_preactivations_stay_standard_normal_through_depth():
    """The paper's claim: with this init, ω0·W h ≈ N(0, 1) in every layer past the first, at any depth.

    The official sin(ω0(Wh + b)) adds the bias term, whose variance is ω0²/(3n); the sine of a normal
    variable with variance σ² has variance (1 − exp(−2σ²))/2. Both are checked over 8 sine layers.
    """
    torch.manual_seed(0)
    width = 1024
    net = Siren(1, 1, hidden_features=width, hidden_layers=7)  # 8 sine layers
    x = torch.linspace(-1, 1, 4096).unsqueeze(-1)
    h = x
    checked = 0
    with torch.no_grad():
        for i, (layer, act) in enumerate(zip(net.layers, net.activations)):
            z_weights = act.omega_0 * (h @ layer.weight.T)
            z = act.omega_0 * layer(h)
            h = act(layer(h))
            if i == 0:
                continue
            checked += 1
            assert abs(z_weights.mean().item()) < 0.1, f"layer {i}"
            assert abs(z_weights.std().item() - 1.0) < 0.1, f"layer {i}: std {z_weights.std().item():.3f}"
            expected_var = 1.0 + act.omega_0**2 / (3 * width)
            assert abs(z.var().item() - expected_var) < 0.15 * expected_var, f"layer {i}"
            sine_var = (1 - math.exp(-2 * z.var().item())) / 2
            assert abs(h.var().item() - sine_var) < 0.03, f"layer {i}: activation variance"
    assert checked >= 6


def test_first_layer_output_is_arcsine_distributed():
    """Inputs uniform in [-1, 1] through sin(30(Wx+b)) cover many periods: outputs follow the arcsine law."""
    torch.manual_seed(1)
    net = Siren(2, 1, hidden_features=512, hidden_layers=1)
    x = torch.rand(8192, 2) * 2 - 1
    with torch.no_grad():
        values = net.activations[0](net.layers[0](x)).flatten()
    # Arcsine law on [-1, 1]: CDF F(t) = 1/2 + asin(t)/π.
    for t in (-0.9, -0.5, 0.0, 0.5, 0.9):
        empirical = (values <= t).float().mean().item()
        assert abs(empirical - (0.5 + math.asin(t) / math.pi)) < 0.03


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_builds_and_runs(activation):
    torch.manual_seed(0)
    net = ModelConfig(activation=activation, hidden_features=32, hidden_layers=2, rbf_centers=64).build(2, 3, 64)
    y = net(torch.rand(10, 2) * 2 - 1)
    assert y.shape == (10, 3) and torch.isfinite(y).all()


def test_baseline_inits():
    torch.manual_seed(0)
    relu = ModelConfig(activation="relu", hidden_features=512).build(2, 1)
    w = relu.layers[1].weight
    assert abs(w.std().item() - math.sqrt(2.0 / 512)) < 0.05 * math.sqrt(2.0 / 512)  # Kaiming normal
    tanh = ModelConfig(activation="tanh", hidden_features=512).build(2, 1)
    w = tanh.layers[1].weight
    assert abs(w.std().item() - math.sqrt(2.0 / 1024)) < 0.05 * math.sqrt(2.0 / 1024)  # Xavier normal
    selu = ModelConfig(activation="selu", hidden_features=512).build(2, 1)
    assert abs(selu.layers[1].weight.std().item() - 1 / math.sqrt(512)) < 0.05 / math.sqrt(512)


def test_positional_encoding_follows_nyquist():
    assert nyquist_frequencies(512) == 7 and nyquist_frequencies(256) == 6
    net = ModelConfig(activation="relu-pe").build(2, 1, samples=512)
    assert isinstance(net.encoding, PositionalEncoding) and net.encoding.frequencies == 7
    assert net.encoding.out_features == 2 + 2 * 2 * 7
    assert ModelConfig(activation="relu-pe").build(3, 1).encoding.frequencies == 10
    x = torch.tensor([[0.25, -0.5]])
    enc = net.encoding(x)
    assert torch.allclose(enc[0, :2], x[0])
    assert torch.isclose(enc[0, 2], torch.sin(torch.tensor(math.pi * 0.25)))


def test_rbf_layer():
    torch.manual_seed(0)
    net = ModelConfig(activation="rbf-relu").build(2, 1)
    assert isinstance(net.encoding, RBFEncoding)
    assert net.encoding.centers.shape == (1024, 2)
    assert net.encoding.centers.abs().max() <= 1.0
    assert torch.all(net.encoding.sigmas == 10.0)
    x = net.encoding.centers[:1].detach().clone()
    assert torch.isclose(net.encoding(x)[0, 0], torch.tensor(1.0))


def test_sine_activation_derivatives_closed_form():
    act = Sine(7.0)
    u = torch.linspace(-1, 1, 11, dtype=torch.float64)
    a, a1, a2 = act.with_derivatives(u)
    torch.testing.assert_close(a, torch.sin(7 * u))
    torch.testing.assert_close(a1, 7 * torch.cos(7 * u))
    torch.testing.assert_close(a2, -49 * torch.sin(7 * u))
