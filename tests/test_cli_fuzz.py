"""Property-based tests of the command line (hypothesis): random `--config` files and random numeric flag values.

The property, for every input: `sirenkit.cli.main(argv)` exits 0, or exits 2 with exactly one `sirenkit…: error:`
line on stderr, no traceback, and no `--out` folder left behind. Accepted runs are kept tiny: the size flags
(`--size 8 --steps 1 --hidden-features 4 --hidden-layers 0`, CPU, quiet, no compilation) come after the random
ones, so they win over a config file and over a random value of another flag.

Example counts are small so that the file runs in about a minute on two cores; `database=None` keeps hypothesis
from writing a `.hypothesis/` folder into the project (its caches go to a temporary folder).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from sirenkit.config import _resolve_type, _unwrap_optional
from sirenkit.models import ModelConfig
from sirenkit.tasks import REGISTRY
from sirenkit.train.trainer import TrainConfig

from .badinput import call, one_line_error

set_hypothesis_home_dir(os.path.join(os.environ["SIRENKIT_TEST_SCRATCH"], "hypothesis"))  # tests/conftest.py

# The flags that keep an accepted run tiny, and each task's own ones.
TINY = {"size": "8", "steps": "1", "hidden_features": "4", "hidden_layers": "0"}
FIXED = ["--device", "cpu", "--quiet", "--compile", "off", "--no-figures"]
TASK_TINY = {
    "image": {},
    "audio": {"duration": "0.05"},
    "sdf": {"batch_points": "64", "surface_samples": "200", "mesh_resolution": "0", "eval_samples": "100",
            "shape": "sphere"},
}
SECTIONS = {"model": ModelConfig, "train": TrainConfig}


def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])


def field_types(cls: type) -> dict[str, Any]:
    return {f.name: _unwrap_optional(_resolve_type(cls, f.name))[0] for f in dataclasses.fields(cls)}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def tail(task: str, tested: set[str]) -> list[str]:
    """The tiny-run flags, except the ones under test; a step count under test gets a time limit instead."""
    wanted = {**TINY, **TASK_TINY[task]}
    if task != "image":
        wanted.pop("size")
    args = [a for name, value in wanted.items() if name not in tested for a in (flag(name), value)]
    if "steps" in tested:
        args += ["--max-seconds", "2"]
    return args + FIXED


def check(argv: list[str], out: Path, capsys, diverges: bool = False) -> None:
    """The property: exit 0, or exit 2 with one error line and nothing left at `out`. The one documented exception
    (docs/errors.md): a training that diverges keeps its folder; a finite but huge `--lr` may do that (and is
    not refused: a run that diverges says to lower it), nothing else may."""
    code, err = call(argv, capsys)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        line = one_line_error(err)
        if diverges and "training diverged" in line:
            return
        assert not out.exists(), (argv, "a run folder was left behind", line)
    else:
        assert "Traceback" not in err, err
        assert (out / "config.json").is_file()


# ------------------------------------------------------------------------------------------------ (a) config files
# Text without control characters or line/paragraph separators: the contract is about one *line* (those would be
# echoed inside a message, e.g. as an unknown key, and break it; see the report of issue 20, helper H1).
TEXT = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
SCALARS = (st.none() | st.booleans() | st.integers(-(10**40), 10**40) | st.integers(-3, 40)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e300, -1e300, 1e-300])
           | st.text(TEXT, max_size=12))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(TEXT, max_size=6), inner, max_size=3), max_leaves=6)
DEEP = "__DEEP__"


def one_in(n: int) -> st.SearchStrategy:
    """True about once in `n` draws (hypothesis favours the first item of a list and the ends of a range)."""
    return st.sampled_from([False] * (n - 1) + [True])


def plausible(tp: Any) -> st.SearchStrategy:
    """Values of the field's own type, mostly in a usable range (so that some runs are accepted)."""
    if get_origin(tp) is Literal:
        return st.sampled_from(get_args(tp))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-2, 40) | st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 10**30, 10**4000])
    if tp is float:
        return (st.floats(-2.0, 50.0) | st.sampled_from([float("nan"), float("inf"), float("-inf"), 1e300, 1e-300,
                                                         1e999]))
    return st.text(TEXT, max_size=10)


