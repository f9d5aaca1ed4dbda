"""The run folder: its file names, its marker, its lock and the files it owns, in one place.

A folder is a sirenkit run only when it holds `run.json`, the marker sirenkit writes when it creates the run:
an id, the run's state (`running`, `complete`, `failed`, `interrupted`) and every file sirenkit wrote into the
folder, each with the command that wrote it. `--overwrite` removes exactly those files and nothing else.

Every command that writes into a run folder holds the folder's lock, `.sirenkit.lock`: an operating-system file
lock (flock), which the kernel releases when its process ends, however it ends, so a lock left by a killed
process is simply taken over by the next command. The lock file holds the holder's pid, host, command and start
time, for the message a second writer gets.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from . import __version__
from .errors import UserError
from .io import atomic
from .io.files import require_output_file
from .train.checkpoint import CHECKPOINT

MARKER = "run.json"
LOCK = ".sirenkit.lock"
CONFIG = "config.json"
METRICS = "metrics.json"
FORMAT = "sirenkit-run-1"
FIT = "fit"
"""What `files` records for a file the fit itself wrote (other commands record their own name)."""

LEGACY_FILES = (CONFIG, METRICS, "curve.csv", CHECKPOINT, "checkpoint.json")
"""The files of a run written before run folders had a marker; they count as the fit's own."""


# ------------------------------------------------------------------------------------------------ the marker
def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """The marker of `folder`, or None when there is none or it is not one sirenkit wrote."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        return None
    return data


def is_run(folder: str | Path) -> bool:
    """Whether sirenkit can prove that it made `folder` (it holds a marker)."""
    return read_marker(folder) is not None


def _legacy_run(folder: Path) -> bool:
    """A run written by an earlier sirenkit, before the marker: config.json and a checkpoint, no run.json."""
    return _is_file(folder / CONFIG) and _is_file(folder / CHECKPOINT)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _exists(path: Path) -> bool:
    """`path.exists()` that answers False, not an OSError, for a name the system cannot even look up."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return False


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _new_marker(command: str) -> dict[str, Any]:
    return {"format": FORMAT, "id": uuid.uuid4().hex, "sirenkit": __version__, "command": command,
            "created": _now(), "state": "running", "updated": _now(), "pid": os.getpid(),
            "host": socket.gethostname(), "files": {}}


# ------------------------------------------------------------------------------------------------ the lock
class FolderLock:
    """An exclusive, non-blocking lock on a run folder; `acquire` refuses with one line when another process
    holds it."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> None:
        path = self.folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot lock run folder {self.folder}: {atomic.describe_os_error(exc)}") from None
        try:
            if not _try_lock(fd):
                raise UserError(busy_message(self.folder, _read_holder(fd)))
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "since": _now()}
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


def check_not_busy(folder: Path) -> None:
    """Refuse early (before any data is loaded) when another process holds `folder`'s lock."""
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except OSError:
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


# ------------------------------------------------------------------------------------------------ writing
class RunFolder:
    """A run folder held for writing by this process: its lock, its marker, and the record of the files written.

    While it is open, every file written through `sirenkit.io.atomic` inside the folder is recorded in the
    marker as written by `writer` ("fit", "render", …). Use it as a context manager; leaving it with an exception
    marks the run `failed` (or `interrupted`) unless `finish` was called, and releases the lock.
    """

    def __init__(self, path: Path, writer: str, lock: FolderLock, marker: dict[str, Any] | None) -> None:
        self.path = path
        self.writer = writer
        self.lock = lock
        self.marker = marker  # None for a folder that is not a run: files written there are not recorded
        self._token: Any = None
        self._outer: Any = None
        self._finished = False

    def __enter__(self) -> RunFolder:
        self._outer = atomic.on_written.get()  # an enclosing holder of another folder keeps recording
        self._token = atomic.on_written.set(self._record)
        return self

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if self._token is not None:
                atomic.on_written.reset(self._token)
                self._token = None
            if self.writer == FIT and not self._finished and exc is not None:
                interrupted = isinstance(exc, KeyboardInterrupt) or getattr(exc, "exit_code", 2) != 2
                self.finish("interrupted" if interrupted else "failed", error=str(exc).splitlines()[0] if
                            str(exc) else type(exc).__name__)
        finally:
            self.lock.release()

    def own(self, relative: str) -> None:
        """Record `relative` (a file or, ending in '/', a folder sirenkit fills: TensorBoard's) as this writer's."""
        if self.marker is not None and self.marker["files"].get(relative) != self.writer:
            self.marker["files"][relative] = self.writer
            self._save()

    def finish(self, state: str, error: str | None = None) -> None:
        """Record the run's final state (best effort: a full disk must not hide the error that ended the run)."""
        self._finished = True
        if self.marker is None or self.writer != FIT:
            return
        self.marker.update(state=state, updated=_now(), pid=os.getpid())
        if error:
            self.marker["error"] = error
        else:
            self.marker.pop("error", None)
        with contextlib.suppress(UserError, OSError):
            self._save()

    def _record(self, written: Path) -> None:
        if self._outer is not None:
            self._outer(written)
        try:
            relative = Path(os.path.abspath(written)).relative_to(os.path.abspath(self.path))
        except ValueError:
            return
        if relative.parts and relative.as_posix() != MARKER:
            self.own(relative.as_posix())

    def _save(self) -> None:
        assert self.marker is not None
        token = atomic.on_written.set(None)  # the marker does not record itself
        try:
            atomic.write_json(self.path / MARKER, self.marker)
        finally:
            atomic.on_written.reset(token)


