"""Poisson reconstruction: derivative losses agree across backends, alignment removes only the true ambiguity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.tasks.base import Batch
from sirenkit.tasks.poisson import (
    PoissonConfig,
    PoissonGradientTask,
    PoissonLaplacianTask,
    align,
    laplace_filter,
    sobel_gradient,
)


@pytest.mark.parametrize("task_cls", [PoissonGradientTask, PoissonLaplacianTask])
def test_analytic_and_autograd_losses_give_the_same_parameter_gradients(task_cls):
    torch.manual_seed(0)
    task = task_cls(PoissonConfig(size=12), torch.device("cpu"))
    model = sirenkit.ModelConfig(hidden_features=32, hidden_layers=2).build(2, 1).double()
    batch = Batch(task.coords.double(), task.target.double())
    grads = []
    for backend in ("analytic", "autograd"):
        task.config = dataclasses.replace(task.config, derivatives=backend)
        model.zero_grad()
        loss = sum(task.loss_terms(model, batch).values())
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert ((grads[0] - grads[1]).abs().max() / grads[1].abs().max()).item() < 1e-10


def test_targets_have_physical_units():
    """On a linear ramp I = a·x the Sobel target is exactly a, and a quadratic's Laplace target is exact."""
    n = 33
    spacing = 2.0 / (n - 1)
    axis = np.linspace(-1, 1, n)
    ramp = (0.3 * axis[None, :] + 0.0 * axis[:, None])[..., None]
    grad = sobel_gradient(ramp, spacing)
    np.testing.assert_allclose(grad[2:-2, 2:-2, 0, 1], 0.3, atol=1e-12)
    np.testing.assert_allclose(grad[2:-2, 2:-2, 0, 0], 0.0, atol=1e-12)
    quad = (axis[:, None] ** 2 + 2 * axis[None, :] ** 2)[..., None]
    np.testing.assert_allclose(laplace_filter(quad, spacing)[1:-1, 1:-1, 0], 6.0, atol=1e-9)


def test_alignment_removes_exactly_the_ambiguity():
    y, x = torch.meshgrid(torch.linspace(-1, 1, 20), torch.linspace(-1, 1, 20), indexing="ij")
    y, x = y.reshape(-1, 1), x.reshape(-1, 1)
    truth = torch.sin(3 * x) * torch.cos(2 * y)
    harmonic = 0.4 + 0.2 * y - 0.1 * x + 0.3 * (y * y - x * x) + 0.5 * x * y
    basis = torch.cat([torch.ones_like(y), y, x, y * y - x * x, x * y], -1)
    torch.testing.assert_close(align(truth + harmonic, truth, basis), truth, atol=1e-5, rtol=0)
    torch.testing.assert_close(align(truth + 0.7, truth, torch.ones_like(y)), truth, atol=1e-6, rtol=0)
    # a non-harmonic error is not explained away
    bumped = truth + 0.3 * x * x
    assert (align(bumped, truth, basis) - truth).abs().max() > 0.05


def test_gradient_fit_reaches_psnr(tmp_path):
    result = sirenkit.fit("poisson-gradient", size=48, steps=300, lr=1e-3, schedule="cosine", hidden_features=64,
                          out=str(tmp_path / "run"), device="cpu", quiet=True)
    assert result.metrics["psnr"] >= 28.0
    assert result.metrics["psnr_gradient"] >= 40.0
    assert (result.out_dir / "comparison.png").is_file()
