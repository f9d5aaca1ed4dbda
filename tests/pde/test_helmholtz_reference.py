"""The Helmholtz references agree with each other: FD with the paper's PML against the analytic Hankel field."""

from __future__ import annotations

import numpy as np
import pytest

from sirenkit.pde.helmholtz import analytic_field, solve_fd, stretch


@pytest.mark.parametrize("k,n,source", [(10.0, 201, (0.0, 0.0)), (10.0, 201, (0.13, -0.21))])
def test_fd_matches_the_analytic_field_in_a_uniform_medium(k, n, source):
    axis, field = solve_fd(n, k, source=source)
    x, y = np.meshgrid(axis, axis, indexing="xy")
    ref = analytic_field(x, y, k, source=source)
    interior = (np.abs(x) <= 0.5) & (np.abs(y) <= 0.5) & (np.hypot(x - source[0], y - source[1]) > 0.1)
    relative_mse = np.mean(np.abs(field[interior] - ref[interior]) ** 2) / np.mean(np.abs(ref[interior]) ** 2)
    assert relative_mse < 1e-4  # measured 2.6e-6 at k = 10, n = 201 (source on a node)


def test_pml_absorbs_the_outgoing_wave():
    axis, field = solve_fd(161, 10.0)
    x, y = np.meshgrid(axis, axis, indexing="xy")
    inner = np.abs(field[(np.abs(x) < 0.5) & (np.abs(y) < 0.5) & (np.hypot(x, y) > 0.2)]).mean()
    outer = np.abs(field[(np.maximum(np.abs(x), np.abs(y)) > 0.9)]).mean()
    assert outer < 0.05 * inner


def test_stretch_is_one_outside_the_layer_and_grows_inside():
    e = stretch(np.array([0.0, 0.5, 0.75, 1.0]), k=20.0)
    assert e[0] == 1 and e[1] == 1
    assert e[2].imag == pytest.approx(-5.0 * 0.25) and e[3].imag == pytest.approx(-5.0)


def test_gaussian_source_radiates_the_point_field_scaled_by_its_fourier_transform():
    """Outside a normalised Gaussian source of width σ the field is exp(−k²σ²/2) times the point-source field
    (what the uniform-medium reference of `solve helmholtz` uses)."""
    k, sigma = 10.0, 0.05
    axis, field = solve_fd(201, k, sigma=sigma)
    x, y = np.meshgrid(axis, axis, indexing="xy")
    keep = (np.abs(x) <= 0.5) & (np.abs(y) <= 0.5) & (np.hypot(x, y) > 4 * sigma)
    for scale, bound in ((np.exp(-0.5 * (k * sigma) ** 2), 1e-4), (1.0, None)):
        ref = scale * analytic_field(x, y, k)
        rel = np.mean(np.abs(field[keep] - ref[keep]) ** 2) / np.mean(np.abs(ref[keep]) ** 2)
        if bound is not None:
            assert rel < bound  # measured 5e-7 at 301 nodes
        else:
            assert rel > 5e-3  # without the factor the amplitude is 13 % off
