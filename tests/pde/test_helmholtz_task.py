"""The network-side Helmholtz pieces: the PML operator, the task, and a short solve against the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from sirenkit.errors import UserError
from sirenkit.pde.helmholtz import analytic_field
from sirenkit.pde.pml import PmlOperator
from sirenkit.tasks.helmholtz import HelmholtzConfig, HelmholtzTask


class StretchedPlaneWave(nn.Module):
    """u = exp(−i k x̃) with the PML-stretched coordinate x̃ = ∫ e_x dx: an exact solution of the PML operator
    (no source) everywhere in the square, including the layers along x and along y."""

    def __init__(self, k: float, width: float = 0.5, a0: float = 5.0) -> None:
        super().__init__()
        self.k, self.width, self.a0 = k, width, a0

    def forward(self, x):
        c = x[:, 0]
        depth = (c.abs() - (1 - self.width)).clamp(min=0)
        im = -self.a0 * depth**3 / (3 * self.width**2) * torch.sign(c)  # Im x̃
        phase = -self.k * c  # exp(−i k (c + i·im)) = exp(k·im)·exp(−i k c)
        mag = torch.exp(self.k * im)
        return torch.stack([mag * torch.cos(phase), mag * torch.sin(phase)], dim=-1)


def test_pml_operator_vanishes_on_an_exact_solution():
    k = 10.0
    op = PmlOperator(k, sigma=1e-3)
    x = torch.rand(2000, 2, dtype=torch.float64) * 2 - 1
    x = x[x[:, 0].abs() > 1e-3]  # away from x = 0, where sign() jumps
    wave = StretchedPlaneWave(k)
    re, im = op(wave, x, torch.ones(len(x), dtype=torch.float64), at=(0.0, 0.9))  # source far from every point
    scale = k**2 * wave(x).abs().max()
    assert float(torch.maximum(re.abs(), im.abs()).max().detach()) < 1e-8 * float(scale)


def test_analytic_field_satisfies_helmholtz_in_the_interior():
    k, h = 10.0, 1e-3
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.5, 0.5, size=(500, 2))
    pts = pts[np.hypot(pts[:, 0], pts[:, 1]) > 0.1]
    x, y = pts[:, 0], pts[:, 1]
    u = analytic_field(x, y, k)
    lap = (analytic_field(x + h, y, k) + analytic_field(x - h, y, k) + analytic_field(x, y + h, k)
           + analytic_field(x, y - h, k) - 4 * u) / h**2
    assert np.abs(lap + k**2 * u).max() < 1e-3 * k**2 * np.abs(u).max()


@pytest.mark.parametrize("options,message", [
    ({"k": -1.0}, "--k"), ({"source": "0.9,0"}, "PML"), ({"source": "a,b"}, "two numbers"),
    ({"pml_width": 1.5}, "--pml-width"), ({"source_sigma": 0.0}, "--source-sigma"),
])
def test_bad_settings_are_refused(options, message):
    with pytest.raises(UserError, match=message):
        HelmholtzTask(HelmholtzConfig(**{"reference_nodes": 41, **options}), torch.device("cpu"))


@pytest.mark.parametrize("velocity", ["square", "circle"])
def test_inclusion_media_use_a_finite_difference_reference(velocity):
    task = HelmholtzTask(HelmholtzConfig(k=5.0, velocity=velocity, reference_nodes=121), torch.device("cpu"))
    assert task.reference_kind.startswith("finite differences")
    uniform = HelmholtzTask(HelmholtzConfig(k=5.0, reference_nodes=121), torch.device("cpu"))
    diff = task.eval_truth - uniform.eval_truth
    assert float(diff.abs().max()) > 0.05 * float(uniform.eval_truth.abs().max())  # the inclusion scatters
    assert math.isfinite(float(task.eval_truth.abs().sum()))


def test_pml_residual_same_on_both_derivative_paths():
    """The forward-mode per-axis streams and autograd give the same PML residual and parameter gradients."""
    from sirenkit import Siren

    torch.manual_seed(0)
    net = Siren(2, 2, hidden_features=32, hidden_layers=2, first_omega_0=10.0).double()
    x = torch.rand(300, 2, dtype=torch.float64) * 2 - 1  # covers the layer along x, along y and the corners
    m = torch.ones(len(x), dtype=torch.float64)
    results = []
    for backend in ("analytic", "autograd"):
        op = PmlOperator(10.0, a0=10.0, sigma=0.05)
        net.zero_grad()
        re, im = op(net, x, m, at=(0.1, -0.2), backend=backend)
        (re.abs() + im.abs()).mean().backward()
        results.append((re.detach(), im.detach(), torch.cat([p.grad.flatten() for p in net.parameters()])))
    for a, b in zip(*results):
        assert float((a - b).abs().max()) <= 1e-10 * float(b.abs().max())
