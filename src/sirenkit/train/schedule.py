"""Learning-rate schedules as pure functions of the step (so resuming needs no scheduler state)."""

from __future__ import annotations

import math


def lr_factor(step: int, total: int, schedule: str, warmup_steps: int = 0, final: float = 0.01) -> float:
    """Multiplier of the base lr at `step` (0-based): linear warm-up, then constant or cosine to `final`.

    >>> lr_factor(0, 100, "cosine"), round(lr_factor(100, 100, "cosine"), 6)
    (1.0, 0.01)
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        span = max(1, total - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {schedule!r}")
