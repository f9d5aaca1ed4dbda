"""`sirenkit render`: sample a finished run's network at any resolution and write the task's artefact."""

from __future__ import annotations

from pathlib import Path

from .errors import UserError
from .io.files import require_output_file
from .runner import load_run
from .tasks import get_task
from .tasks.base import RenderOptions
from .train.device import resolve_device


def render_run(run_dir: str | Path, size: int | None = None, out: str | Path | None = None,
               chunk: int = 65536, device: str = "auto", frames: int | None = None) -> Path:
    """Sample the network of a finished run at any resolution (chunked) and write the task's artefact."""
    if size is not None and size < 2:
        raise UserError(f"--size must be ≥ 2, got {size}")
    if frames is not None and frames < 1:
        raise UserError(f"--frames must be ≥ 1, got {frames}")
    if chunk < 1:
        raise UserError(f"--chunk must be ≥ 1, got {chunk}")
    dev = resolve_device(device)
    model, meta = load_run(run_dir, dev)
    task_cls = get_task(meta.get("task", ""))
    if out is None:
        out = Path(run_dir) / f"render-{size or 'native'}{task_cls.render_suffix()}"
    example = Path(out) / f"render{task_cls.render_suffix()}"
    out = require_output_file(out, "--out", f"give a file name such as {example}")
    options = RenderOptions(size=size, frames=frames, chunk=chunk)
    signal = meta.get("signal")
    if not isinstance(signal, dict):
        raise UserError(f"checkpoint of {run_dir} has no description of the fitted signal; it was damaged or edited")
    try:
        return task_cls.render(model, signal, out, options, dev)
    except KeyError as exc:  # the stored signal description lacks a field the task needs
        raise UserError(f"checkpoint of {run_dir} lacks {exc} in its description of the fitted signal; "
                        "it was damaged or edited") from None
