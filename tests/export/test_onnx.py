"""`sirenkit export`: every network type as ONNX, run in onnxruntime, against PyTorch; the sidecar; refusals.

Tolerance: max |onnxruntime − PyTorch| ≤ 1e-5 on outputs of order 1 (float32 on the CPU; measured ≤ 1e-6 for
every activation). The ONNX tests need the `export` extra (onnx, onnxruntime) and skip without it.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.cli import main
from sirenkit.export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, coordinate_convention, export_onnx
from sirenkit.export.onnx_export import sidecar_path
from sirenkit.grids import grid_coords
from sirenkit.models import ACTIVATIONS, ModelConfig, model_spec
from sirenkit.train.checkpoint import save_checkpoint

from ..conftest import run_cli

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnx", reason="ONNX export needs the export extra: pip install 'sirenkit[export]'")
    return pytest.importorskip("onnxruntime", reason="the ONNX checks need onnxruntime (the export extra)")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """run_for(activation) -> folder of a 16² cameraman run fitted for 3 steps (cached per activation)."""
    runs: dict[str, Path] = {}

    def run_for(activation: str) -> Path:
        if activation not in runs:
            out = tmp_path_factory.mktemp(f"run-{activation}") / "run"
            sirenkit.fit("image", size=16, steps=3, hidden_features=16, hidden_layers=1, activation=activation,
                         out=str(out), quiet=True, device="cpu")
            runs[activation] = out
        return runs[activation]

    return run_for


def _session(ort, path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _max_diff(ort, onnx_path: Path, model: torch.nn.Module, coords: torch.Tensor) -> float:
    got = _session(ort, onnx_path).run(["values"], {"coords": coords.numpy()})[0]
    with torch.no_grad():
        want = model(coords).numpy()
    assert got.shape == want.shape and got.dtype == np.float32
    return float(np.abs(got - want).max()) if got.size else 0.0


def _save_run(folder: Path, model: torch.nn.Module, spec: dict, task: str, signal: dict) -> Path:
    """A run folder holding just a checkpoint of `model` (what load_run reads)."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    save_checkpoint(folder / "checkpoint.safetensors", tensors, {"task": task, "model": spec, "signal": signal})
    return folder


def _one_line_error(capsys, code: int, *needles: str) -> str:
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sirenkit") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------- every network
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fitted_run_exports_and_matches_pytorch(ort, fitted, activation, tmp_path):
    run = fitted(activation)
    path = export_onnx(run, tmp_path / "model.onnx")
    model, _ = sirenkit.load_run(run)
    g = torch.Generator().manual_seed(1)
    for n in (0, 1, 7, 3000):  # N is dynamic: any batch size, none included
        coords = torch.rand(n, 2, generator=g) * 2.4 - 1.2  # a little beyond [−1, 1] too
        assert _max_diff(ort, path, model, coords) <= TOLERANCE
    check = json.loads(sidecar_path(path).read_text())["check"]
    assert check["points"] == 4096 and check["max_abs_diff"] <= TOLERANCE


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(("in_features", "out_features", "task"), [(1, 2, "audio"), (3, 3, "video"), (3, 1, "sdf")])
def test_random_weights_other_shapes(ort, tmp_path, activation, in_features, out_features, task):
    """Random (not fitted) weights of every tensor, so a grid or an encoding is exercised away from its init."""
    torch.manual_seed(0)
    config = ModelConfig(activation=activation, hidden_features=16, hidden_layers=1, rbf_centers=64, ff_features=32)
    model = config.build(in_features, out_features, 32).eval()
    with torch.no_grad():  # move every tensor by half its own spread (a zero-initialised grid by 0.1)
        for p in model.parameters():
            spread = float(p.std()) if p.numel() > 1 else 0.0
            p.add_((0.5 * spread if spread > 0 else 0.1) * torch.randn_like(p))
    run = _save_run(tmp_path / "run", model, model_spec(config, in_features, out_features, 32), task, {})
    path = export_onnx(run, tmp_path / "m.onnx", opset=MAX_OPSET)
    coords = torch.rand(500, in_features, generator=torch.Generator().manual_seed(2)) * 2.4 - 1.2
    with torch.no_grad():
        scale = max(1.0, float(model(coords).abs().max()))
    assert _max_diff(ort, path, model, coords) <= TOLERANCE * scale
    record = json.loads(sidecar_path(path).read_text())
    assert record["input"]["shape"] == ["N", in_features] and record["output"]["shape"] == ["N", out_features]
    assert len(record["coordinates"]["inputs"]) == in_features


