"""Closed-form reverse mode: value and input gradient of a coordinate MLP, written out as ordinary tensor ops.

The forward pass keeps each layer's slope a'(u_l); the gradient of output j is then one backward sweep
g_L = W_head[j],  g_{l} = (g_{l+1} ⊙ a'(u_l)) W_l,  ∇_x Φ_j = g_0 · ∂enc/∂x.
That is one extra (N × F) × (F × F) product per layer for each output, half the products of forward mode for a
3-D input (which carries 1 + 3 streams). Unlike `torch.autograd.grad(create_graph=True)` the sweep is plain
differentiable code: the parameters' gradients need only a first-order backward, so torch.compile can fuse the
whole loss. Used for first-order losses (SDF normals and eikonal term, Poisson from gradients).
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from ..models.activations import Activation
from ..models.mlp import FieldMLP
from ..models.precision import dense, full_precision, upcast
from .forward import require_forward_mode, unwrap
from .shapes import over_leading_axes
from .types import Derivatives


@over_leading_axes
def reverse_derivatives(model: nn.Module, x: Tensor) -> Derivatives:
    """Value (N, m) and gradient (N, m, d) of `model` at x (N, d) by the closed-form backward sweep.

    Supports the same networks as forward mode (coordinate MLPs whose activations and encoding know their
    derivatives); the Laplacian is None. Under bf16 autocast the encoding and first layer stay fp32, as in
    `FieldMLP.forward`.
    """
    net = unwrap(model)
    require_forward_mode(net)
    assert isinstance(net, FieldMLP)
    with full_precision(x.device.type):
        h, tangents, _ = net.encoding.streams(x, per_axis=False)  # tangents: (d, 1 or N, F0) = ∂enc/∂x_k
        # A FieldMLP's layers are nn.Linear and its activations `Activation`s; ModuleList yields plain Modules.
        layer0 = cast(nn.Linear, net.layers[0])
        first = upcast(nn.functional.linear(h, layer0.weight, layer0.bias))
    slopes = []
    for i, (linear, act) in enumerate(zip(net.layers, net.activations)):
        linear, act = cast(nn.Linear, linear), cast(Activation, act)
        u = first if i == 0 else upcast(dense(h, linear.weight, linear.bias))
        h, slope, _ = act.with_derivatives(u)
        slopes.append(slope)
    value = upcast(dense(h, net.head.weight, net.head.bias))
    g = net.head.weight.unsqueeze(1)  # (m, 1, F): ∂Φ_j/∂h of the last hidden layer
    for linear, slope in zip(net.layers[:0:-1], slopes[:0:-1]):
        linear = cast(nn.Linear, linear)
        g = upcast(dense(g * slope, linear.weight.t()))  # (m, N, F_in)
    with full_precision(x.device.type):  # the first layer and the encoding, as in the forward pass
        g = torch.matmul(g * slopes[0], layer0.weight)  # (m, N, F0)
        # Chain through the encoding: ∂Φ_j/∂x_k = Σ_f g[j, n, f] ∂enc_f/∂x_k.
        if tangents.shape[1] == 1:
            grad = torch.matmul(g, tangents[:, 0, :].t())  # (m, N, d)
        else:
            grad = torch.einsum("mnf,dnf->mnd", g, tangents)
    return Derivatives(value, grad.permute(1, 0, 2), None)