@st.composite
def section(draw, cls: type) -> dict[str, Any]:
    types = field_types(cls)
    names = draw(st.lists(st.sampled_from(sorted(types)), max_size=4, unique=True))
    values = {}
    for name in names:
        kind = draw(st.sampled_from(["plausible"] * 17 + ["json"] * 2 + ["deep"]))
        values[name] = draw(JSON) if kind == "json" else DEEP if kind == "deep" else draw(plausible(types[name]))
    if draw(one_in(8)):
        values[draw(st.text(TEXT, min_size=1, max_size=8))] = draw(JSON)
    return values


@st.composite
def config_text(draw) -> tuple[str, bool]:
    """(the file's text, whether it sets lr)."""
    task = REGISTRY["image"]
    data: dict[str, Any] = {"task_name": draw(st.sampled_from(["audio", "nope"])) if draw(one_in(10)) else "image"}
    if draw(st.booleans()):
        data["recipe"] = draw(JSON) if draw(one_in(6)) else draw(st.sampled_from(["cpu", "gpu", "paper", "auto"]))
    for name, cls in {"task": task.Config, **SECTIONS}.items():
        data[name] = draw(JSON) if draw(one_in(12)) else draw(section(cls))
    if draw(one_in(12)):
        data[draw(st.text(TEXT, max_size=8))] = draw(JSON)
    text = json.dumps(data)  # writes NaN, Infinity and -Infinity as the bare tokens
    depth = draw(st.sampled_from([5, 900, 5000, 200_000]))
    sets_lr = isinstance(data["train"], dict) and "lr" in data["train"]
    return text.replace(f'"{DEEP}"', "[" * depth + "]" * depth), sets_lr


@fuzz(25)
@given(drawn=config_text())
def test_random_config_files(drawn, capsys):
    text, sets_lr = drawn
    folder = Path(tempfile.mkdtemp(prefix="sirenkit-fuzz-"))
    try:
        path, out = folder / "config.json", folder / "out"
        path.write_text(text)
        check(["fit", "image", "--config", str(path), "--out", str(out), *tail("image", set())], out, capsys,
              diverges=sets_lr)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ (b) numeric flags
NUMBER_TEXT = st.sampled_from([
    "nan", "NaN", "inf", "-inf", "Infinity", "-0", "0", "-0.0", "1", "2", "3", "-1", "-3", "0.5", "1.5", "1e3", "1e300",
    "-1e300", "1e-300", "1e999", "0x10", "0b1", "", " ", "1_0", "١٢", "１２", "²", str(2**31), str(2**63 - 1),
    str(2**63), str(2**64), str(-(2**63) - 1), "9" * 30, "1" + "0" * 4400,
]) | st.integers(-5, 60).map(str) | st.floats(-1e3, 1e3).map(repr)


def numeric_flags(task: str) -> list[str]:
    names = []
    for cls in (REGISTRY[task].Config, ModelConfig, TrainConfig):
        names += [n for n, tp in field_types(cls).items() if tp in (int, float)]
    return names


@st.composite
def flag_values(draw) -> tuple[str, list[str], set[str]]:
    task = draw(st.sampled_from(["audio", "sdf"])) if draw(one_in(4)) else "image"
    names = draw(st.lists(st.sampled_from(numeric_flags(task)), min_size=1, max_size=3, unique=True))
    args = []
    for name in names:
        value = draw(NUMBER_TEXT)
        args += [f"{flag(name)}={value}"] if draw(st.booleans()) else [flag(name), value]
    return task, args, set(names)


@fuzz(30)
@given(drawn=flag_values())
def test_random_numeric_flags(drawn, capsys):
    task, args, tested = drawn
    folder = Path(tempfile.mkdtemp(prefix="sirenkit-fuzz-"))
    try:
        out = folder / "out"
        check([*REGISTRY[task].command, *args, "--out", str(out), *tail(task, tested)], out, capsys,
              diverges="lr" in tested)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
