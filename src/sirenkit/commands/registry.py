"""The command registry: every `sirenkit` command is a `Command`, registered once by the module that runs it;
`cli.py` builds the parser from `COMMANDS` and runs the one the arguments name."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import add_arguments


@dataclass(frozen=True)
class Command:
    """One command: its `words` (`("mesh",)`, `("meta", "eval")`), a one-line `help` (listed by `sirenkit
    --help`), a `description` (its own `--help`), `Config`, a frozen dataclass whose fields (`config.option`) are
    its arguments, and `run(config)`, which does the work and returns the exit code. `memory_flags` names the
    flags that make it smaller, for the out-of-memory message ("--resolution or --chunk")."""

    words: tuple[str, ...]
    help: str
    Config: type
    run: Callable[[Any], int]
    description: str | None = None
    epilog: str | None = None
    """Preformatted text after the arguments (the fits' recipes); a command with one shows its description as
    written, unwrapped."""
    memory_flags: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_arguments(parser, self.Config, layered=False)

    def config(self, args: argparse.Namespace) -> Any:
        """The `Config` of the parsed arguments (those not given keep the dataclass defaults)."""
        names = [f.name for f in dataclasses.fields(self.Config)]
        return self.Config(**{name: getattr(args, name) for name in names if hasattr(args, name)})


@dataclass(frozen=True)
class Group:
    """A first word shared by several commands (`fit`, `meta`, `bench`): its line in `sirenkit --help`, where
    `{words}` lists the second words, and the name of its second word in usage lines."""

    help: str
    metavar: str = "TASK"


COMMANDS: dict[tuple[str, ...], Command] = {}
"""Every command by its words, in the order of `sirenkit --help`."""


def register(command: Command) -> Command:
    """Add `command` to `COMMANDS` (a module registers its commands when it is imported)."""
    if command.words in COMMANDS:
        raise ValueError(f"command {' '.join(command.words)!r} registered twice")
    if not 1 <= len(command.words) <= 2:
        raise ValueError(f"a command is one or two words, got {command.words!r}")
    COMMANDS[command.words] = command
    return command
