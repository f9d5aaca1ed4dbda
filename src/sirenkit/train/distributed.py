"""Data-parallel training under torchrun: detect it, join the process group, wrap the model, leave cleanly.

`torchrun --nproc_per_node N -m sirenkit meta train …` starts N copies of the command line with RANK, WORLD_SIZE
and LOCAL_RANK in their environment. Each copy builds the same model (same seed), wraps it in
DistributedDataParallel (NCCL on CUDA, gloo on CPUs) and trains on its own share of every batch; gradients are
averaged, so the weights stay identical on every rank. Only rank 0 writes files and prints progress.
Without those variables (or with WORLD_SIZE=1) nothing here is used and a run is an ordinary single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..errors import UserError


@dataclass(frozen=True)
class Distributed:
    """This process's place in a torchrun job."""

    rank: int
    local_rank: int
    world_size: int
    backend: str

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes the run folder and prints progress."""
        return self.rank == 0


def torchrun_environment() -> tuple[int, int, int] | None:
    """(rank, local_rank, world_size) when started by torchrun with more than one process, else None."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    return (rank, local, world) if world > 1 else None


def plan(device: torch.device) -> tuple[Distributed | None, torch.device]:
    """This process's place in the torchrun job, if any, and the device it uses — without connecting yet, so that
    every check can fail before any rank waits for the others. On CUDA each rank takes GPU LOCAL_RANK and NCCL;
    on CPUs gloo."""
    env = torchrun_environment()
    if env is None:
        return None, device
    rank, local_rank, world = env
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    elif device.type == "cpu":
        backend = "gloo"
    else:
        raise UserError(f"torchrun training runs on CUDA (NCCL) or CPUs (gloo), not on {device.type}; "
                        "pass --device cpu or cuda")
    return Distributed(rank, local_rank, world, backend), device


def connect(job: Distributed | None) -> None:
    """Join the process group (rendezvous at torchrun's MASTER_ADDR / MASTER_PORT); no-op outside torchrun."""
    if job is not None and not dist.is_initialized():
        dist.init_process_group(backend=job.backend, rank=job.rank, world_size=job.world_size)


class StateDictDDP(DistributedDataParallel):
    """DistributedDataParallel whose state dict is the wrapped module's own (no 'module.' prefix), so that
    checkpoints of a distributed run load into a plain model and resume into a wrapped one alike."""

    def state_dict(self, *args, **kwargs):
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model wrapped for data-parallel training (rank 0's initial weights are broadcast to all ranks)."""
    ids = [device.index] if device.type == "cuda" else None
    return StateDictDDP(model, device_ids=ids)


def barrier(job: Distributed | None) -> None:
    """Wait for every rank (no-op outside torchrun)."""
    if job is not None:
        dist.barrier()


def stop(job: Distributed | None) -> None:
    """Leave the process group (no-op outside torchrun)."""
    if job is not None and dist.is_initialized():
        dist.destroy_process_group()
