"""Run under torchrun by test_images.py: a tiny `fit images` on two bundled images with 2 gloo processes.

Usage: python -m torch.distributed.run --nproc_per_node 2 tests/tasks/images_ddp_worker.py OUT
"""

from __future__ import annotations

import sys

import torch

import sirenkit

OPTIONS = {"size": 16, "max_images": 2, "steps": 20, "lr": 1e-3, "schedule": "cosine", "hidden_features": 16,
           "hidden_layers": 1, "batch_pixels": 128, "device": "cpu", "quiet": True, "precision": "fp32"}

if __name__ == "__main__":
    torch.set_num_threads(1)
    sirenkit.fit("images", out=sys.argv[1], **OPTIONS)
