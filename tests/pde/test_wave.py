"""The wave equation: the leapfrog reference (energy, convergence, free space) and the network-side task
(residual with the time chain rule, sampling, options, a short solve against the reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import sirenkit
from sirenkit.diff import derivatives
from sirenkit.errors import UserError
from sirenkit.models import ModelConfig
from sirenkit.pde.wave import energy, gaussian, grid, leapfrog, naive_energy, solve_wave, speed_squared, time_step
from sirenkit.tasks.base import Batch
from sirenkit.tasks.wave import WaveConfig, WaveTask, network_time, time_derivative, wave_residual

CPU = torch.device("cpu")


def _history(n: int, speed, sigma: float = 0.1, t_end: float = 0.4, cfl: float = 0.5):
    _, x, y, h = grid(n)
    c2 = speed_squared(speed, x, y)
    dt, steps = time_step(h, float(np.sqrt(c2.max())), [t_end], cfl)
    u0 = gaussian(x, y, sigma)
    u0[0, :] = u0[-1, :] = u0[:, 0] = u0[:, -1] = 0.0
    states = [now.copy() for _, now in leapfrog(u0, c2, h, dt, steps)]
    return states, c2, h, dt


@pytest.mark.parametrize("speed", [1.0, lambda x, y: 1.0 + 0.5 * (x > 0.2)], ids=["uniform", "two-speed"])
def test_leapfrog_conserves_its_discrete_energy(speed):
    states, c2, h, dt = _history(101, speed)
    e = np.array([energy(states[i], states[i + 1], c2, h, dt) for i in range(len(states) - 1)])
    assert e[0] > 0
    assert np.abs(e - e[0]).max() / e[0] < 1e-10  # float64; measured 3e-15 over 65 steps (161² nodes)


def test_naive_energy_is_conserved_to_second_order_in_dt():
    """½|v|² + ½|∇u|² with the centred velocity drifts by O(dt²): halving dt quarters its deviation."""
    deviations = []
    for cfl in (0.5, 0.25):
        states, c2, h, dt = _history(101, 1.0, cfl=cfl)
        exact = energy(states[0], states[1], c2, h, dt)
        naive = [naive_energy(states[i - 1], states[i], states[i + 1], c2, h, dt) for i in range(1, len(states) - 1)]
        deviations.append(max(abs(v - exact) for v in naive) / exact)
    assert deviations[0] < 1e-2  # measured 1.9e-3 at 161² nodes, cfl 0.5
    assert 3.0 < deviations[0] / deviations[1] < 5.0


def test_leapfrog_converges_at_second_order():
    times = np.linspace(0.0, 0.4, 5)
    fields = {n: solve_wave(n, times, sigma=0.1)[1] for n in (81, 161, 321)}
    coarse = {n: f[:, :: (n - 1) // 80, :: (n - 1) // 80] for n, f in fields.items()}
    scale = np.mean(coarse[321] ** 2)
    e1 = np.mean((coarse[81] - coarse[161]) ** 2) / scale
    e2 = np.mean((coarse[161] - coarse[321]) ** 2) / scale
    assert e2 < 1e-5  # 8 nodes per σ: far below any network's error
    assert 10.0 < e1 / e2 < 25.0  # MSE falls ~16× per halving of h


def test_dirichlet_box_holds_the_free_space_solution_before_the_front_arrives():
    _, small = solve_wave(161, [0.4], sigma=0.1)
    _, large = solve_wave(321, [0.4], sigma=0.1, extent=2.0)  # same spacing, edge twice as far
    assert np.abs(small[0] - large[0][80:241, 80:241]).max() < 1e-6  # measured 8.6e-9


def test_solution_starts_from_the_gaussian_and_interpolates_between_steps():
    axis, fields = solve_wave(81, [0.0, 0.1, 0.4], sigma=0.1)  # 0.1 falls between steps: interpolated
    x, y = np.meshgrid(axis, axis, indexing="xy")
    np.testing.assert_allclose(fields[0][1:-1, 1:-1], gaussian(x, y, 0.1)[1:-1, 1:-1])
    _, on_steps = solve_wave(81, np.linspace(0.0, 0.1, 5), sigma=0.1)  # evenly spaced: exact steps
    assert np.abs(fields[1] - on_steps[-1]).max() < 1e-3


def test_unstable_or_invalid_settings_are_refused():
    with pytest.raises(ValueError, match="cfl"):
        solve_wave(41, [0.1], cfl=0.9)
    with pytest.raises(ValueError, match="speed"):
        solve_wave(41, [0.1], speed=lambda x, y: 0 * x)


class StandingWave(nn.Module):
    """u = sin(πx)·sin(πy)·cos(√2·π·c·t) of the network's input (τ, x, y), t = T(τ + 1)/2: an exact solution
    of u_tt = c²Δu with u_t(0) = 0, written in physical time so that the task's chain rule is what is tested."""

    def __init__(self, t_end: float, speed: float) -> None:
        super().__init__()
        self.t_end, self.speed = t_end, speed

    def forward(self, x):
        t = self.t_end * (x[:, 0] + 1) / 2
        omega = math.sqrt(2) * math.pi * self.speed
        return (torch.sin(math.pi * x[:, 1]) * torch.sin(math.pi * x[:, 2]) * torch.cos(omega * t)).unsqueeze(-1)


