"""Config dataclasses shared by the API, `config.json` and the CLI.

Every configurable thing is a frozen dataclass whose fields are declared with `option(...)`, which carries
the one-line help text. The CLI generates its flags from those fields (so `--help` cannot drift from the
code), `config.json` stores them as plain values, and loading rejects unknown keys.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import numbers
import operator
import types
import typing
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .errors import UserError
from .io.limits import DEFAULT_MAX_PIXELS
from .io.limits import HELP as LIMIT_HELP

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


REQUIRED: Any = dataclasses.MISSING
"""`option(REQUIRED, ...)`: a field without a default, e.g. a command's required positional argument (RUN)."""


def option(default: Any, help: str, *, positional: bool = False, metavar: str | None = None,
           path: bool = False, infinite: bool = False, choices: tuple[Any, ...] | None = None,
           default_help: str | None = None) -> Any:
    """Declare a config field with its default and a one-line help text (used for `--help`).

    `positional=True`: an argument without a flag (`RUN`, shown as `metavar`); with `REQUIRED` as its default it
    must be given. `choices`: the values a field takes where a `Literal` type cannot list them (they are known only
    at run time). `default_help` words the default in `--help` ("(default: the fitted size)"); "" leaves it to the
    help text. `path=True` marks an input file or folder: a relative one read back from a config.json is relative
    to the folder that run started in (its `cwd`), not to the current one. A float field is refused when it is not
    finite (`coerce`) unless it says `infinite=True` (none does so far); NaN is refused always.
    """
    return dataclasses.field(
        default=default, metadata={"help": help, "positional": positional, "metavar": metavar, "path": path,
                                   "infinite": infinite, "choices": choices, "default_help": default_help}
    )


def path_fields(cls: type) -> list[str]:
    """Names of the fields of config class `cls` declared with `option(..., path=True)`."""
    return [f.name for f in dataclasses.fields(cls) if f.metadata.get("path")]


# Bounds shared by the range checks of every config class (`validate()` methods) and of the hand-written commands.
# They only refuse what no single machine could run, or what overflows float32 arithmetic.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_SEED = INT64_MAX  # seeds: [0, 2⁶³ − 1], what torch and numpy generators take
MAX_IMAGE_SIDE = 65_536  # --size: pixels along the longer side of a fitted image, video frame or meta image
MAX_POINTS = 2**28  # points, pixels or samples drawn per step (one 256-wide layer of 2²⁸ points is 275 GB)
MAX_WIDTH = 65_536  # width of one layer (hidden features, encoding features, latent size)
MAX_DEPTH = 1024  # hidden-to-hidden layers (or residual blocks) of one network
MAX_PARAMETERS = 2**33  # one network: 8.6e9 parameters need 137 GB for weights, gradients and Adam's state
MAX_WEIGHT = 1e12  # a loss weight beyond this overflows float32 losses and gradients
MAX_SCALE = 1e6  # frequencies (ω0), widths σ and scales: sin/exp of more is float32 noise or overflow
MAX_FPS = 1e6  # frames per second of a video (a stored one above it is damage, tasks/video.py)
MAX_REFERENCE_NODES = 8001  # nodes per axis of a finite-difference reference or evaluation grid (64M nodes)


# The arguments several commands share, declared once; each call gives a new field for one config class.
DEFAULT_CHUNK = 65_536
"""Points per network call where a command evaluates a whole network (`--chunk`): bounds memory."""


def device_option() -> Any:
    """`--device`: where a command runs (`train.device.resolve_device` reads it)."""
    return option("auto", "auto, cpu, cuda, cuda:N or mps")


def chunk_option() -> Any:
    """`--chunk N` of a command that samples a network on a grid (`render`, `mesh`)."""
    return option(DEFAULT_CHUNK, "points per network call (bounds memory)")


