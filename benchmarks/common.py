"""Helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path).

They live in `sirenkit.bench.suite` (the installed `sirenkit bench suite` uses them too); this module re-exports them."""

from __future__ import annotations

import os
from pathlib import Path

from sirenkit.bench.suite import cpu_name, interleaved_step_times, optimiser_step, step_time_table

__all__ = ["cpu_name", "interleaved_step_times", "optimiser_step", "shared_data", "step_time_table"]


def shared_data() -> Path:
    """The data folder the benchmarks read (bunny, Bach clip, bikes, FWI file): $SIRENKIT_DATA when set, else
    ../shared/data beside the checkout. The variable exists for machines where ../shared does not travel (the
    device lease: benchmarks/gpu_prepare.sh copies the files into the checkout)."""
    env = os.environ.get("SIRENKIT_DATA")
    return Path(env).resolve() if env else Path(__file__).resolve().parents[2] / "shared" / "data"
