"""Config dataclasses shared by the API, `config.json` and the CLI.

Every configurable thing is a frozen dataclass whose fields are declared with `option(...)`, which carries
the one-line help text. The CLI generates its flags from those fields (so `--help` cannot drift from the
code), `config.json` stores them as plain values, and loading rejects unknown keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar

from .errors import UserError

T = TypeVar("T")


def option(default: Any, help: str, *, positional: bool = False, metavar: str | None = None) -> Any:
    """Declare a config field with its default and a one-line help text (used for `--help`)."""
    return dataclasses.field(
        default=default, metadata={"help": help, "positional": positional, "metavar": metavar}
    )


def _resolve_type(cls: type, name: str) -> Any:
    hints = typing.get_type_hints(cls)
    return hints[name]


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """`int | None` -> (int, True); `int` -> (int, False)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def coerce(cls: type, name: str, value: Any) -> Any:
    """Check and convert one JSON / CLI value for field `name` of `cls`; raise UserError if it does not fit."""
    tp, optional = _unwrap_optional(_resolve_type(cls, name))
    flag = "--" + name.replace("_", "-")
    if value is None:
        if optional:
            return None
        raise UserError(f"{flag} needs a value (got null)")
    if typing.get_origin(tp) is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise UserError(f"{flag} must be one of {', '.join(map(str, choices))} (got {value!r})")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{flag} must be true or false (got {value!r})")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise UserError(f"{flag} must be an integer (got {value!r})")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{flag} must be a number (got {value!r})")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{flag} must be a string (got {value!r})")
        return value
    raise TypeError(f"unsupported config field type {tp!r} for {cls.__name__}.{name}")


def from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build `cls` from plain values, rejecting unknown keys (a typo must not pass silently)."""
    if not isinstance(values, dict):
        raise UserError(f"{where}: expected an object of settings, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    kwargs = {k: coerce(cls, k, v) for k, v in values.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-able values of a config dataclass."""
    return dataclasses.asdict(config)


def add_arguments(parser: argparse.ArgumentParser, cls: type, title: str | None = None) -> None:
    """Add one flag per field of `cls`. Defaults are suppressed so that only explicit flags are seen."""
    group = parser.add_argument_group(title) if title else parser
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(_resolve_type(cls, f.name))
        meta = f.metadata
        help_text = meta.get("help", "")
        if f.default is not dataclasses.MISSING and not meta.get("positional"):
            if f.default is not None:
                help_text = f"{help_text} (default: {f.default})"
            elif "auto" not in help_text:
                help_text = f"{help_text} (default: none)"
        kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if typing.get_origin(tp) is Literal:
            kwargs["choices"] = list(typing.get_args(tp))
        elif tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _cli_parser(tp, optional)
        if meta.get("positional"):
            kwargs["nargs"] = "?"
            group.add_argument(f.name, **kwargs)
        else:
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, **kwargs)


def _cli_parser(tp: Any, optional: bool):
    def parse(text: str) -> Any:
        if optional and text.lower() in ("auto", "none"):
            return None
        try:
            return tp(text)
        except ValueError:
            kind = {int: "an integer", float: "a number"}.get(tp, tp.__name__)
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None

    parse.__name__ = getattr(tp, "__name__", "value")
    return parse

