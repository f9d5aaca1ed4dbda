"""The checks every loader makes before it opens a user's file: it exists, it is a file, it is not empty."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .atomic import describe_os_error


def require_file(path: str | Path, what: str, kind: str = "a file") -> Path:
    """`path` as a Path, or a UserError naming `what` it should be: '{what} {path} is a folder, not {kind}'."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{what} {path} does not exist")
    if path.is_dir():
        raise UserError(f"{what} {path} is a folder, not {kind}")
    if path.stat().st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes)")
    return path


def require_output_file(path: str | Path, flag: str, hint: str = "give a file name") -> Path:
    """`path` as a Path if a file can be written there: not a folder, and its folder exists."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UserError(f"{flag} {path} is a folder; {hint}")
        path.lstat()
    except FileNotFoundError:
        pass
    except OSError as exc:  # a name too long, a file on the way, no permission to look
        raise UserError(f"cannot write {flag} {path}: {describe_os_error(exc)}") from None
    if not path.parent.is_dir():
        raise UserError(f"{flag}: folder {path.parent} does not exist")
    return path
