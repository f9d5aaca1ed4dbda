"""The pieces of the space-of-SIRENs network: batched SIREN, hypernetwork init, encoders, CNP, specs."""

from __future__ import annotations

import math

import pytest
import torch

from sirenkit import Siren
from sirenkit.meta import BatchedSiren, HyperNetwork, MetaNetConfig
from sirenkit.meta.encoders import ConvEncoder, SetEncoder, masked_mean, rasterise


def test_batched_siren_equals_separate_sirens():
    """One batched call with B parameter sets == B ordinary `Siren` evaluations (shared and per-item coords)."""
    torch.manual_seed(0)
    nets = [Siren(2, 3, hidden_features=32, hidden_layers=2, first_omega_0=20.0, hidden_omega_0=30.0)
            for _ in range(4)]
    functional = BatchedSiren(nets[0])
    params = {name: torch.stack([dict(n.named_parameters())[name].detach() for n in nets])
              for name in functional.names}
    shared = torch.rand(50, 2) * 2 - 1
    per_item = torch.rand(4, 50, 2) * 2 - 1
    with torch.no_grad():
        out_shared = functional(params, shared)
        out_items = functional(params, per_item)
        for b, net in enumerate(nets):
            torch.testing.assert_close(out_shared[b], net(shared), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(out_items[b], net(per_item[b]), rtol=1e-5, atol=1e-6)
    assert functional.names == [n for n, _ in nets[0].named_parameters()]


@pytest.mark.parametrize("encoder", ["set", "cnn"])
def test_hypernetwork_emits_siren_initialisation(encoder):
    """At initialisation the emitted weights follow the SIREN init: each weight tensor ~ U(−c, c) with the
    SIREN bound c (std c/√3 within 5 %, under 3 % of the entries beyond c and none beyond 1.15·c), biases
    within the default U(−1/√n, 1/√n) (up to 1.15×), and the emitted network depends on the image only slightly
    (spread across images < 5 % of the init's). The perturbation around a sampled SIREN init is output_scale
    (0.1) × rms of the hypernetwork's features (≈ 0.5 here) × the init's spread, so the bounds blur by a few %."""
    torch.manual_seed(0)
    cfg = MetaNetConfig(encoder=encoder, side=16, latent_features=64, encoder_hidden_features=64,
                        cnn_width=16, cnn_blocks=1, hyper_hidden_features=64, hidden_features=128)
    model = cfg.build()
    values, coords = torch.rand(8, 40, 3) * 2 - 1, torch.rand(8, 40, 2) * 2 - 1
    with torch.no_grad():
        out = model(values, coords, torch.ones(8, 40), torch.zeros(1, 2))
    assert set(out.weights) == {n for n, _ in Siren(2, 3, 128, 3).named_parameters()}
    for name, w in out.weights.items():
        fan_in = w.shape[-1] if name.endswith("weight") else (2 if name == "layers.0.bias" else 128)
        spread = (w - w.mean(0)).std()
        if name.endswith("weight"):
            bound = 1.0 / fan_in if name == "layers.0.weight" else math.sqrt(6.0 / fan_in) / 30.0
            assert abs(float(w.std()) / (bound / math.sqrt(3)) - 1) < 0.05, name
        else:
            bound = 1.0 / math.sqrt(fan_in)
        assert float(w.abs().max()) < 1.15 * bound, name
        assert float((w.abs() > bound).float().mean()) < 0.03, name
        assert 0 < float(spread) < 0.05 * float(w.std()), name


def test_hypernetwork_output_scale_sets_the_spread():
    torch.manual_seed(0)
    template = Siren(2, 3, 32, 1)
    latent = torch.randn(64, 16)
    spreads = []
    for scale in (0.0, 0.1, 1.0):
        torch.manual_seed(1)
        with torch.no_grad():
            weights = HyperNetwork(template, 16, 32, 1, output_scale=scale)(latent)["layers.1.weight"]
        spreads.append(float((weights - weights.mean(0)).std()))
    assert spreads[0] < 1e-8 and 5 < spreads[2] / spreads[1] < 20


def test_masked_mean_and_set_encoder_ignore_padding():
    torch.manual_seed(0)
    enc = SetEncoder(3, 8, hidden_features=16, hidden_layers=1, activation="sine")
    values, coords = torch.rand(2, 6, 3), torch.rand(2, 6, 2)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=torch.float32)
    z = enc(values, coords, mask)
    values2 = values.clone()
    values2[0, 3:] = 5.0  # padding changes: no effect
    torch.testing.assert_close(enc(values2, coords, mask), z)
    perm = torch.tensor([2, 0, 1, 3, 4, 5])  # order of the context: no effect
    torch.testing.assert_close(enc(values[:, perm], coords[:, perm], mask), z, rtol=1e-5, atol=1e-6)
    assert float(masked_mean(torch.ones(1, 3, 2), torch.zeros(1, 3)).abs().sum()) == 0.0


def test_rasterise_puts_context_pixels_in_place():
    side = 4
    grid = torch.stack(torch.meshgrid(torch.linspace(-1, 1, side), torch.linspace(-1, 1, side), indexing="ij"), -1)
    coords = grid.reshape(1, -1, 2)[:, [5, 10]]  # (row 1, col 1) and (row 2, col 2)
    values = torch.tensor([[[0.5, -0.5, 0.0], [1.0, 1.0, 1.0]]])
    image = rasterise(values, coords, torch.tensor([[1.0, 0.0]]), side)
    assert image.shape == (1, 4, side, side)
    assert torch.equal(image[0, :, 1, 1], torch.tensor([0.5, -0.5, 0.0, 1.0]))  # value 0 still marked present
    assert float(image[0, :, 2, 2].abs().sum()) == 0.0  # masked out
    assert float(image.abs().sum()) == 2.0


def test_conv_encoder_shape_and_padding():
    torch.manual_seed(0)
    enc = ConvEncoder(3, 8, side=8, width=8, blocks=1)
    values, coords = torch.rand(2, 5, 3), torch.rand(2, 5, 2) * 2 - 1
    mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float32)
    z = enc(values, coords, mask)
    assert z.shape == (2, 8)
    values[0, 2:] = 3.0
    torch.testing.assert_close(enc(values, coords, mask), z)


@pytest.mark.parametrize("encoder", ["set", "cnn", "cnp"])
def test_spec_round_trip_rebuilds_the_same_network(encoder):
    cfg = MetaNetConfig(encoder=encoder, side=8, latent_features=8, encoder_hidden_features=8, cnn_width=4,
                        cnn_blocks=1, hyper_hidden_features=8, hidden_features=8, hidden_layers=1)
    torch.manual_seed(3)
    net = cfg.build()
    rebuilt = MetaNetConfig.from_spec(cfg.to_spec()).build()
    rebuilt.load_state_dict(net.state_dict())
    values, coords, mask = torch.rand(2, 5, 3), torch.rand(2, 5, 2), torch.ones(2, 5)
    query = torch.rand(7, 2)
    torch.testing.assert_close(rebuilt(values, coords, mask, query).values, net(values, coords, mask, query).values)
    out = net(values, coords, mask, query)
    assert out.values.shape == (2, 7, 3) and out.latent.shape == (2, 8)
    assert (out.weights is None) == (encoder == "cnp")
