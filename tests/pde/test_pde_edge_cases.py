"""Edge cases of the PDE tasks: settings under which a reference or a metric would be silently wrong (an
under-resolved finite-difference grid, an empty evaluation region, a vanishing reference) are refused with a
UserError, as are measurement files whose fields are not numbers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

from sirenkit.errors import UserError
from sirenkit.pde.fwi import load_measurements
from sirenkit.tasks.fwi import FwiConfig, FwiTask
from sirenkit.tasks.helmholtz import HelmholtzConfig, HelmholtzTask
from sirenkit.tasks.wave import WaveConfig, WaveTask

CPU = torch.device("cpu")


# ---------------------------------------------------------------------------------------------- helmholtz
@pytest.mark.parametrize("options", [{"velocity": "circle", "k": 60.0, "reference_nodes": 41},
                                     {"velocity": "circle", "k": 10.0, "reference_nodes": 61}])
def test_helmholtz_refuses_an_under_resolved_finite_difference_reference(options):
    """41² nodes at k 60 in the velocity-0.5 disc is one node per wavelength: the FD reference is noise."""
    with pytest.raises(UserError, match="nodes per wavelength"):
        HelmholtzTask(HelmholtzConfig(**options), CPU)


def test_helmholtz_accepts_a_resolved_finite_difference_reference():
    task = HelmholtzTask(HelmholtzConfig(velocity="square", k=5.0, reference_nodes=41), CPU)
    assert task.reference_kind.startswith("finite differences")


def test_helmholtz_refuses_a_source_disc_covering_the_evaluation_square():
    """With 4σ beyond the inner square no node is left to compare: the metrics were NaN."""
    with pytest.raises(UserError, match="--source-sigma"):
        HelmholtzTask(HelmholtzConfig(source_sigma=0.6, reference_nodes=41), CPU)


def test_helmholtz_refuses_a_vanishing_reference():
    """exp(−k²σ²/2) underflows for k·σ = 200: relative_mse divided by zero (ZeroDivisionError)."""
    with pytest.raises(UserError, match="vanishes"):
        HelmholtzTask(HelmholtzConfig(k=2000.0, source_sigma=0.1, reference_nodes=41), CPU)


# ---------------------------------------------------------------------------------------------- fwi
SMALL = {"batch_points": 32, "source_points": 4, "reference_nodes": 101, "eval_nodes": 11}


@pytest.mark.parametrize("cylinder", ["0,0,0.1,1", "5,5,0.1,2"])
def test_fwi_refuses_a_true_medium_equal_to_the_background(cylinder):
    """velocity_error divides by ‖v_true − 1‖ over the inner square: it was inf."""
    with pytest.raises(UserError, match="--cylinder"):
        FwiTask(FwiConfig(cylinder=cylinder, **SMALL), CPU)


def test_fwi_reference_resolves_a_slow_cylinder():
    """A velocity-0.3 disc shortens the wavelength: 101² nodes at k 20 are 4.7 per wavelength (refused), and the
    automatic grid accounts for it."""
    with pytest.raises(UserError, match="nodes per wavelength"):
        FwiTask(FwiConfig(cylinder="0,0,0.1,0.3", **SMALL), CPU)
    assert FwiConfig(cylinder="0,0,0.1,0.3").reference_size(0.3) > FwiConfig().reference_size()


def test_fwi_refuses_source_discs_covering_the_evaluation_square():
    with pytest.raises(UserError, match="--source-sigma"):
        FwiTask(FwiConfig(source_sigma=0.6, **SMALL), CPU)


@pytest.mark.parametrize("fields", [
    {"source": "abc", "receivers": np.array([[0.1, 0.3]]), "rec_val": np.ones((1, 1))},
    {"source": {"a": 1.0}, "receivers": np.array([[0.1, 0.3]]), "rec_val": np.ones((1, 1))},
    {"source": np.array([[0.0, -0.3]]), "receivers": np.array([[0.1, 0.3]]),
     "rec_val": np.array([["a"]], dtype=object)},
])
def test_measurements_that_are_not_numbers_are_refused(tmp_path, fields):
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, fields)
    with pytest.raises(UserError, match="numeric arrays"):
        load_measurements(path)


def test_real_receiver_values_are_accepted(tmp_path):
    path = tmp_path / "real.mat"
    scipy.io.savemat(path, {"source": np.array([[0.0, -0.3]]), "receivers": np.array([[0.1, 0.3], [0.2, 0.3]]),
                            "rec_val": np.ones((2, 1))})
    data = load_measurements(path)
    assert data.values.dtype == complex and data.values.shape == (2, 1)


# ---------------------------------------------------------------------------------------------- wave
def test_wave_refuses_an_under_resolved_reference():
    """8² nodes for a Gaussian of σ 0.01: the leapfrog cannot represent it (and the metric divided by zero)."""
    with pytest.raises(UserError, match="--reference-nodes"):
        WaveTask(WaveConfig(source_sigma=0.01, eval_size=8, reference_nodes=8, eval_times=2), CPU)


def test_wave_refuses_an_evaluation_grid_that_misses_the_wave():
    """A σ-0.005 Gaussian between the nodes of an 8² grid: the reference there is 0 and relative_mse divided
    by zero."""
    with pytest.raises(UserError, match="--eval-size"):
        WaveTask(WaveConfig(source_sigma=0.005, t_end=0.001, eval_size=8, eval_times=2), CPU)


def test_an_automatic_reference_grid_too_large_to_solve_is_refused():
    """σ 0.001 would have picked 16,003² wave nodes and k 2000 a 19,101² sparse solve: hours, not an answer."""
    with pytest.raises(UserError, match="--reference-nodes"):
        WaveTask(WaveConfig(source_sigma=0.001, eval_times=2), CPU)
    with pytest.raises(UserError, match="--reference-nodes"):
        HelmholtzConfig(k=2000, velocity="circle").reference_size(0.5)
