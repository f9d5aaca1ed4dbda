"""Run under torchrun by test_distributed.py: a tiny `meta train`, then every rank writes a digest of its weights.

Usage: python -m torch.distributed.run --nproc_per_node 2 tests/meta/ddp_worker.py OUT DUMP_DIR
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import torch

import sirenkit

TINY = {"size": 12, "steps": 30, "lr": 1e-3, "batch_size": 8, "latent_features": 16, "encoder_hidden_features": 16,
        "hyper_hidden_features": 16, "hidden_features": 16, "hidden_layers": 1, "context_max": 60,
        "log_every": 5, "eval_every": 30, "eval_images": 32, "encoder_activation": "relu", "device": "cpu",
        "quiet": True}


def digest(model: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in name order."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    torch.set_num_threads(1)
    out, dump = sys.argv[1], sys.argv[2]
    result = sirenkit.fit("meta", out=out, **TINY)
    rank = int(os.environ["RANK"])
    with open(os.path.join(dump, f"rank{rank}.json"), "w") as f:
        json.dump({"rank": rank, "world_size": int(os.environ["WORLD_SIZE"]), "digest": digest(result.model),
                   "steps": result.metrics["steps"]}, f)
