"""User-facing errors: anything the user can fix (a bad file, a bad number) raises `UserError`.

The CLI turns a `UserError` into one line on stderr and exit code 2; everything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, reported as one line: what is wrong, where, and what to do."""

    exit_code = 2


class TrainingDiverged(UserError):
    """The loss or a parameter became NaN/inf during training."""


def check_all(checks: list[tuple[bool, str]]) -> None:
    """Raise a UserError with the message of the first (ok, message) pair whose condition fails."""
    for ok, message in checks:
        if not ok:
            raise UserError(message)
