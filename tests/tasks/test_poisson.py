"""Poisson reconstruction: derivative losses agree across backends, alignment removes only the true ambiguity."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.tasks.base import Batch
from sirenkit.tasks.poisson import (
    LAPLACIAN_ALIGN_DEGREE,
    PoissonConfig,
    PoissonGradientTask,
    PoissonLaplacianTask,
    align,
    harmonic_basis,
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


@pytest.mark.figures
def test_gradient_fit_reaches_psnr(tmp_path):
    result = sirenkit.fit("poisson-gradient", size=48, steps=300, lr=1e-3, schedule="cosine", hidden_features=64,
                          out=str(tmp_path / "run"), device="cpu", quiet=True)
    assert result.metrics["psnr"] >= 28.0
    assert result.metrics["psnr_gradient"] >= 40.0
    assert (result.out_dir / "comparison.png").is_file()


def test_harmonic_alignment_removes_harmonic_terms_beyond_degree_two():
    """The Laplacian fixes the image up to any harmonic function, not only quadratics: a degree-5 harmonic term
    (Re z⁵) and exp(x)·cos(y) are aligned away; a non-harmonic bump is not."""
    y, x = torch.meshgrid(torch.linspace(-1, 1, 40), torch.linspace(-1, 1, 40), indexing="ij")
    y, x = y.reshape(-1, 1).double(), x.reshape(-1, 1).double()
    truth = torch.sin(3 * x) * torch.cos(2 * y)
    basis = harmonic_basis(y, x)
    assert basis.shape == (1600, 2 * LAPLACIAN_ALIGN_DEGREE + 1)
    z = torch.complex(x, y)
    harmonic = 0.3 * (z**5).real + 0.2 * torch.exp(x) * torch.cos(y)
    torch.testing.assert_close(align(truth + harmonic, truth, basis), truth, atol=1e-6, rtol=0)
    old = torch.cat([torch.ones_like(y), y, x, y * y - x * x, x * y], -1)  # the former degree-2 alignment
    assert (align(truth + harmonic, truth, old) - truth).abs().max() > 0.05
    bump = 0.3 * torch.exp(-4 * (x * x + y * y))
    assert (align(truth + bump, truth, basis) - truth).abs().max() > 0.05


def test_task_alignment_matches_the_dense_least_squares():
    task = PoissonLaplacianTask(PoissonConfig(size=40, chunk=300), torch.device("cpu"))
    image = torch.randn_like(task.truth)
    c = task.coords.double()
    dense = align(image, task.truth, harmonic_basis(c[:, 0:1], c[:, 1:2]))
    torch.testing.assert_close(task.align(image), dense, atol=1e-5, rtol=0)
    # the zero image aligned: what a reconstruction that recovered nothing scores
    assert 12.0 < task.psnr_null < 18.0
    model = sirenkit.ModelConfig(hidden_features=8, hidden_layers=1).build(2, 1)
    assert task.evaluate(model, final=True)["psnr_null"] == task.psnr_null
