"""The run folder's lock: one writer at a time.

An operating-system file lock (flock; a byte-range lock on Windows) on `.sirenkit.lock`, which the kernel releases
when its process ends, however it ends: a lock left by a killed process is simply taken over by the next command.
The lock file holds the holder's pid, host, command and start time, for the message a second writer gets.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..io import atomic
from .files import LOCK


def timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class FolderLock:
    """An exclusive, non-blocking lock on a run folder; `acquire` refuses with one line when another process
    holds it."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open_lock(self.folder, create=True)
        assert fd is not None
        try:
            if not _try_lock(fd):
                raise UserError(busy_message(self.folder, _read_holder(fd)))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "since": timestamp()}
        with contextlib.suppress(OSError):  # the record only improves the message a second writer gets
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None


def busy_message(folder: Path, holder: dict[str, Any] | None) -> str:
    who = "another sirenkit process"
    if holder:
        who = f"sirenkit {holder.get('command', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, " \
              f"since {holder.get('since', '?')})"
    return f"run folder {folder} is in use by {who}; wait for it to finish or choose another folder"


def _open_lock(folder: Path, create: bool) -> int | None:
    """A descriptor of `folder`'s lock file (None when it is absent and `create` is False). The lock file is
    written into, so it is never opened through a symbolic link or when it has other hard links: that would
    overwrite a file elsewhere."""
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | (os.O_CREAT if create else 0)
    try:
        fd = os.open(folder / LOCK, flags, 0o644)
    except FileNotFoundError:
        if create:
            raise UserError(f"cannot lock run folder {folder}: it does not exist") from None
        return None
    except OSError as exc:
        if (folder / LOCK).is_symlink():
            raise UserError(f"{folder / LOCK} is a symbolic link; sirenkit writes its lock there only as a plain "
                            "file: remove it") from None
        raise UserError(f"cannot lock run folder {folder}: {atomic.describe_os_error(exc)}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        raise UserError(f"{folder / LOCK} is not a plain file of its own (a device, or a hard link to another "
                        "file); sirenkit writes its lock there: remove it")
    return fd


def check_not_busy(folder: Path) -> None:
    """Refuse early (before any data is loaded) when another process holds `folder`'s lock."""
    fd = _open_lock(folder, create=False)
    if fd is None:
        return  # no lock file: nobody holds the folder
    try:
        if not _try_lock(fd):
            raise UserError(busy_message(folder, _read_holder(fd)))
        _unlock(fd)
    finally:
        os.close(fd)


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


if os.name == "posix":
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:  # a file system without locks (some network mounts): run unlocked, say so
            print(f"sirenkit: warning: cannot lock run folders here ({exc.strerror}); make sure no other "
                  "sirenkit process writes into the same folder", file=sys.stderr)
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
else:  # Windows: a byte-range lock far past the holder record, so that the record stays readable
    import msvcrt

    _FAR = 1 << 30

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _FAR, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _FAR, os.SEEK_SET)
        with contextlib.suppress(OSError):
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
