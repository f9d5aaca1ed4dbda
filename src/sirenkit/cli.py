"""The `sirenkit` command line: the parser is built from the command registry (sirenkit/commands/: one `Command`
per verb, its flags generated from its config dataclass); `main` runs the command the arguments name and turns
its failures into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._version import __version__
from .errors import UserError
from .failures import first_line, out_of_memory, signals_as_interrupts
from .io.atomic import describe_os_error
from .io.limits import LIMIT_FLAGS, input_limits


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage dump) and exit code 2."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)  # `--ov` must not mean `--overwrite`
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per registered command (`sirenkit mesh`, `sirenkit meta eval`), grouped by first word."""
    from .commands import COMMANDS, GROUPS, Group

    parser = _Parser(
        prog="sirenkit",
        description="Fit sine networks (SIREN) to images and other signals; render and inspect the results.",
    )
    parser.add_argument("--version", action="version", version=f"sirenkit {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for command in COMMANDS.values():
        *first, word = command.words
        where = verbs
        if first:
            verb = first[0]
            if verb not in groups:
                group = GROUPS.get(verb, Group(f"{verb} a network ({{words}})"))
                words = ", ".join(c.words[1] for c in COMMANDS.values() if c.words[0] == verb and len(c.words) == 2)
                sub = verbs.add_parser(verb, help=group.help.format(words=words))
                groups[verb] = sub.add_subparsers(dest="noun", metavar=group.metavar, parser_class=_Parser,
                                                  required=True)
            where = groups[verb]
        formatter = argparse.RawDescriptionHelpFormatter if command.epilog else argparse.HelpFormatter
        leaf = where.add_parser(word, help=command.help, description=command.description, epilog=command.epilog,
                                formatter_class=formatter)
        command.add_arguments(leaf)
        leaf.set_defaults(command=command.words)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command `argv` names (default: sys.argv[1:]); returns its exit code. Failures become one line on
    stderr: exit code 2 for what the user can fix (errors.UserError, out of memory, a file system refusal)."""
    from .commands import COMMANDS

    parser = build_parser()
    args = parser.parse_args(argv)
    command = COMMANDS.get(getattr(args, "command", ()))
    if command is None:
        parser.print_help()
        return 2
    try:
        limits = {name: getattr(args, name) for name in LIMIT_FLAGS if hasattr(args, name)}  # --max-pixels, …
        with signals_as_interrupts(), input_limits(**limits):
            return command.run(command.config(args))
    except UserError as exc:
        print(f"sirenkit: error: {one_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:  # outside a fit's training loop (that one writes a checkpoint and says so)
        print(f"sirenkit: error: {getattr(exc, 'how', 'interrupted')}; temporary files removed, nothing "
              "half-written left", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except (MemoryError, RuntimeError, ValueError, OSError) as exc:
        if out_of_memory(exc):
            flags = command.memory_flags
            print(f"sirenkit: error: out of memory ({first_line(exc)})" + (f"; try a smaller {flags}" if flags else ""),
                  file=sys.stderr)
            return 2
        if isinstance(exc, ValueError) and "null byte" in str(exc):  # os functions refuse a NUL in a file name
            print("sirenkit: error: a file or folder name holds a NUL character (\\0), which no file system allows",
                  file=sys.stderr)
            return 2
        if not isinstance(exc, OSError):
            raise
        # the file system refused something sirenkit's own checks did not foresee (a name too long, no permission)
        where = f" {exc.filename}" if exc.filename else ""
        print(f"sirenkit: error: cannot access{one_line(where)}: {describe_os_error(exc)}", file=sys.stderr)
        return 2


_LINE_BREAKS = {code: repr(chr(code))[1:-1] for code in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029] if code != 0x09}


def one_line(text: str) -> str:
    """`text` with every control character (but tab) and every character that would start a new line shown as
    its escape (`\\n`, `\\x00`): a file name or a JSON key from the user may hold one, and an error is one
    line."""
    return text.translate(_LINE_BREAKS)


def entry() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:torch")
    sys.exit(main())
