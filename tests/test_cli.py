"""The command line as a user meets it: help text, errors as one line with exit code 2, no partial output."""

from __future__ import annotations

import dataclasses
import json

import pytest

from sirenkit.cli import main
from sirenkit.models import ModelConfig
from sirenkit.runner import RunOptions
from sirenkit.tasks import REGISTRY
from sirenkit.train.trainer import TrainConfig

from .conftest import run_cli

TINY = ["--size", "24", "--steps", "5", "--hidden-features", "16", "--device", "cpu", "--quiet", "--no-figures"]


def test_top_level_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "fit" in out and "render" in out


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_task_help_documents_every_option(name, capsys):
    task_cls = REGISTRY[name]
    with pytest.raises(SystemExit):
        main([*task_cls.command, "--help"])
    out = capsys.readouterr().out
    for cls in (task_cls.Config, ModelConfig, TrainConfig, RunOptions):
        for f in dataclasses.fields(cls):
            shown = f.metadata["metavar"] if f.metadata.get("positional") else "--" + f.name.replace("_", "-")
            assert shown in out, f"{shown} missing from help"
            first_words = " ".join(f.metadata["help"].split()[:3])
            assert first_words in " ".join(out.split()), f"help text of {f.name} missing"
    for recipe in task_cls.recipe_notes:
        assert recipe in out


def _assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_image(tmp_path):
    proc = run_cli("fit", "image", str(tmp_path / "nope.png"), "--out", str(tmp_path / "run"), *TINY)
    _assert_one_line_error(proc, "nope.png", "does not exist")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n garbage that is not a png", bytes(range(256)) * 4])
def test_corrupt_image(tmp_path, content):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    proc = run_cli("fit", "image", str(bad), "--out", str(tmp_path / "run"), *TINY)
    _assert_one_line_error(proc, "bad.png")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--steps", "0"], "--steps"),
        (["--lr", "-1"], "--lr"),
        (["--steps", "ten"], "--steps"),
        (["--activation", "swish"], "--activation"),
        (["--device", "cuda:4096"], "CUDA"),  # refused with or without CUDA (no machine has 4097 GPUs)
        (["--size", "1"], "--size"),
    ],
)
def test_invalid_options(tmp_path, args, needle):
    proc = run_cli("fit", "image", "--out", str(tmp_path / "run"), *TINY, *args)
    _assert_one_line_error(proc, needle)
    assert not (tmp_path / "run").exists()


def test_existing_run_is_not_clobbered_and_resume_must_match(tmp_path):
    out = str(tmp_path / "run")
    first = run_cli("fit", "image", "--out", out, *TINY)
    assert first.returncode == 0, first.stderr
    again = run_cli("fit", "image", "--out", out, *TINY)
    _assert_one_line_error(again, "already holds a run")
    mismatch = run_cli("fit", "image", "--out", out, "--resume", "--lr", "0.5", "--steps", "8", "--quiet")
    _assert_one_line_error(mismatch, "--lr")
    ok = run_cli("fit", "image", "--out", out, "--overwrite", *TINY)
    assert ok.returncode == 0, ok.stderr


def test_resume_compares_a_setting_the_old_run_lacks_with_its_default(tmp_path):
    """A run whose config.json predates an option ran with that option's default: --resume with another value
    is refused, with the default itself it continues."""
    import json

    out = tmp_path / "run"
    assert run_cli("fit", "image", "--out", str(out), *TINY).returncode == 0
    config = json.loads((out / "config.json").read_text())
    del config["task"]["grey"]  # as if written before --grey existed (default false)
    (out / "config.json").write_text(json.dumps(config))
    changed = run_cli("fit", "image", "--out", str(out), "--resume", "--grey", "--steps", "8", "--quiet")
    _assert_one_line_error(changed, "--grey True differs from the run's False")
    same = run_cli("fit", "image", "--out", str(out), "--resume", "--no-grey", "--steps", "8", "--quiet")
    assert same.returncode == 0, same.stderr


def test_unknown_command_and_render_errors(tmp_path):
    proc = run_cli("fit", "hologram")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run_cli("render", str(tmp_path))
    _assert_one_line_error(proc, "no checkpoint")


def test_cli_run_prints_recipe_and_writes_outputs(tmp_path):
    proc = run_cli("fit", "image", "--out", str(tmp_path / "run"), "--size", "24", "--steps", "5",
                   "--hidden-features", "16", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "recipe cpu" in proc.stderr and "24×24" in proc.stderr
    # the flags that change what the recipe sets are named (--hidden-features is not in the cpu recipe)
    assert "with --size 24, --steps 5 on cpu" in proc.stderr.splitlines()[0], proc.stderr
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_help_shows_what_each_recipe_uses_not_a_default_it_replaces(capsys):
    """`fit image --help`: every recipe sets --steps and --lr, so the dataclass defaults (2000, 1e-4) never apply
    and are not shown; --out names its default once."""
    from sirenkit.cli import main
    from sirenkit.tasks import REGISTRY
    from sirenkit.train.trainer import TrainConfig

    with pytest.raises(SystemExit):
        main(["fit", "image", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    recipes = REGISTRY["image"].recipes
    steps = ", ".join(f"{name} {r['train']['steps']}" for name, r in recipes.items())
    assert f"number of optimisation steps (recipes: {steps})" in text
    assert f"(default: {TrainConfig.steps})" not in text.split("--steps STEPS", 1)[1].split("--lr", 1)[0]
    assert text.count("(default: runs/<task>-<date>-<time>)") == 1 and "(default: none) --recipe" not in text


@pytest.mark.figures
def test_no_figures_skips_the_plots_and_lists_only_what_it_wrote(tmp_path):
    """--no-figures: the reconstruction and the numbers are written, the PNG plots are not, and metrics.json lists
    only files that exist; without it the plots are there."""
    plain, bare = tmp_path / "plain", tmp_path / "bare"
    options = ["fit", "image", "--size", "16", "--steps", "2", "--hidden-features", "8", "--device", "cpu", "--quiet"]
    assert run_cli(*options, "--out", str(plain)).returncode == 0
    assert run_cli(*options, "--no-figures", "--out", str(bare)).returncode == 0
    plots = {"comparison.png", "derivatives.png", "psnr_curve.png"}
    assert plots <= {p.name for p in plain.iterdir()}
    assert not plots & {p.name for p in bare.iterdir()}
    listed = json.loads((bare / "metrics.json").read_text())["artefacts"]
    assert listed == ["reconstruction.png"] and (bare / "reconstruction.png").is_file()
