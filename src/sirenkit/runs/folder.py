"""The run folder's marker and the files it owns: creating, replacing and writing into run folders.

A folder is a sirenkit run only when it holds `run.json`, the marker sirenkit writes when it creates the run:
an id, the run's state (`running`, `complete`, `failed`, `interrupted`) and every file sirenkit wrote into the
folder, each with the command that wrote it. `--overwrite` removes exactly those files and nothing else.
Every command that writes into a run folder holds the folder's lock (runs.lock) while it writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from .._version import __version__
from ..errors import UserError
from ..io import atomic
from ..io.files import require_output_file
from .files import CHECKPOINT, CONFIG, FIT, FORMAT, LEGACY_FILES, LOCK, MARKER, METRICS
from .lock import FolderLock, check_not_busy, timestamp


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


def _new_marker(command: str) -> dict[str, Any]:
    return {"format": FORMAT, "id": uuid.uuid4().hex, "sirenkit": __version__, "command": command,
            "created": timestamp(), "state": "running", "updated": timestamp(), "pid": os.getpid(),
            "host": socket.gethostname(), "files": {}}


# ------------------------------------------------------------------------------------------------ writing
class RunFolder:
    """A run folder held for writing by this process: its lock, its marker, and the record of the files written.

    While it is open, every file about to be written through `sirenkit.io.atomic` inside the folder is first
    recorded in the marker as written by `writer` ("fit", "render", …), so the marker never lists less than the
    folder holds; an existing file that the marker does not list is never replaced. Use it as a context manager;
    leaving it with an exception marks the run `failed` (or `interrupted`) unless `finish` was called, and
    releases the lock.
    """

    def __init__(self, path: Path, writer: str, lock: FolderLock, marker: dict[str, Any] | None,
                 replaceable: frozenset[str] = frozenset()) -> None:
        self.path = Path(os.path.realpath(path))
        self.writer = writer
        self.lock = lock
        self.marker = marker  # None for a folder that is not a run: files written there are not recorded
        self.replaceable = replaceable  # files not sirenkit's that the user allowed to replace (--overwrite)
        self._token: Any = None
        self._outer: Any = None
        self._finished = False
        self._tracked: list[tuple[str, str, set[str]]] = []

    def __enter__(self) -> RunFolder:
        self._outer = atomic.before_write.get()  # an enclosing holder of another folder keeps its say
        self._token = atomic.before_write.set(self._declare)
        return self

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if self._token is not None:
                atomic.before_write.reset(self._token)
                self._token = None
            self._own_tracked()
            if self.writer == FIT and not self._finished and exc is not None:
                interrupted = isinstance(exc, KeyboardInterrupt) or getattr(exc, "exit_code", 2) != 2
                error = getattr(exc, "how", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
                self.finish("interrupted" if interrupted else "failed", error=error)
        finally:
            if exc is not None:  # a signal may land between a temporary file's creation and its clean-up
                atomic.remove_stale(self.path, own=True)
            self.lock.release()

    def own(self, relative: str) -> None:
        """Record the file `relative` (a path inside the folder, '/'-separated) as this writer's."""
        if self.marker is not None and self.marker["files"].get(relative) != self.writer:
            self.marker["files"][relative] = self.writer
            self._save()

    def track(self, relative_dir: str, prefix: str) -> None:
        """Files another library writes into `relative_dir` (TensorBoard's event files, named `prefix`…) are
        recorded when the folder is released: those that appeared meanwhile, by name, never the folder itself."""
        self._tracked.append((relative_dir, prefix, set(_names(self.path / relative_dir))))

    def finish(self, state: str, error: str | None = None) -> None:
        """Record the run's final state (best effort: a full disk must not hide the error that ended the run)."""
        self._finished = True
        if self.marker is None or self.writer != FIT:
            return
        self._own_tracked()
        self.marker.update(state=state, updated=timestamp(), pid=os.getpid())
        if error:
            self.marker["error"] = error
        else:
            self.marker.pop("error", None)
        with contextlib.suppress(UserError, OSError):
            self._save()

    def _own_tracked(self) -> None:
        for relative_dir, prefix, before in self._tracked:
            for name in sorted(set(_names(self.path / relative_dir)) - before):
                if name.startswith(prefix):
                    with contextlib.suppress(UserError, OSError):
                        self.own(f"{relative_dir}/{name}")

    def _declare(self, target: Path) -> None:
        if self._outer is not None:
            self._outer(target)
        real = Path(os.path.realpath(target.parent)) / target.name
        try:
            relative = real.relative_to(self.path).as_posix()
        except ValueError:
            return
        if self.marker is None or relative == MARKER:
            return
        if relative not in self.marker["files"] and relative not in self.replaceable and os.path.lexists(real) \
                and not self.marker.get("adopted"):
            raise UserError(f"{real} exists and sirenkit did not write it; move it out of the run folder {self.path} "
                            "(sirenkit would replace it)")
        self.own(relative)

    def _save(self) -> None:
        assert self.marker is not None
        _write_marker(self.path, self.marker)


