"""Helmholtz references: the analytic point-source field and a finite-difference solve with the paper's PML.

Equation (time convention e^{+iωt}, outgoing waves ∝ e^{−ikr}), on [−1, 1]² with a perfectly matched layer of
width `width` along every side:
    ∂x(A ∂x u) + ∂y(B ∂y u) + C·k²·m(x, y)·u = f,
    e_x = 1 − i·s_x/k,  s_x = k·a0·(d_x/width)²  (d_x: depth into the layer along x; likewise e_y),
    A = e_y/e_x,  B = e_x/e_y,  C = e_x·e_y,
with m the squared slowness (1/velocity²) and f = s·δ(x − x0) a point source of complex amplitude s. Outside
the layer A = B = C = 1 and this is Δu + k²m·u = f; in a uniform medium (m = 1) the outgoing solution is
u = s·(i/4)·H0⁽²⁾(k·|x − x0|).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Slowness = Callable[[np.ndarray, np.ndarray], np.ndarray]


def analytic_field(x: np.ndarray, y: np.ndarray, k: float, source: tuple[float, float] = (0.0, 0.0),
                   amplitude: complex = 1 + 1j) -> np.ndarray:
    """s·(i/4)·H0⁽²⁾(k r): the outgoing field of a point source in a uniform medium (singular at r = 0)."""
    from scipy.special import hankel2

    r = np.hypot(x - source[0], y - source[1])
    return amplitude * 0.25j * hankel2(0, k * np.maximum(r, 1e-12))


def stretch(coord: np.ndarray, k: float, width: float = 0.5, a0: float = 5.0) -> np.ndarray:
    """e = 1 − i·s/k with s = k·a0·(depth/width)² inside the layer (depth measured from its inner edge)."""
    depth = np.clip(np.abs(coord) - (1.0 - width), 0.0, None)
    return 1.0 - 1j * a0 * (depth / width) ** 2


def solve_fd(n: int, k: float, slowness: Slowness | None = None, source: tuple[float, float] = (0.0, 0.0),
             amplitude: complex = 1 + 1j, width: float = 0.5, a0: float = 5.0,
             sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Second-order finite differences on an n × n node grid over [−1, 1]² (u = 0 on the outer edge).

    Returns (axis (n,), field (n, n) indexed [row = y, column = x]). A point source is spread bilinearly over
    the four nodes around it (weights / h²); with `sigma` ≥ the node spacing the source is the normalised
    Gaussian of that width instead, sampled at the nodes and scaled so that its discrete integral is
    `amplitude`. Aim for ≥ 30 nodes per wavelength (n ≳ 10·k): the dispersion error grows as
    (k·h)²·k·distance.
    """
    axis, fields = solve_fd_sources(n, k, slowness, [source], amplitude, width, a0, sigma)
    return axis, fields[0]


def solve_fd_sources(n: int, k: float, slowness: Slowness | None, sources: Sequence[tuple[float, float]],
                     amplitude: complex = 1 + 1j, width: float = 0.5, a0: float = 5.0,
                     sigma: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`solve_fd` for several sources in the same medium: one sparse LU factorisation, one solve per source.
    Returns (axis (n,), fields (S, n, n))."""
    from scipy.sparse.linalg import splu

    axis = np.linspace(-1.0, 1.0, n)
    xs, ys = np.meshgrid(axis[1:-1], axis[1:-1], indexing="xy")
    lu = splu(_operator_matrix(axis, k, slowness, width, a0).tocsc())
    fields = np.zeros((len(sources), n, n), dtype=complex)
    for i, at in enumerate(sources):
        rhs = _source_rhs(axis, xs, ys, at, amplitude, sigma)
        fields[i, 1:-1, 1:-1] = lu.solve(rhs.ravel()).reshape(xs.shape)
    return axis, fields


def _operator_matrix(axis: np.ndarray, k: float, slowness: Slowness | None, width: float, a0: float):
    """The 5-point PML operator on the inner nodes, as a sparse (n − 2)² square matrix."""
    import scipy.sparse as sp

    h, inner = axis[1] - axis[0], len(axis) - 2
    idx = np.arange(inner * inner).reshape(inner, inner)  # [row j (y), column i (x)]
    xs, ys = np.meshgrid(axis[1:-1], axis[1:-1], indexing="xy")
    half = h / 2

    def coeff_a(x, y):
        return stretch(y, k, width, a0) / stretch(x, k, width, a0)

    def coeff_b(x, y):
        return stretch(x, k, width, a0) / stretch(y, k, width, a0)

    m = np.ones_like(xs) if slowness is None else slowness(xs, ys)
    c = stretch(xs, k, width, a0) * stretch(ys, k, width, a0) * k**2 * m
    a_e, a_w = coeff_a(xs + half, ys), coeff_a(xs - half, ys)
    b_n, b_s = coeff_b(xs, ys + half), coeff_b(xs, ys - half)
    diag = (c - (a_e + a_w + b_n + b_s) / h**2).ravel()
    rows, cols, vals = [idx.ravel()], [idx.ravel()], [diag]
    jj, ii = np.meshgrid(np.arange(inner), np.arange(inner), indexing="ij")
    for coef, di, dj in ((a_e, 1, 0), (a_w, -1, 0), (b_n, 0, 1), (b_s, 0, -1)):
        tj, ti = jj + dj, ii + di
        ok = (tj >= 0) & (tj < inner) & (ti >= 0) & (ti < inner)
        rows.append(idx[ok])
        cols.append(idx[tj[ok], ti[ok]])
        vals.append((coef / h**2)[ok])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(inner * inner, inner * inner))


def _source_rhs(axis: np.ndarray, xs: np.ndarray, ys: np.ndarray, at: tuple[float, float], amplitude: complex,
                sigma: float | None) -> np.ndarray:
    """The right-hand side on the inner nodes: a sampled Gaussian of integral `amplitude` when sigma ≥ h,
    else the point source spread bilinearly over its four nodes."""
    h, inner = axis[1] - axis[0], len(axis) - 2
    rhs = np.zeros((inner, inner), dtype=complex)
    if sigma is not None and sigma >= h:
        g = np.exp(-0.5 * ((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / sigma**2)
        return rhs + amplitude * g / (g.sum() * h**2)
    fx, fy = (at[0] + 1.0) / h - 1.0, (at[1] + 1.0) / h - 1.0  # position in inner-node units
    i0, j0 = int(np.floor(fx)), int(np.floor(fy))
    for di in (0, 1):
        for dj in (0, 1):
            w = (1 - abs(fx - (i0 + di))) * (1 - abs(fy - (j0 + dj)))
            if 0 <= i0 + di < inner and 0 <= j0 + dj < inner and w > 0:
                rhs[j0 + dj, i0 + di] += amplitude * w / h**2
    return rhs


def sample_field(axis: np.ndarray, field: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a grid field (n, n) [row = y, column = x] at points (P, 2) → (P,)."""
    from scipy.interpolate import RegularGridInterpolator

    re = RegularGridInterpolator((axis, axis), field.real.T)(points)
    im = RegularGridInterpolator((axis, axis), field.imag.T)(points)
    return re + 1j * im
