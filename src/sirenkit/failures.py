"""Failures that come from outside sirenkit's own checks, made into what the user sees: one line and an exit code.

- SIGTERM (what a batch scheduler sends before it preempts a job) and SIGHUP (the terminal went away) behave like
  Ctrl-C: the trainer writes a checkpoint, temporary files are removed, the exit code is 128 + the signal number.
- Running out of memory, in whichever library it happens, is recognised so that the CLI can name the flags that
  make the job smaller.
"""

from __future__ import annotations

import contextlib
import errno
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, like Ctrl-C's KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.exit_code = 128 + signum
        self.how = f"terminated ({signal.Signals(signum).name})"


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated(signum)


CAUGHT = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """Inside: SIGTERM and SIGHUP raise `Terminated`; the previous handlers come back on the way out. Only the
    main thread can set handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_terminated) for signum in CAUGHT}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_OOM_WORDS = ("out of memory", "can't allocate memory", "cannot allocate memory", "array is too big",
              "not enough memory", "failed to allocate")


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says that memory ran out (Python's MemoryError, torch's allocators on CPU, CUDA and MPS,
    NumPy's array size limit, ENOMEM)."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA, MPS)
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, ValueError)) and any(word in text for word in _OOM_WORDS)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (torch appends a C++ stack to some), at most 200 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]
