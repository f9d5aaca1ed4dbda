"""Run folders a user can trust: `--overwrite` removes only what sirenkit provably wrote, one writer at a time,
resumed runs read the files they were fitted to, failures (signals, a full disk, a refused write) leave nothing
that looks complete, and every such failure is one line.

The real-file-system cases (a full and a read-only tmpfs) run where the tests run as root and may mount; the same
failures are also injected into the writes, which runs everywhere.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from sirenkit.cli import main
from sirenkit.io import atomic
from sirenkit.runs.files import LOCK, MARKER
from sirenkit.runs.lock import FolderLock
from sirenkit.train.checkpoint import CHECKPOINT

from .badinput import QUICK, ROOT, TASK_QUICK, Case, Env, call, check_case, fit, one_line_error

QUICK_IMAGE = ["fit", "image", *TASK_QUICK["image"], *QUICK]


def _fit(out: Path, *extra: str) -> int:
    return main([*QUICK_IMAGE, "--out", str(out), *extra])


def _strict(path: Path):
    """Parse JSON as a strict parser would: NaN and Infinity are errors."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _user_folder(env: Env, name: str = "p") -> Path:
    """A folder of the user's: a stray config.json beside their source code (the probe's first defect)."""
    folder = env.tmp / name
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "main.c").write_text("int main(void) { return 0; }\n")
    return folder


def _in_user_folder(env: Env, out: str) -> list[str]:
    os.chdir(_user_folder(env))
    return [*QUICK_IMAGE, "--out", out, "--overwrite"]


def _symlink_to_run(env: Env) -> list[str]:
    link = env.tmp / "link"
    link.symlink_to(env.run_copy())
    return [*QUICK_IMAGE, "--out", str(link), "--overwrite"]


def _parent_of_cwd(env: Env) -> list[str]:
    inner = env.run_copy() / "inner"
    inner.mkdir()
    os.chdir(inner)
    return [*QUICK_IMAGE, "--out", "..", "--overwrite"]


def _home(env: Env) -> list[str]:
    home = env.run_copy("home")
    os.environ["HOME"] = str(home)  # restored by the test's monkeypatch (see test_case)
    return [*QUICK_IMAGE, "--out", str(home), "--overwrite"]


def _legacy_run(env: Env) -> list[str]:
    run = env.run_copy()
    (run / MARKER).unlink()
    return [*QUICK_IMAGE, "--out", str(run), "--overwrite"]


def _forged_marker(env: Env) -> list[str]:
    run = env.run_copy()
    (run / MARKER).write_text("{not json")
    return [*QUICK_IMAGE, "--out", str(run), "--overwrite"]


def _locked(env: Env) -> list[str]:
    run = env.run_copy()
    lock = FolderLock(run, "fit image")
    lock.acquire()
    env.held = lock  # released by the test
    return [*QUICK_IMAGE, "--out", str(run), "--overwrite"]


def _locked_resume(env: Env) -> list[str]:
    argv = _locked(env)
    return [a for a in argv if a != "--overwrite"] + ["--resume"]


def _render_locked(env: Env) -> list[str]:
    argv = _locked(env)
    run = argv[argv.index("--out") + 1]
    return ["render", run, "--size", "8"]


def _edited_activation(env: Env) -> list[str]:
    run = env.run_copy()
    config = json.loads((run / "config.json").read_text())
    config["model"]["activation"] = "tanh"
    (run / "config.json").write_text(json.dumps(config))
    return [*QUICK_IMAGE, "--out", str(run), "--resume", "--steps", "4"]


def _edited_width(env: Env) -> list[str]:
    run = env.run_copy()
    config = json.loads((run / "config.json").read_text())
    config["model"]["first_omega_0"] = 20.0
    (run / "config.json").write_text(json.dumps(config))
    return [*QUICK_IMAGE, "--out", str(run), "--resume", "--steps", "4"]


def _deep_config(env: Env) -> list[str]:
    path = env.tmp / "deep.json"
    path.write_text('{"task": ' + "[" * 200_000 + "]" * 200_000 + "}")
    return ["fit", "image", "--config", str(path), "--out", str(env.out), "--device", "cpu", "--quiet"]


