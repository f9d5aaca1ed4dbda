"""Full-waveform inversion data: receiver measurements of Helmholtz fields and the media behind them.

A measurement set holds S source positions, R receiver positions and the complex field of every source at
every receiver (R, S), the format of the official `fwi_cylinder_5.mat` (keys `source`, `receivers`,
`rec_val`). The medium behind that file is not stored in it. `fit_cylinder` recovers it: among discs of
squared slowness m_in in a background of 1, the one whose finite-difference fields (k 20, the paper's PML,
Gaussian sources of standard deviation 0.01 and amplitude 1 + 1i) best explain the receiver values. For the
official file that is the disc of radius 0.1 at the origin with velocity 2 (m_in = 0.25): relative misfit
0.029 against 0.398 for a uniform medium (docs/pde.md has the search).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..io.files import require_file
from .helmholtz import sample_field, solve_fd_sources

AMPLITUDE = 1 + 1j


@dataclass(frozen=True)
class Cylinder:
    """A disc of velocity `velocity` (background 1) with centre (x, y) and radius `radius`."""

    x: float = 0.0
    y: float = 0.0
    radius: float = 0.1
    velocity: float = 2.0

    def squared_slowness(self, x, y, h: float = 0.0):
        """m = 1/velocity² at (x, y); with h > 0 the edge is smeared over one cell by the covered fraction, so
        that grid solves change smoothly with the disc's parameters."""
        lib = np if isinstance(x, np.ndarray) else torch
        dist = lib.sqrt((x - self.x) ** 2 + (y - self.y) ** 2)
        inside = lib.clip((self.radius - dist) / h + 0.5, 0.0, 1.0) if h > 0 else (dist <= self.radius) * 1.0
        return 1.0 + (1.0 / self.velocity**2 - 1.0) * inside


@dataclass(frozen=True)
class Measurements:
    """Sources (S, 2), receivers (R, 2) and the complex receiver values (R, S)."""

    sources: np.ndarray
    receivers: np.ndarray
    values: np.ndarray
    origin: str


def default_geometry() -> tuple[np.ndarray, np.ndarray]:
    """The official layout: 5 sources on the line y = −0.35 (x from −0.35 to 0.35); 30 receivers, 10 on the
    line y = 0.4 (x from −0.35 to 0.35) and 10 on each of the lines x = ±0.4 (y from −0.25 to 0.4)."""
    sources = np.stack([np.linspace(-0.35, 0.35, 5), np.full(5, -0.35)], 1)
    top = np.stack([np.linspace(-0.35, 0.35, 10), np.full(10, 0.4)], 1)
    side = np.linspace(-0.25, 0.4, 10)
    left, right = np.stack([np.full(10, -0.4), side], 1), np.stack([np.full(10, 0.4), side], 1)
    return sources, np.concatenate([top, left, right])


