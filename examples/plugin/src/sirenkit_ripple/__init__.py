"""An example task plugin for sirenkit: fit the 1-D ripple sin(π·f·x)·exp(−2x²) on [−1, 1].

It uses only the documented extension points: `sirenkit.tasks.Task` and `Batch` (the task interface),
`sirenkit.config.option` (an option with its help text; the CLI flags are generated from the dataclass) and
`sirenkit.errors.UserError` (a refusal printed as one line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from sirenkit.config import option
from sirenkit.errors import UserError
from sirenkit.tasks import Batch, Task


@dataclass
class RippleConfig:
    """The ripple's frequency and how densely it is sampled."""

    frequency: float = option(8.0, "f in sin(π·f·x)·exp(−2x²)")
    samples: int = option(512, "points on [−1, 1] the network is fitted to")

    def validate(self) -> None:
        if not (0 < self.frequency <= 1000 and math.isfinite(self.frequency)):
            raise UserError(f"--frequency must be in (0, 1000], got {self.frequency}")
        if not 2 <= self.samples <= 10_000_000:
            raise UserError(f"--samples must be in [2, 10000000], got {self.samples}")


class RippleTask(Task):
    name = "ripple"
    command = ("fit", "ripple")
    description = "fit a 1-D ripple sin(π·f·x)·exp(−2x²) (an example plugin task)"
    Config = RippleConfig
    metric = "psnr"
    smoke = ({"samples": 128, "steps": 100}, 20.0)

    def __init__(self, config: RippleConfig, device: torch.device) -> None:
        super().__init__(config, device)
        config.validate()
        self.in_features, self.out_features, self.samples = 1, 1, config.samples
        x = torch.linspace(-1.0, 1.0, config.samples, device=device).unsqueeze(-1)
        self.coords = x
        self.values = torch.sin(math.pi * config.frequency * x) * torch.exp(-2.0 * x * x)

    def describe(self) -> str:
        return f"ripple: f {self.config.frequency:g}, {self.config.samples} samples on [−1, 1]"

    def batch(self, step: int, generator: torch.Generator) -> Batch:
        return Batch(self.coords, self.values)

    def loss_terms(self, model: torch.nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        return {"mse": (model(batch.coords) - batch.target).square().mean()}

    def evaluate(self, model: torch.nn.Module, final: bool = False) -> dict[str, float]:
        with torch.no_grad():
            mse = float((model(self.coords) - self.values).square().mean())
        # the signal spans [−1, 1]: a peak-to-peak range of 2
        return {"mse": mse, "psnr": 10.0 * math.log10(4.0 / max(mse, 1e-30))}

    def signal_meta(self) -> dict[str, Any]:
        return {"frequency": self.config.frequency, "samples": self.config.samples}
