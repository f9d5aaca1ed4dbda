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

    sections: tuple[tuple[str, str, type], ...] = ()
    """(title, config section in recipes and config.json, config class) of each group of flags."""
    recipes: dict[str, dict[str, dict[str, Any]]] = dataclasses.field(default_factory=dict)
    """The task's recipes, {recipe: {section: {field: value}}}: `--help` shows the value each recipe uses."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for title, section, cls in self.sections:
            values = {name: recipe.get(section, {}) for name, recipe in self.recipes.items()}
            add_arguments(parser, cls, title, recipes=values)

    def config(self, args: argparse.Namespace) -> dict[str, Any]:
        names = {f.name for _, _, cls in self.sections for f in dataclasses.fields(cls)}
        return {name: value for name, value in vars(args).items() if name in names}


def fit_command(task_cls: type[Task]) -> FitCommand:
    """The command of a registered task: words, help and recipes epilogue from the `Task` subclass."""
    return FitCommand(
        words=task_cls.command, help=task_cls.description, description=task_cls.description,
        Config=task_cls.Config, run=functools.partial(_fit, task_cls), epilog=recipe_epilog(task_cls),
        memory_flags=task_cls.memory_flags(),
        sections=((f"{task_cls.command[1]} options", "task", task_cls.Config), ("model options", "model", ModelConfig),
                  ("training options", "train", TrainConfig), ("run options", "run", RunOptions)),
        recipes=dict(task_cls.recipes),
    )


def recipe_epilog(task_cls: type[Task]) -> str:
    lines = ["recipes (applied before the config file and explicit flags; `recipes:` above names what each sets):"]
    for name, note in task_cls.recipe_notes.items():
        lines.append(f"  {name:6s} {note}")
    lines.append("  auto   gpu on CUDA/MPS, cpu otherwise")
    return "\n".join(lines)


def _fit(task_cls: type[Task], options: dict[str, Any]) -> int:
    run_task(task_cls, options)
    return 0


for _task_cls in REGISTRY.values():
    register(fit_command(_task_cls))
