"""The derivative engine: value, gradient and Laplacian of a network in one call.

`derivatives(model, x, backend=...)` is the entry point: `"analytic"` propagates closed-form forward-mode
streams (sine and other elementwise-activation MLPs; first-order backward only), `"reverse"` writes out the
backward sweep for the gradient alone (the same networks; half forward mode's products for 3-D inputs),
`"autograd"` uses reverse mode with a double backward (any model; what the official code does), `"auto"` picks
analytic when the model supports it. The tensor-level autograd helpers (`gradient`, `divergence`, `laplacian`,
`jacobian`, `hessian`) work for any model's outputs.
"""

from __future__ import annotations

from .autograd import divergence, gradient, hessian, jacobian, laplacian
from .engine import (
    BACKENDS,
    Backend,
    FusedBackend,
    GradientBackend,
    autograd_derivatives,
    derivatives,
    gradient_backend,
    require_backend,
)
from .forward import AnalyticUnsupported, forward_derivatives, require_forward_mode, supports_forward_mode, unwrap
from .functional import functional_derivatives
from .fused import fused_derivatives, supports_fused
from .reverse import reverse_derivatives
from .shapes import check_coordinates, over_leading_axes
from .types import Derivatives

__all__ = [
    "BACKENDS",
    "Backend",
    "AnalyticUnsupported",
    "Derivatives",
    "FusedBackend",
    "GradientBackend",
    "autograd_derivatives",
    "check_coordinates",
    "derivatives",
    "divergence",
    "forward_derivatives",
    "functional_derivatives",
    "gradient_backend",
    "fused_derivatives",
    "gradient",
    "hessian",
    "jacobian",
    "laplacian",
    "over_leading_axes",
    "require_backend",
    "require_forward_mode",
    "reverse_derivatives",
    "supports_forward_mode",
    "supports_fused",
    "unwrap",
]
