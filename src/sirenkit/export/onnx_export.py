"""`sirenkit export RUN --onnx FILE`: a run's network as an ONNX graph, plus a JSON sidecar saying how to use it.

The graph has one input `coords` (N, in_features) float32 with a dynamic N and one output `values`
(N, out_features). It is traced by torch's TorchScript exporter (`dynamo=False`), which needs only the `onnx`
package; torch's default dynamo exporter would also need `onnxscript`. After writing, the file is run in
onnxruntime (when installed) on random coordinates and compared with PyTorch; the difference is recorded.
"""

from __future__ import annotations

import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..errors import UserError
from ..io.atomic import atomic_path, finite_json, write_text
from ..io.files import require_output_file
from ..models import count_parameters
from ..runs.folder import writing_outputs
from .conventions import coordinate_convention
from .network import load_coordinate_network, run_folder

DEFAULT_OPSET = 17
"""Opset 17 (ONNX 1.12, 2022): read by every onnxruntime since 1.12 and by most other runtimes."""
# The `export` extra asks for onnx ≥ 1.15 and onnxruntime ≥ 1.17, the first releases that know opset 20.


def _exporter_max_opset() -> int:
    """The highest opset the installed torch's TorchScript exporter supports: 20 on current torch, 17 on torch 2.3
    (which warns above 17 and refuses 20). Capped at 20, the last one it will ever write."""
    try:
        from torch.onnx import _constants
    except ImportError:
        return 20
    return min(20, int(getattr(_constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20)))


MIN_OPSET, MAX_OPSET = 9, _exporter_max_opset()
"""The opsets torch's TorchScript exporter writes (below 9 torch cannot fold constants)."""
SIDECAR_FORMAT = "sirenkit-onnx-1"
INSTALL = "pip install 'sirenkit[export]' (or: pip install onnx onnxruntime)"
CHECK_POINTS = 4096


def sidecar_path(path: str | Path) -> Path:
    """The JSON written beside an ONNX file: `model.onnx` -> `model.onnx.json`."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def export_onnx(run: str | Path, path: str | Path | None = None, opset: int = DEFAULT_OPSET,
                overwrite: bool = False) -> Path:
    """Write the network of `run` (folder or checkpoint) as ONNX at `path` (default RUN/model.onnx) and its
    sidecar `path + ".json"`; returns `path`. Inputs: coords (N, in_features) float32; output values (N, out).
    Neither replaces a file of the run's fit, nor one sirenkit did not write unless `overwrite`."""
    if not MIN_OPSET <= int(opset) <= MAX_OPSET:
        raise UserError(f"--opset must be between {MIN_OPSET} and {MAX_OPSET} (what torch's exporter writes), "
                        f"got {opset}")
    _require_onnx()
    model, record = load_coordinate_network(run, "export")
    if path is None:
        path = run_folder(run) / "model.onnx"
    path = require_output_file(path, "--onnx", "give a file name such as model.onnx")
    side = sidecar_path(path)
    if side.is_dir():
        raise UserError(f"--onnx {path}: its sidecar {side} is a folder; remove it or choose another name")
    record = _describe(run, path, record, model, int(opset))
    with writing_outputs([(path, "--onnx"), (side, "the sidecar of --onnx")], "export", overwrite=overwrite,
                         reads=run), atomic_path(path) as tmp:
        _trace(model, record["input"]["shape"][1], tmp, int(opset), record)
        _embed(tmp, record)
        record["check"] = _check(tmp, model, record["input"]["shape"][1])
        write_text(side, _strict_json(record, indent=2) + "\n")
    return path


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UserError(f"export to ONNX needs the onnx package: {INSTALL}") from None


def _describe(run: str | Path, path: Path, record: dict[str, Any], model: nn.Module, opset: int) -> dict[str, Any]:
    """The sidecar's content (the onnxruntime check is added after export)."""
    spec = record["model"]
    task = str(record.get("task", ""))
    stored = record.get("signal")
    signal = stored if isinstance(stored, dict) else {}
    return {
        "format": SIDECAR_FORMAT,
        "sirenkit": __version__,
        "file": path.name,
        "source": str(run),
        "opset": opset,
        "exporter": f"torch.onnx TorchScript exporter (dynamo=False), torch {torch.__version__}",
        "input": {"name": "coords", "shape": ["N", int(spec["in_features"])], "dtype": "float32"},
        "output": {"name": "values", "shape": ["N", int(spec["out_features"])], "dtype": "float32"},
        "task": task,
        "model": spec,
        "parameters": count_parameters(model),
        "signal": signal,
        "coordinates": coordinate_convention(task, signal),
    }


def _trace(model: nn.Module, in_features: int, out: Path, opset: int, record: dict[str, Any]) -> None:
    """Trace `model` with the TorchScript exporter into `out`, N dynamic."""
    options: dict[str, Any] = {
        "input_names": ["coords"],
        "output_names": ["values"],
        "dynamic_axes": {"coords": {0: "N"}, "values": {0: "N"}},
        "opset_version": opset,
    }
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:  # torch ≥ 2.5 (default True since 2.9)
        options["dynamo"] = False
    example = torch.linspace(-1.0, 1.0, 8 * in_features).reshape(8, in_features)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes say nothing to users
            torch.onnx.export(model, (example,), str(out), **options)
    except torch.onnx.errors.OnnxExporterError as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        activation = record["model"].get("activation", "this")
        raise UserError(f"the {activation} network cannot be exported at opset {opset} ({first}); "
                        f"try a higher --opset (up to {MAX_OPSET})") from None
    except ValueError as exc:  # older torch: an opset beyond what its exporter writes
        if "opset" not in str(exc).lower():
            raise
        first = str(exc).splitlines()[0][:200]
        raise UserError(f"torch {torch.__version__} cannot write opset {opset} ({first}); try --opset "
                        f"{DEFAULT_OPSET}") from None


def _embed(path: Path, record: dict[str, Any]) -> None:
    """Copy the sidecar into the ONNX file's metadata (key `sirenkit`), so the file describes itself."""
    import onnx

    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "sirenkit", _strict_json(record)
    onnx.save(proto, str(path))


def _strict_json(record: dict[str, Any], indent: int | None = None) -> str:
    """Standard JSON of `record`: a NaN or infinity (an unchecked field of the checkpoint's metadata, a NaN
    `max_abs_diff`) becomes null with its reason under `not_finite` (`finite_json`), where json.dumps would
    write the bare token NaN that strict parsers refuse; non-ASCII characters (× and −) stay readable."""
    return json.dumps(finite_json(record), indent=indent, allow_nan=False, ensure_ascii=False)


def _check(path: Path, model: nn.Module, in_features: int, points: int = CHECK_POINTS) -> dict[str, Any] | None:
    """Max |ONNX − PyTorch| on `points` seeded random coordinates in [−1, 1]^d; None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    coords = torch.rand(points, in_features, generator=torch.Generator().manual_seed(0)) * 2.0 - 1.0
    got = torch.from_numpy(session.run(["values"], {"coords": coords.numpy()})[0])
    with torch.no_grad():
        want = model(coords)
    return {"runtime": f"onnxruntime {ort.__version__}", "points": points,
            "max_abs_diff": float((got - want).abs().max()), "max_abs_value": float(want.abs().max())}
