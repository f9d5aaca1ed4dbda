"""The tasks: importing this package imports every task module, each of which registers its `Task` subclass in
`registry.REGISTRY`."""

from __future__ import annotations

from .base import ArtefactContext, Batch, Task
from .registry import REGISTRY, get_task, register

# One import line per task module: importing registers it (a new task adds its line here).
# isort: off
from . import audio  # noqa: F401
from . import blend  # noqa: F401
from . import fwi  # noqa: F401
from . import helmholtz  # noqa: F401
from . import image  # noqa: F401
from . import images  # noqa: F401
from . import meta  # noqa: F401
from . import poisson  # noqa: F401
from . import sdf  # noqa: F401
from . import video  # noqa: F401
from . import wave  # noqa: F401
# isort: on

__all__ = ["REGISTRY", "Batch", "ArtefactContext", "Task", "get_task", "register"]
