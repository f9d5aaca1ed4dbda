"""Shared machinery of the bad-input tests: the bad files, tiny finished runs, and the check that an error is one
line, exit code 2, with nothing written.

`tests/test_bad_inputs.py` and the `tests/test_safety_*.py` files each hold a list of `Case`s and run them with
`check_case`; the fixtures (`bad_data`, `image_run`, `sdf_run`, `meta_run`) live in conftest.py, one per session.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import soundfile as sf
import torch
import trimesh
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from sirenkit.cli import main
from sirenkit.runs.files import LOCK
from sirenkit.tasks import REGISTRY
from sirenkit.train.checkpoint import CHECKPOINT

# Small settings so that a case which wrongly got past its check would still finish in a moment.
# eager (a case that is about compilation gives its own --compile after these)
QUICK = ["--steps", "2", "--hidden-features", "8", "--device", "cpu", "--quiet", "--no-figures", "--compile", "off"]
TASK_QUICK = {
    "image": ["--size", "16"],
    "audio": [],
    "video": ["--size", "16"],
    "sdf": ["--batch-points", "64", "--surface-samples", "500", "--mesh-resolution", "0", "--eval-samples", "100"],
    "gradient": ["--size", "16"],
    "laplacian": ["--size", "16"],
    "blend": ["--size", "16"],
    "helmholtz": ["--batch-points", "16", "--reference-nodes", "41"],
    "fwi": ["--batch-points", "16", "--reference-nodes", "41", "--eval-nodes", "5"],
    "wave": ["--batch-points", "16", "--eval-size", "8"],
    "meta": ["--size", "12", "--batch-size", "4", "--latent-features", "8", "--encoder-hidden-features", "8",
             "--hyper-hidden-features", "8", "--context-max", "50"],
}
RATE = 8000


# ------------------------------------------------------------------------------------------------ fixtures
def write_bad_files(d: Path) -> None:
    """Every bad input file that the cases below read (written once per module)."""
    rng = np.random.default_rng(0)
    noise = bytes(range(256)) * 4

    # images
    (d / "somedir").mkdir()
    (d / "empty.png").write_bytes(b"")
    (d / "noise.png").write_bytes(noise)
    (d / "header.png").write_bytes(b"\x89PNG\r\n\x1a\n but nothing after the signature")
    (d / "text.jpg").write_text("this is not a JPEG\n")
    iio.imwrite(d / "one.png", np.zeros((1, 1), np.uint8))
    iio.imwrite(d / "row.png", np.zeros((1, 20), np.uint8))
    iio.imwrite(d / "five.tif", np.zeros((8, 8, 5), np.uint8))
    iio.imwrite(d / "nan.tif", np.full((8, 8), np.nan, np.float32))
    iio.imwrite(d / "base.png", rng.integers(0, 255, (16, 16), dtype=np.uint8))
    iio.imwrite(d / "insert.png", rng.integers(0, 255, (12, 12), dtype=np.uint8))
    iio.imwrite(d / "mask8.png", np.full((8, 8), 255, np.uint8))
    iio.imwrite(d / "anim.gif", rng.integers(0, 255, (3, 8, 8, 3), dtype=np.uint8), loop=0)

    # audio
    (d / "empty.wav").write_bytes(b"")
    (d / "noise.wav").write_bytes(noise)
    (d / "cut.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    sf.write(str(d / "one.wav"), np.array([[0.5]], np.float32), RATE, subtype="FLOAT")
    sf.write(str(d / "none.wav"), np.zeros((0, 1), np.float32), RATE)
    tone = np.sin(np.arange(400, dtype=np.float32) / 3.0)[:, None]
    sf.write(str(d / "tone.wav"), tone, RATE)
    with_nan = tone.copy()
    with_nan[10] = np.nan
    sf.write(str(d / "nan.wav"), with_nan, RATE, subtype="FLOAT")
    sf.write(str(d / "silent.wav"), np.zeros((400, 1), np.float32), RATE)

    # video
    from sirenkit.io.video import write_video

    write_video(d / "clip.mp4", rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8), 25.0)
    clip = (d / "clip.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(clip[:200])
    (d / "empty.mp4").write_bytes(b"")
    (d / "noise.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + noise * 2)
    (d / "no_frames").mkdir()
    (d / "no_frames" / "notes.txt").write_text("not a frame")
    (d / "empty_folder").mkdir()
    (d / "mixed").mkdir()
    iio.imwrite(d / "mixed" / "f1.png", np.zeros((8, 8, 3), np.uint8))
    iio.imwrite(d / "mixed" / "f2.png", np.zeros((8, 10, 3), np.uint8))
    (d / "broken_frame").mkdir()
    iio.imwrite(d / "broken_frame" / "f1.png", np.zeros((8, 8, 3), np.uint8))
    (d / "broken_frame" / "f2.png").write_bytes(noise)

    # point clouds and meshes
    points = rng.normal(size=(40, 3))
    normals = points / np.linalg.norm(points, axis=1, keepdims=True)
    table = np.hstack([points, normals])
    np.savetxt(d / "four.xyz", table[:, :4])
    np.savetxt(d / "bare.xyz", points)
    bad = table.copy()
    bad[3, 0] = np.nan
    np.savetxt(d / "nan.xyz", bad)
    bad = table.copy()
    bad[:5, 3:] = 0.0
    np.savetxt(d / "zero_normals.xyz", bad)
    np.savetxt(d / "few.xyz", table[:5])
    np.savetxt(d / "good.xyz", table)
    (d / "empty.xyz").write_bytes(b"")
    (d / "text.xyz").write_text("hello world\nfoo bar\n")
    (d / "ragged.xyz").write_text("1 2 3 0 0 1\n1 2 3\n")
    (d / "comments.xyz").write_text("# x y z nx ny nz\n# (no rows)\n")
    (d / "blank.xyz").write_text("   \n\n\t\n")
    (d / "shape.vtk").write_text("not a supported format")
    (d / "shape").write_text("no suffix")
    (d / "noise.stl").write_bytes(noise)
    (d / "tiny.stl").write_bytes(b"\x00\x01garbage" * 3)
    sphere = trimesh.creation.icosphere(1)
    sphere.export(d / "sphere.ply")
    sphere.export(d / "sphere.stl")
    stl = (d / "sphere.stl").read_bytes()
    (d / "cut.stl").write_bytes(stl[: len(stl) // 2 + 7])
    (d / "noise.ply").write_bytes(noise)
    (d / "broken.obj").write_text("v 1 2\nf 1 2 3\n")
    trimesh.points.PointCloud(points).export(d / "cloud.ply")
    trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], process=False).export(d / "flat.ply")
    vertices = sphere.vertices.copy()
    vertices[0, 0] = np.nan
    trimesh.Trimesh(vertices, sphere.faces, process=False).export(d / "nan_vertex.obj")
    (d / "folder.ply").mkdir()

    # PDE measurements (invert helmholtz)
    import scipy.io

    (d / "noise.mat").write_bytes(noise)
    scipy.io.savemat(d / "keys.mat", {"source": np.zeros((5, 2))})
    scipy.io.savemat(d / "shape.mat", {"source": np.zeros((5, 2)), "receivers": np.zeros((3, 2)),
                                       "rec_val": np.zeros((5, 3), complex)})
    scipy.io.savemat(d / "nan.mat", {"source": np.zeros((1, 2)), "receivers": np.full((1, 2), 0.1),
                                     "rec_val": np.full((1, 1), np.nan + 0j)})
    scipy.io.savemat(d / "far.mat", {"source": np.zeros((1, 2)), "receivers": np.array([[0.1, 0.7]]),
                                     "rec_val": np.ones((1, 1), complex)})

    # image sets (meta train)
    (d / "one_image").mkdir()
    iio.imwrite(d / "one_image" / "a.png", np.zeros((8, 8, 3), np.uint8))
    (d / "celeba_bad" / "img_align_celeba").mkdir(parents=True)
    iio.imwrite(d / "celeba_bad" / "img_align_celeba" / "000001.jpg", np.zeros((8, 8, 3), np.uint8))
    (d / "celeba_bad" / "list_eval_partition.txt").write_text("000001.jpg train\n")
    (d / "split_empty" / "train").mkdir(parents=True)
    (d / "split_empty" / "test").mkdir()
    iio.imwrite(d / "split_empty" / "train" / "a.png", np.zeros((8, 8, 3), np.uint8))

    # config files
    good = {"task_name": "image", "recipe": "cpu", "task": {"size": 16}, "model": {"hidden_features": 8},
            "train": {"steps": 2}}
    configs = {
        "invalid": "{not json",
        "list": "[1, 2]",
        "unknown_key": json.dumps({**good, "colour": 1}),
        "other_task": json.dumps({**good, "task_name": "audio"}),
        "unknown_setting": json.dumps({**good, "task": {"sise": 16}}),
        "wrong_type": json.dumps({**good, "train": {"steps": "ten"}}),
        "null": json.dumps({**good, "train": {"steps": None}}),
        "bad_choice": json.dumps({**good, "model": {"activation": "swish"}}),
        "section_list": json.dumps({**good, "task": [16]}),
        "bad_recipe": json.dumps({**good, "recipe": "fast"}),
        "negative_steps": json.dumps({**good, "train": {"steps": -5}}),
    }
    for name, text in configs.items():
        (d / f"{name}.json").write_text(text)
    (d / "latin1.json").write_bytes(b'{"recipe": "caf\xe9"}')
    (d / "a_file").write_text("a file, not a folder")
    (d / "not_a_run").mkdir()
    (d / "not_a_run" / "notes.txt").write_text("somebody's files")


def fit_quietly(argv: list[str]) -> None:
    code = main(argv)
    assert code == 0


@dataclass
class Env:
    """What a case may use: the bad files, the finished runs, and its own empty folder."""

    data: Path
    image_run: Path
    sdf_run: Path
    tmp: Path
    meta_run: Path

    @property
    def out(self) -> Path:
        """The --out given to fit cases; it must not exist afterwards."""
        return self.tmp / "out"

    def d(self, name: str) -> str:
        return str(self.data / name)

    def run_copy(self, name: str = "copy") -> Path:
        """A private copy of the image run, for cases that damage or resume it."""
        dst = self.tmp / name
        shutil.copytree(self.image_run, dst)
        return dst


# ------------------------------------------------------------------------------------------------ cases
@dataclass
class Case:
    """`needle`: the words the error line must hold, or a tuple of such pieces (each must appear). `{d}` stands
    for the folder of the bad files and `{tmp}` for the case's own folder, so a needle may name the exact path."""

    id: str
    what: str
    argv: Callable[[Env], list[str]]
    needle: str | tuple[str, ...]
    marks: tuple = ()

    def needles(self, env: Env) -> list[str]:
        pieces = (self.needle,) if isinstance(self.needle, str) else self.needle
        return [n.replace("{d}", str(env.data)).replace("{tmp}", str(env.tmp)) for n in pieces]