@pytest.mark.parametrize("opset", [MIN_OPSET, 13, MAX_OPSET])
def test_opsets(ort, fitted, opset, tmp_path):
    run = fitted("sine")
    path = export_onnx(run, tmp_path / "m.onnx", opset=opset)
    import onnx

    assert onnx.load(str(path)).opset_import[0].version == opset
    model, _ = sirenkit.load_run(run)
    assert _max_diff(ort, path, model, torch.rand(100, 2) * 2 - 1) <= TOLERANCE


# ------------------------------------------------------------------------------------------- the sidecar
def test_sidecar_describes_the_run(ort, fitted, tmp_path):
    run = fitted("sine")
    path = export_onnx(run, tmp_path / "model.onnx")
    side = sidecar_path(path)
    assert side.name == "model.onnx.json"
    record = json.loads(side.read_text(encoding="utf-8"))
    ckpt = json.loads((run / "checkpoint.json").read_text())
    assert record["format"] == "sirenkit-onnx-1" and record["file"] == "model.onnx"
    assert record["task"] == "image" and record["model"] == ckpt["model"] and record["signal"] == ckpt["signal"]
    assert record["opset"] == DEFAULT_OPSET
    assert record["input"] == {"name": "coords", "shape": ["N", 2], "dtype": "float32"}
    assert record["output"] == {"name": "values", "shape": ["N", 1], "dtype": "float32"}
    assert record["parameters"] == sum(p.numel() for p in sirenkit.load_run(run)[0].parameters())
    coords = record["coordinates"]
    assert coords["inputs"] == ["row", "col"] and coords["range"] == {"row": [-1.0, 1.0], "col": [-1.0, 1.0]}
    assert "(v + 1)/2" in coords["outputs"] and "max(H, W)" in coords["grid"]
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    embedded = json.loads(props["sirenkit"])
    assert embedded["coordinates"] == coords and embedded["model"] == record["model"]


def _strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as standard JSON parsers (JavaScript, Go, jq) do."""
    def refuse(token: str):
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("where", ["signal", "check"])
def test_sidecar_is_strict_json(ort, tmp_path, monkeypatch, where):
    """A NaN in the record (an unchecked field of the checkpoint's signal metadata, or a NaN `max_abs_diff` from
    the onnxruntime check) was written as the bare token NaN, which strict parsers refuse; it is null now, with
    the reason under `not_finite`, in the sidecar and in the copy embedded in the ONNX file."""
    import onnx

    from sirenkit.export import onnx_export

    torch.manual_seed(0)
    config = ModelConfig(hidden_features=8, hidden_layers=1)
    model = config.build(3, 1, 32).eval()
    signal = {"note": float("nan")} if where == "signal" else {}
    run = _save_run(tmp_path / "run", model, model_spec(config, 3, 1, 32), "sdf", signal)
    if where == "check":
        real = onnx_export._check
        monkeypatch.setattr(onnx_export, "_check", lambda *a, **k: {**real(*a, **k), "max_abs_diff": float("nan")})
    path = export_onnx(run, tmp_path / "m.onnx")
    text = sidecar_path(path).read_text(encoding="utf-8")
    record = _strict_json(text)
    key = "signal.note" if where == "signal" else "check.max_abs_diff"
    section, field = key.split(".")
    assert record[section][field] is None
    assert record["not_finite"] == {key: "nan: not a finite number, written as null"}
    assert "\\u" not in text  # non-ASCII characters (×, −) stay readable
    embedded = _strict_json({p.key: p.value for p in onnx.load(str(path)).metadata_props}["sirenkit"])
    if where == "signal":
        assert embedded["signal"]["note"] is None and embedded["not_finite"] == record["not_finite"]


def test_sidecar_convention_reproduces_the_reconstruction(ort, fitted, tmp_path):
    """Follow the sidecar's words outside sirenkit: grid formula in, (v + 1)/2 out == reconstruction.png."""
    import imageio.v3 as iio

    run = fitted("sine")
    path = export_onnx(run, tmp_path / "model.onnx")
    signal = json.loads(sidecar_path(path).read_text())["signal"]
    h, w = signal["height"], signal["width"]
    s = 2.0 / (max(h, w) - 1)
    rows, cols = np.meshgrid((np.arange(h) - (h - 1) / 2) * s, (np.arange(w) - (w - 1) / 2) * s, indexing="ij")
    coords = np.stack([rows, cols], -1).reshape(-1, 2).astype(np.float32)
    v = _session(ort, path).run(["values"], {"coords": coords})[0]
    pixels = np.round(np.clip((v + 1) / 2, 0, 1) * 255).reshape(h, w)
    saved = iio.imread(run / "reconstruction.png").astype(np.float64)
    assert np.abs(pixels - saved).max() <= 1