def _long_name(env: Env) -> list[str]:
    return [*QUICK_IMAGE, "--out", str(env.tmp / ("x" * 300))]


def _render_long_name(env: Env) -> list[str]:
    return ["render", str(env.image_run), "--size", "8", "--out", str(env.tmp / ("x" * 300 + ".png"))]


def _render_over_user_file(env: Env) -> list[str]:
    (env.tmp / "photo.png").write_bytes(b"the user's photograph")
    return ["render", str(env.image_run), "--size", "8", "--out", str(env.tmp / "photo.png")]


def _render_over_run_file(name: str):
    def argv(env: Env) -> list[str]:
        run = env.run_copy()
        return ["render", str(run), "--size", "8", "--out", str(run / name)]

    return argv


def _lock_symlink(env: Env) -> list[str]:
    victim = env.tmp / "victim.txt"
    victim.write_text("precious")
    out = env.tmp / "r"
    out.mkdir()
    (out / LOCK).symlink_to(victim)
    return [*QUICK_IMAGE, "--out", str(out)]


def _photo_run(env: Env) -> Path:
    """A finished run fitted to `photo.png` in the case's folder (the image stays there)."""
    iio.imwrite(env.tmp / "photo.png", np.random.default_rng(1).integers(0, 255, (16, 16), dtype=np.uint8))
    run = env.tmp / "photo-run"
    assert main([*QUICK_IMAGE, str(env.tmp / "photo.png"), "--out", str(run)]) == 0
    return run


def _render_over_input(env: Env) -> list[str]:
    run = _photo_run(env)
    return ["render", str(run), "--size", "8", "--out", str(env.tmp / "photo.png"), "--overwrite"]


def _compress_over_input(env: Env) -> list[str]:
    run = _photo_run(env)
    return ["compress", str(run), "--out", str(env.tmp / "photo.safetensors"), "--overwrite"]


def _meta_json_into_data(env: Env) -> list[str]:
    data = env.tmp / "faces"
    data.mkdir()
    for k in range(12):
        iio.imwrite(data / f"p{k}.png", np.random.default_rng(k).integers(0, 255, (12, 12, 3), dtype=np.uint8))
    run = env.tmp / "meta-run"
    assert main(["meta", "train", str(data), "--out", str(run), *TASK_QUICK["meta"], *QUICK]) == 0
    return ["meta", "eval", str(run), "--json", str(data / "p0.png"), "--overwrite"]


def _through_link_and_dotdot(env: Env) -> list[str]:
    run = env.run_copy()
    (run / "inner").mkdir()
    (env.tmp / "lnk").symlink_to(run / "inner")
    return ["render", str(run), "--size", "8", "--out", str(env.tmp / "lnk" / ".." / "reconstruction.png"),
            "--overwrite"]


def _dot_after_link(env: Env) -> list[str]:
    link = env.tmp / "L1"
    link.symlink_to(env.run_copy())
    return [*QUICK_IMAGE, "--out", str(link) + "/.", "--overwrite"]


def _dangling(env: Env) -> list[str]:
    (env.tmp / "gone").symlink_to(env.tmp / "nowhere")
    return [*QUICK_IMAGE, "--out", str(env.tmp / "gone")]


def _nan_weights(command: list[str]):
    def argv(env: Env) -> list[str]:
        from safetensors import safe_open
        from safetensors.torch import load_file, save_file

        run = env.run_copy()
        tensors = load_file(str(run / CHECKPOINT))
        with safe_open(str(run / CHECKPOINT), framework="pt") as f:
            header = f.metadata()
        tensors["model.head.bias"] = tensors["model.head.bias"] * float("nan")
        save_file(tensors, str(run / CHECKPOINT), metadata=header)
        return [a.replace("RUN", str(run)).replace("TMP", str(env.tmp)) for a in command]

    return argv


def _stopped_before_checkpoint(env: Env) -> list[str]:
    """A run folder whose fit was killed (or hit a full disk) before its first checkpoint: run.json says running."""
    run = env.tmp / "r"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / MARKER).write_text(json.dumps({"format": "sirenkit-run-1", "id": "x", "state": "running",
                                          "files": {"config.json": "fit"}}))
    return [*QUICK_IMAGE, "--out", str(run)]