def fit(task: str, *args: str) -> Callable[[Env], list[str]]:
    """`sirenkit fit TASK ARGS --out OUT` with quick settings; ARGS may use {d} for the bad-file folder."""
    verb = ["poisson", task] if task in ("gradient", "laplacian", "blend") else list(REGISTRY[task].command)

    def argv(env: Env) -> list[str]:
        given = [a.replace("{d}", str(env.data)) for a in args]
        first_option = next((i for i, a in enumerate(given) if a.startswith("--")), len(given))
        positionals, options = given[:first_option], given[first_option:]
        # the case's own options come last, so they override the quick defaults
        return [*verb, *positionals, "--out", str(env.out), *TASK_QUICK[task], *QUICK, *options]

    return argv


def config(name: str) -> Callable[[Env], list[str]]:
    """`sirenkit fit image --config NAME`: no explicit settings, which would override the file's."""
    return lambda env: ["fit", "image", "--config", env.d(name), "--out", str(env.out), "--device", "cpu", "--quiet"]


def _with_checkpoint(env: Env, edit: Callable[[dict, dict], tuple[dict, dict]]) -> Path:
    """A copy of the image run whose checkpoint tensors and metadata went through `edit`."""
    run = env.run_copy()
    path = run / CHECKPOINT
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        header = f.metadata()
    tensors, record = edit(tensors, json.loads(header["meta"]))
    save_file(tensors, str(path), metadata={"format": header["format"], "meta": json.dumps(record)})
    return run


