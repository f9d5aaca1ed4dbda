"""What the inputs and outputs of a run's network mean, as plain JSON for the ONNX sidecar: each task says it
for its own networks (`Task.coordinate_convention`); this looks the task up by the name its run stored."""

from __future__ import annotations

from typing import Any

from ..tasks import REGISTRY
from ..tasks.base import undocumented_convention


def coordinate_convention(task: str, signal: dict[str, Any]) -> dict[str, Any]:
    """Inputs (names, range, grid) and the meaning of the outputs of a `task` network fitted to `signal`."""
    task_cls = REGISTRY.get(task)
    if task_cls is None:
        return undocumented_convention(task)
    return task_cls.coordinate_convention(signal)
