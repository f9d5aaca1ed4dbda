"""The named result of a derivative computation."""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class Derivatives(NamedTuple):
    """value (N, m); gradient (N, m, d); laplacian (N, m), or None when not asked for; hessian_diagonal
    (N, m, d): the second derivatives along each axis, only when asked for (`per_axis=True`)."""

    value: Tensor
    gradient: Tensor
    laplacian: Tensor | None
    hessian_diagonal: Tensor | None = None