def _truncated(env: Env) -> Path:
    run = env.run_copy()
    data = (run / CHECKPOINT).read_bytes()
    (run / CHECKPOINT).write_bytes(data[: len(data) // 2])
    return run


def _pickled(env: Env) -> Path:
    run = env.run_copy()
    torch.save({"weights": torch.zeros(3)}, run / CHECKPOINT)
    return run


def _foreign(env: Env) -> Path:
    run = env.run_copy()
    save_file({"w": torch.zeros(3)}, str(run / CHECKPOINT))
    return run


def _bad_meta_json(env: Env) -> Path:
    run = env.run_copy()
    path = run / CHECKPOINT
    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"format": "sirenkit-checkpoint-1", "meta": "{not json"})
    return run


def _drop(key: str, sub: str | None = None):
    def edit(tensors, record):
        (record if sub is None else record[sub]).pop(key)
        return tensors, record

    return edit


def _set(key: str, value):
    def edit(tensors, record):
        record[key] = value
        return tensors, record

    return edit


def _wrong_shape(tensors, record):
    tensors["model.layers.0.weight"] = torch.zeros(3)
    return tensors, record


def _read_only_out(env: Env) -> list[str]:
    folder = env.tmp / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    return ["fit", "image", "--out", str(folder / "run"), *TASK_QUICK["image"], *QUICK]