def overwrite_option(what: str) -> Any:
    """`--overwrite` of a command that writes files beside a run or anywhere: without it, an existing `what` that
    sirenkit cannot prove it wrote is never replaced (docs/errors.md, "Run folders")."""
    return option(False, f"replace an existing {what} that sirenkit did not write (never a file of a run's fit)")


def json_option(what: str = "the metrics") -> Any:
    """`--json FILE`: also write the printed result there."""
    return option(None, f"also write {what} to FILE", metavar="FILE", default_help="")


def max_pixels_option() -> Any:
    """`--max-pixels N` of a command that reads images (the fits get it from `runner.RunOptions`); `cli.main`
    sets the input limits (sirenkit.io.limits) from it around the command, which checks it (a positive integer)."""
    return option(DEFAULT_MAX_PIXELS, LIMIT_HELP["max_pixels"], metavar="N")


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _resolve_type(cls: type, name: str) -> Any:
    return _type_hints(cls)[name]


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """`int | None` -> (int, True); `int` -> (int, False)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def show(value: Any) -> str:
    """A bad value as an error line shows it: short, one line, and never a repr of nested data (which could
    recurse thousands of levels deep or run to megabytes) or of a number with thousands of digits."""
    if isinstance(value, dict):
        return f"a JSON object of {len(value)} key(s)"
    if isinstance(value, (list, tuple, set, frozenset)):
        return f"a JSON array of {len(value)} item(s)"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if abs(value) >= 10**30:  # str() of more than 4300 digits raises ValueError
            return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:56] + "…" + text[0]
    return f"a {type(value).__name__}"


def fmt(value: float) -> str:
    """A bound or a number in a message: integers as they are, other numbers in %g."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e7):
        return str(int(value))
    return f"{value:g}"


