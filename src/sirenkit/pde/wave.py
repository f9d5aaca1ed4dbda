"""Wave-equation reference: a leapfrog finite-difference time stepper and its conserved energy.

Equation, on the square [−L, L]² (L = `extent`, 1 by default) with u = 0 on its edge:
    u_tt = c(x, y)²·(u_xx + u_yy),   u(0) = u0,   u_t(0) = 0,
with u0 = a·exp(−r²/(2σ²)) a Gaussian of standard deviation σ and peak a at the source. The scheme is the
second-order leapfrog on an n × n node grid (spacing h, 5-point Laplacian Δ_h):
    uⁿ⁺¹ = 2uⁿ − uⁿ⁻¹ + (c·dt)²·Δ_h uⁿ,   started by the Taylor half-step u¹ = u⁰ + ½(c·dt)²·Δ_h u⁰
(which is the same update with u⁻¹ = u¹, i.e. zero initial velocity). It is stable for c_max·dt ≤ h/√2; the
default time step is 0.5·h/c_max.

Energy. With m = 1/c² and ⟨∇a, ∇b⟩ = −Σ a·Δ_h b·h² (summation by parts, u = 0 on the edge), the leapfrog
conserves exactly, up to round-off,
    E^{n+½} = ½ Σ m·((uⁿ⁺¹ − uⁿ)/dt)²·h² + ½ ⟨∇uⁿ⁺¹, ∇uⁿ⟩
(for a uniform c this is 1/c² times ½‖(uⁿ⁺¹−uⁿ)/dt‖² + ½c²⟨∇uⁿ⁺¹, ∇uⁿ⟩); the naive energy with the centred
velocity (uⁿ⁺¹ − uⁿ⁻¹)/(2dt) and |∇uⁿ|² differs from it by O(dt²).

Free space. Waves travel at speed c, so until the front reaches the edge the Dirichlet box holds the
free-space solution: for the defaults (T ≤ 0.4, σ ≤ 0.1, source at the origin, c = 1) the front is at
r ≈ T + 4σ ≤ 0.8 < 1, where the Gaussian's tail is below e⁻⁸ of its peak — checked by the tests against a
box twice as large.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

Speed = float | Callable[[np.ndarray, np.ndarray], np.ndarray]


def gaussian(x: np.ndarray, y: np.ndarray, sigma: float, amplitude: float = 1.0,
             at: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """a·exp(−|p − at|²/(2σ²)): the initial displacement (σ a standard deviation, peak a).
    >>> float(gaussian(np.array(0.0), np.array(0.0), 0.1, 2.0))
    2.0
    """
    return amplitude * np.exp(-0.5 * ((x - at[0]) ** 2 + (y - at[1]) ** 2) / sigma**2)


def laplacian(u: np.ndarray, h: float) -> np.ndarray:
    """5-point Laplacian of the interior of u (n, n), zero on the edge nodes (u = 0 there)."""
    out = np.zeros_like(u)
    out[1:-1, 1:-1] = (u[2:, 1:-1] + u[:-2, 1:-1] + u[1:-1, 2:] + u[1:-1, :-2] - 4.0 * u[1:-1, 1:-1]) / h**2
    return out


def grid(n: int, extent: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(axis (n,), x (n, n), y (n, n), h) of the node grid over [−extent, extent]², indexed [row = y, column = x]."""
    axis = np.linspace(-extent, extent, n)
    x, y = np.meshgrid(axis, axis, indexing="xy")
    return axis, x, y, float(axis[1] - axis[0])