def _folder_name(path: Path) -> Path:
    return Path(os.path.normpath(path)) if str(path) else Path(".")


def check_out_dir(out: str | None, task_name: str, resume: bool, overwrite: bool) -> Path:
    """The fit's run folder, checked before anything is loaded or written: the default name, refusal to
    replace anything sirenkit cannot prove it wrote, resume checks, another process holding it."""
    if out is None:
        if resume:
            raise UserError("--resume needs --out: the folder of the run to continue")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path("runs") / f"{task_name}-{stamp}"
        path, n = base, 1
        while _exists(path):
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        return path
    if not out.strip():
        raise UserError("--out is empty; give a folder name")
    path = Path(out)
    try:
        path.lstat()
        present = True
    except FileNotFoundError:
        present = False
    except OSError as exc:  # a file on the way (ENOTDIR), a name too long, no permission to look
        raise UserError(f"cannot write to output folder {out}: {atomic.describe_os_error(exc)}") from None
    if present and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a folder")
    if resume:
        if not present or not (_is_file(path / CONFIG) and _is_file(path / CHECKPOINT)):
            raise UserError(f"--resume: {path} holds no sirenkit run with a checkpoint")
        check_not_busy(path)
        return path
    if overwrite:
        _check_special(path, out)
    if not present or not _listing(path):
        return path
    marker = read_marker(path)
    if overwrite:
        _check_replaceable(path)
    elif marker is not None and marker.get("state") in ("failed", "interrupted") and not _is_file(path / CHECKPOINT):
        ended = "failed" if marker["state"] == "failed" else "was interrupted"
        raise UserError(f"--out {path} holds a run that {ended} before its first checkpoint; pass --overwrite to "
                        "replace it")
    elif marker is not None or _legacy_run(path):
        raise UserError(f"--out {path} already holds a run; pass --resume to continue it or --overwrite to replace it")
    else:
        raise UserError(f"--out {path} is not empty and holds no sirenkit run; choose another folder")
    check_not_busy(path)
    return path


def _listing(folder: Path) -> list[str]:
    """The names in `folder` other than the lock file (an empty folder may hold a lock file left by a refusal)."""
    try:
        return [name for name in os.listdir(folder) if name != LOCK]
    except OSError as exc:
        raise UserError(f"cannot read output folder {folder}: {atomic.describe_os_error(exc)}") from None


def _check_special(path: Path, given: str) -> None:
    """`--overwrite` never applies to `.`, a folder above the current one, a home or root folder, or a symlink."""
    if os.path.islink(given.rstrip("/\\") or given):
        raise UserError(f"--overwrite: --out {given} is a symbolic link; give the folder it points to, or another "
                        "folder")
    here, target = Path.cwd().resolve(), path.resolve()
    if target == here or target in here.parents or target in (Path.home().resolve(), Path(target.anchor)):
        what = ("the current folder" if target == here else "a folder above the current one"
                if target in here.parents else "a home or root folder")
        raise UserError(f"--overwrite: --out {given} is {what}; sirenkit never replaces it")


def _check_replaceable(path: Path) -> None:
    """`--overwrite` replaces only a run folder whose marker proves that sirenkit made it."""
    if not is_run(path):
        if _legacy_run(path):
            raise UserError(f"--overwrite: {path} holds a run from an earlier sirenkit without the {MARKER} marker, "
                            "so sirenkit cannot prove which files are its own; remove it yourself or use another "
                            "--out")
        raise UserError(f"--out {path} is not empty and holds no sirenkit run; choose another folder")


