"""The tasks: importing this package imports every task module, each of which registers its `Task` subclass in
`registry.REGISTRY`, then the tasks other installed packages declare under the entry point group `sirenkit.tasks`
(plugins.py)."""

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
from .plugins import load_plugins

PLUGINS = load_plugins()
"""Names of the tasks registered from other packages (entry point group `sirenkit.tasks`)."""

__all__ = ["PLUGINS", "REGISTRY", "Batch", "ArtefactContext", "Task", "get_task", "register"]
