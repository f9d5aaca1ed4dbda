"""The training commands, one per registered task (`fit image`, `poisson blend`, `solve wave`, `invert helmholtz`,
`meta train`, …), generated from the task registry: each runs `runner.run_task`."""

from __future__ import annotations

import argparse
import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

from ..config import add_arguments
from ..models import ModelConfig
from ..runner import RunOptions, run_task
from ..tasks import REGISTRY, Task
from ..train.trainer import TrainConfig
from .registry import Command, register


@dataclass(frozen=True)
class FitCommand(Command):
    """A task's command. Its flags come from the `sections` (title, config class): the task's `Config`,
    `ModelConfig`, `TrainConfig` and `RunOptions`. They override the recipe and `--config`, so `run` gets only the
    flags given, as the flat options `runner.run_task` resolves."""

    sections: tuple[tuple[str, type], ...] = ()

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for title, cls in self.sections:
            add_arguments(parser, cls, title)

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        names = {f.name for _, cls in self.sections for f in dataclasses.fields(cls)}
        return {name: value for name, value in vars(args).items() if name in names}


def fit_command(task_cls: type[Task]) -> FitCommand:
    """The command of a registered task: words, help and recipes epilogue from the `Task` subclass."""
    return FitCommand(
        words=task_cls.command, help=task_cls.description, description=task_cls.description,
        Config=task_cls.Config, run=functools.partial(_fit, task_cls), epilog=recipe_epilog(task_cls),
        memory_flags=task_cls.memory_flags(),
        sections=((f"{task_cls.command[1]} options", task_cls.Config), ("model options", ModelConfig),
                  ("training options", TrainConfig), ("run options", RunOptions)),
    )


def recipe_epilog(task_cls: type[Task]) -> str:
    lines = ["recipes (applied before the config file and explicit flags; the defaults shown above are before them):"]
    for name, note in task_cls.recipe_notes.items():
        lines.append(f"  {name:6s} {note}")
    lines.append("  auto   gpu on CUDA/MPS, cpu otherwise")
    return "\n".join(lines)


def _fit(task_cls: type[Task], options: dict[str, Any]) -> int:
    run_task(task_cls, options)
    return 0


for _task_cls in REGISTRY.values():
    register(fit_command(_task_cls))
