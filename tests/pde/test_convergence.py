"""Headline PDE results as tests that can fail (issue 21): the Helmholtz solve converges to the analytic reference
and tanh does not; the inversion recovers a cylinder's velocity.

Both are short CPU runs at small settings (1 thread, eager, seed 0) with bounds measured over seeds 0, 1, 2 (the
values are in the docstrings; the settings and the sweep that chose them are in docs/pde.md). Each takes about
30 s of CPU time on one idle core, several times that on a loaded machine; `-m "not slow"` skips them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sirenkit

# Helmholtz at k 5 (PML a0 20: k·a0 = 100, the paper's attenuation), a wide source (σ 0.08) and a small network
HELMHOLTZ = {"k": 5.0, "pml_a0": 20.0, "source_sigma": 0.08, "batch_points": 512, "source_points": 128,
             "source_radius": 6.0, "hidden_features": 64, "first_omega_0": 5.0, "steps": 750, "lr": 3e-4,
             "schedule": "cosine", "eval_every": 750, "compile": "off", "seed": 0}
HELMHOLTZ_SINE_BOUND = 0.2  # measured 0.134, 0.122, 0.127 (seeds 0, 1, 2; at 1,000 steps 0.117, 0.091, 0.097)
HELMHOLTZ_TANH_BOUND = 0.7  # measured 1.004, 0.986 (seeds 0, 1): tanh does not get off the ground

# Inversion: a large, moderate-contrast disc (radius 0.25, velocity 1.5) at low k, measurements simulated by
# sirenkit's finite-difference solver in the official layout, training sources as wide as the data's (no boost)
CYLINDER = (0.0, 0.0, 0.25, 1.5)
FWI = {"cylinder": ",".join(f"{v:g}" for v in CYLINDER), "k": 5.0, "pml_a0": 20.0, "source_sigma": 0.08,
       "data_sigma": 0.08, "batch_points": 512, "source_points": 32, "source_radius": 6.0, "hidden_features": 64,
       "first_omega_0": 5.0, "slowness_box": 0.0, "source_mute": 0.15, "slowness_scale": 1.0, "data_weight": 1000.0,
       "pretrain_steps": 300, "steps": 2500, "lr": 3e-4, "schedule": "cosine", "eval_every": 2500,
       "eval_nodes": 101, "compile": "off", "seed": 0}
FWI_DISC_BOUND = 0.2  # |mean velocity inside the disc − 1.5|: measured 1.443, 1.442, 1.370 (seeds 0, 1, 2)
FWI_ERROR_BOUND = 0.95  # velocity_error (1: no better than the background): measured 0.686, 0.779, 0.663


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow
def test_helmholtz_converges_to_the_reference_and_tanh_does_not(tmp_path, one_thread):
    """SIREN (2→64×3→2, first ω0 5) on the PML Helmholtz equation, k 5, σ 0.08, 512 + 128 points per step, lr 3e-4
    cosine, 750 steps: relative_mse against the analytic 0.25i·H0⁽²⁾(kr) (scaled for the Gaussian) ends below
    0.2 (measured 0.134, 0.122, 0.127 for seeds 0, 1, 2; about 7 s of CPU each; 600 steps left seed 2 at 0.167,
    too near the bound); the same setting with tanh stays above 0.7 (measured 1.004 and 0.986 for seeds 0, 1: its
    field stays near zero)."""
    sine = sirenkit.fit("helmholtz", out=str(tmp_path / "sine"), device="cpu", quiet=True, **HELMHOLTZ)
    tanh = sirenkit.fit("helmholtz", out=str(tmp_path / "tanh"), device="cpu", quiet=True, activation="tanh",
                        **HELMHOLTZ)
    assert sine.metrics["steps"] == tanh.metrics["steps"] == HELMHOLTZ["steps"]
    assert sine.metrics["relative_mse"] < HELMHOLTZ_SINE_BOUND, sine.metrics
    assert tanh.metrics["relative_mse"] > HELMHOLTZ_TANH_BOUND, tanh.metrics


def disc_mean(velocity: np.ndarray, cylinder: tuple[float, float, float, float], inner: float = 0.5) -> float:
    """Mean of a velocity map on the evaluation grid (n × n nodes over |x|, |y| ≤ inner) inside the disc."""
    ax = np.linspace(-inner, inner, velocity.shape[0])
    gx, gy = np.meshgrid(ax, ax, indexing="xy")
    inside = np.hypot(gx - cylinder[0], gy - cylinder[1]) <= cylinder[2]
    return float(velocity[inside].mean())


@pytest.mark.slow
def test_inversion_recovers_the_cylinder_velocity(tmp_path, one_thread):
    """Simulated measurements (5 sources, 30 receivers, the official layout) of a disc of radius 0.25 and velocity
    1.5 at k 5, σ 0.08: 300 pretraining steps then inversion, 2,500 steps in all, 2→64×3→11, data weight 1000.
    The mean recovered velocity inside the disc lies within 0.2 of 1.5 (measured 1.443, 1.442, 1.370 for seeds
    0, 1, 2; centre 1.59, 1.67, 1.52) and velocity_error is below 0.95 (measured 0.686, 0.779, 0.663; about 31 s
    of CPU each). With the default data weight 60 the data misfit stalls near 0.2 (the medium's own signal at the
    receivers is 0.32) and the disc comes out at 1.15 (seed 0, 1,500 steps): docs/pde.md."""
    result = sirenkit.fit("fwi", out=str(tmp_path / "run"), device="cpu", quiet=True, **FWI)
    velocity = np.load(tmp_path / "run" / "velocity.npy")
    assert velocity.shape == (FWI["eval_nodes"], FWI["eval_nodes"])
    inside = disc_mean(velocity, CYLINDER)
    assert abs(inside - CYLINDER[3]) < FWI_DISC_BOUND, (inside, result.metrics)
    assert result.metrics["velocity_error"] < FWI_ERROR_BOUND, result.metrics
