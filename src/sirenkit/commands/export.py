"""`sirenkit export` (a run's network as an ONNX file, `export.export_onnx`) and `sirenkit compress` (COIN-style
quantised image runs, `compression.compress`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from ..config import REQUIRED, max_pixels_option, option, overwrite_option
from ..export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET
from ..io.atomic import dumps_json
from .registry import Command, register


@dataclass(frozen=True)
class ExportConfig:
    """The run and the ONNX file to write."""

    run_dir: str = option(REQUIRED, "folder of a finished run (or its checkpoint.safetensors)", positional=True,
                          metavar="RUN")
    onnx: str | None = option(None, "ONNX file to write", metavar="FILE", default_help="RUN/model.onnx")
    opset: int = option(DEFAULT_OPSET, f"ONNX opset version, {MIN_OPSET}–{MAX_OPSET}",
                        default_help=f"{DEFAULT_OPSET}, read by onnxruntime ≥ 1.12")
    overwrite: bool = overwrite_option("--onnx FILE and its sidecar")


def run_export(c: ExportConfig) -> int:
    from ..export import export_onnx
    from ..export.onnx_export import sidecar_path

    path = export_onnx(c.run_dir, c.onnx, c.opset, c.overwrite)
    record = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
    check = record.get("check")
    checked = ("not checked (onnxruntime is not installed: pip install onnxruntime)" if check is None else
               f"{check['runtime']}: max |ONNX − PyTorch| {check['max_abs_diff']:.1e} on {check['points']:,} "
               "random points")
    print(f"{path} (+ {sidecar_path(path).name}): {record['task']} network, {record['parameters']:,} "
          f"parameters, coords (N, {record['input']['shape'][1]}) → values (N, "
          f"{record['output']['shape'][1]}), opset {record['opset']}; {checked}")
    return 0


@dataclass(frozen=True)
class CompressConfig:
    """The image run, the bits per weight and the file to write."""

    run_dir: str = option(REQUIRED, "folder of a finished `sirenkit fit image` run", positional=True, metavar="RUN")
    bits: Literal[16, 8] = option(16, "16: float16 weights; 8: per-tensor uniform 8-bit quantisation")
    out: str | None = option(None, "compressed file, .safetensors", metavar="FILE",
                             default_help="RUN/compressed-BITSbit.safetensors; the decoded image goes beside it as "
                                          ".png")
    max_pixels: int = max_pixels_option()  # the run's image is read again
    overwrite: bool = overwrite_option("--out and its decoded image")


def run_compress(c: CompressConfig) -> int:
    from ..compression import compress

    print(dumps_json(compress(c.run_dir, c.bits, c.out, c.overwrite)))
    return 0


register(Command(
    ("export",), "write a run's network as an ONNX file (coords in, values out)", ExportConfig, run_export,
    description="Write the network of a finished run as an ONNX graph with input `coords` (N, in_features) float32, "
                "N dynamic, and output `values` (N, out_features), plus FILE.json beside it: the task, the model "
                "spec, the fitted signal and what the coordinates and outputs mean. The file is checked in "
                "onnxruntime (when installed) against PyTorch on random coordinates. Needs `pip install "
                "'sirenkit[export]'`. Coordinate networks only: `meta train` runs are refused."))
register(Command(
    ("compress",), "store an image run as its quantised network (COIN) and report bpp, PSNR", CompressConfig,
    run_compress,
    description="COIN-style compression (Dupont et al. 2021) of a finished `fit image` run (image runs only): its "
                "network's weights as float16 (--bits 16) or as uint8 with a float32 scale and offset per tensor "
                "(--bits 8). Writes the .safetensors file and the decoded image beside it (.png), and prints JSON: "
                "bits, parameters, payload_bytes (quantised weights + scales), file_bytes, bpp (payload bits per "
                "pixel, H×W), psnr of the decoded network and psnr_original of the unquantised one, against the "
                "run's image rebuilt from its config.json."))
