"""Figures for run folders, drawn with matplotlib's object API (no pyplot, no global state, no display)."""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np

from .io.atomic import atomic_path

_DRAWING = contextvars.ContextVar("sirenkit_drawing", default=True)
"""False inside `no_figures()`: `save_figure` writes nothing (`--no-figures`)."""


@contextlib.contextmanager
def no_figures(active: bool = True) -> Iterator[None]:
    """Inside (when `active`), figures are not rendered or written: a run with `--no-figures` keeps its numbers,
    reconstructions and meshes but skips the PNG plots, about half a second each on a CPU."""
    token = _DRAWING.set(not active and _DRAWING.get())
    try:
        yield
    finally:
        _DRAWING.reset(token)


F = TypeVar("F", bound=Callable[..., None])


def draws_figure(fn: F) -> F:
    """Mark a function that only draws and saves a figure: inside `no_figures()` it returns at once, skipping
    the drawing too (sampling a mesh for its preview, laying out panels), not just the PNG write."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> None:
        if _DRAWING.get():
            fn(*args, **kwargs)

    return cast(F, wrapped)


def new_figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def save_figure(fig, path: str | Path, dpi: int = 110) -> None:
    """Save a figure atomically as PNG (nothing inside `no_figures()`)."""
    if not _DRAWING.get():
        return
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


@draws_figure
def image_grid(
    panels: Sequence[Sequence[tuple[str, np.ndarray, dict[str, Any]]]], path: str | Path, cell: float = 3.2
) -> None:
    """Rows of (title, image, imshow options) panels. A panel with `colorbar: "units"` gets a colour bar labelled
    with them: every map of a quantity has one (panels sharing a scale may share one), pictures have none."""
    rows, cols = len(panels), max(len(r) for r in panels)
    fig = new_figure(cell * cols, cell * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, row in enumerate(panels):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_axis_off()
            if c >= len(row):
                continue
            title, img, opts = row[c]
            opts = dict(opts)
            colorbar = opts.pop("colorbar", False)
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            if img.ndim == 2:
                opts.setdefault("cmap", "gray")
            shown = ax.imshow(img, **opts)
            ax.set_title(title, fontsize=9)
            if colorbar:
                fig.colorbar(shown, ax=ax, shrink=0.8, label=colorbar if isinstance(colorbar, str) else None)
    save_figure(fig, path)


@draws_figure
def curve_plot(curve: Sequence[dict[str, Any]], metric: str, path: str | Path, log_y: bool = False) -> None:
    """Metric against steps (bottom axis) with training seconds on the top axis."""
    rows = [r for r in curve if r.get("metric") is not None]
    fig = new_figure(5.5, 3.6)
    ax = fig.add_subplot()
    if rows:
        steps = np.array([r["step"] for r in rows], dtype=float)
        values = np.array([r["metric"] for r in rows], dtype=float)
        ax.plot(steps, values, marker="o", markersize=3)
        if log_y:
            ax.set_yscale("log")
        seconds = np.array([r["seconds"] for r in rows], dtype=float)
        if len(rows) > 1 and steps[-1] > 0 and seconds[-1] > 0:
            rate = seconds[-1] / steps[-1]
            top = ax.secondary_xaxis("top", functions=(lambda s: s * rate, lambda t: t / rate))
            top.set_xlabel("training seconds (approx.)")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def robust_limits(*arrays: np.ndarray, percentile: float = 99.5, symmetric: bool = False) -> dict[str, float]:
    """vmin/vmax shared by several arrays, ignoring the most extreme 0.5 % of values."""
    data = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    if symmetric:
        top = float(np.percentile(np.abs(data), percentile)) or 1.0
        return {"vmin": -top, "vmax": top}
    lo, hi = np.percentile(data, [100 - percentile, percentile])
    return {"vmin": float(lo), "vmax": float(hi if hi > lo else lo + 1.0)}
