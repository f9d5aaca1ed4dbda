"""SIREN architecture and initialisation, tested statistically; every baseline builds with its init."""

from __future__ import annotations

import math

import pytest
import torch

from sirenkit import ModelConfig, Siren, count_parameters
from sirenkit.models import ACTIVATIONS, PositionalEncoding, RBFEncoding, model_spec, nyquist_frequencies
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
    # The official PosEncodingNeRF: floor(log2(samples / 4)) for 1-D/2-D signals, 10 for any 3-D input.
    assert [nyquist_frequencies(n) for n in (64, 128, 256, 512, 1024)] == [4, 5, 6, 7, 8]
    net = ModelConfig(activation="relu-pe").build(2, 1, samples=512)
    assert isinstance(net.encoding, PositionalEncoding) and net.encoding.frequencies == 7
    assert net.encoding.out_features == 2 + 2 * 2 * 7
    assert ModelConfig(activation="relu-pe").build(2, 1, samples=256).encoding.frequencies == 6
    assert ModelConfig(activation="relu-pe").build(1, 1, samples=1024).encoding.frequencies == 8
    assert ModelConfig(activation="relu-pe").build(3, 1).encoding.frequencies == 10
    # A 3-D signal with a sampling (a 300 × 512 × 512 video) still gets 10, not floor(log2(512 / 4)) = 7.
    assert ModelConfig(activation="relu-pe").build(3, 3, samples=512).encoding.frequencies == 10
    assert model_spec(ModelConfig(activation="relu-pe"), 3, 3, samples=512)["pe_frequencies"] == 10
    assert ModelConfig(activation="relu-pe", pe_frequencies=4).build(3, 1, samples=512).encoding.frequencies == 4


def test_positional_encoding_values():
    """γ(x) holds x, then sin(2^i π x_k) and cos(2^i π x_k) for every i < L and axis k (π included)."""
    enc = PositionalEncoding(2, 3)
    x = torch.tensor([[0.25, -0.5]])
    got = enc(x)[0]
    assert got.shape == (2 + 2 * 2 * 3,)
    torch.testing.assert_close(got[:2], x[0])
    expected_sin = sorted(math.sin(2**i * math.pi * v) for i in range(3) for v in (0.25, -0.5))
    expected_cos = sorted(math.cos(2**i * math.pi * v) for i in range(3) for v in (0.25, -0.5))
    for got_part, want in ((got[2:8], expected_sin), (got[8:], expected_cos)):
        assert max(abs(a - b) for a, b in zip(sorted(got_part.tolist()), want)) < 1e-6
    # Known values: sin(π/4) = √½ (i = 0 at 0.25); cos(4π · 0.25) = −1; no 2π in the argument.
    assert any(abs(v - math.sqrt(0.5)) < 1e-6 for v in got[2:8].tolist())
    assert any(abs(v + 1.0) < 1e-6 for v in got[8:].tolist())


def test_rbf_layer():
    torch.manual_seed(0)
    net = ModelConfig(activation="rbf-relu").build(2, 1)
    assert isinstance(net.encoding, RBFEncoding)
    assert net.encoding.centers.shape == (1024, 2)
    assert net.encoding.centers.abs().max() <= 1.0
    assert torch.all(net.encoding.sigmas == 10.0)
    x = net.encoding.centers[:1].detach().clone()
    assert torch.isclose(net.encoding(x)[0, 0], torch.tensor(1.0))


def test_rbf_layer_is_the_official_closed_form():
    """φ_c(x) = exp(−(σ_c ‖x − c‖²)²) (official RBFLayer: squared distance times σ, then exp(−α²)), not the
    Gaussian exp(−(σ ‖x − c‖)²)."""
    enc = RBFEncoding(2, 3, 10.0).double()
    with torch.no_grad():
        enc.centers.copy_(torch.tensor([[0.0, 0.0], [0.3, -0.4], [-1.0, 1.0]]))
        enc.sigmas.copy_(torch.tensor([10.0, 2.0, 0.5]))
    x = torch.tensor([[0.0, 0.0], [0.1, 0.2]], dtype=torch.float64)
    expected = torch.empty(2, 3, dtype=torch.float64)
    for n, point in enumerate(x.tolist()):
        for c, (centre, sigma) in enumerate(zip(enc.centers.tolist(), enc.sigmas.tolist())):
            r2 = (point[0] - centre[0]) ** 2 + (point[1] - centre[1]) ** 2
            expected[n, c] = math.exp(-((sigma * r2) ** 2))
    torch.testing.assert_close(enc(x), expected.detach())
    # At r = 0.3 from a σ = 10 centre: exp(−0.81) ≈ 0.445 (a Gaussian of σ = 10 would give exp(−9) ≈ 1.2e-4).
    one = RBFEncoding(2, 1, 10.0).double()
    with torch.no_grad():
        one.centers.zero_()
    assert abs(one(torch.tensor([[0.3, 0.0]], dtype=torch.float64)).item() - math.exp(-0.81)) < 1e-12


def test_rbf_layer_streams_match_autograd():
    torch.manual_seed(1)
    enc = RBFEncoding(2, 16, 3.0).double()
    with torch.no_grad():
        enc.sigmas.uniform_(0.5, 4.0)
    x = (torch.rand(7, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    value, tangents, per_axis = enc.streams(x, per_axis=True)
    _, _, lap = enc.streams(x)
    torch.testing.assert_close(value, enc(x))
    for c in range(16):
        (g,) = torch.autograd.grad(enc(x)[:, c].sum(), x, create_graph=True)
        torch.testing.assert_close(tangents[:, :, c], g.t())
        for k in range(2):
            (h,) = torch.autograd.grad(g[:, k].sum(), x, retain_graph=True)
            torch.testing.assert_close(per_axis[k, :, c], h[:, k])
        torch.testing.assert_close(lap[:, c], per_axis[:, :, c].sum(0))


def test_sine_activation_derivatives_closed_form():
    act = Sine(7.0)
    u = torch.linspace(-1, 1, 11, dtype=torch.float64)
    a, a1, a2 = act.with_derivatives(u)
    torch.testing.assert_close(a, torch.sin(7 * u))
    torch.testing.assert_close(a1, 7 * torch.cos(7 * u))
    torch.testing.assert_close(a2, -49 * torch.sin(7 * u))
