"""The task registry: every task module registers one `Task` subclass with `@register`; the CLI, the runner and
the tests look tasks up here (`get_task`) or iterate over `REGISTRY`."""

from __future__ import annotations

from ..errors import UserError
from .base import Task

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
