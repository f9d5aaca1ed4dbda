"""Coordinates of any leading shape: the engines work on (N, d); these wrappers take (..., d), flatten the leading
axes, and give every result back with them ((..., m), (..., m, d), (..., m)), as the models themselves do."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from torch import Tensor, nn

from .types import Derivatives

Engine = TypeVar("Engine", bound=Callable[..., Derivatives])


def check_coordinates(model: nn.Module, x: Tensor) -> None:
    """A one-line ValueError for coordinates that no engine can take: not a tensor, no feature axis, an empty
    feature axis, or a feature count other than the model's `in_features` (where it states one)."""
    if not isinstance(x, Tensor):
        raise ValueError(f"coordinates must be a torch.Tensor of shape (..., d), got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(f"coordinates must have shape (..., d) with d ≥ 1, got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"coordinates must be floating point, got {x.dtype}")
    expected = getattr(model, "in_features", None)
    inner = getattr(model, "module", None)  # DistributedDataParallel and similar wrappers
    if expected is None and inner is not None:
        expected = getattr(inner, "in_features", None)
    if isinstance(expected, int) and x.shape[-1] != expected:
        raise ValueError(f"coordinates have {x.shape[-1]} features in their last axis; the model takes {expected}")


def over_leading_axes(engine: Engine) -> Engine:
    """`engine(model, x (N, d), ...)` -> the same engine for x (..., d): one flattened call, results reshaped."""

    @functools.wraps(engine)
    def wrapped(model: nn.Module, x: Tensor, *args: Any, **kwargs: Any) -> Derivatives:
        check_coordinates(model, x)
        if x.dim() == 2:
            return engine(model, x, *args, **kwargs)
        lead = x.shape[:-1]
        flat = engine(model, x.reshape(-1, x.shape[-1]), *args, **kwargs)
        def back(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.reshape(*lead, *t.shape[1:])

        return Derivatives(flat.value.reshape(*lead, *flat.value.shape[1:]),
                           flat.gradient.reshape(*lead, *flat.gradient.shape[1:]),
                           back(flat.laplacian), back(flat.hessian_diagonal))

    return wrapped  # type: ignore[return-value]
