"""The one check of a stored run's metadata (checkpoint.json) against the task it names, before any command uses
the run (`render`, `mesh`, `meta eval`, `meta inpaint`, `export`, `compress`)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import DamagedSignal, Task
from .registry import get_task


def _spec_numbers(spec: Any, path: str = "") -> tuple[str, Any] | None:
    """(where, value) of the first number in a network description that is not finite, or None."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(spec, dict):
        items = spec.items()
    elif isinstance(spec, (list, tuple)):
        items = ((str(i), v) for i, v in enumerate(spec))
    else:
        if isinstance(spec, float) and not math.isfinite(spec):
            return path, spec
        return None
    for key, value in items:
        found = _spec_numbers(value, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def checked_signal(record: dict[str, Any], run: str | Path, task_cls: type[Task] | None = None,
                   fields: tuple[str, ...] | None = None, partial: bool = False) -> dict[str, Any]:
    """The one check of a stored run's metadata before any command uses it (`render`, `mesh`, `meta eval`,
    `meta inpaint`, `export`, `compress`): every number of the network description is finite, the network fits
    the task the metadata names, and the signal description has every field that task needs, of the right type
    and in range (`Task.signal_schema`; only `fields` where the caller reads no others; with `partial` the fields
    present, for a caller that passes on what it finds). Returns the checked signal; a one-line UserError naming
    `run` else."""
    if task_cls is None:
        task_cls = get_task(record.get("task", ""))
    spec: Any = record.get("model")  # any JSON value: checked below
    bad = _spec_numbers(spec)
    if bad is not None:
        raise UserError(f"checkpoint of {run} describes its network impossibly ({bad[0]} {bad[1]} is not a finite "
                        "number); it was damaged or edited")
    plain = isinstance(spec, dict) and "kind" not in spec and isinstance(spec.get("in_features"), int)
    name = task_cls.name
    if task_cls.network_inputs is not None:
        inputs = spec["in_features"] if plain else None
        if inputs != task_cls.network_inputs:
            holds = f"a network that takes {_count(inputs, 'coordinate')}" if plain else "a network of another kind"
            raise UserError(f"checkpoint of {run} names task {name!r}, whose networks take "
                            f"{_count(task_cls.network_inputs, 'coordinate')}, but holds {holds}; it was damaged or "
                            "edited")
    signal = record.get("signal")
    if not isinstance(signal, dict):
        raise UserError(f"checkpoint of {run} has no description of the fitted signal; it was damaged or edited")
    try:
        clean = task_cls.check_signal(signal, fields, partial)
        try:
            wanted = task_cls.network_outputs(clean)
        except KeyError:  # the field that says so is absent (`partial`) or not read (`fields`)
            wanted = None
        if wanted is not None and plain and spec.get("out_features") != wanted[0]:
            raise DamagedSignal(f"{wanted[1]}, but the network gives {_count(spec.get('out_features'), 'value')} a "
                                "point")
        task_cls.check_network(spec, clean)
    except DamagedSignal as exc:
        if exc.missing is not None:
            raise UserError(f"checkpoint of {run} lacks '{exc.missing}' in its description of the fitted signal; "
                            "it was damaged or edited") from None
        raise UserError(f"checkpoint of {run} has a damaged description of the fitted signal ({exc.reason}); it was "
                        "damaged or edited") from None
    return clean