def open_run(path: Path, command: str, *, resume: bool, overwrite: bool) -> RunFolder:
    """Create (or reopen, for `--resume` / `--overwrite`) the fit's run folder and hold it for writing.

    Called once every setting and the data were checked. Under the lock the folder is checked again (another
    process may have written there since `check_out_dir`); a folder this call created is removed again if it
    cannot be used.
    """
    created = not _exists(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to output folder {path}: {atomic.describe_os_error(exc)}") from None
    lock = FolderLock(path, command)
    try:
        lock.acquire()
    except UserError:
        if created:
            _remove_created(path)
        raise
    try:
        marker = read_marker(path)
        if resume:
            if marker is None:  # a run from before the marker: adopt the files sirenkit names
                marker = _new_marker(command)
                marker["files"] = {name: FIT for name in LEGACY_FILES if _is_file(path / name)}
            marker.update(state="running", updated=_now(), pid=os.getpid(), command=command)
            with contextlib.suppress(FileNotFoundError):  # it described the run before this continuation
                (path / METRICS).unlink()
            marker["files"].pop(METRICS, None)
        else:
            if overwrite and marker is not None:
                kept = remove_owned(path, marker)
                if kept:
                    shown = ", ".join(kept[:5]) + (f" and {len(kept) - 5} more" if len(kept) > 5 else "")
                    print(f"sirenkit: note: --overwrite kept what sirenkit did not write in {path}: {shown}",
                          file=sys.stderr)
            elif _listing(path):
                raise UserError(f"--out {path} is no longer empty (another process wrote there meanwhile); "
                                "choose another folder")
            marker = _new_marker(command)
        atomic.remove_stale(path)
        folder = RunFolder(path, FIT, lock, marker)
        folder._save()  # also the proof that the folder is writable
        return folder
    except BaseException:
        lock.release()
        if created:
            _remove_created(path)
        raise


def _remove_created(path: Path) -> None:
    """Remove a folder this process created and left empty but for the lock file (a refusal under the lock)."""
    with contextlib.suppress(OSError):
        (path / LOCK).unlink(missing_ok=True)
        path.rmdir()


def _owned_path(folder: Path, relative: str) -> Path | None:
    """The path a marker entry names, if it lies inside `folder` without passing through a symlink."""
    parts = PurePosixPath(relative.rstrip("/")).parts
    if not parts or PurePosixPath(relative).is_absolute() or any(p in ("..", ".", "") for p in parts):
        return None
    current = folder
    for part in parts[:-1]:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return None
    return current / parts[-1]


def remove_owned(folder: Path, marker: dict[str, Any]) -> list[str]:
    """Delete the files `marker` records (and folders they leave empty); returns the names kept (not sirenkit's)."""
    parents: set[Path] = set()
    for relative in marker["files"]:
        target = _owned_path(folder, relative)
        if target is None:
            continue
        with contextlib.suppress(FileNotFoundError):
            if relative.endswith("/") and target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.is_symlink() or target.is_file():
                target.unlink()
        parents.update(p for p in target.parents if folder in p.parents)
    for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when empty
    atomic.remove_stale(folder)
    return sorted(name for name in _listing(folder) if name != MARKER)


# ------------------------------------------------------------------------------------------------ outputs
def run_of(folder: Path) -> Path | None:
    """The run folder that holds `folder`: the nearest one up with a marker (`fit images` nests per-image folders
    inside its run), else the nearest run of an earlier sirenkit."""
    chain = [Path(os.path.abspath(folder)), *Path(os.path.abspath(folder)).parents]
    return next((c for c in chain if is_run(c)), None) or next((c for c in chain if _legacy_run(c)), None)


@contextlib.contextmanager
def writing_outputs(outputs: list[tuple[str | Path, str]], command: str, *, overwrite: bool = False,
                    inputs: dict[str | Path, str] | tuple[str | Path, ...] = ()) -> Iterator[None]:
    """Hold what writing the output files `outputs` ([(path, flag naming it)]) needs, for the whole command.

    Refused with one line, before any work: a file a run's fit wrote (config, checkpoint, metrics, …), one of the
    command's `inputs` ({path: what it is} or paths), or an existing file sirenkit cannot prove it wrote (unless
    `overwrite`). Inside a run
    folder its lock is held throughout and each file is recorded in its marker as written by `command`;
    temporary files that killed commands left beside the outputs are removed.
    """
    roles = inputs if isinstance(inputs, dict) else {source: "an input of this command" for source in inputs}
    runs: dict[Path, None] = {}
    for given, flag in outputs:
        path = require_output_file(given, flag)
        for source, role in roles.items():
            with contextlib.suppress(OSError):
                if _exists(path) and os.path.samefile(source, path):
                    raise UserError(f"{flag} {path} is {role}; writing it would destroy it: choose another name")
        run = run_of(path.parent)
        proven = False
        if run is not None:
            marker = read_marker(run)
            relative = Path(os.path.abspath(path)).relative_to(run).as_posix()
            owner = marker["files"].get(relative) if marker is not None else \
                (FIT if relative in LEGACY_FILES else None)
            if owner == FIT or relative in (MARKER, LOCK):
                raise UserError(f"{flag} {path} is a file of the run in {run}; choose another name")
            proven = owner is not None
            runs[run] = None
        if _exists(path) and not proven and not overwrite:
            raise UserError(f"{flag} {path} already exists and sirenkit did not write it; pass --overwrite to "
                            "replace it, or choose another name")
    with contextlib.ExitStack() as stack:
        for run in runs:
            lock = FolderLock(run, command)
            lock.acquire()
            stack.enter_context(RunFolder(run, command, lock, read_marker(run)))  # the marker read under the lock
        for given, _ in outputs:
            atomic.remove_stale(Path(given).parent)
        yield