CASES = [
    Case("overwrite-user-folder", "`--out p --overwrite`, p holds config.json `{}` and main.c",
         lambda e: [*QUICK_IMAGE, "--out", str(_user_folder(e)), "--overwrite"],
         "is not empty and holds no sirenkit run"),
    Case("overwrite-dot", "`--out . --overwrite` inside that folder", lambda e: _in_user_folder(e, "."),
         "--overwrite: --out . is the current folder"),
    Case("overwrite-empty-name", "`--out '' --overwrite`", lambda e: _in_user_folder(e, ""), "--out is empty"),
    Case("overwrite-parent", "`--out .. --overwrite` from a folder inside a run", _parent_of_cwd,
         "is a folder above the current one"),
    Case("overwrite-home", "`--out $HOME --overwrite` (HOME holds a run)", _home, "is a home or root folder"),
    Case("overwrite-symlink", "`--out LINK --overwrite`, LINK a symlink to a run", _symlink_to_run,
         "is a symbolic link"),
    Case("overwrite-legacy-run", "`--overwrite` of a run without run.json (an earlier sirenkit's)", _legacy_run,
         "without the run.json marker"),
    Case("overwrite-damaged-marker", "`--overwrite` of a run whose run.json is not JSON", _forged_marker,
         "without the run.json marker"),
    Case("out-locked", "`--out RUN --overwrite` while another process holds RUN", _locked,
         ("run folder", "is in use by sirenkit fit image (pid")),
    Case("resume-locked", "`--out RUN --resume` while another process holds RUN", _locked_resume, "is in use by"),
    Case("render-locked", "`render RUN` (into RUN) while another process holds RUN", _render_locked, "is in use by"),
    Case("resume-edited-activation", "`--resume` after config.json's activation was edited to tanh",
         _edited_activation, ("describes another network than the run's checkpoint", "activation")),
    Case("resume-edited-omega", "`--resume` after config.json's first_omega_0 was edited", _edited_width,
         "describes another network"),
    Case("config-nested-deep", "a config file nested 200,000 deep", _deep_config, "nested too deeply"),
    Case("out-name-too-long", "`--out` with a 300-character name", _long_name, "File name too long"),
    Case("render-name-too-long", "`render RUN --out` a 300-character name", _render_long_name,
         "File name too long"),
    Case("render-over-user-file", "`render RUN --out photo.png`, photo.png not written by sirenkit",
         _render_over_user_file, "already exists and sirenkit did not write it; pass --overwrite"),
    Case("render-over-checkpoint", "`render RUN --out RUN/checkpoint.safetensors`",
         _render_over_run_file(CHECKPOINT), ("is the checkpoint of run", "writing it would destroy it")),
    Case("render-over-config", "`render RUN --out RUN/config.json`", _render_over_run_file("config.json"),
         "is the config.json of run"),
    Case("render-over-reconstruction", "`render RUN --out RUN/reconstruction.png` (written by the fit)",
         _render_over_run_file("reconstruction.png"), "is a file of the run in"),
    Case("abbreviated-flag", "`--ov` for `--overwrite`", fit("image", "--ov"), "unrecognized arguments: --ov"),
    Case("lock-is-symlink", "`--out r`, r holding only `.sirenkit.lock`, a symlink to the user's file", _lock_symlink,
         ".sirenkit.lock is a symbolic link"),
    Case("render-over-run-input", "`render RUN --out photo.png --overwrite`, photo.png the image RUN was fitted to",
         _render_over_input, ("is an input of run", "writing it would destroy it")),
    Case("compress-over-run-input", "`compress RUN --out photo.safetensors --overwrite` (its PNG would replace the "
         "image RUN was fitted to)", _compress_over_input, ("photo.png is an input of run",)),
    Case("meta-json-into-data", "`meta eval RUN --json faces/p0.png --overwrite`, faces/ the run's image folder",
         _meta_json_into_data, "is an input of run"),
    Case("render-through-link-dotdot", "`render RUN --out LINK/../reconstruction.png --overwrite`, LINK a symlink "
         "to RUN/inner", _through_link_and_dotdot, "is a file of the run in"),
    Case("overwrite-link-dot", "`--out LINK/. --overwrite`, LINK a symlink to a run", _dot_after_link,
         "is a symbolic link"),
    Case("out-dangling-link", "`--out gone`, a symlink to a missing folder", _dangling,
         ("is a symbolic link to", "which does not exist")),
    Case("out-nul", "`--out` holding a NUL character", lambda e: [*QUICK_IMAGE, "--out", "x\0y"],
         "holds a NUL character"),
    Case("export-nan-weights", "`export RUN` whose checkpoint holds NaN weights",
         _nan_weights(["export", "RUN", "--onnx", "TMP/m.onnx"]), "holds NaN or infinite values in head.bias"),
    Case("compress-nan-weights", "`compress RUN` whose checkpoint holds NaN weights",
         _nan_weights(["compress", "RUN", "--out", "TMP/c.safetensors"]), "holds NaN or infinite values"),
    Case("rerun-stopped-before-checkpoint", "`--out RUN`, a run stopped before its first checkpoint",
         _stopped_before_checkpoint, ("stopped before its first checkpoint", "pass --overwrite")),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_case(case, data, image_run, sdf_run, meta_run, tmp_path, capsys, monkeypatch):
    env = Env(data, image_run, sdf_run, tmp_path, meta_run)
    monkeypatch.setenv("HOME", os.environ.get("HOME", str(tmp_path)))  # _home changes it
    try:
        check_case(case, env, capsys, monkeypatch)
    finally:
        held = getattr(env, "held", None)
        if held is not None:
            held.release()


# ------------------------------------------------------------------------------------------------ --overwrite
def test_overwrite_removes_only_what_the_run_wrote(tmp_path, capsys):
    run = tmp_path / "run"
    assert _fit(run) == 0
    marker = json.loads((run / MARKER).read_text())
    first_id = marker["id"]
    assert marker["state"] == "complete"
    assert {"config.json", "metrics.json", CHECKPOINT, "reconstruction.png"} <= set(marker["files"])
    (run / "notes.txt").write_text("my notes")
    (run / "mine").mkdir()
    (run / "mine" / "data.npy").write_bytes(b"x")
    capsys.readouterr()
    assert _fit(run, "--overwrite", "--steps", "3") == 0
    assert "kept what sirenkit did not write" in capsys.readouterr().err
    assert (run / "notes.txt").read_text() == "my notes"
    assert (run / "mine" / "data.npy").exists()
    marker = json.loads((run / MARKER).read_text())
    assert marker["id"] != first_id and marker["state"] == "complete"
    assert "notes.txt" not in marker["files"]
    assert json.loads((run / "metrics.json").read_text())["steps"] == 3


def test_a_marker_naming_files_outside_the_run_deletes_nothing_there(tmp_path):
    run = tmp_path / "run"
    assert _fit(run) == 0
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep me too")
    (run / "link").symlink_to(target)
    marker = json.loads((run / MARKER).read_text())
    marker["files"].update({"../outside.txt": "fit", str(outside): "fit", "link/keep.txt": "fit"})
    (run / MARKER).write_text(json.dumps(marker))
    assert _fit(run, "--overwrite") == 0
    assert outside.read_text() == "keep me"
    assert (target / "keep.txt").read_text() == "keep me too"


def test_rendering_into_a_run_is_recorded_and_may_be_repeated(image_run, tmp_path, capsys):
    run = tmp_path / "run"
    import shutil

    shutil.copytree(image_run, run)
    assert main(["render", str(run), "--size", "8"]) == 0
    marker = json.loads((run / MARKER).read_text())
    assert marker["files"]["render-8.png"] == "render"
    assert main(["render", str(run), "--size", "8"]) == 0  # its own earlier output: replaced without a flag
    (tmp_path / "mine.png").write_bytes(b"user")
    assert main(["render", str(run), "--size", "8", "--out", str(tmp_path / "mine.png"), "--overwrite"]) == 0
    assert (tmp_path / "mine.png").read_bytes() != b"user"


# ------------------------------------------------------------------------------------------------ the lock
def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    assert _fit(run) == 0
    code = ("import os, signal, sys; from pathlib import Path; from sirenkit.runs.lock import FolderLock; "
            f"FolderLock(Path({str(run)!r}), 'fit image').acquire(); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL
    holder = json.loads((run / LOCK).read_text())
    assert holder["pid"] != os.getpid()  # the dead process's record is still there …
    assert _fit(run, "--resume", "--steps", "3") == 0  # … and the lock is free


def test_two_fits_on_one_folder_never_mix(tmp_path):
    """Two processes start on the same --out at once: one wins, the other is refused; the folder is one run."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "sirenkit", *QUICK_IMAGE, "--out", str(out), "--steps", "60", "--size", "32"]
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "is in use by" in refused or "already holds a run" in refused or "no longer empty" in refused
    marker = json.loads((out / MARKER).read_text())
    assert marker["state"] == "complete"
    config = json.loads((out / "config.json").read_text())
    checkpoint = json.loads((out / "checkpoint.json").read_text())
    assert checkpoint["step"] == config["train"]["steps"] == 60


# ------------------------------------------------------------------------------------------------ resumed inputs
def _two_images(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    iio.imwrite(a / "img.png", np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8))
    iio.imwrite(b / "img.png", np.zeros((12, 12), np.uint8))  # same name, another image
    return a, b


def test_resume_from_another_folder_reads_the_recorded_input(tmp_path, monkeypatch):
    a, b = _two_images(tmp_path)
    run = tmp_path / "run"
    monkeypatch.chdir(a)
    assert main([*QUICK_IMAGE, "img.png", "--size", "0", "--out", str(run)]) == 0
    monkeypatch.chdir(b)
    assert main([*QUICK_IMAGE, "--size", "0", "--out", str(run), "--resume", "--steps", "4"]) == 0
    record = json.loads((run / "checkpoint.json").read_text())
    assert (record["step"], record["signal"]["height"], record["signal"]["width"]) == (4, 16, 16)


def test_config_from_another_folder_reads_the_recorded_input(tmp_path, monkeypatch):
    a, b = _two_images(tmp_path)
    monkeypatch.chdir(a)
    assert main([*QUICK_IMAGE, "img.png", "--size", "0", "--out", str(tmp_path / "first")]) == 0
    monkeypatch.chdir(b)
    assert main(["fit", "image", "--config", str(tmp_path / "first" / "config.json"), "--out",
                 str(tmp_path / "second"), "--quiet"]) == 0
    record = json.loads((tmp_path / "second" / "checkpoint.json").read_text())
    assert (record["signal"]["height"], record["signal"]["width"]) == (16, 16)
    config = json.loads((tmp_path / "second" / "config.json").read_text())
    assert Path(config["task"]["path"]) == a / "img.png"
    # an explicit input is relative to the current folder, as always
    assert main(["fit", "image", "img.png", "--config", str(tmp_path / "first" / "config.json"), "--out",
                 str(tmp_path / "third"), "--quiet"]) == 0
    record = json.loads((tmp_path / "third" / "checkpoint.json").read_text())
    assert (record["signal"]["height"], record["signal"]["width"]) == (12, 12)


# ------------------------------------------------------------------------------------------------ signals
def _start_long_fit(out: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "sirenkit", "fit", "image", "--size", "32", "--steps", "1000000", "--hidden-features",
            "32", "--device", "cpu", "--compile", "off", "--checkpoint-every", "20", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / CHECKPOINT).exists():  # the first checkpoint: the training loop runs
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    return proc


def test_sigterm_writes_a_checkpoint_like_ctrl_c(tmp_path):
    out = tmp_path / "run"
    proc = _start_long_fit(out)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=120)
    err = proc.stderr.read()
    assert code == 143, err
    line = one_line_error(err)
    assert "terminated (SIGTERM) at step" in line and "continue with --resume" in line
    assert (out / CHECKPOINT).is_file() and not (out / "metrics.json").exists()
    assert json.loads((out / MARKER).read_text())["state"] == "interrupted"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert main([*QUICK_IMAGE, "--out", str(out), "--resume", "--size", "32", "--hidden-features", "32",
                 "--steps", str(json.loads((out / "checkpoint.json").read_text())["step"] + 2)]) == 0


def test_a_signal_between_creating_and_guarding_a_temporary_leaves_none(tmp_path, monkeypatch, capsys):
    """Ctrl-C that lands right after a checkpoint's temporary file is created, before the code that removes it on
    an error runs: the interrupted run still leaves no temporary file in its folder (the run folder sweeps this
    process's own when it is left on an error or a signal)."""
    real = atomic.tempfile.mkstemp
    landed = []

    def mkstemp(*args, **kwargs):
        made = real(*args, **kwargs)
        if "checkpoint" in kwargs.get("prefix", "") and not landed:
            landed.append(made[1])
            raise KeyboardInterrupt
        return made

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)
    out = tmp_path / "run"
    code = main([*QUICK_IMAGE, "--out", str(out), "--steps", "4", "--checkpoint-every", "2"])
    capsys.readouterr()
    assert landed and code == 130
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((out / MARKER).read_text())["state"] == "interrupted"


def test_temporaries_left_by_a_killed_process_are_removed_at_the_next_start(tmp_path):
    run = tmp_path / "run"
    assert _fit(run) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    name = f".checkpoint.sirenkit-{atomic._HOST}-{dead}-abcd1234.safetensors.tmp"
    (run / name).write_bytes(b"half a checkpoint")
    (tmp_path / f".render-8.sirenkit-{atomic._HOST}-{dead}-abcd1234.png.tmp").write_bytes(b"half a render")
    live = f".other.sirenkit-{atomic._HOST}-{os.getpid()}-abcd1234.png.tmp"  # still being written by a live one
    (tmp_path / live).write_bytes(b"x")
    assert _fit(run, "--resume", "--steps", "3") == 0
    assert not (run / name).exists()
    assert main(["render", str(run), "--size", "8", "--out", str(tmp_path / "render-8.png")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == [live]


# ------------------------------------------------------------------------------------------------ failed writes
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failed_checkpoint_write_leaves_a_run_marked_failed(error, tmp_path, capsys, monkeypatch):
    """Fault injection: the second checkpoint cannot be written. One line, exit 2, the first checkpoint kept,
    no metrics.json, the marker says failed, no temporary file."""
    from sirenkit.train import checkpoint as ckpt

    calls = {"n": 0}
    real = ckpt.save_file

    def failing(tensors, filename, metadata=None):
        calls["n"] += 1
        if calls["n"] == 2:
            Path(filename).write_bytes(b"partial")
            raise OSError(error, os.strerror(error))
        return real(tensors, filename, metadata=metadata)

    monkeypatch.setattr(ckpt, "save_file", failing)
    run = tmp_path / "run"
    code, err = call([*QUICK_IMAGE, "--out", str(run), "--steps", "4", "--checkpoint-every", "2"], capsys)
    assert code == 2
    line = one_line_error(err)
    assert f"cannot write {run / CHECKPOINT}: {os.strerror(error)}" in line
    assert not (run / "metrics.json").exists()
    marker = json.loads((run / MARKER).read_text())
    assert marker["state"] == "failed" and os.strerror(error) in marker["error"]
    assert json.loads((run / "checkpoint.json").read_text())["step"] == 2
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(ckpt, "save_file", real)
    assert _fit(run, "--resume", "--steps", "4", "--checkpoint-every", "2") == 0  # resumable
    assert json.loads((run / MARKER).read_text())["state"] == "complete"


def test_a_resumed_run_that_fails_does_not_keep_its_old_metrics(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert _fit(run) == 0
    from sirenkit.tasks.image import ImageTask

    def broken_export(self, model, ctx):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(ctx.out_dir / "reconstruction.png"))

    monkeypatch.setattr(ImageTask, "write_artefacts", broken_export)
    code, err = call([*QUICK_IMAGE, "--out", str(run), "--resume", "--steps", "4"], capsys)
    assert code == 2 and "No space left on device" in one_line_error(err)
    assert not (run / "metrics.json").exists()
    assert json.loads((run / MARKER).read_text())["state"] == "failed"


def test_out_of_memory_is_one_line_naming_the_task_flags(tmp_path, capsys, monkeypatch):
    from sirenkit.tasks.image import ImageTask

    def no_memory(self, step, generator):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: not enough memory: you "
                           "tried to allocate 40000000000 bytes.\nframe #0: c10::…")

    monkeypatch.setattr(ImageTask, "batch", no_memory)
    code, err = call([*QUICK_IMAGE, "--out", str(tmp_path / "run")], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "out of memory" in line and "--size, --batch-pixels, --chunk or --hidden-features" in line
    assert json.loads((tmp_path / "run" / MARKER).read_text())["state"] == "failed"


def test_tensorboard_missing_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    code, err = call([*QUICK_IMAGE, "--out", str(tmp_path / "run"), "--tensorboard"], capsys)
    assert code == 2 and "--tensorboard needs the tensorboard package" in one_line_error(err)
    assert not (tmp_path / "run").exists()
    monkeypatch.delitem(sys.modules, "torch.utils.tensorboard")
    assert _fit(tmp_path / "run", "--tensorboard") == 0  # the same command works once it is installed
    files = json.loads((tmp_path / "run" / MARKER).read_text())["files"]
    assert any(name.startswith("tensorboard/events.out.tfevents.") for name in files)


def test_metrics_are_strict_json_with_a_reason_for_each_null(tmp_path):
    """Poisson reconstruction of a uniform image: its correlation-type metrics are undefined (NaN before)."""
    flat = tmp_path / "flat.png"
    iio.imwrite(flat, np.full((16, 16), 128, np.uint8))
    out = tmp_path / "run"
    assert main(["poisson", "gradient", str(flat), "--out", str(out), *TASK_QUICK["gradient"], *QUICK]) == 0
    metrics = _strict(out / "metrics.json")
    nulls = [k for k, v in metrics.items() if v is None]
    assert nulls, metrics
    assert set(nulls) <= set(metrics["not_finite"]), metrics


# ------------------------------------------------------------------------------------------------ a real tmpfs
def _mount_tmpfs(folder: Path, size: str, read_only: bool = False) -> None:
    folder.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()})")


@pytest.fixture
def tmpfs(tmp_path):
    if not ROOT or sys.platform != "linux":
        pytest.skip("mounting a tmpfs needs root on Linux (the fault-injection tests cover this elsewhere)")
    mounted: list[Path] = []

    def make(size: str, read_only: bool = False) -> Path:
        folder = tmp_path / f"tmpfs{len(mounted)}"
        _mount_tmpfs(folder, size, read_only)
        mounted.append(folder)
        return folder

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_full_disk_for_real(tmpfs, capsys):
    disk = tmpfs("400k")
    code, err = call([*QUICK_IMAGE, "--out", str(disk / "run"), "--size", "64", "--hidden-features", "128"], capsys)
    assert code == 2
    assert "No space left on device" in one_line_error(err)
    run = disk / "run"
    assert not (run / "metrics.json").exists()
    if run.exists() and (run / MARKER).exists():
        assert json.loads((run / MARKER).read_text())["state"] == "failed"
    assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]


def test_full_disk_render_for_real(tmpfs, image_run, capsys):
    disk = tmpfs("64k")
    (disk / "filler").write_bytes(b"\0" * (60 * 1024))
    code, err = call(["render", str(image_run), "--size", "256", "--out", str(disk / "big.png")], capsys)
    assert code == 2 and "No space left on device" in one_line_error(err)
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_read_only_disk_for_real(tmpfs, image_run, capsys):
    disk = tmpfs("1m", read_only=True)
    code, err = call([*QUICK_IMAGE, "--out", str(disk / "run")], capsys)
    assert code == 2 and "Read-only file system" in one_line_error(err)
    code, err = call(["render", str(image_run), "--size", "8", "--out", str(disk / "x.png")], capsys)
    assert code == 2 and "Read-only file system" in one_line_error(err)



# ------------------------------------------------------------------------------------------------ the probe's variants
def test_overwrite_keeps_a_users_file_inside_tensorboards_folder(tmp_path):
    run = tmp_path / "run"
    assert _fit(run, "--tensorboard") == 0
    files = json.loads((run / MARKER).read_text())["files"]
    events = [name for name in files if name.startswith("tensorboard/events.out.tfevents.")]
    assert events and "tensorboard/" not in files  # the event files by name, never the folder
    (run / "tensorboard" / "notes.txt").write_text("mine")
    assert _fit(run, "--overwrite") == 0
    assert (run / "tensorboard" / "notes.txt").read_text() == "mine"
    assert not (run / events[0]).exists()


def test_a_fit_never_replaces_a_users_file_in_its_folder(tmp_path, capsys):
    """--overwrite keeps the user's reconstruction.wav; the audio fit that would write that name refuses (one line,
    run marked failed) instead of replacing it."""
    run = tmp_path / "run"
    assert _fit(run) == 0
    (run / "reconstruction.wav").write_text("my recording")
    code, err = call(["fit", "audio", "--duration", "0.2", *QUICK, "--out", str(run), "--overwrite"], capsys)
    assert code == 2
    assert "reconstruction.wav exists and sirenkit did not write it" in one_line_error(err.split("\n", 1)[-1])
    assert (run / "reconstruction.wav").read_text() == "my recording"
    assert json.loads((run / MARKER).read_text())["state"] == "failed"


def test_resume_refuses_an_input_whose_content_changed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    iio.imwrite("in.png", np.random.default_rng(0).integers(0, 255, (16, 16), dtype=np.uint8))
    assert main([*QUICK_IMAGE, "in.png", "--out", "run"]) == 0
    config = json.loads(Path("run/config.json").read_text())
    assert config["inputs"]["path"]["bytes"] == Path("in.png").stat().st_size
    iio.imwrite("in.png", np.random.default_rng(1).integers(0, 255, (16, 16), dtype=np.uint8))  # same size
    code, err = call([*QUICK_IMAGE, "--out", "run", "--resume", "--steps", "4"], capsys)
    assert code == 2 and "the input file in.png (the data) changed since the run" in one_line_error(err)
    assert json.loads(Path("run/checkpoint.json").read_text())["step"] == 2


def test_array_artefacts_are_recorded_and_written_atomically(tmp_path):
    out = tmp_path / "run"
    assert main(["poisson", "gradient", "--out", str(out), *TASK_QUICK["gradient"], *QUICK]) == 0
    assert json.loads((out / MARKER).read_text())["files"]["fitted_gradient.npy"] == "fit"
    assert np.load(out / "fitted_gradient.npy").shape[:2] == (16, 16)


def test_an_overwrite_stopped_midway_never_leaves_a_run_marked_complete(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    assert _fit(run) == 0
    from sirenkit.runs import folder as runfolder

    real = runfolder.remove_owned

    def stopped(folder, marker):
        (folder / "config.json").unlink()
        raise KeyboardInterrupt  # as a Ctrl-C while the old files are being removed

    monkeypatch.setattr(runfolder, "remove_owned", stopped)
    code, err = call([*QUICK_IMAGE, "--out", str(run), "--overwrite"], capsys)
    assert code == 130 and "interrupted" in one_line_error(err)
    assert json.loads((run / MARKER).read_text())["state"] == "replacing"
    monkeypatch.setattr(runfolder, "remove_owned", real)
    assert _fit(run, "--overwrite") == 0  # the next --overwrite finishes the job
    assert json.loads((run / MARKER).read_text())["state"] == "complete"


def test_an_interrupt_outside_training_is_one_error_line(tmp_path, capsys, monkeypatch):
    from sirenkit.tasks.image import ImageTask

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ImageTask, "__init__", interrupted)
    code, err = call([*QUICK_IMAGE, "--out", str(tmp_path / "run")], capsys)
    assert code == 130 and "error: interrupted" in one_line_error(err)
    assert not (tmp_path / "run").exists()


def test_a_long_legal_output_name_is_written(image_run, tmp_path):
    """Names up to the system's 255 bytes work: the temporary name beside them is shortened to fit."""
    name = "r" * 240 + ".png"
    assert main(["render", str(image_run), "--size", "8", "--out", str(tmp_path / name)]) == 0
    assert (tmp_path / name).stat().st_size > 0