def simulate(sources: np.ndarray, receivers: np.ndarray, cylinder: Cylinder, k: float = 20.0, nodes: int = 201,
             sigma: float = 0.01, width: float = 0.5, a0: float = 5.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite-difference fields of every source in the cylinder medium: (receiver values (R, S), axis (n,),
    fields (S, n, n))."""
    h = 2.0 / (nodes - 1)
    axis, fields = solve_fd_sources(nodes, k, lambda x, y: cylinder.squared_slowness(x, y, h),
                                    [tuple(s) for s in sources], AMPLITUDE, width, a0, sigma)
    values = np.stack([sample_field(axis, f, receivers) for f in fields], 1)
    return values, axis, fields


def synthetic_measurements(cylinder: Cylinder = Cylinder(), k: float = 20.0, nodes: int = 201,
                           sigma: float = 0.01, pml_width: float = 0.5, pml_a0: float = 5.0) -> Measurements:
    """Receiver values simulated by sirenkit's own solver in the default geometry (the offline default), with the
    PML the inversion itself uses."""
    sources, receivers = default_geometry()
    values, _, _ = simulate(sources, receivers, cylinder, k, nodes, sigma, pml_width, pml_a0)
    return Measurements(sources, receivers, values, f"simulated: {cylinder}, k {k:g}, {nodes}² nodes")


def load_measurements(path: str | Path) -> Measurements:
    """A MATLAB file with `source` (S, 2), `receivers` (R, 2) and `rec_val` (R, S) complex."""
    import scipy.io

    path = require_file(path, "measurement file")
    try:
        data = scipy.io.loadmat(str(path))
    except Exception as exc:  # scipy raises ValueError, TypeError or its own MatReadError for non-MATLAB bytes
        raise UserError(f"measurement file {path} is not a readable MATLAB .mat file ({exc})") from None
    missing = [key for key in ("source", "receivers", "rec_val") if key not in data]
    if missing:
        raise UserError(f"measurement file {path} lacks {', '.join(missing)}; it needs `source` (S × 2), "
                        "`receivers` (R × 2) and `rec_val` (R × S, complex)")
    try:  # text, cell arrays or structs instead of numbers
        sources, receivers = np.asarray(data["source"], float), np.asarray(data["receivers"], float)
        values = np.asarray(data["rec_val"]).astype(complex)
    except (TypeError, ValueError):
        raise UserError(f"measurement file {path}: `source`, `receivers` and `rec_val` must be numeric arrays "
                        "(real coordinates, real or complex values)") from None
    if sources.ndim != 2 or sources.shape[1] != 2 or receivers.ndim != 2 or receivers.shape[1] != 2:
        raise UserError(f"measurement file {path}: `source` and `receivers` must be N × 2 coordinate tables, "
                        f"got {sources.shape} and {receivers.shape}")
    if values.shape != (len(receivers), len(sources)):
        raise UserError(f"measurement file {path}: `rec_val` must be receivers × sources = "
                        f"{len(receivers)} × {len(sources)}, got {' × '.join(map(str, values.shape))}")
    if len(sources) == 0 or len(receivers) == 0:
        raise UserError(f"measurement file {path} has no sources or no receivers")
    if not (np.isfinite(sources).all() and np.isfinite(receivers).all() and np.isfinite(values).all()):
        raise UserError(f"measurement file {path} holds NaN or infinite numbers")
    if max(np.abs(sources).max(), np.abs(receivers).max()) >= 1:
        raise UserError(f"measurement file {path}: sources and receivers must lie inside (−1, 1)²")
    return Measurements(sources, receivers, values, str(path))


def misfit(predicted: np.ndarray, measured: np.ndarray) -> float:
    """Relative L2 distance ‖predicted − measured‖ / ‖measured‖ over all receivers and sources."""
    return float(np.linalg.norm(predicted - measured) / np.linalg.norm(measured))


def fit_cylinder(data: Measurements, k: float = 20.0, nodes: int = 201, sigma: float = 0.01,
                 start: Cylinder | None = None) -> tuple[Cylinder, float, list[tuple[Cylinder, float]]]:
    """The disc medium that best explains `data`: a coarse search over centre height, radius and velocity
    (centre on x = 0 unless `start` says otherwise), then Nelder–Mead on all four parameters.
    Returns (best cylinder, its misfit, every coarse candidate with its misfit)."""
    from scipy.optimize import minimize

    def cost(c: Cylinder) -> float:
        return misfit(simulate(data.sources, data.receivers, c, k, nodes, sigma)[0], data.values)

    tried = []
    if start is None:
        for y in (-0.2, 0.0, 0.2):
            for radius in (0.1, 0.2, 0.3):
                for velocity in (0.5, 0.7, 1.4, 2.0):
                    c = Cylinder(0.0, y, radius, velocity)
                    tried.append((c, cost(c)))
        start = min(tried, key=lambda t: t[1])[0]
    result = minimize(lambda p: cost(Cylinder(*p)) if p[2] > 0 and p[3] > 0 else 10.0,
                      np.array([start.x, start.y, start.radius, start.velocity]), method="Nelder-Mead",
                      options={"xatol": 1e-3, "fatol": 1e-5, "maxfev": 120})
    best = Cylinder(*(float(v) for v in result.x))
    return best, float(result.fun), tried
