"""Closed-form forward-mode derivatives of coordinate MLPs (SIREN and any smooth elementwise activation).

Through a layer u = W h + b, h' = a(u), the tangents t_k = ∂h/∂x_k and the Laplacian sum S = Σ_k ∂²h/∂x_k²
propagate as  t'_k = a'(u) ⊙ W t_k  and  S' = a''(u) ⊙ Σ_k (W t_k)² + a'(u) ⊙ W S.
For a sine layer a'(u) = ω0 cos(ω0 u) and a''(u) = −ω0² sin(ω0 u): the derivative of a SIREN is a SIREN.
The value, the d tangents and S are stacked into one (d + 2, N, F) tensor, so each layer is one matmul,
and the parameters' gradients need only a first-order backward (no double backward, no create_graph).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from ..errors import UserError
from ..models.activations import Activation
from ..models.encodings import Encoding
from ..models.mlp import FieldMLP
from ..models.precision import dense, full_precision, upcast
from .shapes import over_leading_axes
from .types import Derivatives


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module behind torch.compile / DistributedDataParallel wrappers."""
    while True:
        inner = getattr(model, "_orig_mod", None) or getattr(model, "module", None)
        if inner is None or not isinstance(inner, nn.Module):
            return model
        model = inner


class AnalyticUnsupported(UserError, TypeError):
    """The analytic (forward-mode) backend was asked for a model it cannot differentiate (e.g. wire, grid).

    A UserError, so the CLI reports it in one line, and a TypeError, as the model's type is what is wrong."""


def _unsupported_message(net: nn.Module) -> str:
    name = getattr(net, "representation", None)
    who = f"--activation {name}" if name else f"the network {type(net).__name__}"
    return (f"analytic derivatives need an MLP with elementwise activations, which {who} is not: "
            "use --derivatives autograd (or auto)")


def require_forward_mode(model: nn.Module) -> None:
    """Raise `AnalyticUnsupported` (one line for the CLI) unless `forward_derivatives` can handle the model;
    lets a caller refuse `--derivatives analytic` before anything is written."""
    net = unwrap(model)
    if not supports_forward_mode(net):
        raise AnalyticUnsupported(_unsupported_message(net))


def supports_forward_mode(model: nn.Module) -> bool:
    """True when `forward_derivatives` can handle the model (a FieldMLP whose parts know their derivatives)."""
    model = unwrap(model)
    if not isinstance(model, FieldMLP) or not isinstance(model.encoding, Encoding):
        return False
    # a FieldMLP's activations are `Activation`s (its constructor's type); ModuleList yields plain Modules
    return all(type(cast(Activation, a)).with_derivatives is not Activation.with_derivatives
               for a in model.activations)


@over_leading_axes
def forward_derivatives(model: nn.Module, x: Tensor, order: int = 2, per_axis: bool = False) -> Derivatives:
    """Value (N, m), gradient (N, m, d) and Laplacian (N, m) of `model` at x (N, d) in one forward pass.

    order=1 skips the Laplacian stream (returned as None). per_axis=True carries one second-derivative
    stream per input axis instead of their sum (2d + 1 streams instead of d + 2) and also returns the
    Hessian's diagonal (N, m, d), for operators that weight the axes differently (PML, wave equation).
    Differentiable w.r.t. the parameters with a plain first-order backward, and traceable by torch.compile.
    """
    net = unwrap(model)
    require_forward_mode(net)
    if order not in (1, 2):
        raise ValueError("order must be 1 or 2")
    assert isinstance(net, FieldMLP)
    n, d = x.shape
    per_axis = per_axis and order == 2
    # Under bf16 autocast (models/precision.py) the encoding and first layer stay fp32 and every layer's streams
    # are upcast before the activation's derivatives are applied, as in FieldMLP.forward.
    with full_precision(x.device.type):
        h, t, s = net.encoding.streams(x, per_axis=per_axis)
        if order == 1:
            s = None
        elif s is not None and not per_axis:
            s = s.unsqueeze(0)  # second-derivative streams always carry a leading stream axis: (1 or d, N, F)
        layer0 = cast(nn.Linear, net.layers[0])  # a FieldMLP's layers are nn.Linear (built in its __init__)
        first = _linear_streams(layer0.weight, layer0.bias, h, t, s, plain=True)
    for i, (linear, act) in enumerate(zip(net.layers, net.activations)):
        linear, act = cast(nn.Linear, linear), cast(Activation, act)  # FieldMLP's parts, see above
        u, ut, us = first if i == 0 else _linear_streams(linear.weight, linear.bias, h, t, s)
        a, a1, a2 = act.with_derivatives(u)
        h = a
        t = a1 * ut  # (d, N, F)
        if order == 2:
            parts = []
            if a2 is not None:
                parts.append(a2 * (ut * ut if per_axis else (ut * ut).sum(0, keepdim=True)))
            if us is not None:
                parts.append(a1 * us)
            s = sum(parts[1:], parts[0]) if parts else None
    value, gt, sec = _linear_streams(net.head.weight, net.head.bias, h, t, s)
    grad = gt.expand(d, n, gt.shape[-1]).permute(1, 2, 0)
    if order == 1:
        return Derivatives(value, grad, None)
    if sec is None:
        sec = torch.zeros((d if per_axis else 1, *value.shape), dtype=value.dtype, device=value.device)
    if per_axis:
        diagonal = sec.expand(d, *value.shape).permute(1, 2, 0)
        return Derivatives(value, grad, diagonal.sum(-1), diagonal)
    return Derivatives(value, grad, sec[0])


def _linear_streams(
    weight: Tensor, bias: Tensor | None, h: Tensor, t: Tensor, s: Tensor | None, plain: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Apply W (and b to the value only) to the value, tangent and second-derivative streams (`plain`: as an
    ordinary linear map even under `--precision bf16-backward`, as for the first layer).

    s holds q second-derivative streams (q, N, F): 1 (the Laplacian sum) or d (per axis). When the tangents
    are per-point, all streams go through one matmul on the stacked (1 + d + q, N, F) tensor; when they are
    the same for every point (first layer, shape (d, 1, F)) they stay small.
    """
    linear = nn.functional.linear if plain else dense
    d = t.shape[0]
    if t.shape[1] == h.shape[0] and h.shape[0] > 1 and (s is None or s.shape[1] == h.shape[0]):
        parts = [h.unsqueeze(0), t] + ([s] if s is not None else [])
        out = upcast(linear(torch.cat(parts, dim=0), weight))
        u = out[0] if bias is None else out[0] + bias
        return u, out[1 : 1 + d], (out[1 + d :] if s is not None else None)
    u = upcast(linear(h, weight, bias))
    ut = upcast(linear(t, weight))
    us = upcast(linear(s, weight)) if s is not None else None
    return u, ut, us
