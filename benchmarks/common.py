"""Helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`, so this folder is on sys.path).

They live in `sirenkit.bench.suite` (the installed `sirenkit bench suite` uses them too); this module re-exports them."""

from __future__ import annotations

from sirenkit.bench.suite import cpu_name, interleaved_step_times, optimiser_step, step_time_table

__all__ = ["cpu_name", "interleaved_step_times", "optimiser_step", "step_time_table"]