def _no_checkpoint(env: Env) -> Path:
    run = env.run_copy()
    (run / CHECKPOINT).unlink()
    return run


ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")

# ------------------------------------------------------------------------------------------------ checks
def _snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `roots` with its size and modification time. A run folder's lock file is left
    out: every command that writes into a run takes the lock first (and records its pid there), also when it is
    refused later (docs/errors.md, "Run folders")."""
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        if not root.exists():
            continue
        for path in [root, *root.rglob("*")]:
            if path.name == LOCK:
                continue
            st = path.lstat()
            seen[str(path)] = (0 if path.is_dir() else st.st_size, st.st_mtime_ns)
    return seen


def one_line_error(text: str) -> str:
    """The single stderr line of an error; fails on tracebacks, warnings or extra lines."""
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert lines[0].startswith("sirenkit") and ": error: " in lines[0], lines[0]
    return lines[0]


# Warning categories that Python hides by default outside __main__: they never reach a user's terminal.
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def call(argv: list[str], capsys) -> tuple[int, str]:
    """`sirenkit ARGV` in this process: (exit code, stderr). argparse errors exit through SystemExit.

    pytest captures warnings instead of printing them, so the warnings a user would see on stderr before the
    error line are recorded here and added to the returned text as `WARNING …` lines.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    err = capsys.readouterr().err
    shown = [w for w in caught if not issubclass(w.category, HIDDEN_WARNINGS)]
    return code, "".join(f"WARNING {w.category.__name__}: {w.message}\n" for w in shown) + err




def check_case(case: Case, env: Env, capsys, monkeypatch) -> str:
    """Run `case` in this process and assert the contract: exit code 2, one error line holding the case's words,
    no `--out` left behind, and no file created or changed in the bad files, the finished runs or the case's own
    folder. Returns the error line."""
    monkeypatch.chdir(env.tmp)  # a default runs/… folder would appear here, inside the snapshot
    argv = case.argv(env)
    roots = (env.data, env.image_run, env.sdf_run, env.meta_run, env.tmp)
    before = _snapshot(*roots)
    code, err = call(argv, capsys)
    assert code == 2, err
    line = one_line_error(err)
    for needle in case.needles(env):
        assert needle in line, (needle, line)
    assert not env.out.exists(), "a run folder was left behind"
    assert _snapshot(*roots) == before, "files were written or changed"
    return line
