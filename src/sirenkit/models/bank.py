"""Many networks of one architecture trained as one module: parameters stacked along a leading axis.

`ModelBank(members)` holds B copies of an architecture whose every parameter and buffer is stacked to
(B, *shape) under the member's own name, so a bank's state_dict reads like a member's with a leading axis.
`forward(coords)` evaluates all B members at once with `torch.func.vmap` over `functional_call` (the linear
layers become batched matmuls, no Python loop over members) on accelerators. On a CPU batched matmuls lose:
one training step of 8 SIRENs 256×3 on 4096 points took 748 ms through vmap (bmm) against 390 ms calling each
member's slice of the stacked parameters in turn (1 thread; the per-member working set stays in cache), so
`mode="auto"` loops over members there. Any network the model builder makes works, because nothing here knows
about layers. `member(i)` gives back member i as an ordinary module.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap


class ModelBank(nn.Module):
    """B networks with identical architecture; member b's tensors are `state[name][b]`."""

    _template: nn.Module  # set with object.__setattr__ (outside the module tree): declared for the type checker

    def __init__(self, members: list[nn.Module], mode: str = "auto") -> None:
        super().__init__()
        if mode not in ("auto", "vmap", "loop"):
            raise ValueError(f"mode must be auto, vmap or loop, got {mode!r}")
        self.mode = mode
        if not members:
            raise ValueError("a model bank needs at least one member")
        shapes = {n: tuple(t.shape) for n, t in members[0].state_dict().items()}
        for m in members[1:]:
            if {n: tuple(t.shape) for n, t in m.state_dict().items()} != shapes:
                raise ValueError("every member of a model bank must have the same architecture")
        self.count = len(members)
        self.in_features = int(getattr(members[0], "in_features", 0))
        self.out_features = int(getattr(members[0], "out_features", 0))
        params, buffers = stack_module_state(members)
        # The stacked tensors live on a copy of member 0 (its structure names them); the copy's own
        # parameters are replaced, so no unstacked weights are kept.
        self.stacked = copy.deepcopy(members[0])
        for name, value in params.items():
            owner, attr = self._owner(name)
            delattr(owner, attr)
            owner.register_parameter(attr, nn.Parameter(value.detach().clone()))
        for name, value in buffers.items():
            owner, attr = self._owner(name)
            persistent = attr not in getattr(owner, "_non_persistent_buffers_set", set())
            delattr(owner, attr)
            owner.register_buffer(attr, value.detach().clone(), persistent=persistent)
        # Structure for functional_call, holding no data; kept out of the module tree (not a parameter owner).
        object.__setattr__(self, "_template", copy.deepcopy(members[0]).to("meta"))

    def _owner(self, name: str) -> tuple[nn.Module, str]:
        module_name, _, attr = name.rpartition(".")
        return self.stacked.get_submodule(module_name), attr

    def forward(self, coords: Tensor) -> Tensor:
        """coords (N, d) shared by every member, or (B, N, d) one set per member -> values (B, N, out)."""
        params: dict[str, Tensor] = dict(self.stacked.named_parameters())
        buffers = dict(self.stacked.named_buffers())

        def one(p: dict[str, Tensor], b: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(self._template, (p, b), (x,))

        mode = self.mode if self.mode != "auto" else ("loop" if coords.device.type == "cpu" else "vmap")
        if mode == "loop":
            return torch.stack([
                one({n: p[b] for n, p in params.items()}, {n: t[b] for n, t in buffers.items()},
                    coords[b] if coords.dim() == 3 else coords)
                for b in range(self.count)])
        x_dim = 0 if coords.dim() == 3 else None
        return vmap(one, in_dims=(0, 0, x_dim), randomness="error")(params, buffers, coords)

    def member(self, index: int) -> nn.Module:
        """Member `index` as an ordinary module on the bank's device (a copy: training the bank leaves it alone)."""
        if not -self.count <= index < self.count:
            raise IndexError(f"member {index} of a bank of {self.count}")
        device = next(iter(self.stacked.state_dict().values())).device
        out = copy.deepcopy(self._template).to_empty(device=device)
        with torch.no_grad():
            for name, value in self.stacked.named_parameters():
                out.get_parameter(name).copy_(value[index])
            for name, buffer in self.stacked.named_buffers():
                out.get_buffer(name).copy_(buffer[index])
        return out

    def clip_member_gradients_(self, max_norm: float) -> Tensor:
        """Clip each member's gradient to global norm `max_norm` separately (as if it were trained alone);
        returns the per-member norms before clipping, (B,)."""
        grads = [p.grad for p in self.stacked.parameters() if p.grad is not None]
        if not grads:
            return torch.zeros(self.count)
        sq = sum(g.detach().reshape(self.count, -1).double().pow(2).sum(1) for g in grads)
        assert isinstance(sq, Tensor)  # grads is not empty, so the sum is a tensor (never the start value 0)
        norms = sq.sqrt()
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0).to(grads[0].dtype)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
        return norms

    def extra_repr(self) -> str:
        return f"count={self.count}, mode={self.mode}"


MAX_IMAGES_PER_BANK = 2**20
"""Most networks one stored bank may describe (a checkpoint claiming more was damaged or edited)."""


class ImageBanks(nn.Module):
    """One `ModelBank` per shape group of `fit images`; forward maps a list of per-group coordinates to per-group
    values. Its spec is {"groups": [{"count": B, "member": MLP spec}, ...]}."""

    def __init__(self, banks: list[ModelBank]) -> None:
        super().__init__()
        self.banks = nn.ModuleList(banks)

    def forward(self, coords: list[Tensor]) -> list[Tensor]:
        return [bank(x) for bank, x in zip(self.banks, coords)]

    @classmethod
    def from_spec(cls, spec: dict[str, Any], build_member: Callable[[dict[str, Any]], nn.Module]) -> ImageBanks:
        """Rebuild from the spec `fit images` stores; a damaged count is a ValueError."""
        banks = []
        for group in spec["groups"]:
            count = int(group["count"])
            if not 1 <= count <= MAX_IMAGES_PER_BANK:  # a damaged count would build millions of networks
                raise ValueError(f"a bank of {count} images (1 to {MAX_IMAGES_PER_BANK:,} expected)")
            banks.append(ModelBank([build_member(group["member"]) for _ in range(count)]))
        return cls(banks)
