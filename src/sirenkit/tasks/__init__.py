"""Task registry: every task module registers one `Task` subclass; the CLI and tests iterate over them."""

from __future__ import annotations

from ..errors import UserError
from .base import Batch, ExportContext, Task

REGISTRY: dict[str, type[Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator adding a task to the registry under its `name`."""
    if cls.name in REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def get_task(name: str) -> type[Task]:
    if name not in REGISTRY:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


# One import line per task module: importing registers it (a new task adds its line here).
# isort: off
from . import audio  # noqa: E402,F401
from . import blend  # noqa: E402,F401
from . import fwi  # noqa: E402,F401
from . import helmholtz  # noqa: E402,F401
from . import image  # noqa: E402,F401
from . import images  # noqa: E402,F401
from . import meta  # noqa: E402,F401
from . import poisson  # noqa: E402,F401
from . import sdf  # noqa: E402,F401
from . import video  # noqa: E402,F401
from . import wave  # noqa: E402,F401
# isort: on

__all__ = ["REGISTRY", "Batch", "ExportContext", "Task", "get_task", "register"]
