"""Every fit recipe's defaults are chosen on a tuning signal that is not the signal the task fits by default,
and the recipe holds the values its committed search log (benchmarks/recipes/) chose."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from sirenkit.reproduce.experiments import _grey
from sirenkit.reproduce.protocol import Signal
from sirenkit.reproduce.recipes import (
    CHOICES,
    RecipeChoice,
    check_choice,
    choices_markdown,
    choose,
    get_choice,
    log_markdown,
    recipe_values,
)
from sirenkit.tasks import PLUGINS, REGISTRY

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / "benchmarks" / "recipes"


def _log(choice: RecipeChoice) -> dict | None:
    path = LOGS / f"{choice.name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def test_every_task_recipe_has_one_choice():
    tasks = sorted(name for name in REGISTRY if name not in PLUGINS)
    assert sorted(choice.task for choice in CHOICES) == tasks
    for choice in CHOICES:
        check_choice(choice)


@pytest.mark.parametrize("choice", CHOICES, ids=lambda c: c.name)
def test_recipe_holds_the_values_its_search_chose(choice):
    """The committed log searched the choice's current grids on its tuning signals, at the recipe's sizes, and
    chose exactly the recipe's values."""
    log = _log(choice)
    if log is None:
        pytest.skip(f"no search log for {choice.name} yet (docs/recipes.md says 'not run')")
    assert not log["smoke"]
    assert log["tuning_signal"] == " and ".join(s.name for s in choice.tuning)
    assert {stage["setting"]: stage["values"] for stage in log["stages"]} == {
        k: list(v) for k, v in choice.grids.items()}
    assert log["chosen"] == {k: v for k, v in recipe_values(choice).items() if k in choice.grids}


def test_a_choice_on_the_default_signal_or_a_short_grid_is_refused():
    image = get_choice("image")
    with pytest.raises(ValueError, match="is the default signal"):
        check_choice(dataclasses.replace(image, tuning=(Signal("camera", {"path": None}),)))
    with pytest.raises(ValueError, match="fewer than 4"):
        check_choice(dataclasses.replace(image, grids={"lr": (1e-4, 1e-3, 1e-2)}))
    with pytest.raises(ValueError, match="not settings of image"):
        check_choice(dataclasses.replace(image, grids={"lr": (1e-4, 3e-4, 1e-3, 3e-3), "no_such": (1, 2)}))


def test_search_takes_each_settings_best_and_carries_it_to_the_next():
    """Two settings at smoke sizes: each stage's choice is the best score of its grid, the second stage runs at
    the first's choice, and the log says which value the recipe held."""
    choice = RecipeChoice("image", "the cameraman", (_grey("astronaut"),),
                          {"lr": (1e-5, 3e-4, 1e-3, 3e-3), "first_omega_0": (1.0, 30.0)})
    result = choose(choice, smoke=True, quiet=True)
    lr_stage, omega_stage = result["stages"]
    assert len(lr_stage["records"]) == 4 and len(omega_stage["records"]) == 2
    for stage in result["stages"]:
        best = max(range(len(stage["values"])), key=lambda i: stage["scores"][i])
        assert stage["chosen"] == stage["values"][best] == result["chosen"][stage["setting"]]
    assert result["fits"] == 5  # ω0 30 at the chosen lr was fitted in the first stage: not again
    assert lr_stage["scores"][0] < lr_stage["scores"][2] - 10  # lr 1e-5 barely moves in 150 steps
    assert omega_stage["fixed"]["lr"] == result["chosen"]["lr"]
    assert all(r["lr"] == result["chosen"]["lr"] for r in omega_stage["records"])
    assert result["chosen"]["first_omega_0"] == 30.0  # ω0 1 cannot fit a photograph's detail
    assert omega_stage["scores"][1] > omega_stage["scores"][0] + 5
    assert result["recipe_values"] == {"lr": 1e-3, "first_omega_0": 30.0}
    text = log_markdown(result)
    assert "| 30.0 |" in text and "**chosen**" in text and "the cameraman" in text


def test_docs_table_matches_the_choices_and_logs():
    logs = {c.name: log for c in CHOICES if (log := _log(c)) is not None}
    docs = (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    assert choices_markdown(CHOICES, logs) in docs


def test_no_recipe_setting_a_reproduction_uses_is_chosen_on_its_evaluation_signals():
    """The reproductions take some recipe settings as they are (the SDF's first ω0, the wave's loss weight, the
    FWI's slowness scale, meta's hypernetwork): those are chosen on signals the reproduction does not report."""
    from sirenkit.reproduce import experiments
    from sirenkit.reproduce.protocol import _identity

    for experiment in experiments().values():
        for choice in CHOICES:
            if choice.task not in {m.task or experiment.task for m in experiment.methods}:
                continue
            evaluated = {_identity(s) for s in experiment.evaluation}
            assert not evaluated & {_identity(s) for s in choice.tuning}, (experiment.name, choice.name)
