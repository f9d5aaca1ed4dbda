"""Helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path).

The timing helpers and `machine_info` live in `sirenkit.bench.suite` (the installed `sirenkit bench` commands use
them too) and are re-exported here; the report and data helpers are the scripts' own."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sirenkit.bench.suite import cpu_name, interleaved_step_times, machine_info, optimiser_step, step_time_table

__all__ = ["cpu_name", "interleaved_step_times", "machine_info", "optimiser_step", "report_header", "shared_data",
           "step_time_table", "write_json"]


def report_header(results: dict[str, Any], script: str | None = None) -> str:
    """An HTML comment naming the machine, the wall time and (with `script`) the command, above a markdown report."""
    m = results["machine"]
    command = f" · python benchmarks/{script} {' '.join(results.get('argv', []))}" if script else ""
    return (f"<!-- {m['date']} · {m.get('gpu') or m['cpu']} · {m['cpu_count']} cores, {m['torch_threads']} torch "
            f"threads · torch {m['torch']} · {m['device']} · {results['wall_seconds']:.0f} s wall{command} -->\n")


def write_json(path: str | None, results: dict[str, Any]) -> None:
    """Write `results` to `path` (when given); called after every part so a cut-short run keeps what it has."""
    if path:
        Path(path).write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")


def shared_data() -> Path:
    """The data folder the benchmarks read (bunny, Bach clip, bikes, FWI file): $SIRENKIT_DATA when set, else
    ../shared/data beside the checkout. The variable exists for machines where ../shared does not travel (the
    device lease: benchmarks/gpu_prepare.sh copies the files into the checkout)."""
    env = os.environ.get("SIRENKIT_DATA")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2] / "shared" / "data"
