"""`sirenkit bench suite` and `sirenkit bench activations`: their options and runs live beside the benchmarks
(`bench.suite.SuiteConfig`, `bench.activations.ActivationsConfig`), which `python benchmarks/*.py` also parse."""

from __future__ import annotations

from ..bench import activations, suite
from .registry import Command, register

register(Command(
    ("bench", "suite"), "image, Poisson, SDF and Helmholtz: official-style reference vs sirenkit's default step "
                        "(time, memory, ratio)", suite.SuiteConfig, suite.run_from_config,
    memory_flags="set of --workloads, or --quick"))
register(Command(
    ("bench", "activations"), "every representation on the same images at the same parameter budget: PSNR vs steps "
                              "and seconds", activations.ActivationsConfig, activations.run_from_config,
    description="Fit every representation (--activation) to the same images with the same seed, pixels, schedule "
                "and parameter budget; print a ranked table.",
    memory_flags="--size, --batch-pixels, --hidden-features or --max-images"))