def speed_squared(speed: Speed, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """c² at the nodes, for a constant or a callable c(x, y)."""
    c = speed(x, y) if callable(speed) else np.full_like(x, float(speed))
    c = np.asarray(c, dtype=np.float64)
    if c.shape != x.shape or not np.all(np.isfinite(c)) or np.any(c <= 0):
        raise ValueError("the wave speed must be finite and positive at every node")
    return c * c


def time_step(h: float, c_max: float, times: Sequence[float] | np.ndarray, cfl: float = 0.5) -> tuple[float, int]:
    """(dt, steps to the last time) with dt ≤ cfl·h/c_max; for evenly spaced times from 0 the steps are a
    multiple of their count, so that every requested time falls exactly on a step."""
    if not 0 < cfl <= 1 / math.sqrt(2):
        raise ValueError(f"cfl must be in (0, 1/√2] for a stable leapfrog, got {cfl}")
    t = np.asarray(times, dtype=np.float64)
    t_end = float(t.max())
    if t_end <= 0:
        return cfl * h / c_max, 0
    steps = math.ceil(t_end * c_max / (cfl * h))
    intervals = len(t) - 1
    if intervals >= 1 and np.allclose(t, np.linspace(0.0, t_end, len(t))):
        steps = intervals * math.ceil(steps / intervals)
    return t_end / steps, steps


def leapfrog(u0: np.ndarray, c2: np.ndarray, h: float, dt: float, steps: int):
    """Yield (uⁿ⁻¹, uⁿ) for n = 0 … steps, starting from u0 at rest (u⁻¹ = u¹, the Taylor half-step)."""
    k = c2 * dt * dt
    now = u0.copy()
    nxt = now + 0.5 * k * laplacian(now, h)
    prev = nxt.copy()  # zero initial velocity: the time-symmetric start
    yield prev, now
    for _ in range(steps):
        prev, now = now, nxt
        nxt = 2.0 * now - prev + k * laplacian(now, h)
        yield prev, now


def solve_wave(n: int, times: Sequence[float] | np.ndarray, sigma: float = 0.1, amplitude: float = 1.0,
               speed: Speed = 1.0, at: tuple[float, float] = (0.0, 0.0), extent: float = 1.0,
               cfl: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """u at `times` (≥ 0) from a Gaussian at rest: (axis (n,), fields (len(times), n, n) [row = y, column = x]).

    Requested times between two steps are interpolated linearly (second order, like the scheme); evenly spaced
    times from 0 fall exactly on steps (see `time_step`).
    """
    if n < 5:
        raise ValueError("n must be ≥ 5")
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or len(t) == 0 or np.any(t < 0):
        raise ValueError("times must be a non-empty list of values ≥ 0")
    axis, x, y, h = grid(n, extent)
    c2 = speed_squared(speed, x, y)
    u0 = gaussian(x, y, sigma, amplitude, at)
    u0[0, :] = u0[-1, :] = u0[:, 0] = u0[:, -1] = 0.0
    dt, steps = time_step(h, float(np.sqrt(c2.max())), t, cfl)
    out = np.empty((len(t), n, n))
    position = t / dt
    previous = None
    for step, (_, now) in enumerate(leapfrog(u0, c2, h, dt, steps)):
        for i in np.nonzero(np.abs(position - step) < 1e-9)[0]:
            out[i] = now
        if previous is not None:
            between = np.nonzero((position > step - 1 + 1e-9) & (position < step - 1e-9))[0]
            for i in between:
                w = position[i] - (step - 1)
                out[i] = (1.0 - w) * previous + w * now
        previous = now
    return axis, out


def energy(previous: np.ndarray, current: np.ndarray, c2: np.ndarray, h: float, dt: float) -> float:
    """The leapfrog's conserved energy E^{n+½} from two consecutive steps (uⁿ, uⁿ⁺¹)."""
    velocity = (current - previous) / dt
    kinetic = 0.5 * float(np.sum(velocity**2 / c2)) * h * h
    potential = -0.5 * float(np.sum(current * laplacian(previous, h))) * h * h
    return kinetic + potential


def naive_energy(previous: np.ndarray, current: np.ndarray, following: np.ndarray, c2: np.ndarray,
                 h: float, dt: float) -> float:
    """½Σ m·v² + ½|∇_h uⁿ|² at step n, with the centred velocity v = (uⁿ⁺¹ − uⁿ⁻¹)/(2dt): within O(dt²) of
    the conserved energy."""
    velocity = (following - previous) / (2.0 * dt)
    kinetic = 0.5 * float(np.sum(velocity**2 / c2)) * h * h
    potential = -0.5 * float(np.sum(current * laplacian(current, h))) * h * h
    return kinetic + potential
