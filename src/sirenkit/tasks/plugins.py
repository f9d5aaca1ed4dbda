"""Tasks from other packages: a package declares its `Task` subclass under the entry point group `sirenkit.tasks`
(pyproject.toml: `[project.entry-points."sirenkit.tasks"] NAME = "package.module:TaskClass"`), and sirenkit
registers it beside the built-in tasks, so that it has a command with generated help and runs like them."""

from __future__ import annotations

import dataclasses
import sys
from importlib.metadata import entry_points
from typing import cast

from ..failures import first_line
from .base import Task
from .registry import REGISTRY, register

GROUP = "sirenkit.tasks"


def _warn(message: str) -> None:
    print(f"sirenkit: warning: {message}", file=sys.stderr, flush=True)


def _problem(obj: object) -> str | None:
    """Why `obj` cannot be registered as a task (None: it can)."""
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        return "is not a subclass of sirenkit.tasks.Task"
    command = getattr(obj, "command", None)
    if not isinstance(getattr(obj, "name", None), str) or not obj.name:
        return "has no task name (the class attribute `name`)"
    if not (isinstance(command, tuple) and len(command) == 2 and all(isinstance(w, str) and w for w in command)):
        return "has no command (the class attribute `command`, two words such as ('fit', 'ripple'))"
    if not dataclasses.is_dataclass(getattr(obj, "Config", None)):
        return "has no dataclass `Config` (its options)"
    return None


def load_plugins() -> list[str]:
    """Register every task declared under `sirenkit.tasks`; returns their names. A plugin that fails to import,
    is not a Task, or takes a name or command already in use is skipped with one warning line: a broken plugin
    never stops the built-in tasks."""
    taken = {cls.command for cls in REGISTRY.values()}
    loaded = []
    for point in entry_points(group=GROUP):
        try:
            obj = point.load()
        except Exception as exc:  # the plugin's own code: any failure is one line
            _warn(f"plugin task {point.name} ({point.value}) failed to load: {type(exc).__name__}: "
                  f"{first_line(exc)}")
            continue
        problem = _problem(obj)
        if problem is not None:
            _warn(f"plugin task {point.name} ({point.value}) {problem}; skipped")
            continue
        task = cast(type[Task], obj)  # `_problem` checked it
        if REGISTRY.get(task.name) is task:  # registered by its own @register when it was imported
            loaded.append(task.name)
            continue
        if task.name in REGISTRY or task.command in taken:
            _warn(f"plugin task {point.name} ({point.value}) takes the name {task.name!r} or the command "
                  f"{' '.join(task.command)!r} of a task already registered; skipped")
            continue
        register(task)
        taken.add(task.command)
        loaded.append(task.name)
    return loaded
