"""Data-parallel training: `meta train` under torchrun with 2 gloo processes on the CPU."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sirenkit
from sirenkit.train.checkpoint import load_checkpoint

from .ddp_worker import TINY, digest

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    dump = root / "dump"
    dump.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(WORKER.parents[2]),
           "TMPDIR": str(root)}  # torchrun's own folders go there, not to /tmp
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(WORKER), str(root / "run"), str(dump)],
                          capture_output=True, text=True, timeout=240, env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "run", dump


def test_weights_are_identical_on_every_rank(ddp_run):
    run, dump = ddp_run
    ranks = [json.loads((dump / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2] and ranks[0]["steps"] == ranks[1]["steps"] == 30
    assert ranks[0]["digest"] == ranks[1]["digest"]
    model, _ = sirenkit.load_run(run)  # rank 0's checkpoint holds the same weights, without a 'module.' prefix
    assert digest(model) == ranks[0]["digest"]


def test_only_rank_0_writes_and_the_loss_decreases(ddp_run):
    run, _ = ddp_run
    assert sorted(p.name for p in run.iterdir()) == [
        ".sirenkit.lock", "checkpoint.json", "checkpoint.safetensors", "config.json", "curve.csv", "metrics.json",
        "mse_curve.png", "reconstructions.png", "run.json"]
    with open(run / "curve.csv", newline="") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f) if r["loss"]]
    assert len(losses) >= 6
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2, losses


def test_two_processes_match_one_process(ddp_run, tmp_path):
    """Each rank takes half of the same global batch and DDP averages the gradients: the same training as one
    process with the whole batch, up to floating-point summation order."""
    run, _ = ddp_run
    single = sirenkit.fit("meta", out=str(tmp_path / "single"), **TINY)
    a, _ = load_checkpoint(run)
    for name, tensor in single.model.state_dict().items():
        torch.testing.assert_close(a[f"model.{name}"], tensor, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("argv,needle", [
    (["fit", "image", "--size", "16", "--steps", "2"], "`sirenkit fit image` does not support torchrun"),
    (["meta", "train", "--size", "12", "--context-max", "50", "--max-seconds", "5"],
     "--max-seconds is not supported under torchrun"),
    (["meta", "train", "--size", "12", "--context-max", "50", "--batch-size", "7"],
     "--batch-size 7 does not split evenly over 2 processes"),
], ids=["task-without-torchrun", "max-seconds", "batch-not-divisible"])
def test_torchrun_refusals_before_any_rank_waits(argv, needle, tmp_path, monkeypatch, capsys):
    """Checked before the process group is joined, so a refusal never leaves the other ranks waiting."""
    from sirenkit.cli import main

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = main([*argv, "--out", str(tmp_path / "run"), "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists() and not torch.distributed.is_initialized()
