"""Coordinate grids in [-1, 1]^d and chunked evaluation of a network over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from .config import DEFAULT_CHUNK


def axis_coords(shape: Sequence[int], keep_aspect: bool = True) -> list[Tensor]:
    """Sample positions along each axis of a grid of `shape`.

    With keep_aspect the longest axis spans [-1, 1] and the others use the same spacing, centred (a square
    grid is exactly linspace(-1, 1) on each axis); without it every axis spans [-1, 1].
    >>> [a.tolist() for a in axis_coords((3, 2), keep_aspect=False)]
    [[-1.0, 0.0, 1.0], [-1.0, 1.0]]
    """
    longest = max(shape)
    out = []
    for n in shape:
        if not keep_aspect or n == longest:
            out.append(torch.linspace(-1.0, 1.0, n))
        else:
            step = 2.0 / max(longest - 1, 1)
            out.append((torch.arange(n, dtype=torch.float32) - (n - 1) / 2.0) * step)
    return out


def grid_coords(shape: Sequence[int], keep_aspect: bool = True, device: torch.device | str = "cpu") -> Tensor:
    """All grid points in row-major order (matching `array.reshape(-1, C)`): (prod(shape), len(shape))."""
    axes = [a.to(device) for a in axis_coords(shape, keep_aspect)]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack(mesh, dim=-1).reshape(-1, len(shape))


@torch.no_grad()
def predict(model: nn.Module, coords: Tensor, chunk: int = DEFAULT_CHUNK) -> Tensor:
    """model(coords) evaluated `chunk` points at a time, so memory stays bounded at any resolution."""
    return map_chunks(model, coords, chunk)


def map_chunks(fn: Callable[[Tensor], Tensor], coords: Tensor, chunk: int) -> Tensor:
    """Apply `fn` to slices of `coords` and concatenate the results along the first axis."""
    if chunk < 1:
        raise ValueError("chunk must be ≥ 1")
    return torch.cat([fn(coords[i : i + chunk]) for i in range(0, coords.shape[0], chunk)], dim=0)
