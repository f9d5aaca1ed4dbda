"""The derivative engine in functional form, for torch.func: the same derivatives with the network's parameters
passed in (vmap over ensembles of parameters, jacrev/grad with respect to them, meta-learning loops)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torch.func import functional_call

from .engine import derivatives
from .types import Derivatives


class _Engine(nn.Module):
    """`derivatives(model, x, …)` as a module's forward, so that `functional_call` can swap the model's tensors."""

    def __init__(self, model: nn.Module, options: dict[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.options = options

    def forward(self, x: Tensor) -> Derivatives:
        return derivatives(self.model, x, **self.options)


def functional_derivatives(model: nn.Module, params: dict[str, Tensor], x: Tensor, **options: Any) -> Derivatives:
    """`derivatives(model, x, **options)` computed with `params` (name → tensor, as `model.named_parameters()`
    names them; buffers too) in place of the model's own, through `torch.func.functional_call`: the model is not
    changed, and the call works under `torch.func.vmap` over stacked parameters (`stack_module_state`) and
    under `jacrev`/`grad` with respect to them."""
    return functional_call(_Engine(model, options), {f"model.{k}": v for k, v in params.items()}, (x,))
