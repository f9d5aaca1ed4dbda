"""Trainer callbacks: progress display and TensorBoard logging, called at named points of the loop."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import UserError


class Callback:
    """Hooks the trainer calls; every method is optional."""

    def on_start(self, start_step: int, total_steps: int) -> None: ...

    def on_step(self, step: int) -> None: ...

    def on_log(self, row: dict[str, Any]) -> None: ...

    def on_end(self) -> None: ...


class EvaluationHook(Callback):
    """Calls `fn(row)` with each evaluation's row (the rows of curve.csv that carry the task metric)."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self.fn = fn

    def on_log(self, row: dict[str, Any]) -> None:
        if row.get("metric") is not None:
            self.fn(dict(row))


def as_callbacks(given: Any) -> tuple[Callback, ...]:
    """`callbacks=` of the API as Callback objects: each item a Callback, or a function of an evaluation row."""
    items = (given,) if isinstance(given, Callback) or callable(given) else tuple(given or ())
    out: list[Callback] = []
    for item in items:
        if isinstance(item, Callback):
            out.append(item)
        elif callable(item):
            out.append(EvaluationHook(item))
        else:
            raise UserError(f"callbacks= takes functions of an evaluation row or Callback objects, got "
                            f"{type(item).__name__}")
    return tuple(out)


def _format_row(row: dict[str, Any], metric: str) -> dict[str, str]:
    shown = {} if row.get("loss") is None else {"loss": f"{row['loss']:.3e}"}
    if row.get("metric") is not None:
        shown[metric] = f"{row['metric']:.4g}"
    return shown


class ProgressBar(Callback):
    """tqdm bar with it/s and the task metric on a terminal; plain log lines elsewhere (CI, files)."""

    def __init__(self, metric: str, enabled: bool = True, line_every: int = 0) -> None:
        self.metric = metric
        self.enabled = enabled
        self.interactive = enabled and sys.stderr.isatty()
        self.line_every = line_every
        self.bar = None
        self.total = 0
        self.last_metric: str | None = None  # the latest evaluation, shown until the next one

    def on_start(self, start_step: int, total_steps: int) -> None:
        self.total = total_steps
        if self.interactive:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="it", dynamic_ncols=True, leave=True)

    def on_step(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, row: dict[str, Any]) -> None:
        shown = _format_row(row, self.metric)
        if self.metric in shown:
            self.last_metric = shown[self.metric]
        elif self.last_metric is not None:  # a log row between evaluations: keep the last evaluated value
            shown[self.metric] = self.last_metric
        if self.bar is not None:
            self.bar.set_postfix(shown, refresh=False)
        elif self.enabled and row.get("metric") is not None:
            rate = row.get("it_per_s")
            rate_text = f"  {rate:.1f} it/s" if rate else ""
            parts = "  ".join(f"{k} {v}" for k, v in shown.items())
            print(f"step {row['step']}/{self.total}  {parts}{rate_text}  {row['seconds']:.1f}s", file=sys.stderr)

    def on_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TensorBoardLogger(Callback):
    """Writes loss, each loss term, the metric and the lr to `<run>/tensorboard`."""

    def __init__(self, log_dir: Path, metric: str) -> None:
        self.writer = self.writer_class()(str(log_dir))
        self.metric = metric

    @staticmethod
    def writer_class() -> type:
        """TensorBoard's SummaryWriter; a one-line UserError when tensorboard is not installed (the runner asks
        before it writes anything)."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError(
                "--tensorboard needs the tensorboard package: pip install 'sirenkit[tensorboard]'"
            ) from None
        return SummaryWriter

    def on_log(self, row: dict[str, Any]) -> None:
        step = row["step"]
        for key, value in row.items():
            if key in ("step", "seconds", "metric") or value is None or not isinstance(value, (int, float)):
                continue
            self.writer.add_scalar(f"train/{key}", value, step)
        if row.get("metric") is not None:
            self.writer.add_scalar(f"eval/{self.metric}", row["metric"], step)

    def on_end(self) -> None:
        self.writer.close()