@pytest.mark.parametrize(("h", "w"), [(3, 5), (6, 4), (8, 8)])
def test_image_range_matches_the_grid(h, w):
    ranges = coordinate_convention("image", {"height": h, "width": w})["range"]
    grid = grid_coords((h, w))
    assert ranges["row"] == pytest.approx([float(grid[:, 0].min()), float(grid[:, 0].max())])
    assert ranges["col"] == pytest.approx([float(grid[:, 1].min()), float(grid[:, 1].max())])


EXPORTED = ["image", "poisson-gradient", "poisson-laplacian", "poisson-blend", "audio", "video", "sdf", "helmholtz",
            "wave", "fwi"]
"""The tasks whose networks are coordinate MLPs that `export` writes (meta and images runs are refused)."""


@pytest.mark.parametrize("task", EXPORTED)
def test_every_exported_task_states_its_inputs_and_outputs(task):
    """Each exportable task names one input per coordinate its networks take and says what the outputs mean (the
    generic 'see the docs' note for unknown tasks does not count)."""
    from sirenkit.tasks import REGISTRY

    convention = coordinate_convention(task, {})
    json.dumps(convention)
    assert "note" not in convention, convention
    assert isinstance(convention["outputs"], str) and convention["outputs"]
    assert len(convention["inputs"]) == REGISTRY[task].network_inputs


def test_an_unknown_task_points_to_the_docs():
    assert coordinate_convention("something-new", {}) == {
        "inputs": None, "outputs": None, "note": "see the documentation of the 'something-new' task in docs/"}


# ------------------------------------------------------------------------------------------- command line
def test_cli_export(ort, fitted, tmp_path, capsys):
    run = fitted("sine")
    assert main(["export", str(run), "--onnx", str(tmp_path / "a.onnx"), "--opset", "13"]) == 0
    out = capsys.readouterr().out
    assert "a.onnx" in out and "a.onnx.json" in out
    assert json.loads((tmp_path / "a.onnx.json").read_text())["opset"] == 13


def test_cli_default_path_and_checkpoint_file(ort, fitted, tmp_path):
    run = fitted("relu")
    assert main(["export", str(run)]) == 0
    assert (run / "model.onnx").is_file() and (run / "model.onnx.json").is_file()
    path = export_onnx(run / "checkpoint.safetensors", tmp_path / "b.onnx")
    assert path.is_file()


