"""Tasks from other packages (entry point group `sirenkit.tasks`): the example plugin in examples/plugin is
installed (pip, into a temporary folder, offline) and appears in the CLI with generated help and runs end to end;
a broken plugin is one warning line and never stops the built-in tasks (issue 23)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sirenkit.tasks import REGISTRY, Task
from sirenkit.tasks.plugins import _problem

PLUGIN = Path(__file__).resolve().parents[1] / "examples" / "plugin"


def _sirenkit(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "sirenkit", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example plugin pip-installed into a folder of its own (a copy of its source: the build leaves files)."""
    root = tmp_path_factory.mktemp("plugin")
    shutil.copytree(PLUGIN, root / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--no-index", "--target", str(root / "site"), str(root / "src")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return root / "site"


def test_the_example_plugin_appears_in_the_cli_and_runs(installed, tmp_path):
    listing = _sirenkit(installed, "--help", cwd=tmp_path)
    assert listing.returncode == 0 and "ripple" in listing.stdout, listing.stdout
    help_text = _sirenkit(installed, "fit", "ripple", "--help", cwd=tmp_path)
    assert help_text.returncode == 0 and "--frequency" in help_text.stdout and "--samples" in help_text.stdout
    run = _sirenkit(installed, "fit", "ripple", "--samples", "128", "--steps", "150", "--device", "cpu", "--quiet",
                    "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["task"] == "ripple" and metrics["steps"] == 150 and metrics["psnr"] > 40, metrics
    assert {"config.json", "checkpoint.safetensors", "curve.csv"} <= {p.name for p in (tmp_path / "run").iterdir()}
    refused = _sirenkit(installed, "fit", "ripple", "--frequency", "-1", "--out", str(tmp_path / "bad"),
                        cwd=tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip().endswith("--frequency must be in (0, 1000], got -1.0")
    assert not (tmp_path / "bad").exists()


def test_a_broken_plugin_is_one_warning_and_the_builtin_tasks_stay(monkeypatch, capsys):
    """Entry points that fail to import, name something that is not a Task, or take a built-in's name: one
    warning line each, nothing registered, the built-in tasks untouched."""
    from importlib.metadata import EntryPoint

    from sirenkit.tasks import plugins

    points = [EntryPoint("broken", "no_such_module:Task", plugins.GROUP),
              EntryPoint("number", "math:pi", plugins.GROUP),
              EntryPoint("again", "sirenkit.tasks.image:ImageTask", plugins.GROUP)]  # already registered: fine
    monkeypatch.setattr(plugins, "entry_points", lambda group: points if group == plugins.GROUP else [])
    before = dict(REGISTRY)
    assert plugins.load_plugins() == ["image"]
    assert REGISTRY == before
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 2, lines
    assert lines[0].startswith("sirenkit: warning: plugin task broken (no_such_module:Task) failed to load: "
                               "ModuleNotFoundError")
    assert "number (math:pi) is not a subclass of sirenkit.tasks.Task; skipped" in lines[1]


def test_what_a_plugin_class_must_be():
    assert _problem(REGISTRY["image"]) is None
    assert "not a subclass" in str(_problem(int))

    class Nameless(Task):  # abstract methods do not matter to the check, the declared parts do
        command = ("fit", "x")

    assert "no task name" in str(_problem(Nameless))
