"""`sirenkit render`: sample a finished run's network at any resolution and write the task's artefact."""

from __future__ import annotations

from pathlib import Path

from .config import DEFAULT_CHUNK, check_number
from .errors import UserError
from .io.files import require_output_file
from .runs.folder import writing_outputs
from .runs.load import load_run
from .tasks import get_task
from .tasks.base import RenderOptions
from .tasks.stored import checked_signal
from .train.device import resolve_device


def render_run(run_dir: str | Path, size: int | None = None, out: str | Path | None = None,
               chunk: int = DEFAULT_CHUNK, device: str = "auto", frames: int | None = None,
               overwrite: bool = False) -> Path:
    """Sample the network of a finished run at any resolution (chunked) and write the task's artefact.

    Before anything is written: the options, the run's metadata (`checked_signal`: the network fits the task and
    the signal description is complete and sane) and the size of the output (`Task.check_render`, against the
    `OutputLimit`s of sirenkit.tasks.base) are checked, then the output path (`writing_outputs`: never a file of
    the run's fit or one sirenkit did not write, unless `overwrite`; inside a run folder, under its lock)."""
    # the type rules of the CLI's numbers first (the Python API passes anything: '16', 2.5, inf, nan), then ranges
    if size is not None:
        size = check_number("--size", size, int, 2)
    if frames is not None:
        frames = check_number("--frames", frames, int, 1)
    chunk = check_number("--chunk", chunk, int, 1)
    dev = resolve_device(device)
    model, record = load_run(run_dir, dev)
    task_cls = get_task(record.get("task", ""))
    if frames is not None and not task_cls.renders_frames:
        raise UserError(f"--frames applies to video runs; {run_dir} is a run of task {task_cls.name!r}")
    signal = checked_signal(record, run_dir, task_cls)
    options = RenderOptions(size=size, frames=frames, chunk=chunk, run=str(run_dir))
    task_cls.check_render(signal, options)
    if out is None:
        out = Path(run_dir) / f"render-{size or 'native'}{task_cls.render_suffix()}"
    example = Path(out) / f"render{task_cls.render_suffix()}"
    out = require_output_file(out, "--out", f"give a file name such as {example}")
    with writing_outputs([(out, "--out")], "render", overwrite=overwrite, reads=run_dir):
        return task_cls.render(model, signal, out, options, dev)