def test_cli_export_subprocess(ort, fitted, tmp_path):
    proc = run_cli("export", str(fitted("sine")), "--onnx", str(tmp_path / "c.onnx"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert (tmp_path / "c.onnx").is_file()


def test_export_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for needle in ("RUN", "--onnx", "--opset", "coords", "values", "onnxruntime", "meta train", "sirenkit[export]"):
        assert needle in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "export" in capsys.readouterr().out


def test_python_api():
    assert "export_onnx" in sirenkit.__all__ and "export_onnx" in sirenkit.__doc__
    assert inspect.signature(sirenkit.export_onnx).parameters["opset"].default == DEFAULT_OPSET


# ------------------------------------------------------------------------------------------- refusals
def _meta_run(folder: Path) -> Path:
    from sirenkit.meta.model import MetaNetConfig

    net = MetaNetConfig(latent_features=8, encoder_hidden_features=8, hyper_hidden_features=8, hidden_features=8,
                        hidden_layers=1)
    folder.mkdir(parents=True)
    tensors = {f"model.{k}": v for k, v in net.build().state_dict().items()}
    save_checkpoint(folder / "checkpoint.safetensors", tensors,
                    {"task": "meta", "model": net.to_spec(), "signal": {"side": 32, "channels": 3}})
    return folder


@pytest.mark.parametrize("case", ["missing", "not-a-run", "meta", "onnx-folder", "onnx-no-folder", "opset-low",
                                  "opset-high", "sidecar-folder"])
def test_refusals(ort, fitted, tmp_path, capsys, case):
    run = fitted("sine")
    target = tmp_path / "x.onnx"
    args = {
        "missing": ["export", str(tmp_path / "nope"), "--onnx", str(target)],
        "not-a-run": ["export", str(tmp_path), "--onnx", str(target)],
        "meta": ["export", str(_meta_run(tmp_path / "meta")), "--onnx", str(target)],
        "onnx-folder": ["export", str(run), "--onnx", str(tmp_path)],
        "onnx-no-folder": ["export", str(run), "--onnx", str(tmp_path / "no" / "x.onnx")],
        "opset-low": ["export", str(run), "--onnx", str(target), "--opset", "8"],
        "opset-high": ["export", str(run), "--onnx", str(target), "--opset", str(MAX_OPSET + 1)],
        "sidecar-folder": ["export", str(run), "--onnx", str(target)],
    }[case]
    needles = {
        "missing": ("no checkpoint at", "nope"),
        "not-a-run": ("no checkpoint at", "is this a sirenkit run folder?"),
        "meta": ("export needs a coordinate network (coords (N, d) → values (N, m))", "'meta' network", "'meta' run"),
        "onnx-folder": ("--onnx", "is a folder; give a file name such as model.onnx"),
        "onnx-no-folder": ("--onnx: folder", "does not exist"),
        "opset-low": (f"--opset must be between 9 and {MAX_OPSET}", "got 8"),
        "opset-high": (f"--opset must be between 9 and {MAX_OPSET}", f"got {MAX_OPSET + 1}"),
        "sidecar-folder": ("x.onnx.json is a folder",),
    }[case]
    if case == "sidecar-folder":
        (tmp_path / "x.onnx.json").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*")) + sorted(p.name for p in run.iterdir())
    _one_line_error(capsys, main(args), *needles)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) + sorted(p.name for p in run.iterdir()) == before


def test_refusal_end_to_end(tmp_path):
    proc = run_cli("export", str(tmp_path), "--onnx", str(tmp_path / "x.onnx"))
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sirenkit: error: no checkpoint at")
    assert not (tmp_path / "x.onnx").exists()


def test_missing_onnx_package_names_the_pip_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    code = main(["export", str(tmp_path), "--onnx", str(tmp_path / "x.onnx")])
    _one_line_error(capsys, code, "export to ONNX needs the onnx package", "pip install 'sirenkit[export]'")
    assert not (tmp_path / "x.onnx").exists()


def test_without_onnxruntime_the_export_is_written_unchecked(ort, fitted, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["export", str(fitted("sine")), "--onnx", str(tmp_path / "u.onnx")]) == 0
    assert "not checked (onnxruntime is not installed" in capsys.readouterr().out
    assert json.loads((tmp_path / "u.onnx.json").read_text())["check"] is None


@pytest.mark.parametrize(("onnx_name", "what"), [("checkpoint.safetensors", "--onnx"),
                                                 ("checkpoint", "the sidecar of --onnx"),
                                                 ("config", "the sidecar of --onnx")])
def test_never_overwrites_the_run_it_reads(ort, fitted, tmp_path, capsys, onnx_name, what):
    """`--onnx RUN/checkpoint.safetensors` used to replace the checkpoint by the ONNX file (and `--onnx
    RUN/config` the config.json by the sidecar), destroying the run; it is refused and nothing changes."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.safetensors", "checkpoint.json", "config.json"):
        (run / name).write_bytes((fitted("sine") / name).read_bytes())
    before = sorted((p.name, p.read_bytes()) for p in run.iterdir())
    for source in (run, run / "checkpoint.safetensors"):
        _one_line_error(capsys, main(["export", str(source), "--onnx", str(run / onnx_name)]), what,
                        "writing it would destroy it")
        assert sorted((p.name, p.read_bytes()) for p in run.iterdir()) == before


def test_torch_export_captures_a_siren_with_a_dynamic_point_count():
    """The in-memory export path docs/api.md names: torch.export with the point count dynamic."""
    from torch.export import Dim

    torch.manual_seed(0)
    net = sirenkit.Siren(2, 3, hidden_features=16, hidden_layers=1)
    x = torch.rand(8, 2) * 2 - 1
    program = torch.export.export(net, (x,), dynamic_shapes=({0: Dim("points")},))
    other = torch.rand(13, 2) * 2 - 1
    torch.testing.assert_close(program.module()(other), net(other))