def _integer(flag: str, value: Any) -> int:
    """The type rule of an integer setting: an integer (or an integral float, as JSON may write it) that fits
    in 64 bits; booleans are not integers here."""
    if isinstance(value, bool):
        raise UserError(f"{flag} must be an integer (got {show(value)})")
    if isinstance(value, float):
        if not value.is_integer():  # NaN and ±inf included
            raise UserError(f"{flag} must be an integer (got {show(value)})")
        if not INT64_MIN <= value < 2.0**63:
            raise UserError(f"{flag} must be a 64-bit integer, between −2⁶³ and 2⁶³ − 1 (got {show(value)})")
        return int(value)
    if not isinstance(value, numbers.Integral):
        raise UserError(f"{flag} must be an integer (got {show(value)})")
    value = operator.index(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise UserError(f"{flag} must be a 64-bit integer, between −2⁶³ and 2⁶³ − 1 (got {show(value)})")
    return value


def _number(flag: str, value: Any, infinite: bool = False) -> float:
    """The type rule of a float setting: a finite number (±inf only where the field says `infinite=True`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserError(f"{flag} must be a number (got {show(value)})")
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        raise UserError(f"{flag} must be a finite number (got {show(value)})") from None
    if math.isnan(number) or (math.isinf(number) and not infinite):
        raise UserError(f"{flag} must be a finite number (got {show(value)})")
    return number + 0.0  # -0.0 -> 0.0


def coerce_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """`value` when it is one of `choices` (a Literal field's values); otherwise a UserError naming the flag."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) and value in choices:
        return value
    raise UserError(f"--{name.replace('_', '-')} must be one of {', '.join(map(str, choices))} (got {show(value)})")


def coerce(cls: type, name: str, value: Any) -> Any:
    """Check and convert one JSON / CLI / API value for field `name` of `cls`; raise UserError if it does not fit.

    The type rules hold for every field: an integer fits in 64 bits, a float is finite (NaN never passes, ±inf
    only with `option(..., infinite=True)`), a boolean is true or false, never 0 or 1. Ranges are each config
    class's `validate()`, which `from_dict` runs.
    """
    tp, optional = _unwrap_optional(_resolve_type(cls, name))
    flag = "--" + name.replace("_", "-")
    if value is None:
        if optional:
            return None
        raise UserError(f"{flag} needs a value (got null)")
    field = next((f for f in dataclasses.fields(cls) if f.name == name), None)
    if field is not None and field.metadata.get("choices"):
        return coerce_choice(name, value, tuple(field.metadata["choices"]))
    if typing.get_origin(tp) is Literal:
        return coerce_choice(name, value, typing.get_args(tp))
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{flag} must be true or false (got {show(value)})")
    if tp is int:
        return _integer(flag, value)
    if tp is float:
        return _number(flag, value, bool(field is not None and field.metadata.get("infinite")))
    if tp is str:
        if not isinstance(value, str):
            raise UserError(f"{flag} must be a string (got {show(value)})")
        return value
    raise TypeError(f"unsupported config field type {tp!r} for {cls.__name__}.{name}")


def check_values(config: Any) -> None:
    """Apply `coerce`'s type rules to a config object built directly (the Python API), not by `from_dict`."""
    for f in dataclasses.fields(config):
        coerce(type(config), f.name, getattr(config, f.name))


def in_range(flag: str, value: float, low: float | None = None, high: float | None = None, *,
             above: bool = False, note: str = "") -> tuple[bool, str]:
    """`(ok, message)` for `check_all`: low ≤ value ≤ high (low < value with `above`); None: that side is open.
    `note` (e.g. " (0: every pixel)") follows the range in the message."""
    ok = (low is None or (value > low if above else value >= low)) and (high is None or value <= high)
    if low is None and high is None:
        return ok, ""
    if low is not None and high is not None:
        bounds = f"in {'(' if above else '['}{fmt(low)}, {fmt(high)}]"
    elif low is not None:
        bounds = f"{'>' if above else '≥'} {fmt(low)}"
    else:
        assert high is not None  # both None returned above
        bounds = f"≤ {fmt(high)}"
    return ok, f"{flag} must be {bounds}{note}, got {fmt(value) if isinstance(value, (int, float)) else show(value)}"


def check_side(flag: str, size: int, native: bool = True) -> tuple[bool, str]:
    """`(ok, message)` for an image size in pixels: 2 … MAX_IMAGE_SIDE, or 0 (the native size) where `native`."""
    zero = " (or 0 for the native size)" if native else ""
    if size > MAX_IMAGE_SIDE:
        return False, f"{flag} must be ≤ {MAX_IMAGE_SIDE} pixels{zero}, got {size}"
    return (size >= 2 or (native and size == 0)), f"{flag} must be ≥ 2{zero}, got {size}"


def check_number(flag: str, value: Any, kind: type, low: float | None = None, high: float | None = None, *,
                 above: bool = False, note: str = "") -> Any:
    """One number given to a command or API function (`mesh`, `eval-mesh`, `meta eval` …): the type rules of
    `coerce`, then the range of `in_range`. Returns the value as `kind`."""
    value = _integer(flag, value) if kind is int else _number(flag, value)
    ok, message = in_range(flag, value, low, high, above=above, note=note)
    if not ok:
        raise UserError(message)
    return value


def number_type(kind: type):
    """argparse `type=` for a hand-written numeric argument: parsed like the generated flags (`expected an
    integer, got '1.5'`), and held to `coerce`'s type rules (64-bit integers, finite numbers)."""
    parse_text = _cli_parser(kind, False)

    def parse(text: str) -> Any:
        value = parse_text(text)
        try:
            return _integer("", value) if kind is int else _number("", value)
        except UserError:
            what = "a 64-bit integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {show(text)}") from None

    parse.__name__ = kind.__name__
    return parse


def from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build `cls` from plain values, rejecting unknown keys (a typo must not pass silently), values of the wrong
    type (`coerce`) and, where `cls` has a `validate()` method, values out of range."""
    if not isinstance(values, dict):
        raise UserError(f"{where}: expected an object of settings, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(show(k) if not isinstance(k, str) or len(k) > 60 else k for k in set(values) - names)
    if unknown:
        listed = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise UserError(f"{where}: unknown setting(s) {listed}; known: {', '.join(sorted(names))}")
    kwargs = {k: coerce(cls, k, v) for k, v in values.items()}
    config = cls(**kwargs)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


def to_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-able values of a config dataclass."""
    return dataclasses.asdict(config)


def add_arguments(parser: argparse.ArgumentParser, cls: type, title: str | None = None, *,
                  layered: bool = True, recipes: dict[str, dict[str, Any]] | None = None) -> None:
    """Add one argument per field of `cls` (a flag `--field-name`, or a positional one), with its help text and
    default. Defaults are suppressed so that only the arguments given are seen: the dataclass holds the defaults.

    `layered=True` (the fit commands): the flags override the recipe and `--config`, and `from_dict` checks them
    later; 'none' or 'auto' give None to an optional field, a boolean is `--x/--no-x`. `layered=False` (every other
    command): numbers are checked as they are parsed (`number_type`), text is taken as written, a boolean is a
    switch (`--overwrite`).

    `recipes` ({recipe: {field: value}}, this section of each recipe of a fit command): the help of a field that
    recipes set says what each uses, and shows the dataclass default only where some recipe leaves it.
    """
    group = parser.add_argument_group(title) if title else parser
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(_resolve_type(cls, f.name))
        info = f.metadata
        set_by = {name: values[f.name] for name, values in (recipes or {}).items() if f.name in values}
        kwargs: dict[str, Any] = {"help": _help_text(f, switch=tp is bool and not layered, recipes=set_by,
                                                     every_recipe=bool(recipes) and len(set_by) == len(recipes or {})),
                                  "default": argparse.SUPPRESS}
        if info.get("metavar"):
            kwargs["metavar"] = info["metavar"]
        choices = info.get("choices") or (typing.get_args(tp) if typing.get_origin(tp) is Literal else None)
        if choices:
            kwargs["choices"] = list(choices)
            if all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
                kwargs["type"] = int  # `--bits 8` is compared with the choice 8, not "8"
        elif tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction if layered else "store_true"
        elif layered:
            kwargs["type"] = _cli_parser(tp, optional)
        elif tp in (int, float):
            kwargs["type"] = number_type(tp)
        if info.get("positional"):
            if f.default is not dataclasses.MISSING:
                kwargs["nargs"] = "?"
            group.add_argument(f.name, **kwargs)
        else:
            group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, **kwargs)


def _help_text(f: dataclasses.Field, switch: bool, recipes: dict[str, Any] | None = None,
               every_recipe: bool = False) -> str:
    """A field's help with its default: `(default: VALUE)`, or the words of `option(default_help=...)`; none for
    a positional argument, a required field or a switch. Where recipes set the field, the value of each:
    `(recipes: cpu 1000, gpu 2000, paper 10000)`, with the default only when some recipe keeps it."""
    text = f.metadata.get("help", "")
    worded = f.metadata.get("default_help")
    if f.metadata.get("positional") or f.default is dataclasses.MISSING or switch:
        return text
    if recipes:
        shown = ", ".join(f"{name} {_shown(value)}" for name, value in recipes.items())
        if every_recipe:
            return f"{text} (recipes: {shown})"
        return f"{text} (default: {_shown(f.default)}; recipes: {shown})"
    if worded is not None:
        return f"{text} (default: {worded})" if worded else text
    if "(default" in text:  # the help says it in its own words
        return text
    if f.default is not None:
        return f"{text} (default: {f.default})"
    return text if "auto" in text else f"{text} (default: none)"


def _shown(value: Any) -> str:
    """A default as the help shows it: `1e-4` rather than `0.0001`, `none` for None, lists comma-separated."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


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

