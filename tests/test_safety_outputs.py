"""Issue 20, outputs: caps on what `render`, `mesh`, `eval-mesh` would hold or write, and damaged checkpoint
metadata (the signal description, the network description, the task name) refused in one place
(`sirenkit.tasks.base.checked_signal`) before any command uses it: one line, exit code 2, nothing written.

The cases run `sirenkit.cli.main` in-process through `check_case` (tests/badinput.py); the tiny audio, video and
blend runs are made once for this module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sirenkit.io.video import load_video
from sirenkit.train.checkpoint import CHECKPOINT

from .badinput import QUICK, TASK_QUICK, Case, Env, call, check_case, fit_quietly

DAMAGED = "it was damaged or edited"


# ------------------------------------------------------------------------------------------------ fixtures
def make_runs(root: Path) -> dict[str, Path]:
    """Tiny finished audio (1 s of the generated chord, 22,050 samples at 22,050 Hz), video (3 frames of 16×12)
    and poisson blend runs in `root` (also used by tests/error_rows.py)."""
    made = {"audio": root / "audio", "video": root / "video", "blend": root / "blend"}
    fit_quietly(["fit", "audio", "--duration", "1", "--out", str(made["audio"]), *QUICK])
    fit_quietly(["fit", "video", "--frames", "3", "--out", str(made["video"]), *TASK_QUICK["video"], *QUICK])
    fit_quietly(["poisson", "blend", "--out", str(made["blend"]), *TASK_QUICK["blend"], *QUICK])
    return made


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    return make_runs(tmp_path_factory.mktemp("output-runs"))


@pytest.fixture
def env(data, image_run, sdf_run, meta_run, tmp_path) -> Env:
    return Env(data, image_run, sdf_run, tmp_path, meta_run)


# ------------------------------------------------------------------------------------------------ damage helpers
def damaged(source: Path, env: Env, edit, name: str = "damaged") -> Path:
    """A copy of run `source` in the case's folder whose checkpoint metadata (and tensors) went through
    `edit(tensors, meta) -> (tensors, meta)`."""
    run = env.tmp / name
    shutil.copytree(source, run)
    path = run / CHECKPOINT
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    tensors, record = edit(tensors, json.loads(header["meta"]))
    save_file(tensors, str(path), metadata={"format": header["format"], "meta": json.dumps(record)})
    return run


def signal(key: str, value):
    """Set signal[key] (a dotted key reaches into an object: 'normalisation.scale')."""
    def edit(tensors, record):
        *path, last = key.split(".")
        where = record["signal"]
        for part in path:
            where = where[part]
        where[last] = value
        return tensors, record

    return edit


def drop(key: str):
    def edit(tensors, record):
        *path, last = key.split(".")
        where = record["signal"]
        for part in path:
            where = where[part]
        where.pop(last)
        return tensors, record

    return edit


def top(key: str, value):
    def edit(tensors, record):
        record[key] = value
        return tensors, record

    return edit


def model(key: str, value):
    def edit(tensors, record):
        record["model"][key] = value
        return tensors, record

    return edit


def nan_weights(tensors, record):
    tensors = dict(tensors)
    first = next(k for k in tensors if k.startswith("model.") and k.endswith("weight"))
    tensors[first] = torch.full_like(tensors[first], float("nan"))
    return tensors, record


# where each run lives, for the argv functions (the module fixture is reached through `RUNS`)
RUNS: dict[str, Path] = {}


@pytest.fixture(autouse=True)
def _runs_known(runs):
    RUNS.update(runs)


def run_of(kind: str, env: Env) -> Path:
    return {"image": env.image_run, "sdf": env.sdf_run, "meta": env.meta_run}.get(kind) or RUNS[kind]


SUFFIX = {"image": ".png", "audio": ".wav", "video": ".mp4", "sdf": ".png", "blend": ".png"}


def render(kind: str, edit=None, *flags: str):
    """`sirenkit render RUN --out {tmp}/r.SUFFIX FLAGS` on run `kind` (a damaged copy if `edit` is given)."""
    def argv(env: Env) -> list[str]:
        run = run_of(kind, env) if edit is None else damaged(run_of(kind, env), env, edit)
        return ["render", str(run), "--out", str(env.tmp / f"r{SUFFIX[kind]}"), "--device", "cpu", *flags]

    return argv


def mesh(edit=None, *flags: str, source: str = "sdf"):
    def argv(env: Env) -> list[str]:
        run = run_of(source, env) if edit is None else damaged(run_of(source, env), env, edit)
        return ["mesh", str(run), "--resolution", "16", "--out", str(env.tmp / "m.ply"), "--device", "cpu", *flags]

    return argv


def meta_eval(edit):
    return lambda env: ["meta", "eval", str(damaged(env.meta_run, env, edit)), "--device", "cpu"]


def meta_inpaint(edit):
    return lambda env: ["meta", "inpaint", str(damaged(env.meta_run, env, edit)), env.d("base.png"),
                        "--out", str(env.tmp / "i.png"), "--device", "cpu"]


def export(edit):
    return lambda env: ["export", str(damaged(env.image_run, env, edit)), "--onnx", str(env.tmp / "m.onnx")]


def compress(edit):
    return lambda env: ["compress", str(damaged(env.image_run, env, edit)), "--out", str(env.tmp / "c.safetensors")]


def bad(what: str) -> tuple[str, str]:
    """The words of a damaged-value refusal."""
    return (f"has a damaged description of the fitted signal ({what}", DAMAGED)


# ------------------------------------------------------------------------------------------------ cases
CASES = [
    # ---- output caps (defaults)
    Case("cap-image-size", "`render IMAGE-RUN --size 2000000000`", render("image", None, "--size", "2000000000"),
         ("--size 2000000000 would render 2000000000×2000000000 = about 10^18 pixels",
          "more than the limit of 268,435,456 pixels",
          "SIRENKIT_MAX_PIXELS")),
    Case("cap-image-size-2-62", "`render IMAGE-RUN --size 4611686018427387904` (2⁶²)",
         render("image", None, "--size", str(2**62)),
         ("--size 4611686018427387904 would render 4611686018427387904×4611686018427387904 = about 10^37 pixels",
          "SIRENKIT_MAX_PIXELS")),
    Case("cap-audio-rate", "`render AUDIO-RUN --size 2000000000` (the sample rate)",
         render("audio", None, "--size", "2000000000"),
         ("--size 2000000000 (the sample rate) would render 2,000,000,000 samples",
          "more than the limit of 1,073,741,824 samples", "SIRENKIT_MAX_SAMPLES")),
    Case("cap-video-frames", "`render VIDEO-RUN --frames 100000000`", render("video", None, "--frames", "100000000"),
         ("--frames 100000000 would render 100,000,000 frames", "more than the limit of 100,000 frames",
          "SIRENKIT_MAX_FRAMES")),
    Case("cap-video-size", "`render VIDEO-RUN --size 100000`", render("video", None, "--size", "100000"),
         ("--size 100000 would render frames of 100000×75000 = 7,500,000,000 pixels", "SIRENKIT_MAX_PIXELS")),
    Case("cap-video-total", "`render VIDEO-RUN --frames 100000 --size 2048` (16×12 frames): each allowed, "
         "together too much",
         render("video", None, "--frames", "100000", "--size", "2048"),
         ("--frames 100000 and --size 2048 would render 100,000 frames of 2048×1536 = 314,572,800,000 pixels",
          "more than the limit of 274,877,906,944", "SIRENKIT_MAX_VIDEO_PIXELS")),
    Case("cap-sdf-render-size", "`render SDF-RUN --size 100000` (slice plot)", render("sdf", None, "--size", "100000"),
         ("--size 100000 would plot three planes of 100000×100000 = 30,000,000,000 points", "SIRENKIT_MAX_PIXELS")),
    Case("cap-mesh-resolution", "`mesh SDF-RUN --resolution 4096`", mesh(None, "--resolution", "4096"),
         ("--resolution 4096 would sample a grid of 4096³ nodes", "more than the limit of 2,048",
          "SIRENKIT_MAX_MESH_RESOLUTION")),
    Case("cap-eval-mesh-samples", "`eval-mesh sphere.ply sphere.stl --samples 10000000000`",
         lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples", "10000000000"],
         ("--samples 10000000000 would sample each mesh", "more than the limit of 100,000,000",
          "SIRENKIT_MAX_EVAL_SAMPLES")),
    Case("render-frames-not-video", "`render IMAGE-RUN --frames 5`", render("image", None, "--frames", "5"),
         "--frames applies to video runs"),

    # ---- the image signal (render)
    Case("signal-height-text", "image signal height 'abc'", render("image", signal("height", "abc")),
         bad("height 'abc' is not a positive integer")),
    Case("signal-height-negative", "image signal height -5", render("image", signal("height", -5)),
         bad("height -5 is not a positive integer")),
    Case("signal-height-zero", "image signal height 0", render("image", signal("height", 0)),
         bad("height 0 is not a positive integer")),
    Case("signal-height-fraction", "image signal height 16.5", render("image", signal("height", 16.5)),
         bad("height 16.5 is not a positive integer")),
    Case("signal-height-bool", "image signal height true", render("image", signal("height", True)),
         bad("height True is not a positive integer")),
    Case("signal-height-huge", "image signal height 10¹²", render("image", signal("height", 10**12)),
         bad("height 1,000,000,000,000 is above 1,048,576")),
    Case("signal-width-null", "image signal width null", render("image", signal("width", None)),
         bad("width None is not a positive integer")),
    Case("signal-channels-99", "image signal channels 99 (grey image)", render("image", signal("channels", 99)),
         bad("channels 99 is not one of 1, 3")),
    Case("signal-channels-3-grey", "image signal channels 3 on a grey network", render("image", signal("channels", 3)),
         bad("channels 3, but the network gives 1 value a point")),
    Case("signal-bit-depth", "image signal bit_depth 12", render("image", signal("bit_depth", 12)),
         bad("bit_depth 12 is not one of 8, 16")),
    Case("signal-not-object", "signal description is a list", render("image", top("signal", [16, 16, 1])),
         ("has no description of the fitted signal", DAMAGED)),
    Case("signal-missing-width", "image signal without width", render("image", drop("width")),
         ("lacks 'width' in its description of the fitted signal", DAMAGED)),
    # ---- the task name changed
    Case("task-image-as-audio", "image run whose task reads 'audio'", render("image", top("task", "audio")),
         ("names task 'audio', whose networks take 1 coordinate, but holds a network that takes 2 coordinates",
          DAMAGED)),
    Case("task-image-as-video", "image run whose task reads 'video'", render("image", top("task", "video")),
         "names task 'video', whose networks take 3 coordinates"),
    Case("task-image-as-sdf", "image run whose task reads 'sdf'", render("image", top("task", "sdf")),
         "names task 'sdf', whose networks take 3 coordinates"),
    Case("task-image-as-gradient", "image run whose task reads 'poisson-gradient'",
         render("image", top("task", "poisson-gradient")), "lacks 'derivative'"),
    Case("task-image-as-blend", "image run whose task reads 'poisson-blend'",
         render("image", top("task", "poisson-blend")), "lacks 'mode'"),
    Case("task-image-as-helmholtz", "image run whose task reads 'helmholtz'", render("image", top("task", "helmholtz")),
         "lacks 'k'"),
    Case("task-image-as-meta", "image run whose task reads 'meta'", render("image", top("task", "meta")),
         "lacks 'side'"),
    Case("task-sdf-as-video", "sdf run whose task reads 'video'", render("sdf", top("task", "video")),
         "lacks 'frames'"),
    Case("task-video-as-sdf", "video run whose task reads 'sdf'", render("video", top("task", "sdf")),
         "lacks 'normalisation'"),
    Case("task-sdf-as-image", "sdf run whose task reads 'image'", render("sdf", top("task", "image")),
         "names task 'image', whose networks take 2 coordinates, but holds a network that takes 3"),
    # ---- the network description and weights
    Case("model-omega-nan", "network description with first_omega_0 NaN",
         render("image", model("first_omega_0", float("nan"))),
         ("describes its network", "first-omega-0 must be a finite number (got nan)", DAMAGED)),
    Case("model-omega-inf", "network description with hidden_omega_0 Infinity",
         render("image", model("hidden_omega_0", float("inf"))),
         ("describes its network", "hidden-omega-0 must be a finite number (got inf)", DAMAGED)),
    Case("weights-nan-image", "image run with NaN weights", render("image", nan_weights),
         "holds NaN or infinite values in"),
    Case("weights-nan-audio", "audio run with NaN weights", render("audio", nan_weights), "holds NaN or infinite"),
    Case("weights-nan-video", "video run with NaN weights", render("video", nan_weights), "holds NaN or infinite"),
    Case("weights-nan-sdf-render", "sdf run with NaN weights, render", render("sdf", nan_weights),
         "holds NaN or infinite"),
    Case("weights-nan-mesh", "sdf run with NaN weights, mesh", mesh(nan_weights), "holds NaN or infinite values"),
    # ---- the audio signal
    Case("audio-rate-text", "audio signal rate 'fast'", render("audio", signal("rate", "fast")),
         bad("rate 'fast' is not a positive integer")),
    Case("audio-rate-zero", "audio signal rate 0", render("audio", signal("rate", 0)), bad("rate 0 is not a positive")),
    Case("audio-rate-huge", "audio signal rate 10¹⁰", render("audio", signal("rate", 10**10)),
         bad("rate 10,000,000,000 is above 2,147,483,647")),
    Case("audio-frames-one", "audio signal frames 1", render("audio", signal("frames", 1)),
         bad("frames 1 is below 2")),
    Case("audio-channels-2", "audio signal channels 2 on a mono network", render("audio", signal("channels", 2)),
         bad("channels 2, but the network gives 1 value a point")),
    Case("audio-scale-nan", "audio signal scale NaN", render("audio", signal("scale", float("nan"))),
         bad("scale nan is not a finite number")),
    Case("audio-scale-negative", "audio signal scale -1", render("audio", signal("scale", -1.0)),
         bad("scale -1 is not positive")),
    Case("audio-scale-missing", "audio signal without scale", render("audio", drop("scale")), "lacks 'scale'"),
    # ---- the video signal
    Case("video-frames-zero", "video signal frames 0", render("video", signal("frames", 0)),
         bad("frames 0 is not a positive integer")),
    Case("video-height-text", "video signal height 'abc'", render("video", signal("height", "abc")),
         bad("height 'abc' is not a positive integer")),
    Case("video-fps-negative", "video signal fps -25", render("video", signal("fps", -25)),
         bad("fps -25 is not positive")),
    Case("video-fps-text", "video signal fps 'fast'", render("video", signal("fps", "fast")),
         bad("fps 'fast' is not a number")),
    Case("video-channels-1", "video signal channels 1", render("video", signal("channels", 1)),
         bad("channels 1 is not one of 3")),
    Case("video-start-frame-negative", "video signal start_frame -5 (said 'is not an integer')",
         render("video", signal("start_frame", -5)), bad("start_frame -5 is below 0")),
    Case("video-start-frame-text", "video signal start_frame 'x'", render("video", signal("start_frame", "x")),
         bad("start_frame 'x' is not an integer")),
    # ---- the sdf signal (mesh and render)
    Case("mesh-scale-nan", "sdf normalisation scale NaN", mesh(signal("normalisation.scale", float("nan"))),
         bad("normalisation.scale nan is not a finite number")),
    Case("mesh-scale-zero", "sdf normalisation scale 0", mesh(signal("normalisation.scale", 0)),
         bad("normalisation.scale 0 is not ≥ 1e-30")),
    Case("mesh-scale-tiny", "sdf normalisation scale 1e-300 (vertices would overflow)",
         mesh(signal("normalisation.scale", 1e-300)), bad("normalisation.scale 1e-300 is not ≥ 1e-30")),
    Case("mesh-center-short", "sdf normalisation center of 2 numbers", mesh(signal("normalisation.center", [0, 0])),
         bad("normalisation.center [0, 0] is not a list of 3 numbers")),
    Case("mesh-center-inf", "sdf normalisation center with Infinity",
         mesh(signal("normalisation.center", [0, float("inf"), 0])), bad("normalisation.center[1] inf is not")),
    Case("mesh-normalisation-text", "sdf normalisation 'unit'", mesh(signal("normalisation", "unit")),
         bad("normalisation 'unit' is not an object")),
    Case("mesh-scale-missing", "sdf normalisation without scale", mesh(drop("normalisation.scale")),
         "lacks 'normalisation.scale'"),
    Case("mesh-image-as-sdf", "`mesh` of an image run whose task reads 'sdf'",
         mesh(top("task", "sdf"), source="image"), "names task 'sdf', whose networks take 3 coordinates"),
    Case("render-sdf-scale-nan", "render of an sdf run with normalisation scale NaN",
         render("sdf", signal("normalisation.scale", float("nan"))), bad("normalisation.scale nan")),
    # ---- meta eval / meta inpaint
    Case("meta-eval-side-text", "meta signal side 'abc'", meta_eval(signal("side", "abc")),
         bad("side 'abc' is not a positive integer")),
    Case("meta-eval-side-huge", "meta signal side 10⁶", meta_eval(signal("side", 10**6)),
         bad("side 1,000,000 is above 1,024")),
    Case("meta-eval-side-other", "meta signal side 20 for a 12² network", meta_eval(signal("side", 20)),
         bad("side 20, but the network was built for side 12")),
    Case("meta-eval-test-fraction", "meta signal test_fraction 2", meta_eval(signal("test_fraction", 2)),
         bad("test_fraction 2 is not < 1")),
    Case("meta-eval-seed-text", "meta signal eval_seed 'x'", meta_eval(signal("eval_seed", "x")),
         bad("eval_seed 'x' is not an integer")),
    Case("meta-eval-seed-low", "meta signal eval_seed -2⁴¹ (below its rule's -2⁴⁰)",
         meta_eval(signal("eval_seed", -2**41)), bad("eval_seed -2199023255552 is below -1099511627776")),
    Case("meta-eval-data-number", "meta signal data 5", meta_eval(signal("data", 5)), bad("data 5 is not a text")),
    Case("meta-eval-no-signal", "meta run without a signal description", meta_eval(top("signal", None)),
         "has no description of the fitted signal"),
    Case("meta-inpaint-side-negative", "meta signal side -5, inpaint", meta_inpaint(signal("side", -5)),
         bad("side -5 is not a positive integer")),
    Case("meta-inpaint-channels", "meta signal channels 1, inpaint", meta_inpaint(signal("channels", 1)),
         bad("channels 1 is not one of 3")),
    Case("meta-inpaint-image-as-meta", "image run whose task reads 'meta', inpaint",
         lambda e: ["meta", "inpaint", str(damaged(e.image_run, e, top("task", "meta"))), e.d("base.png"),
                    "--out", str(e.tmp / "i.png"), "--device", "cpu"], "lacks 'side'"),
    # ---- export and compress read the same description
    Case("export-height-negative", "`export` of an image run with signal height -5",
         export(signal("height", -5)), bad("height -5 is not a positive integer")),
    Case("export-task-audio", "`export` of an image run whose task reads 'audio'", export(top("task", "audio")),
         "names task 'audio'"),
    Case("compress-height-text", "`compress` of an image run with signal height 'abc'",
         compress(signal("height", "abc")), bad("height 'abc' is not a positive integer")),
    Case("compress-channels-99", "`compress` of an image run with signal channels 99",
         compress(signal("channels", 99)), bad("channels 99 is not one of 1, 3")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_case(case, data, image_run, sdf_run, meta_run, tmp_path, capsys, monkeypatch):
    line = check_case(case, Env(data, image_run, sdf_run, tmp_path, meta_run), capsys, monkeypatch)
    print(line.replace(str(tmp_path) + "/", "").replace(str(data) + "/", ""))  # shown by `pytest -rP`: the docs' rows


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------------------------------------ caps move
def test_a_render_just_under_a_lowered_cap_is_written_and_one_above_is_refused(env, capsys, monkeypatch):
    """The caps are checked exactly: with SIRENKIT_MAX_PIXELS at 1024, a 32×32 render is written, 33×33 refused."""
    monkeypatch.setenv("SIRENKIT_MAX_PIXELS", "1024")
    out = env.tmp / "r.png"
    code, err = call(["render", str(env.image_run), "--size", "32", "--out", str(out), "--device", "cpu"], capsys)
    assert code == 0, err
    assert iio.imread(out).shape[:2] == (32, 32)
    line = check_case(Case("under", "", render("image", None, "--size", "33"), "33×33 = 1,089 pixels, more than "
                           "the limit of 1,024 pixels"), env, capsys, monkeypatch)
    assert "SIRENKIT_MAX_PIXELS" in line


def test_a_render_cap_follows_the_input_limit_of_the_same_quantity(env):
    """`sirenkit.io.limits.input_limits(max_pixels=N)` (what `--max-pixels` sets where a command has it) moves the
    render cap too: what can be read can be rendered, and no more."""
    from sirenkit.errors import UserError
    from sirenkit.io.limits import input_limits
    from sirenkit.rendering import render_run

    with input_limits(max_pixels=1024):
        assert render_run(env.image_run, 32, env.tmp / "ok.png", device="cpu").is_file()
        with pytest.raises(UserError, match="33×33 = 1,089 pixels, more than the limit of 1,024 pixels"):
            render_run(env.image_run, 33, env.tmp / "no.png", device="cpu")
    assert not (env.tmp / "no.png").exists()


def test_audio_and_video_caps_move_with_their_variables(env, runs, capsys, monkeypatch):
    monkeypatch.setenv("SIRENKIT_MAX_SAMPLES", "22050")
    code, err = call(["render", str(runs["audio"]), "--out", str(env.tmp / "a.wav"), "--device", "cpu"], capsys)
    assert code == 0, err
    assert sf.info(str(env.tmp / "a.wav")).frames == 22050
    check_case(Case("audio-over", "", render("audio", None, "--size", "22051"), "22,051 samples"), env, capsys,
               monkeypatch)
    monkeypatch.setenv("SIRENKIT_MAX_FRAMES", "4")
    code, err = call(["render", str(runs["video"]), "--frames", "4", "--out", str(env.tmp / "v.mp4"), "--device",
                      "cpu"], capsys)
    assert code == 0, err
    assert load_video(env.tmp / "v.mp4").shape[0] == 4
    check_case(Case("video-over", "", render("video", None, "--frames", "5"), "5 frames, more than the limit of 4"),
               env, capsys, monkeypatch)
    monkeypatch.setenv("SIRENKIT_MAX_VIDEO_PIXELS", str(4 * 12 * 16))  # the run's frames are 16×12
    check_case(Case("video-total-over", "", render("video", None, "--frames", "4", "--size", "17"),
                    ("4 frames of 17×12 = 816 pixels", "SIRENKIT_MAX_VIDEO_PIXELS")), env, capsys, monkeypatch)


def test_mesh_and_eval_mesh_caps_move_with_their_variables(env, capsys, monkeypatch):
    monkeypatch.setenv("SIRENKIT_MAX_MESH_RESOLUTION", "16")
    check_case(Case("mesh-over", "", mesh(None, "--resolution", "17"), "more than the limit of 16"), env, capsys,
               monkeypatch)
    code, err = call(["mesh", str(env.sdf_run), "--resolution", "16", "--out", str(env.tmp / "m.ply"), "--device",
                      "cpu"], capsys)
    assert code in (0, 2), err  # 2: a barely trained network may have no surface; it is not refused as too big
    assert "limit" not in err
    monkeypatch.setenv("SIRENKIT_MAX_EVAL_SAMPLES", "100")
    code, err = call(["eval-mesh", env.d("sphere.ply"), env.d("sphere.stl"), "--samples", "100"], capsys)
    assert code == 0, err
    over = "sample each mesh 101 times, more than the limit of 100 samples"
    check_case(Case("eval-over", "", lambda e: ["eval-mesh", e.d("sphere.ply"), e.d("sphere.stl"), "--samples",
                                                "101"], over),
               env, capsys, monkeypatch)


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_bad_limit_variable_is_one_line(value, env, capsys, monkeypatch):
    monkeypatch.setenv("SIRENKIT_MAX_PIXELS", value)
    check_case(Case("bad-variable", "", render("image"), "SIRENKIT_MAX_PIXELS must be a positive whole number"),
               env, capsys, monkeypatch)


def test_a_limit_variable_accepts_exponent_notation(env, capsys, monkeypatch):
    monkeypatch.setenv("SIRENKIT_MAX_PIXELS", "1e3")
    check_case(Case("exp", "", render("image", None, "--size", "32"), "more than the limit of 1,000"), env, capsys,
               monkeypatch)


# ------------------------------------------------------------------------------------------------ what is written
def test_blend_render_is_the_blended_image(runs, tmp_path, capsys):
    """A blend network's values are pixels in [0, 1] (mix mode: shifted to the stored mean), not [-1, 1] as an
    image network's: `render` at the fitted size used to map them as an image's and wrote a wrong picture."""
    out = tmp_path / "b.png"
    code, err = call(["render", str(runs["blend"]), "--out", str(out), "--device", "cpu"], capsys)
    assert code == 0, err
    written = iio.imread(out).astype(np.int64)
    blended = iio.imread(runs["blend"] / "blend.png").astype(np.int64)
    assert np.abs(written - blended).max() <= 1


@pytest.mark.parametrize("kind", ["image", "audio", "video", "sdf"])
def test_an_astronomical_size_is_refused_through_the_api(kind, env, capsys):
    """`sirenkit.rendering.render_run(RUN, size=10**400)`: refused by the type rule of the CLI's integers (64 bits:
    no float holds 10**400); a 64-bit size as large as 2**62 by the caps, which count in integers."""
    from sirenkit.errors import UserError
    from sirenkit.rendering import render_run

    frames = 10**400 if kind == "video" else None
    with pytest.raises(UserError, match=r"--size must be a 64-bit integer.*\(got an integer of about 401 digits\)"):
        render_run(run_of(kind, env), 10**400, env.tmp / f"r{SUFFIX[kind]}", device="cpu", frames=frames)
    frames = 2**62 if kind == "video" else None
    with pytest.raises(UserError, match=r"about 10\^\d+ .*more than the limit of"):
        render_run(run_of(kind, env), 2**62, env.tmp / f"r{SUFFIX[kind]}", device="cpu", frames=frames)
    assert list(env.tmp.iterdir()) == []


@pytest.mark.figures
def test_valid_runs_still_render(env, runs, capsys):
    """Nothing changes for legitimate renders: every run kind renders at its fitted size and at another."""
    for kind, flags in [("image", ["--size", "24"]), ("audio", ["--size", "16000"]), ("video", ["--frames", "4"]),
                        ("sdf", ["--size", "32"])]:
        out = env.tmp / f"{kind}{SUFFIX[kind]}"
        code, err = call(["render", str(run_of(kind, env)), "--out", str(out), "--device", "cpu", *flags], capsys)
        assert code == 0 and out.is_file(), (kind, err)


def test_checked_signal_is_the_one_check(image_run):
    """The shared function: a clean description back (integral numbers as integers), the damage named."""
    from sirenkit.errors import UserError
    from sirenkit.runs.load import load_run
    from sirenkit.tasks.stored import checked_signal

    _, record = load_run(image_run)
    clean = checked_signal(record, "RUN")
    assert clean["height"] == 16 and isinstance(clean["height"], int)
    again = checked_signal({**record, "signal": {**record["signal"], "height": 16.0}}, "RUN")
    assert again["height"] == 16 and isinstance(again["height"], int)
    with pytest.raises(UserError, match=r"checkpoint of RUN has a damaged description of the fitted signal "
                                        r"\(height 'abc' is not a positive integer\); it was damaged or edited"):
        checked_signal({**record, "signal": {**record["signal"], "height": "abc"}}, "RUN")


def test_every_task_declares_its_signal():
    """A task that renders or is exported declares what its signal needs (a new task adds its schema)."""
    from sirenkit.tasks import REGISTRY
    from sirenkit.tasks.base import Task

    for name, cls in REGISTRY.items():
        assert cls.signal_schema or cls.check_signal.__func__ is not Task.check_signal.__func__, name


def test_whole_says_type_first_then_range():
    """The schema rule of a stored integer: 'is not an integer' only for what is not one; a value under the
    rule's lower bound is 'below' it (a start_frame of -5 was 'not an integer')."""
    from sirenkit.tasks.base import DamagedSignal, Whole

    for rule, value, words in [(Whole(0), -5, "start_frame -5 is below 0"),
                               (Whole(0), 1.5, "start_frame 1.5 is not an integer"),
                               (Whole(0), "x", "start_frame 'x' is not an integer"),
                               (Whole(0), True, "start_frame True is not an integer"),
                               (Whole(1), 0, "start_frame 0 is not a positive integer"),
                               (Whole(1), -3, "start_frame -3 is not a positive integer"),
                               (Whole(2), 1, "start_frame 1 is below 2"),
                               (Whole(-10, 10), -11, "start_frame -11 is below -10"),
                               (Whole(0, 5), 6, "start_frame 6 is above 5")]:
        with pytest.raises(DamagedSignal) as caught:
            rule.check("start_frame", value)
        assert str(caught.value) == words
    assert Whole(0).check("start_frame", 0) == 0 and Whole(-10, 10).check("s", -10.0) == -10


