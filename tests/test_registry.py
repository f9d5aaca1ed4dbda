"""Every registered task runs end to end with a tiny config and reaches its stated metric threshold."""

from __future__ import annotations

import json

import pytest

import sirenkit
from sirenkit.tasks import REGISTRY
from sirenkit.train.checkpoint import load_checkpoint

COMPILED_SMOKE = {"helmholtz", "poisson-gradient", "poisson-laplacian"}
"""The tasks whose smoke run is marked `compiles` (`--compile auto` compiles their closed-form loss on a CPU, as in
a user's run); the others run eagerly here. A new graph costs about 2 s once a process has compiled one (9–18 s
for its first); the SDF's compiled loss is trained in tests/models/test_backward_bf16.py (a process of its own),
and compiling itself is tested in tests/diff, tests/train and tests/models."""


@pytest.mark.figures  # every figure of every task is drawn, and each map checked for a labelled colour bar
@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.compiles] if n in COMPILED_SMOKE else [])
                                  for n in sorted(REGISTRY)])
def test_task_smoke(name, tmp_path):
    task_cls = REGISTRY[name]
    options, threshold = task_cls.smoke
    result = sirenkit.fit(name, out=str(tmp_path / "run"), device="cpu", quiet=True, **options)
    value = result.metrics[task_cls.metric]
    if task_cls.higher_is_better:
        assert value >= threshold, f"{name}: {task_cls.metric} {value} below {threshold}"
    else:
        assert value <= threshold, f"{name}: {task_cls.metric} {value} above {threshold}"
    run = tmp_path / "run"
    for name_ in ("config.json", "metrics.json", "curve.csv", "checkpoint.safetensors", "checkpoint.json"):
        assert (run / name_).is_file(), name_
    for artefact in result.metrics["artefacts"]:
        assert (run / artefact).stat().st_size > 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["compiled"] is (name in COMPILED_SMOKE)  # the `compiles` mark decides, as tests/conftest.py says
    assert metrics["steps"] == options.get("steps", metrics["steps"]) and metrics["seconds"] > 0
    _, record = load_checkpoint(run)
    assert record["task"] == name and record["step"] == metrics["steps"]
