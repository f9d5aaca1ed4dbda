"""Signals handed over in memory (numpy arrays or torch tensors) instead of files: one conversion with one-line
errors, and the fingerprint a run folder records so that `--resume` can insist on the same data."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..errors import UserError


def as_array(value: Any, what: str) -> np.ndarray:
    """A numpy array from an array or tensor (copied off the GPU, detached); anything else is refused."""
    if isinstance(value, np.ndarray):
        array = value
    elif type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        array = value.detach().cpu().numpy()
    else:
        raise UserError(f"{what} must be a numpy array or a torch tensor, got {type(value).__name__}")
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise UserError(f"{what} has elements of type {array.dtype}; give booleans, integers or floats")
    if array.size == 0:
        raise UserError(f"{what} is empty (shape {array.shape})")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise UserError(f"{what} contains NaN or infinite values")
    return array


def parts(data: Any, names: tuple[str, ...], what: str, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The named parts of structured in-memory data, given as a tuple in `names` order or a dict with those keys
    (`optional` ones may be missing: None); a bare array stands for the first part alone."""
    if isinstance(data, dict):
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise UserError(f"{what}: unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(names)}")
        found = {name: data.get(name) for name in names}
    elif isinstance(data, tuple | list) and not (data and isinstance(data[0], int | float)):
        if len(data) > len(names):
            raise UserError(f"{what}: {len(data)} parts given; expected ({', '.join(names)})")
        found = {name: (data[i] if i < len(data) else None) for i, name in enumerate(names)}
    else:
        found = {name: None for name in names}
        found[names[0]] = data
    missing = [name for name in names if found[name] is None and name not in optional]
    if missing:
        raise UserError(f"{what}: give ({', '.join(names)}); {', '.join(missing)} missing")
    return found


def fingerprint(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """What config.json records for in-memory data: each array's shape and dtype, and one SHA-256 over them
    and their bytes (C order), so that a resumed run can tell the same data from other data."""
    digest = hashlib.sha256()
    parts = {}
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        parts[name] = {"shape": list(array.shape), "dtype": str(array.dtype)}
        digest.update(f"{name}\0{array.dtype}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return {"source": "memory", "arrays": parts, "sha256": digest.hexdigest()}
