"""The closed-form reverse sweep (backend="reverse") against float64 autograd: values, gradients, parameter
gradients of a gradient loss, every baseline with an analytic path, torch.compile and bf16 autocast."""

from __future__ import annotations

import pytest
import torch

from sirenkit import ModelConfig, Siren, diff
from sirenkit.models import ACTIVATIONS
from sirenkit.models.precision import mixed_precision

from .test_derivatives import (
    REL_TOL,
    assert_compiled_matches_eager,
    baseline_network,
    parameter_gradients,
    random_siren,
    rel_err,
)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_reverse_matches_autograd_float64(d, m):
    net = random_siren(d, m, seed=5 * d + m)
    x = torch.rand(64, d, dtype=torch.float64) * 2 - 1
    rev = diff.derivatives(net, x, order=1, backend="reverse")
    ref = diff.autograd_derivatives(net, x, order=1)
    assert rev.value.shape == (64, m) and rev.gradient.shape == (64, m, d) and rev.laplacian is None
    assert rel_err(rev.value, ref.value) <= REL_TOL
    assert rel_err(rev.gradient, ref.gradient) <= REL_TOL


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("m", [1, 2])
def test_parameter_gradients_of_a_gradient_loss_agree(d, m):
    """An SDF-like loss on value and gradient: d(loss)/d(params) is the same as autograd's double backward."""
    net = random_siren(d, m, seed=d + 11 * m)
    x = torch.rand(40, d, dtype=torch.float64) * 2 - 1
    def loss_of(out):
        return out.value.abs().mean() + ((out.gradient.norm(dim=-1) - 1) ** 2).mean()

    grads = parameter_gradients(net, x, loss_of, ("reverse", "autograd"), order=1)
    assert rel_err(grads[0], grads[1]) <= REL_TOL


@pytest.mark.parametrize("activation", [a for a in ACTIVATIONS if a not in ("sine", "wire", "grid")])
def test_reverse_covers_every_analytic_network(activation):
    """Encodings with per-point tangents (positional, RBF, Fourier features) go through the einsum branch."""
    net = baseline_network(activation, 3, 2, seed=4)
    x = torch.rand(40, 3, dtype=torch.float64) * 2 - 1
    rev = diff.derivatives(net, x, order=1, backend="reverse")
    ref = diff.autograd_derivatives(net, x, order=1)
    assert rel_err(rev.value, ref.value) <= 1e-9 and rel_err(rev.gradient, ref.gradient) <= 1e-9


def test_reverse_refuses_what_it_cannot_give():
    net = random_siren(2, 1)
    x = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="gradient only"):
        diff.derivatives(net, x, order=2, backend="reverse")
    grid = ModelConfig(activation="grid", grid_resolution=4).build(2, 1)
    with pytest.raises(diff.AnalyticUnsupported):
        diff.derivatives(grid, x.float(), order=1, backend="reverse")


def test_reverse_compiles_whole_and_agrees():
    torch._dynamo.reset()
    net = random_siren(3, 1, seed=8)
    x = torch.rand(96, 3, dtype=torch.float64) * 2 - 1

    def loss_fn(inp):
        out = diff.derivatives(net, inp, order=1, backend="reverse")
        return (out.value**2).mean() + ((out.gradient.norm(dim=-1) - 1) ** 2).mean()

    assert_compiled_matches_eager(net, loss_fn, x)


def test_reverse_under_bf16_autocast_stays_close():
    torch.manual_seed(0)
    net = Siren(3, 1, hidden_features=64)
    x = torch.rand(512, 3) * 2 - 1
    exact = diff.derivatives(net, x, order=1, backend="reverse")
    with mixed_precision(torch.device("cpu"), "bf16"):
        mixed = diff.derivatives(net, x, order=1, backend="reverse")
    assert mixed.gradient.dtype == torch.float32
    rel = ((mixed.gradient - exact.gradient).norm() / exact.gradient.norm()).item()
    assert 0 < rel < 0.05
