"""Atomic file writes: write to a temporary name in the same folder, then rename over the target.

A crash or SIGKILL at any moment leaves either the old file or the new one, never a half-written file. The
temporary name carries this host and process (`.NAME.sirenkit-HOST-PID-RANDOM.EXT.tmp`), so that one left by a
killed process can be told from one still being written and removed by the next command (`remove_stale`).
Every failure to write (a full disk, a read-only or over-long name, no permission) is one `UserError` naming
the file.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import json
import math
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import UserError

_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
_TEMPORARY = re.compile(r"^\..*\.sirenkit-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[^/]*\.tmp$")

before_write: contextvars.ContextVar[Callable[[Path], None] | None] = contextvars.ContextVar("before_write",
                                                                                          default=None)
"""Called with every path this module is about to write, before anything is created: the run folder that holds the
lock records the file as its own first (so its marker never lists less than the folder holds), and refuses to
replace a file it did not write."""


def describe_os_error(exc: OSError) -> str:
    """`strerror` of an OSError, with a hint for the causes a user can fix (a full disk, a read-only place)."""
    text = exc.strerror or str(exc) or type(exc).__name__
    hints = {
        errno.ENOSPC: "free some space or write elsewhere",
        errno.EDQUOT: "free some space or write elsewhere",
        errno.EROFS: "write elsewhere",
        errno.EACCES: "write elsewhere or change the folder's permissions",
        errno.EPERM: "write elsewhere or change the folder's permissions",
        errno.ENAMETOOLONG: "choose a shorter name",
    }
    hint = hints.get(exc.errno or 0)
    return f"{text}; {hint}" if hint else text


def write_failed(path: str | Path, exc: OSError) -> UserError:
    """The one-line error for a file that could not be written."""
    return UserError(f"cannot write {path}: {describe_os_error(exc)}")


_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)|Os \{ code: (\d+)")


def _os_cause(exc: BaseException) -> OSError | None:
    """The OSError behind `exc`, if any: libraries wrap it (imageio, matplotlib chain it; safetensors, written in
    Rust, only names it in its message: "I/O error: No space left on device (os error 28)")."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        if isinstance(current, OSError):
            return current
        found = _RUST_OS_ERROR.search(str(current))
        if found:
            code = int(found.group(1) or found.group(2))
            return OSError(code, os.strerror(code))
        current = current.__cause__ or current.__context__
        seen += 1
    return None


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on any error it is removed.

    An OSError on the way (also one wrapped by a library) becomes a one-line `UserError` naming `path`.
    """
    path = Path(path)
    hook = before_write.get()
    if hook is not None:
        hook(path)
    try:  # the stem is shortened so that a legal name of up to 255 bytes keeps a legal temporary name
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem[:120]}.sirenkit-{_HOST}-{os.getpid()}-",
                                   suffix=path.suffix[:40] + ".tmp", dir=path.parent)
    except OSError as exc:
        raise write_failed(path, exc) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            os.chmod(tmp_path, 0o666 & ~_umask())
            os.replace(tmp_path, path)
        except UserError:
            raise
        except Exception as exc:
            cause = _os_cause(exc)
            if cause is None:
                raise
            raise write_failed(path, cause) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (POSIX); elsewhere every process counts as alive."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, but belongs to someone else
        return True
    return True


def remove_stale(folder: str | Path, own: bool = False) -> list[str]:
    """Remove the temporary files in `folder` that a killed sirenkit process on this host left behind.

    Only names of the form `atomic_path` makes, whose process no longer runs, are touched; returns their names.
    `own`: also this process's, for a command leaving on an error or a signal (a signal that lands between
    creating a temporary file and the `try` that removes it would otherwise leave it behind).
    """
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or match["host"] != _HOST:
            continue
        pid = int(match["pid"])
        mine = pid == os.getpid()
        if (mine and not own) or (not mine and _alive(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_npy(path: str | Path, array: Any) -> None:
    """`numpy.save`, atomically (a killed or refused write leaves no half of a file)."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def finite_json(data: Any) -> Any:
    """`data` with every NaN or infinite float replaced by None: strict JSON has no NaN, and parsers that follow
    the standard refuse such a file. A dict at the top gains `not_finite`: {dotted key: the value replaced}, so
    that a null says why it is there."""
    notes: dict[str, str] = {}

    def clean(value: Any, key: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            notes[key] = f"{value}: not a finite number, written as null"
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{key}.{k}" if key else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    cleaned = clean(data, "")
    if notes and isinstance(cleaned, dict):
        given = cleaned.get("not_finite")  # reasons the caller gave win over the generic one
        cleaned["not_finite"] = {**notes, **(given if isinstance(given, dict) else {})}
    return cleaned


def dumps_json(data: Any, ensure_ascii: bool = True) -> str:
    """Strict, indented JSON text of `data` (see `finite_json`), as written to files and printed."""
    return json.dumps(finite_json(data), indent=2, sort_keys=False, allow_nan=False, ensure_ascii=ensure_ascii)


def write_json(path: str | Path, data: Any) -> None:
    """`dumps_json(data)` written atomically."""
    write_text(path, dumps_json(data) + "\n")