def _write_marker(folder: Path, marker: dict[str, Any]) -> None:
    token = atomic.before_write.set(None)  # the marker does not record itself
    try:
        atomic.write_json(folder / MARKER, marker)
    finally:
        atomic.before_write.reset(token)


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


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
    if present and path.is_symlink() and not path.exists():
        raise UserError(f"--out {path} is a symbolic link to {os.readlink(path)}, which does not exist")
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
    check_not_busy(path)
    marker = read_marker(path)
    if overwrite:
        _check_replaceable(path)
    elif marker is not None and marker.get("state") != "complete" and not _is_file(path / CHECKPOINT):
        raise UserError(f"--out {path} holds a run that stopped before its first checkpoint (state "
                        f"{marker.get('state')!r}); pass --overwrite to replace it")
    elif marker is not None or _legacy_run(path):
        raise UserError(f"--out {path} already holds a run; pass --resume to continue it or --overwrite to replace it")
    else:
        raise UserError(f"--out {path} is not empty and holds no sirenkit run; choose another folder")
    return path


def _listing(folder: Path) -> list[str]:
    """The names in `folder` other than the lock file (an empty folder may hold a lock file left by a refusal)."""
    try:
        return [name for name in os.listdir(folder) if name != LOCK]
    except OSError as exc:
        raise UserError(f"cannot read output folder {folder}: {atomic.describe_os_error(exc)}") from None


