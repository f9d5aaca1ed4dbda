"""`sirenkit bench activations`: every representation at the same parameter budget, ranked, with its settings."""

from __future__ import annotations

import json

import pytest

from sirenkit.bench.activations import METHOD_LR, psnr_at, run_activations
from sirenkit.cli import main
from sirenkit.errors import UserError
from sirenkit.models import ACTIVATIONS


@pytest.fixture(scope="module")
def small_bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "acts"
    result = run_activations(steps=60, size=32, batch_pixels=0, hidden_features=48, hidden_layers=2,
                             max_images=1, device="cpu", out=str(out), quiet=True)
    return out, result


def test_every_method_runs_at_the_same_budget(small_bench):
    _, result = small_bench
    runs = result["runs"]
    assert [r["method"] for r in runs] == list(ACTIVATIONS) and {r["image"] for r in runs} == {"camera"}
    budget = runs[0]["budget"]
    for r in runs:
        assert r["parameters"] <= budget, r["method"]
        assert r["parameters"] >= 0.5 * budget, r["method"]  # the width is fitted to the budget, not left tiny
        assert r["steps"] == 60 and r["train"]["lr"] == METHOD_LR[r["method"]]
        assert r["model"]["activation"] == r["method"] and "hidden_features" in r["model"]


def test_siren_ranks_above_relu_and_tanh_on_the_cameraman(small_bench):
    _, result = small_bench
    rank = {row["method"]: row["rank"] for row in result["summary"]}
    psnr = {row["method"]: row["psnr"] for row in result["summary"]}
    assert rank["sine"] < rank["relu"] and rank["sine"] < rank["tanh"]
    assert psnr["sine"] > psnr["relu"] + 10.0 and psnr["sine"] > psnr["tanh"] + 10.0


@pytest.mark.figures
def test_outputs_written(small_bench):
    out, result = small_bench
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["steps"] == 60 and len(data["runs"]) == len(ACTIVATIONS)
    assert (out / "psnr_vs_time.png").stat().st_size > 0
    table = (out / "results.md").read_text()
    assert "| 1 |" in table and "sine" in table and result["markdown"].strip() == table.strip()


def test_psnr_at_time():
    curve = [{"seconds": 0.0, "psnr": 10.0}, {"seconds": 1.0, "psnr": 20.0}, {"seconds": 2.0, "psnr": 25.0}]
    assert psnr_at(curve, 1.5) == 20.0 and psnr_at(curve, 5.0) == 25.0


@pytest.mark.parametrize("args, message", [
    (["--methods", "sine,nope"], "unknown method(s) nope"),
    (["--steps", "0"], "--steps must be ≥ 1"),
    (["--images", "/nonexistent/folder"], "does not exist"),
    (["--lr", "1e-3", "--lr-sweep", "1e-3"], "either --lr or --lr-sweep"),
    (["--lr-sweep", "a,b"], "--lr-sweep takes comma-separated numbers"),
    (["--max-images", "-1"], "--max-images must be ≥ 0"),
    (["--threads", "-1"], "--threads must be in [1, 65536], got -1"),
    (["--threads", "2147483648"], "--threads must be in [1, 65536], got 2147483648"),  # was a ValueError in torch
], ids=["methods-unknown", "steps-0", "images-missing", "lr-and-sweep", "sweep-not-numbers", "max-images-negative",
        "threads-negative", "threads-huge"])
def test_bad_options_are_refused(args, message, capsys):
    assert main(["bench", "activations", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_a_diverging_method_is_reported_not_fatal():
    result = run_activations(methods="sine,relu", steps=10, size=16, lr=1e30, max_images=1, device="cpu", quiet=True)
    assert all(r.get("diverged") for r in result["runs"])
    assert "diverged on 1 image(s)" in result["markdown"]


@pytest.mark.parametrize("where", ["under-a-file", "read-only-file-system"])
def test_an_unwritable_out_is_refused_before_the_fits(where, tmp_path, capsys, monkeypatch):
    """`--out` where no folder can be made was refused only after the whole benchmark had run: now before the
    first fit (a fit would fail this test), with one line, and nothing is left behind."""
    import os

    from sirenkit.bench import activations

    def no_fits(*args, **kwargs):
        raise AssertionError("a fit ran before --out was checked")

    monkeypatch.setattr(activations, "fit_one", no_fits)
    if where == "under-a-file":
        (tmp_path / "a_file").write_text("not a folder")
        out = tmp_path / "a_file" / "acts"
        reason = "Not a directory"
    else:
        real_mkdir = os.mkdir

        def read_only(path, *args, **kwargs):  # as a read-only mount answers (also to root)
            if str(path).startswith(str(tmp_path / "ro")):
                raise OSError(30, "Read-only file system", str(path))
            return real_mkdir(path, *args, **kwargs)

        monkeypatch.setattr(os, "mkdir", read_only)
        out = tmp_path / "ro" / "acts"
        reason = "Read-only file system"
    before = sorted(tmp_path.rglob("*"))
    code = main(["bench", "activations", "--methods", "sine", "--steps", "2", "--size", "16", "--max-images", "1",
                 "--device", "cpu", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"sirenkit: error: cannot write to output folder {out}: {reason}"), err[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_a_folder_made_for_out_is_removed_when_the_benchmark_fails(tmp_path, monkeypatch):
    """The --out folder is made before the fits (so an unwritable place is refused at once); if the benchmark then
    fails, the folders it made are removed again, and a folder that was there stays."""
    from sirenkit.bench import activations

    def failing(*args, **kwargs):
        raise UserError("a fit failed")

    monkeypatch.setattr(activations, "fit_one", failing)
    for out, kept in [(tmp_path / "new" / "deeper" / "acts", tmp_path), (tmp_path, tmp_path)]:
        with pytest.raises(UserError, match="a fit failed"):
            run_activations(methods="sine", steps=2, size=16, max_images=1, device="cpu", quiet=True, out=str(out))
        assert kept.is_dir() and not (tmp_path / "new").exists()
        assert list(tmp_path.iterdir()) == []
