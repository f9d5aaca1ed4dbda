"""Benchmarks shipped with the package: timing helpers and the `sirenkit bench suite` workloads."""

from __future__ import annotations

from .suite import cpu_name, interleaved_step_times, optimiser_step, run_suite, step_time_table

__all__ = ["cpu_name", "interleaved_step_times", "optimiser_step", "run_suite", "step_time_table"]
