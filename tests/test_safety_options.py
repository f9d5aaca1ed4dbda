"""Every option and config value is checked before anything is written (issue 20, helper H1).

Two rules cover every setting, whichever way it comes in (a flag, a `--config` file, the Python API):
- the type rules of `sirenkit.config.coerce`: an integer fits in 64 bits, a float is finite (NaN never passes),
  a boolean is true or false; a nested or huge value is described, never repr'd;
- the range of each field, in its config class's `validate()` (which `from_dict` runs): `FIELD_RANGES` below
  lists values that must be refused for every numeric field of every config class, and a test fails when a new
  field has no entry.
The hand-written commands (`render`, `mesh`, `eval-mesh`, `meta eval/inpaint`, `export`) parse their numbers
with the same type rules and check the ranges at the top of their functions, so the Python API is covered too.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest

import sirenkit
from sirenkit.config import (
    INT64_MAX,
    MAX_SEED,
    _resolve_type,
    _unwrap_optional,
    coerce,
    from_dict,
    number_type,
    option,
    show,
)
from sirenkit.errors import UserError
from sirenkit.models import ACTIVATIONS, ModelConfig, count_parameters
from sirenkit.tasks import REGISTRY
from sirenkit.train.trainer import TrainConfig

from .badinput import Case, Env, check_case, fit

# ------------------------------------------------------------------------------------------------ CLI cases
TORCH_DEVICE_TYPES = ("meta", "xla", "xpu", "hpu", "ipu", "mtia", "lazy", "vulkan", "ve", "fpga", "maia", "mkldnn",
                      "opengl", "opencl", "ideep", "hip", "privateuseone")


def config_file(sections: dict[str, Any] | None = None, text: str | None = None):
    """`fit image --config FILE` with FILE written into the case's own folder: `sections` merged into a good
    config, or the raw `text` (for JSON that json.dumps cannot write: NaN, deep nesting, huge numbers)."""

    def argv(env: Env) -> list[str]:
        path = env.tmp / "settings.json"
        if text is None:
            good = {"task_name": "image", "recipe": "cpu", "task": {"size": 16}, "model": {"hidden_features": 8},
                    "train": {"steps": 2}}
            for key, value in (sections or {}).items():
                good[key] = {**good.get(key, {}), **value}
            path.write_text(json.dumps(good))
        else:
            path.write_text(text)
        return ["fit", "image", "--config", str(path), "--out", str(env.out), "--device", "cpu", "--quiet"]

    return argv


def _raw(body: str) -> str:
    return '{"task_name": "image", "recipe": "cpu", "task": {"size": 16}, "model": {"hidden_features": 8}, ' + body


DEEP = 200_000

CASES = [
    # ---- the probe's findings: ω0, encodings, seeds, weights (fit image)
    Case("hidden-omega-0-zero", "`--hidden-omega-0 0` (was a ZeroDivisionError)", fit("image", "--hidden-omega-0", "0"),
         "--hidden-omega-0 must be in [1e-06, 1000000], got 0"),
    Case("hidden-omega-0-tiny", "`--hidden-omega-0 7.8e-57` (was a RuntimeError: the init bound √(6/n)/ω0 overflowed; "
         "found by the fuzz test)", fit("image", "--hidden-omega-0", "7.782446422040917e-57"),
         "--hidden-omega-0 must be in [1e-06, 1000000], got 7.78245e-57"),
    Case("hidden-omega-0-nan", "`--hidden-omega-0 nan` (was a RuntimeError)", fit("image", "--hidden-omega-0", "nan"),
         "--hidden-omega-0 must be a finite number (got nan)"),
    Case("first-omega-0-nan", "`--first-omega-0 nan` (was a fake divergence after the folder was written)",
         fit("image", "--first-omega-0", "nan"), "--first-omega-0 must be a finite number (got nan)"),
    Case("first-omega-0-inf", "`--first-omega-0 inf`", fit("image", "--first-omega-0", "inf"),
         "--first-omega-0 must be a finite number (got inf)"),
    Case("first-omega-0-negative", "`--first-omega-0 -30` (was accepted)", fit("image", "--first-omega-0", "-30"),
         "--first-omega-0 must be in (0, 1000000], got -30"),
    Case("pe-frequencies-negative", "`--activation relu-pe --pe-frequencies -3` (was a RuntimeError)",
         fit("image", "--activation", "relu-pe", "--pe-frequencies", "-3"), "--pe-frequencies must be in [1, 32]"),
    Case("seed-22-digits", "`--seed 1234567890123456789012` (was an OverflowError)",
         fit("image", "--seed", "1234567890123456789012"), "--seed must be a 64-bit integer"),
    Case("seed-negative", "`--seed -1`", fit("image", "--seed", "-1"),
         f"--seed must be in [0, {MAX_SEED}], got -1"),
    Case("mask-seed-negative", "`--mask-seed -1`", fit("image", "--mask-seed", "-1"),
         f"--mask-seed must be in [0, {MAX_SEED}], got -1"),
    Case("prior-weight-nan", "`--prior tv --prior-weight nan` (was a fake divergence after the folder was written)",
         fit("image", "--prior", "tv", "--prior-weight", "nan"), "--prior-weight must be a finite number (got nan)"),
    Case("prior-weight-huge", "`--prior tv --prior-weight 1e300`", fit("image", "--prior", "tv", "--prior-weight",
                                                                        "1e300"),
         "--prior-weight must be ≤ 1e+12, got 1e+300"),
    Case("rbf-sigma-negative", "`--activation rbf-relu --rbf-sigma -1` (was accepted)",
         fit("image", "--activation", "rbf-relu", "--rbf-sigma", "-1"), "--rbf-sigma must be in (0, 1000000], got -1"),
    Case("rbf-centers-0", "`--activation rbf-relu --rbf-centers 0` (was accepted)",
         fit("image", "--activation", "rbf-relu", "--rbf-centers", "0"), "--rbf-centers must be in [1, 65536], got 0"),
    Case("lr-inf", "`--lr inf`", fit("image", "--lr", "inf"), "--lr must be a finite number (got inf)"),
    Case("hidden-features-huge", "`--hidden-features 1000000`", fit("image", "--hidden-features", "1000000"),
         "--hidden-features must be ≤ 65536, got 1000000"),
    Case("network-too-large", "`--hidden-features 65536 --hidden-layers 1024` (4.4e12 parameters)",
         fit("image", "--hidden-features", "65536", "--hidden-layers", "1024"),
         ("the sine network would have 4,398,113,882,113 parameters", "lower --hidden-features")),
    Case("grid-too-large", "`--activation grid --grid-resolution 10000000`",
         fit("image", "--activation", "grid", "--grid-resolution", "10000000"),
         "the grid network would have 100,000,000,000,000 parameters"),
    Case("wire-overflow", "`--activation wire --wire-omega 100 --wire-scale 1`: exp(2500) overflows",
         fit("image", "--activation", "wire", "--wire-omega", "100", "--wire-scale", "1"),
         "--wire-omega 100 with --wire-scale 1: the Gabor wavelet reaches exp(ω0²/(4·s0²))"),
    Case("image-size-huge", "`fit image --size 100000`", fit("image", "--size", "100000"),
         "--size must be ≤ 65536 pixels (or 0 for the native size), got 100000"),
    # ---- the other tasks
    Case("audio-start-nan", "`fit audio --start nan`", fit("audio", "{d}/tone.wav", "--start", "nan"),
         "--start must be a finite number (got nan)"),
    Case("video-fps-inf", "`fit video --fps inf`", fit("video", "{d}/clip.mp4", "--fps", "inf"),
         "--fps must be a finite number (got inf)"),
    Case("sdf-weight-huge", "`fit sdf --surface-weight 1e300`", fit("sdf", "--surface-weight", "1e300"),
         "--surface-weight must be ≤ 1e+12, got 1e+300"),
    Case("sdf-weight-negative", "`fit sdf --normal-weight -1`: the message names the weight",
         fit("sdf", "--normal-weight", "-1"), "loss weights must be ≥ 0, got --normal-weight -1"),
    Case("helmholtz-source-radius-inf", "`solve helmholtz --source-radius inf`",
         fit("helmholtz", "--source-radius", "inf"), "--source-radius must be a finite number (got inf)"),
    Case("fwi-source-boost-overflow", "`invert helmholtz --source-sigma 0.5`: exp(k²(σ² − σ_data²)/2) = e^50",
         fit("fwi", "--source-sigma", "0.5"), "--source-sigma 0.5 is too much wider than --data-sigma 0.01"),
    Case("wave-amplitude-huge", "`solve wave --amplitude 1e300`", fit("wave", "--amplitude", "1e300"),
         "--amplitude must be ≤ 1000000 in size, got 1e+300"),
    Case("meta-output-scale-nan", "`meta train --hyper-output-scale nan`", fit("meta", "--hyper-output-scale", "nan"),
         "--hyper-output-scale must be a finite number (got nan)"),
    Case("meta-first-omega-negative", "`meta train --first-omega-0 -1`: the emitted SIREN's settings",
         fit("meta", "--first-omega-0", "-1"), "--first-omega-0 must be in (0, 1000000], got -1"),
    Case("blend-at-inf", "`poisson blend --mode clone --at inf,0` (was an OverflowError)",
         fit("blend", "--mode", "clone", "--at", "inf,0"), "--at must be X,Y in pixels of BASE, got 'inf,0'"),
    # ---- config files: every value goes through the same rules
    Case("config-hidden-features-1e300", "config file with `\"hidden_features\": 1e300` (was a C++ stack dump)",
         config_file({"model": {"hidden_features": 1e300}}), "--hidden-features must be a 64-bit integer"),
    Case("config-lr-nan-token", "config file with the bare token `NaN` for `lr`",
         config_file(text=_raw('"train": {"steps": 2, "lr": NaN}}')), "--lr must be a finite number (got nan)"),
    Case("config-omega-infinity-token", "config file with `\"first_omega_0\": -Infinity`",
         config_file(text=_raw('"train": {"steps": 2}, "model": {"first_omega_0": -Infinity}}')),
         "--first-omega-0 must be a finite number (got -inf)"),
    Case("config-float-overflow", "config file with `\"lr\": 1e999` (read as inf)",
         config_file(text=_raw('"train": {"steps": 2, "lr": 1e999}}')), "--lr must be a finite number (got inf)"),
    Case("config-steps-fraction", "config file with `\"steps\": 2.5`", config_file({"train": {"steps": 2.5}}),
         "--steps must be an integer (got 2.5)"),
    Case("config-steps-nested", "config file with `\"steps\": [[[1]]]`", config_file({"train": {"steps": [[[1]]]}}),
         "--steps must be an integer (got a JSON array of 1 item(s))"),
    Case("config-hidden-features-true", "config file with `\"hidden_features\": true`",
         config_file({"model": {"hidden_features": True}}), "--hidden-features must be an integer (got True)"),
    Case("config-grey-1", "config file with `\"grey\": 1`", config_file({"task": {"grey": 1}}),
         "--grey must be true or false (got 1)"),
    Case("config-seed-huge", "config file with a 30-digit seed", config_file({"train": {"seed": 10**29}}),
         "--seed must be a 64-bit integer"),
    Case("config-nested-200000", f"config file nested {DEEP:,} deep (was a RecursionError)",
         config_file(text=_raw('"train": {"steps": ' + "[" * DEEP + "]" * DEEP + "}}")), "nested too deeply"),
    Case("config-int-5000-digits", "config file with a 5000-digit integer (a ValueError in json.loads)",
         config_file(text=_raw('"train": {"seed": 1' + "0" * 5000 + "}}")), ("config file", "is not valid JSON")),
    # ---- the hand-written commands
    Case("eval-mesh-seed-negative", "`eval-mesh A B --seed -1` (was a traceback)",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "100", "--seed", "-1"],
         f"--seed must be in [0, {MAX_SEED}], got -1"),
    Case("eval-mesh-seed-huge", "`eval-mesh A B --seed 99999999999999999999999`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--seed", "99999999999999999999999"],
         "argument --seed: expected a 64-bit integer, got '99999999999999999999999'"),
    Case("eval-mesh-threshold-nan", "`eval-mesh A B --threshold nan`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--threshold", "nan"],
         "argument --threshold: expected a finite number, got 'nan'"),
    Case("mesh-level-nan", "`mesh RUN --level nan`", lambda e: ["mesh", str(e.sdf_run), "--level", "nan"],
         "argument --level: expected a finite number, got 'nan'"),
    Case("mesh-min-component-2", "`mesh RUN --min-component 2`",
         lambda e: ["mesh", str(e.sdf_run), "--min-component", "2"], "--min-component must be in [0, 1), got 2.0"),
    Case("mesh-chunk-30-digits", "`mesh RUN --chunk 10^30`",
         lambda e: ["mesh", str(e.sdf_run), "--chunk", "1" + "0" * 30],
         "argument --chunk: expected a 64-bit integer"),
    Case("meta-inpaint-seed-negative", "`meta inpaint RUN IMAGE --seed -1`",
         lambda e: ["meta", "inpaint", str(e.meta_run), e.d("base.png"), "--seed", "-1", "--device", "cpu"],
         f"--seed must be in [0, {MAX_SEED}], got -1"),
    Case("meta-eval-images-huge", "`meta eval RUN --images 2^64`",
         lambda e: ["meta", "eval", str(e.meta_run), "--images", str(2**64)], "argument --images: expected a 64-bit"),
    Case("render-chunk-huge", "`render RUN --chunk 2^64`",
         lambda e: ["render", str(e.image_run), "--chunk", str(2**64)],
         "argument --chunk: expected a 64-bit integer"),
    Case("render-size-inf", "`render RUN --size inf`", lambda e: ["render", str(e.image_run), "--size", "inf"],
         "argument --size: expected an integer, got 'inf'"),
    Case("export-opset-huge", "`export RUN --opset 10^20`",
         lambda e: ["export", str(e.image_run), "--opset", "1" + "0" * 20],
         "argument --opset: expected a 64-bit integer"),
    # torch knows many device types sirenkit does not run on: each was a traceback (`meta` after the run folder
    # was created); only auto, cpu, cuda, cuda:N and mps are accepted
    *[Case(f"device-{name}", f"`fit image --device {name}`", fit("image", "--device", name),
           f"--device {name!r} is not a device name (use auto, cpu, cuda, cuda:N or mps)")
      for name in TORCH_DEVICE_TYPES + ("cpu:0", "mps:0", "cuda:x", "cuda:-1")],
    Case("device-meta-render", "`render RUN --device meta`",
         lambda e: ["render", str(e.image_run), "--device", "meta", "--out", str(e.tmp / "r.png")],
         "--device 'meta' is not a device name (use auto, cpu, cuda, cuda:N or mps)"),
    Case("device-xla-mesh", "`mesh RUN --device xla`",
         lambda e: ["mesh", str(e.sdf_run), "--device", "xla", "--out", str(e.tmp / "m.ply")],
         "--device 'xla' is not a device name"),
    Case("device-lazy-meta-inpaint", "`meta inpaint RUN IMAGE --device lazy`",
         lambda e: ["meta", "inpaint", str(e.meta_run), e.d("base.png"), "--device", "lazy",
                    "--out", str(e.tmp / "x.png")], "--device 'lazy' is not a device name"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_case(case, data, image_run, sdf_run, meta_run, tmp_path, capsys, monkeypatch):
    check_case(case, Env(data, image_run, sdf_run, tmp_path, meta_run), capsys, monkeypatch)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------------------------------------ every field
def config_classes() -> list[type]:
    found = [ModelConfig, TrainConfig]
    for task in REGISTRY.values():
        if task.Config not in found:
            found.append(task.Config)
    return found


def numeric_fields(cls: type) -> dict[str, type]:
    """{name: int or float} of the numeric fields of `cls` (`int | None` counts as int)."""
    out = {}
    for f in dataclasses.fields(cls):
        tp, _ = _unwrap_optional(_resolve_type(cls, f.name))
        if tp in (int, float):
            out[f.name] = tp
    return out


def fields_of(cls: type, tp: type) -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        if _unwrap_optional(_resolve_type(cls, f.name))[0] is tp:
            out.append(f.name)
    return out


BIG_POINTS = 2**28 + 1
HUGE_WEIGHT = 1e13
PML = {
    "k": [0.0, -1.0, 2e4], "source_sigma": [0.0, 1e-5, 1.5], "batch_points": [0, BIG_POINTS],
    "source_points": [-1, BIG_POINTS], "source_radius": [0.0, 1e4], "source_weight": [-1.0, HUGE_WEIGHT],
    "pml_width": [0.0, 1.0], "pml_a0": [-1.0, 1e7], "reference_nodes": [20, 8002], "chunk": [0],
}
FIELD_RANGES: dict[str, dict[str, list]] = {
    "ModelConfig": {
        "hidden_features": [0, 65537], "hidden_layers": [-1, 1025], "first_omega_0": [0.0, -30.0, 1e7],
        "hidden_omega_0": [0.0, 2e6], "pe_frequencies": [0, -3, 33], "rbf_centers": [0, 65537],
        "rbf_sigma": [0.0, -1.0, 1e7], "ff_features": [0, 65537], "ff_sigma": [0.0, 1e7],
        "finer_first_bias": [-0.1, 1e7], "gauss_scale": [0.0, 1e7], "wire_omega": [0.0, -1.0, 1e7],
        "wire_scale": [0.0, 1e7, 0.1], "grid_resolution": [1, 0],
    },
    "TrainConfig": {
        "steps": [0, -1], "lr": [0.0, -1.0], "lr_final": [-0.1, 1.5], "warmup_steps": [-1],
        "clip_grad": [-1.0], "seed": [-1], "max_seconds": [0.0, -1.0], "checkpoint_every": [-1], "log_every": [0],
        "eval_every": [0],
    },
    "ImageConfig": {
        "size": [1, -3, 65537], "batch_pixels": [-1, BIG_POINTS], "chunk": [0], "keep_fraction": [0.0, 1.5],
        "mask_seed": [-1], "prior_weight": [-1.0, HUGE_WEIGHT], "prior_points": [0, BIG_POINTS],
    },
    "AudioConfig": {"start": [-1.0], "duration": [0.0, -1.0], "batch_samples": [-1, BIG_POINTS], "chunk": [0]},
    "VideoConfig": {
        "frames": [-1], "start_frame": [-1], "size": [1, 65537], "fps": [-1.0, 1e7], "sample_frac": [0.0, 1.5],
        "eval_frames": [-1], "chunk": [0],
    },
    "SdfConfig": {
        "surface_samples": [0, BIG_POINTS], "batch_points": [0, BIG_POINTS], "margin": [-0.1, 1.0],
        "surface_weight": [-1.0, HUGE_WEIGHT], "off_surface_weight": [-1.0, HUGE_WEIGHT],
        "off_surface_falloff": [0.0, HUGE_WEIGHT], "normal_weight": [-1.0, HUGE_WEIGHT],
        "eikonal_weight": [-1.0, HUGE_WEIGHT], "mesh_resolution": [4, 10**6], "mesh_min_component": [-0.1, 1.0],
        "eval_samples": [0, 10**9], "fscore_threshold": [0.0, -1.0], "chunk": [0],
    },
    "PoissonConfig": {"size": [1, 65537], "batch_pixels": [-1, BIG_POINTS], "chunk": [0]},
    "ImagesConfig": {"size": [1, -1, 65537], "batch_pixels": [-1, BIG_POINTS], "max_images": [-1], "chunk": [0]},
    "BlendConfig": {"mix_weight": [-0.1, 1.1], "gradient_weight": [0.0, HUGE_WEIGHT], "size": [1, 65537],
                    "chunk": [0]},
    "HelmholtzConfig": PML,
    "FwiConfig": {
        **PML, "data_sigma": [0.0, 1e-5, 2.0], "data_weight": [-1.0, HUGE_WEIGHT], "slowness_box": [-0.1, 1.1],
        "source_mute": [-0.1, 4.0], "slowness_scale": [0.0, 1e4], "slowness_tv": [-1.0, HUGE_WEIGHT],
        "pretrain_steps": [-1], "eval_nodes": [4, 8002],
    },
    "WaveConfig": {
        "t_end": [0.0, -1.0, 1.0], "speed": [0.0, 5.0], "source_sigma": [0.0, 0.3], "amplitude": [0.0, 1e7, -1e7],
        "batch_points": [0, BIG_POINTS], "initial_points": [-1, BIG_POINTS], "source_points": [-1, BIG_POINTS],
        "initial_weight": [-1.0, HUGE_WEIGHT], "velocity_weight": [-1.0, HUGE_WEIGHT], "window_steps": [0],
        "eval_size": [7, 8002], "eval_times": [1, 10**6], "video_frames": [1, 10**6], "reference_nodes": [10, 8002],
        "chunk": [0],
    },
    "MetaConfig": {
        "size": [9, 65537], "latent_features": [0, 65537], "encoder_hidden_features": [0, 65537],
        "encoder_hidden_layers": [-1, 1025], "cnn_width": [0, 65537], "cnn_blocks": [-1, 1025],
        "hyper_hidden_features": [0, 65537], "hyper_hidden_layers": [-1, 1025], "hyper_output_scale": [-1.0, 1e7],
        "batch_size": [0, BIG_POINTS], "context_min": [0, 2000], "context_max": [5, 2000],
        "target_pixels": [-1, BIG_POINTS], "latent_weight": [-1.0, HUGE_WEIGHT], "weights_weight": [-1.0, HUGE_WEIGHT],
        "test_fraction": [0.0, 1.0], "eval_images": [-1], "held_out_images": [-1], "eval_seed": [-1],
    },
}
"""For every numeric field of every config class: values inside its type (finite, 64-bit) but out of its range."""


@pytest.mark.parametrize("cls", config_classes(), ids=lambda c: c.__name__)
def test_every_numeric_field_has_a_checked_range(cls):
    table = FIELD_RANGES.get(cls.__name__)
    assert table is not None, f"{cls.__name__}: add its fields to FIELD_RANGES (and their checks to validate())"
    assert set(table) == set(numeric_fields(cls)), "FIELD_RANGES must list exactly the numeric fields"
    from_dict(cls, {})  # the defaults pass
    for name, bad in table.items():
        flag = "--" + name.replace("_", "-")
        for value in bad:
            try:
                from_dict(cls, {name: value})
            except UserError as exc:
                message = str(exc)
            else:
                pytest.fail(f"{cls.__name__}: {flag} {value} was accepted")
            assert flag in message and "\n" not in message, (name, value, message)


@pytest.mark.parametrize("cls", config_classes(), ids=lambda c: c.__name__)
def test_type_rules_hold_for_every_field(cls):
    """NaN, ±inf and numbers beyond float for float fields; beyond 64 bits, fractions, booleans and nested data for
    integer fields; anything but true/false for booleans: each one line naming the flag."""
    deep: Any = []
    for _ in range(100_000):  # a repr of this would recurse 100,000 levels deep
        deep = [deep]
    bad = {
        float: [math.nan, math.inf, -math.inf, 10**400, True, "1.0", [1.0], {"a": 1}, deep],
        int: [2**63, -(2**63) - 1, 1e300, -1e300, 1.5, math.nan, math.inf, True, "3", [3], deep, 10**5000],
        bool: [0, 1, "true", None, [True], deep],
    }
    for tp, values in bad.items():
        for name in fields_of(cls, tp):
            flag = "--" + name.replace("_", "-")
            for value in values:
                with pytest.raises(UserError) as info:
                    coerce(cls, name, value)
                message = str(info.value)
                assert message.startswith(flag + " ") and len(message) < 200, message
                if tp is float and value is not True and isinstance(value, (int, float)):
                    assert "must be a finite number" in message, message


def test_accepted_values_are_normalised():
    assert coerce(TrainConfig, "steps", 3.0) == 3 and type(coerce(TrainConfig, "steps", 3.0)) is int
    assert coerce(TrainConfig, "seed", INT64_MAX) == INT64_MAX
    assert coerce(TrainConfig, "lr", 1) == 1.0 and type(coerce(TrainConfig, "lr", 1)) is float
    assert math.copysign(1.0, coerce(ModelConfig, "first_omega_0", -0.0)) == 1.0  # -0 is 0


def test_a_field_may_declare_that_it_takes_inf():
    @dataclasses.dataclass(frozen=True)
    class Limits:
        budget: float = option(1.0, "seconds", infinite=True)
        rate: float = option(1.0, "per second")

    assert coerce(Limits, "budget", math.inf) == math.inf
    with pytest.raises(UserError, match="--budget must be a finite number"):
        coerce(Limits, "budget", math.nan)
    with pytest.raises(UserError, match="--rate must be a finite number"):
        coerce(Limits, "rate", math.inf)


def test_no_field_takes_inf():
    """No setting has a use for ±inf so far (max_seconds: none means no limit); a new one must be deliberate."""
    for cls in config_classes():
        for f in dataclasses.fields(cls):
            assert not f.metadata.get("infinite"), f"{cls.__name__}.{f.name}"


def test_messages_never_repr_huge_or_nested_values():
    assert show(10**5000) == "an integer of about 5001 digits"
    assert show([[[]]]) == "a JSON array of 1 item(s)"
    assert len(show("x" * 10**6)) < 80
    with pytest.raises(UserError) as info:
        from_dict(TrainConfig, {"x" * 10**5: 1, **{f"k{i}": 1 for i in range(50)}})
    assert len(str(info.value)) < 1000


def test_defaults_recipes_and_smoke_settings_pass():
    for task in REGISTRY.values():
        sections = {"task": task.Config, "model": ModelConfig, "train": TrainConfig}
        for recipe in task.recipes.values():
            for section, cls in sections.items():
                from_dict(cls, recipe.get(section, {}))
        for _section, cls in sections.items():
            names = {f.name for f in dataclasses.fields(cls)}
            from_dict(cls, {k: v for k, v in task.smoke[0].items() if k in names})


def test_a_config_built_directly_is_checked_too():
    """The Python API may build config objects itself; `validate()` applies the same type rules."""
    with pytest.raises(UserError, match="--first-omega-0 must be a finite number"):
        ModelConfig(first_omega_0=math.nan).build(2, 1)
    with pytest.raises(UserError, match="--hidden-features must be a 64-bit integer"):
        ModelConfig(hidden_features=10**30).build(2, 1)
    with pytest.raises(UserError, match="--seed must be in"):
        TrainConfig(seed=-5).validate()
    with pytest.raises(UserError, match="--prior-weight must be a finite number"):
        REGISTRY["image"].Config(prior_weight=math.inf).validate()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_parameter_estimate_is_exact(activation):
    """The size cap counts parameters from the settings; it must agree with the network `build` makes."""
    for in_f, out_f in [(1, 1), (2, 3), (3, 1)]:
        cfg = ModelConfig(activation=activation, hidden_features=10, hidden_layers=2, rbf_centers=7, ff_features=5,
                          pe_frequencies=3).resolved(16, in_f, out_f)
        assert cfg.estimate_parameters(in_f, out_f) == count_parameters(cfg.build(in_f, out_f))


def test_fit_api_refuses_before_writing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(UserError, match="--first-omega-0 must be a finite number"):
        sirenkit.fit("image", out=str(out), size=8, steps=1, hidden_features=4, device="cpu", quiet=True,
                     first_omega_0=float("nan"))
    with pytest.raises(UserError, match="--seed must be a 64-bit integer"):
        sirenkit.fit("image", out=str(out), size=8, steps=1, hidden_features=4, device="cpu", quiet=True,
                     seed=2**64)
    assert not out.exists()


def test_api_functions_check_their_numbers_first(tmp_path):
    """Numbers are refused before any file is looked at: the missing files would give another message."""
    missing = str(tmp_path / "missing.ply")
    with pytest.raises(UserError, match=r"--seed must be in \[0, "):
        sirenkit.eval_mesh(missing, missing, samples=10, seed=-1)
    with pytest.raises(UserError, match="--samples must be an integer"):
        sirenkit.eval_mesh(missing, missing, samples=1.5)
    with pytest.raises(UserError, match="--threshold must be a finite number"):
        sirenkit.eval_mesh(missing, missing, threshold=math.inf)
    with pytest.raises(UserError, match="--level must be a finite number"):
        sirenkit.mesh(str(tmp_path / "missing"), level=math.nan)
    with pytest.raises(UserError, match="--chunk must be a 64-bit integer"):
        sirenkit.mesh(str(tmp_path / "missing"), chunk=2**70)
    with pytest.raises(UserError, match="--images must be an integer"):
        sirenkit.meta_eval(str(tmp_path / "missing"), images=0.5)
    with pytest.raises(UserError, match="--seed must be a 64-bit integer"):
        sirenkit.meta_inpaint(str(tmp_path / "missing"), missing, seed=2**64)
    assert list(tmp_path.iterdir()) == []


def test_number_type_parses_like_the_generated_flags():
    import argparse

    as_int, as_float = number_type(int), number_type(float)
    assert as_int("-0") == 0 and as_int(" 12 ") == 12 and as_float("1e-3") == 1e-3
    for text in ["nan", "inf", "-inf", "1e999"]:
        with pytest.raises(argparse.ArgumentTypeError, match="expected a finite number"):
            as_float(text)
    for text in [str(2**63), "1" + "0" * 30]:
        with pytest.raises(argparse.ArgumentTypeError, match="expected a 64-bit integer"):
            as_int(text)
    for text in ["1.5", "0x10", "", "1e3"]:
        with pytest.raises(argparse.ArgumentTypeError, match="expected an integer"):
            as_int(text)


def test_cuda_device_index_is_checked(monkeypatch):
    """`cuda:N` must name a device this machine has (was accepted, failing later in torch); `cuda` is the
    current one. (The CUDA functions are faked: no GPU is needed.)"""
    import torch

    from sirenkit.train.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UserError, match=r"^--device cuda:2: this machine has 2 CUDA devices, cuda:0 to cuda:1$"):
        resolve_device("cuda:2")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(UserError, match=r"^--device cuda:99999999999999999999: this machine has 1 CUDA device, "
                                        r"cuda:0$"):
        resolve_device("cuda:99999999999999999999")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA is not available on this machine"):
        resolve_device("cuda:0")
    for bad in (5, None, ["cpu"], "x" * 500, "cuda:" + "9" * 5000):
        with pytest.raises(UserError, match="is not a device name"):
            resolve_device(bad)  # type: ignore[arg-type]
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")  # type: ignore[arg-type]