@pytest.mark.parametrize("t_end,speed", [(0.4, 1.0), (0.25, 1.5)])
def test_residual_and_initial_terms_vanish_on_an_exact_solution(t_end, speed):
    n = 500
    cfg = WaveConfig(t_end=t_end, speed=speed, source_sigma=0.05, batch_points=n, eval_size=16, eval_times=2)
    task = WaveTask(cfg, CPU)
    g = torch.Generator().manual_seed(0)
    inside = torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1
    start = torch.cat([-torch.ones(200, 1, dtype=torch.float64),
                       torch.rand(200, 2, generator=g, dtype=torch.float64) * 2 - 1], 1)
    target = (torch.sin(math.pi * start[:, 1]) * torch.sin(math.pi * start[:, 2])).unsqueeze(-1)
    model = StandingWave(t_end, speed)
    terms = task.loss_terms(model, Batch(torch.cat([inside, start]), target))
    scale = (2 * math.pi**2 * speed**2) ** 2  # (u_tt)² at its largest
    assert float(terms["residual"].detach()) < 1e-20 * scale
    assert float(terms["initial"].detach()) < 1e-20 and float(terms["velocity"].detach()) < 1e-20
    # without the chain-rule factor (2/T)² the same field would not solve the equation
    d = derivatives(model, inside, order=2, backend="autograd", per_axis=True)
    assert float(wave_residual(d, 2.0, speed).detach().abs().max()) > 1.0


def test_analytic_and_autograd_residuals_agree_on_a_siren():
    torch.manual_seed(0)
    model = ModelConfig(hidden_features=32, first_omega_0=10.0).build(3, 1).double()
    x = torch.rand(64, 3, dtype=torch.float64) * 2 - 1
    fast = derivatives(model, x, order=2, backend="analytic", per_axis=True)
    slow = derivatives(model, x, order=2, backend="autograd", per_axis=True)
    torch.testing.assert_close(wave_residual(fast, 0.4, 1.0), wave_residual(slow, 0.4, 1.0))
    torch.testing.assert_close(time_derivative(fast, 0.4), time_derivative(slow, 0.4))


def test_batch_samples_the_growing_window_and_the_initial_gaussian():
    cfg = WaveConfig(source_sigma=0.1, batch_points=400, initial_points=100, source_points=50, window_steps=10,
                     eval_size=16, eval_times=2)
    task = WaveTask(cfg, CPU)
    g = torch.Generator().manual_seed(0)
    for step, end in ((0, 0.04), (4, 0.2), (9, 0.4), (50, 0.4)):
        b = task.batch(step, g)
        t = (b.coords[:400, 0] + 1) * cfg.t_end / 2
        assert float(t.max()) <= end + 1e-6 and float(t.max()) > 0.8 * end
    assert torch.all(b.coords[400:, 0] == network_time(0.0, cfg.t_end))
    r2 = (b.coords[400:, 1:] ** 2).sum(-1, keepdim=True)
    torch.testing.assert_close(b.target, torch.exp(-0.5 * r2 / 0.01))
    assert float(r2[100:].max()) <= (3 * 0.1) ** 2 + 1e-6  # the source points lie in the disc of radius 3σ


@pytest.mark.parametrize("options,message", [
    ({"t_end": 0.0}, "--t-end"), ({"speed": -1.0}, "--speed"), ({"source_sigma": 0.0}, "--source-sigma"),
    ({"t_end": 0.8}, "reaches the edge"), ({"initial_points": 0, "source_points": 0}, "not both 0"),
    ({"window_steps": 0}, "--window-steps"), ({"eval_times": 1}, "--eval-times"),
    ({"reference_nodes": 10}, "--reference-nodes"), ({"amplitude": float("nan")}, "finite"),
])
def test_bad_settings_are_refused(options, message):
    with pytest.raises(UserError, match=message):
        WaveTask(WaveConfig(**options), CPU)


@pytest.mark.slow
@pytest.mark.figures
def test_short_cpu_solve_approaches_the_reference(tmp_path):
    """A 3→64×3→1 SIREN, 400 steps on 1024 + 384 points: relative MSE ≤ 0.03 against the leapfrog (measured
    0.0084 in 19 s of training, 1 thread)."""
    result = sirenkit.fit("wave", out=str(tmp_path / "run"), device="cpu", quiet=True, compile="off",
                          source_sigma=0.1, batch_points=1024, initial_points=256, source_points=128,
                          window_steps=200, eval_size=32, eval_times=5, video_frames=5, steps=400, lr=1e-3,
                          schedule="cosine", hidden_features=64, first_omega_0=10.0, checkpoint_every=0)
    m = result.metrics
    assert m["relative_mse"] <= 0.03, m["relative_mse"]
    assert len(m["mse_over_time"]) == 5 and m["mse_over_time"][-1]["t"] == pytest.approx(0.4)
    for name in ("wave.mp4", "wave_frames.png", "error_over_time.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