@pytest.mark.parametrize("options, words", [
    ({"size": "16"}, "--size must be an integer (got '16')"),
    ({"size": float("inf")}, "--size must be an integer (got inf)"),
    ({"size": float("nan")}, "--size must be an integer (got nan)"),
    ({"size": 2.5}, "--size must be an integer (got 2.5)"),
    ({"size": True}, "--size must be an integer (got True)"),
    ({"size": 1}, "--size must be ≥ 2, got 1"),
    ({"frames": "x"}, "--frames must be an integer (got 'x')"),
    ({"frames": 0}, "--frames must be ≥ 1, got 0"),
    ({"chunk": 1.5}, "--chunk must be an integer (got 1.5)"),
    ({"chunk": 2**64}, "--chunk must be a 64-bit integer"),
    ({"chunk": 0}, "--chunk must be ≥ 1, got 0"),
], ids=["size-text", "size-inf", "size-nan", "size-fraction", "size-bool", "size-1", "frames-text", "frames-0",
        "chunk-fraction", "chunk-2-64", "chunk-0"])
def test_render_api_checks_its_numbers_first(options, words, env):
    """`sirenkit.render(...)` from Python: a number of the wrong type was a TypeError (size='16', frames='x',
    chunk=1.5), an OverflowError (size=inf) or a ValueError (size=nan), and size=2.5 was accepted. They are
    checked like the CLI's, before the run is read (a missing run here) and before anything is written."""
    import sirenkit
    from sirenkit.errors import UserError

    with pytest.raises(UserError) as caught:
        sirenkit.render(str(env.tmp / "missing-run"), out=str(env.tmp / "r.png"), device="cpu", **options)
    assert str(caught.value).startswith(words), str(caught.value)
    assert list(env.tmp.iterdir()) == []


def test_render_api_takes_an_integral_float(env):
    """24.0 (as JSON may write 24) is the integer 24, as everywhere else."""
    import sirenkit

    path = sirenkit.render(str(env.image_run), size=24.0, out=str(env.tmp / "r.png"), device="cpu", chunk=4096.0)
    assert iio.imread(path).shape[:2] == (24, 24)