def _check_special(path: Path, given: str) -> None:
    """`--overwrite` never applies to `.`, a folder above the current one, a home or root folder, or a symlink."""
    if os.path.islink(os.path.normpath(given)):  # also `LINK/`, `LINK/.`, `./LINK`
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
    process may have written there since `check_out_dir`); a folder this call created and locked is removed again
    if it cannot be used.
    """
    created = not _exists(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot write to output folder {path}: {atomic.describe_os_error(exc)}") from None
    lock = FolderLock(path, command)
    lock.acquire()  # refused: the folder is the other process's now, even if this one created it
    try:
        marker = read_marker(path)
        if resume:
            if marker is None:  # a run from before the marker: adopt it (its artefacts may be replaced as before)
                marker = _new_marker(command)
                marker["files"] = {name: FIT for name in LEGACY_FILES if _is_file(path / name)}
                marker["adopted"] = True
            marker.update(state="running", updated=timestamp(), pid=os.getpid(), command=command)
            with contextlib.suppress(FileNotFoundError):  # it described the run before this continuation
                (path / METRICS).unlink()
            marker["files"].pop(METRICS, None)
        else:
            if overwrite and marker is not None:
                marker.update(state="replacing", updated=timestamp(), pid=os.getpid())  # a kill from here on never
                _write_marker(path, marker)  # leaves a marker saying `complete` over a partly removed run
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
    """Delete the files `marker` records (and folders they leave empty; a folder is never removed with what it
    holds); returns the names kept (not sirenkit's)."""
    parents: set[Path] = set()
    for relative in marker["files"]:
        target = _owned_path(folder, relative)
        if target is None:
            continue
        with contextlib.suppress(FileNotFoundError):
            if target.is_symlink() or target.is_file():
                target.unlink()
            elif target.is_dir():  # a folder is removed only when empty: what else it holds is not sirenkit's
                parents.add(target)
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
    real = Path(os.path.realpath(folder))
    chain = [real, *real.parents]
    return next((c for c in chain if is_run(c)), None) or next((c for c in chain if _legacy_run(c)), None)


def read_inputs(run: str | Path) -> dict[Path, str]:
    """The files a command reads from `run` (folder or checkpoint) and the inputs its fit read (config.json's input
    paths, relative to its `cwd`), as {path: what it is}: an output there would destroy the run or its data
    (`compress RUN --out RUN/checkpoint.safetensors`, `render RUN --out photo.png --overwrite` over the image the
    run was fitted to)."""
    path = Path(run)
    checkpoint = path if _is_file(path) else path / CHECKPOINT
    folder = checkpoint.parent
    found: dict[Path, str] = {checkpoint: f"the checkpoint of run {run}",
                              checkpoint.with_suffix(".json"): f"the checkpoint's JSON twin of run {run}",
                              folder / CONFIG: f"the {CONFIG} of run {run}"}
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        started_in = config.get("cwd") if isinstance(config.get("cwd"), str) else "."
        recorded = config.get("inputs") if isinstance(config.get("inputs"), dict) else {}
        for field, value in config.get("task", {}).items():
            # the inputs the runner fingerprinted; in runs written before it did, any setting naming a file
            fingerprinted = field in recorded
            if isinstance(value, str) and value and (fingerprinted or _exists(Path(started_in) / value)):
                flag = "--" + field.replace("_", "-")
                found[Path(started_in) / value] = f"an input of run {run} ({flag if field != 'path' else 'its data'})"
    except (OSError, ValueError, RecursionError, AttributeError, TypeError):
        pass  # no readable config.json: the checkpoint alone is protected
    return found


@contextlib.contextmanager
def writing_outputs(outputs: list[tuple[str | Path, str]], command: str, *, overwrite: bool = False,
                    inputs: tuple[str | Path, ...] = (), reads: str | Path | None = None) -> Iterator[None]:
    """Hold what writing the output files `outputs` ([(path, flag naming it)]) needs, for the whole command.

    Refused with one line, before any work, whatever `overwrite` says: a file a run's fit wrote (config,
    checkpoint, metrics, …), one of the command's `inputs`, a file or a path inside a folder that the run it
    `reads` was fitted from (`read_inputs`); and without `overwrite`, an existing file sirenkit cannot prove it
    wrote. Inside a run folder its lock is held throughout and each file is recorded in its marker as written by
    `command`; temporary files that killed commands left beside the outputs are removed.
    """
    roles = {Path(source): "an input of this command" for source in inputs}
    if reads is not None:
        roles.update(read_inputs(reads))
    runs: dict[Path, set[str]] = {}
    for given, flag in outputs:
        path = require_output_file(given, flag)
        real = Path(os.path.realpath(path.parent)) / path.name  # the file itself may be a link: it is replaced
        for source, role in roles.items():
            if _same_or_inside(real, source):
                raise UserError(f"{flag} {path} is {role}; writing it would destroy it: choose another name")
        run = run_of(real.parent)
        proven = False
        if run is not None:
            marker = read_marker(run)
            relative = real.relative_to(run).as_posix()
            owner = marker["files"].get(relative) if marker is not None else \
                (FIT if relative in LEGACY_FILES else None)
            if owner == FIT or relative in (MARKER, LOCK):
                raise UserError(f"{flag} {path} is a file of the run in {run}; choose another name")
            proven = owner is not None
            runs.setdefault(run, set()).add(relative)
        if _exists(path) and not proven and not overwrite:
            raise UserError(f"{flag} {path} already exists and sirenkit did not write it; pass --overwrite to "
                            "replace it, or choose another name")
    with contextlib.ExitStack() as stack:
        for run, names in runs.items():
            lock = FolderLock(run, command)
            lock.acquire()
            replaceable = frozenset(names) if overwrite else frozenset()
            stack.enter_context(RunFolder(run, command, lock, read_marker(run), replaceable))  # read under the lock
        for given, _ in outputs:
            atomic.remove_stale(Path(given).parent)
        yield


def _same_or_inside(target: Path, source: Path) -> bool:
    """Whether `target` is the file `source` (also through links) or lies inside the folder `source`."""
    try:
        if _exists(target) and _exists(source) and os.path.samefile(source, target):
            return True
        real = Path(os.path.realpath(source))
        return real.is_dir() and real in target.parents
    except OSError:
        return False
