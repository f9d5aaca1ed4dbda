"""The dispatcher of the derivative engine (`derivatives`), the autograd reference and the backend choice; the
package root re-exports them."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .autograd import jacobian
from .forward import forward_derivatives, require_forward_mode, supports_forward_mode, unwrap
from .fused import fused_derivatives, supports_fused
from .reverse import reverse_derivatives
from .shapes import over_leading_axes
from .types import Derivatives

Backend = Literal["auto", "analytic", "autograd"]
FusedBackend = Literal["auto", "analytic", "autograd", "fused"]
"""The backends of tasks whose losses need at most the Laplacian sum, which the fused SIREN path also gives."""
GradientBackend = Literal["auto", "analytic", "autograd", "fused", "reverse"]
"""The backends of tasks whose losses need only the gradient, which the closed-form reverse sweep also gives."""
BACKENDS: tuple[str, ...] = ("auto", "analytic", "autograd", "fused", "reverse")


def require_backend(model: nn.Module, backend: str) -> None:
    """Refuse, with one line, a backend the model cannot use (checked before a run writes anything)."""
    if backend in ("analytic", "reverse"):
        require_forward_mode(model)
    elif backend == "fused" and not supports_fused(model):
        from ..errors import UserError

        raise UserError(f"--derivatives fused needs a SIREN (--activation sine); "
                        f"this network is {type(unwrap(model)).__name__} with other activations or an encoding: "
                        "use --derivatives analytic or autograd")


def gradient_backend(backend: GradientBackend, model: nn.Module) -> GradientBackend:
    """The backend a loss on values and gradients uses: `auto` is the closed-form reverse sweep where the network
    allows it (compiles whole, half forward mode's products for 3-D inputs) and autograd otherwise."""
    if backend != "auto":
        return backend
    return "reverse" if supports_forward_mode(model) else "autograd"


@over_leading_axes
def autograd_derivatives(model: nn.Module, x: Tensor, order: int = 2, create_graph: bool = True,
                         per_axis: bool = False) -> Derivatives:
    """Value, gradient (N, m, d) and Laplacian (N, m) by reverse-mode autograd (double backward for order 2);
    per_axis=True also returns the Hessian's diagonal (N, m, d). x may also be (..., d): results (..., m) etc."""
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        y = model(x)
        jac = jacobian(y, x, create_graph=create_graph or order == 2)
        lap = diagonal = None
        if order == 2:
            # retain_graph: the d·m backward passes share the Jacobian's graph, also when create_graph=False
            diagonal = torch.stack([
                torch.stack([torch.autograd.grad(jac[:, i, k].sum(), x, create_graph=create_graph,
                                                 retain_graph=True)[0][:, k]
                             for k in range(x.shape[-1])], dim=-1)
                for i in range(y.shape[-1])], dim=1)  # (N, m, d)
            lap = diagonal.sum(-1)
    if not create_graph:
        y, jac = y.detach(), jac.detach()
        lap = lap.detach() if lap is not None else None
        diagonal = diagonal.detach() if diagonal is not None else None
    return Derivatives(y, jac, lap, diagonal if per_axis else None)


@over_leading_axes
def derivatives(
    model: nn.Module, x: Tensor, order: int = 2, backend: GradientBackend = "auto", create_graph: bool = True,
    per_axis: bool = False,
) -> Derivatives:
    """Value and derivatives of `model` at x (N, d) in [-1, 1]^d, or at x (..., d): every result then keeps the
    leading axes ((..., m), (..., m, d), (..., m)).

    backend: "analytic" (forward mode, sine/elementwise MLPs; any other model raises `AnalyticUnsupported`, a
    UserError), "autograd" (any model), "auto", "fused" (SIRENs: forward mode with one autograd node per layer that
    keeps only its input — the least memory; Triton kernels on CUDA; no per-axis second derivatives), "reverse"
    (order 1 only: value and gradient by the closed-form backward sweep, same networks as analytic).
    create_graph applies to autograd only (the analytic path is always differentiable). per_axis=True (with
    order 2) adds `hessian_diagonal` (N, m, d): ∂²/∂x_k² of every output along every axis.
    Example (closed form): for Φ(x) = sin(ω0 x) the gradient is ω0 cos(ω0 x) and the Laplacian −ω0² Φ.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "fused":
        if per_axis:
            raise ValueError("the fused path gives the Laplacian sum only; per-axis second derivatives need "
                             "backend='analytic' or 'autograd'")
        require_backend(model, backend)
        return fused_derivatives(model, x, order=order)
    if backend == "reverse":
        if order != 1 or per_axis:
            raise ValueError("backend='reverse' gives the gradient only: use order=1 (and no per_axis)")
        return reverse_derivatives(model, x)
    if backend == "analytic" or (backend == "auto" and supports_forward_mode(model)):
        return forward_derivatives(model, x, order=order, per_axis=per_axis)
    return autograd_derivatives(model, x, order=order, create_graph=create_graph, per_axis=per_axis)
