"""COIN-style image compression (Dupont et al. 2021): the image is stored as the quantised weights of its network.

`sirenkit compress RUN --bits 16|8` takes a fitted image run and writes `compressed-{bits}bit.safetensors`:
- 16 bits: every parameter as float16 (the COIN paper's setting);
- 8 bits: every parameter tensor w quantised uniformly between its own minimum and maximum,
  ŵ = offset + scale·q with q ∈ {0, …, 255} (uint8); scale and offset are float32 and stored too.
The payload (what `bpp` counts) is the quantised tensors plus scales and offsets, plus any buffer that cannot be
rebuilt from the model spec (e.g. a random Fourier-feature matrix); the JSON header with the spec is not counted
(`file_bytes` is the whole file). bpp = payload bits / (height × width) — per pixel, not per channel.

The module is callable: `sirenkit.compress(run, bits=16)` is `sirenkit.compress.compress(run, bits=16)`, and
`sirenkit.compression.load_compressed(path)` gives the dequantised network back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ._version import __version__
from .errors import UserError
from .export.network import load_coordinate_network, run_folder
from .io.atomic import atomic_path
from .io.files import require_output_file
from .runs.folder import writing_outputs

FORMAT = "sirenkit-compressed-1"
BITS = (16, 8)
FLOAT16_MAX = 65504.0


# ---------------------------------------------------------------------------------------------- quantisers
def quantise_uniform(w: Tensor, bits: int = 8) -> tuple[Tensor, float, float]:
    """Per-tensor uniform affine quantisation: (q uint8 of w's shape, scale, offset) with ŵ = offset + scale·q.

    offset and scale are float32 values chosen so that [offset, offset + (2^bits − 1)·scale] covers
    [min w, max w]; rounding to the nearest level then bounds |w − ŵ| by scale/2 for every element.
    """
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be in 1..8 for uint8 storage, got {bits}")
    levels = 2**bits - 1
    x = w.detach().to(torch.float64).cpu()
    if x.numel() == 0:
        return torch.zeros(w.shape, dtype=torch.uint8), 0.0, 0.0
    lo, hi = float(x.min()), float(x.max())
    offset = np.float32(lo)
    if float(offset) > lo:  # float32 rounding must not move the grid's start above the minimum
        offset = np.nextafter(offset, np.float32(-np.inf))
    step = (hi - float(offset)) / levels
    scale = np.float32(step)
    if float(scale) < step:  # nor shrink the grid below the maximum
        scale = np.nextafter(scale, np.float32(np.inf))
    if float(scale) == 0.0:
        q = torch.zeros(x.shape, dtype=torch.float64)
    else:
        q = torch.round((x - float(offset)) / float(scale)).clamp_(0, levels)
    return q.to(torch.uint8).reshape(w.shape), float(scale), float(offset)


def dequantise_uniform(q: Tensor, scale: float, offset: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """ŵ = offset + scale·q, computed in float64 and returned as `dtype`."""
    return (offset + scale * q.to(torch.float64)).to(dtype)


def quantise_float16(w: Tensor, where: str = "the network") -> Tensor:
    """w as float16; a UserError when a value is beyond float16's range (±65504), where 8 bits still work."""
    if w.numel() and float(w.detach().abs().max()) > FLOAT16_MAX:
        raise UserError(f"a weight of {where} exceeds the float16 range (±65504); use --bits 8")
    return w.detach().cpu().to(torch.float16)


# ---------------------------------------------------------------------------------------------- encoding
def _fresh(spec: dict[str, Any], seed: int = 0) -> nn.Module:
    """The architecture of `spec` initialised from `seed`, without disturbing the caller's random state."""
    from .models import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(spec)


def encode(model: nn.Module, spec: dict[str, Any], bits: int, where: str = "the network"
           ) -> tuple[dict[str, Tensor], dict[str, str], int]:
    """(tensors for the file, {state name: how it is stored}, payload bytes) of `model` at `bits`.

    File tensors: `q.NAME` (float16 or uint8), `affine.NAME` = [scale, offset] float32 (8 bits) and `raw.NAME` for
    buffers that a fresh build of `spec` does not reproduce. Buffers it reproduces are not stored.
    """
    params = {name for name, _ in model.named_parameters()}
    # A buffer is left out only if builds from two seeds both reproduce it: a deterministic one (frequencies),
    # never a random draw that the caller's random state happened to repeat.
    fresh = [_fresh(spec, seed).state_dict() for seed in (0, 1)]
    tensors: dict[str, Tensor] = {}
    kinds: dict[str, str] = {}
    for name, value in model.state_dict().items():
        value = value.detach().cpu()
        if name not in params:
            if all(name in f and f[name].shape == value.shape and torch.equal(f[name], value) for f in fresh):
                continue  # rebuilt from the spec by the decoder
            tensors[f"raw.{name}"], kinds[name] = value.contiguous(), "raw"
        elif bits == 16:
            tensors[f"q.{name}"], kinds[name] = quantise_float16(value, where), "float16"
        else:
            q, scale, offset = quantise_uniform(value, bits)
            tensors[f"q.{name}"] = q
            tensors[f"affine.{name}"] = torch.tensor([scale, offset], dtype=torch.float32)
            kinds[name] = "uint8-affine"
    payload = sum(t.numel() * t.element_size() for t in tensors.values())
    return tensors, kinds, payload


def decode(tensors: dict[str, Tensor], spec: dict[str, Any], kinds: dict[str, str]) -> nn.Module:
    """The dequantised network (float32, eval mode) from what `encode` returned."""
    model = _fresh(spec)
    state = model.state_dict()
    for name, kind in kinds.items():
        if kind == "float16":
            value = tensors[f"q.{name}"].to(torch.float32)
        elif kind == "uint8-affine":
            scale, offset = (float(v) for v in tensors[f"affine.{name}"])
            value = dequantise_uniform(tensors[f"q.{name}"], scale, offset)
        elif kind == "raw":
            value = tensors[f"raw.{name}"]
        else:
            raise ValueError(f"unknown storage {kind!r} of {name}")
        state[name] = value.reshape(state[name].shape).to(state[name].dtype)
    model.load_state_dict(state, strict=True)
    return model.eval()


# ---------------------------------------------------------------------------------------------- files
def read_compressed(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """(dequantised network on the CPU in eval mode, header metadata) of a file written by `compress`."""
    from .io.files import require_file
    from .train.checkpoint import read_safetensors

    path = require_file(path, "compressed file", "a .safetensors file")
    tensors, header = read_safetensors(path, "compressed file")
    if header.get("format") != FORMAT:
        raise UserError(f"{path} was not written by sirenkit compress (format {header.get('format')!r})")
    try:
        record = json.loads(header["meta"])
        model = decode(tensors, record["model"], record["tensors"])
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
        raise UserError(f"compressed file {path} is damaged ({type(exc).__name__}: {str(exc)[:160]})") from None
    return model, record


def load_compressed(path: str | Path) -> nn.Module:
    """The dequantised network stored in a `sirenkit compress` file (float32, CPU, eval mode)."""
    return read_compressed(path)[0]


# ---------------------------------------------------------------------------------------------- the command
def compress(run: str | Path, bits: int = 16, out: str | Path | None = None, overwrite: bool = False) -> dict[str, Any]:
    """Quantise the network of image run `run` to `bits` (16 or 8); write the file and its decoded PNG (never over
    a file of the run's fit, nor over one sirenkit did not write unless `overwrite`).

    Returns {"bits", "parameters", "payload_bytes", "file_bytes", "pixels", "bpp", "file_bpp", "psnr",
    "psnr_original", "file", "image"}; PSNR in dB over all pixels of the fitted image in [0, 1].
    """
    from .models import count_parameters
    from .train.checkpoint import load_checkpoint

    if bits not in BITS:
        raise UserError(f"--bits must be 16 or 8, got {bits}")
    _, record = load_checkpoint(run)
    task = record.get("task")
    if task == "images":
        from .export.network import load_coordinate_network as refuse_bank

        refuse_bank(run, "compress")  # refuses with the path of one image's own run folder
    if task != "image":
        raise UserError(f"compress handles image runs (`sirenkit fit image`) only; {run} is a run of task {task!r}")
    # the signal's size is what compress reads (its bit depth comes from the rebuilt image)
    model, record = load_coordinate_network(run, "compress", fields=("height", "width", "channels"))
    truth = _ground_truth(run, record)
    folder = run_folder(run)
    out = Path(out) if out is not None else folder / f"compressed-{bits}bit.safetensors"
    out = require_output_file(out, "--out", "give a file name such as compressed.safetensors")
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out} must end in .safetensors (the decoded image is written beside it as .png)")
    png = out.with_suffix(".png")
    if png.is_dir():
        raise UserError(f"--out {out}: the decoded image's path {png} is a folder; choose another name")
    with writing_outputs([(out, "--out"), (png, "the decoded image of --out")], "compress", overwrite=overwrite,
                         reads=run):
        spec = record["model"]
        tensors, kinds, payload = encode(model, spec, bits, str(run))
        decoded = decode(tensors, spec, kinds)
        fit_original = truth.reconstruct(model)
        fit = truth.reconstruct(decoded)
        pixels = truth.shape[0] * truth.shape[1]
        result: dict[str, Any] = {
            "bits": bits,
            "parameters": count_parameters(model),
            "payload_bytes": payload,
            "pixels": pixels,
            "bpp": 8.0 * payload / pixels,
            "psnr": _psnr(fit, truth),
            "psnr_original": _psnr(fit_original, truth),
        }
        header = {"format": FORMAT, "sirenkit": __version__, "task": task, "model": spec,
                  "signal": record.get("signal"), "tensors": kinds, "source": str(run), **result}
        _write(out, tensors, header)
        from .io.images import save_image

        save_image(png, fit.cpu().numpy(), truth.image.bit_depth)  # the rebuilt image's, as the fit's reconstruction
        file_bytes = out.stat().st_size
        result.update(file_bytes=file_bytes, file_bpp=8.0 * file_bytes / pixels, file=str(out), image=str(png))
        return result


def _write(path: Path, tensors: dict[str, Tensor], header: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    clean = {k: v.contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(clean, str(tmp), metadata={"format": FORMAT, "meta": json.dumps(header)})


def _psnr(fit: Tensor, truth: Any) -> float:
    """PSNR (dB) of a fit in [0, 1] (H, W, C) against the task's image, over every pixel."""
    from .tasks.image import psnr_from_mse

    target = torch.from_numpy(truth.image.pixels).to(fit.device)
    return psnr_from_mse(float(((fit - target) ** 2).mean()))


def _ground_truth(run: str | Path, record: dict[str, Any]):
    """The run's `ImageTask` rebuilt from its config.json (same file, size and grey setting as when fitted)."""
    from .config import from_dict
    from .runs.files import CONFIG
    from .runs.load import read_config_file
    from .tasks.image import ImageConfig, ImageTask

    config_path = run_folder(run) / CONFIG
    if not config_path.is_file():
        raise UserError(f"compress needs the run's {CONFIG} to rebuild the fitted image; "
                        f"{config_path} does not exist")
    config = read_config_file(config_path)
    settings = {k: v for k, v in config.get("task", {}).items()}
    path, started_in = settings.get("path"), config.get("cwd")
    if isinstance(path, str) and isinstance(started_in, str) and not Path(path).is_absolute() \
            and not Path(path).exists() and (Path(started_in) / path).exists():
        settings["path"] = str(Path(started_in) / path)  # typed relative to the folder the fit ran in
    try:
        task = ImageTask(from_dict(ImageConfig, settings, "task settings"), torch.device("cpu"))
    except UserError as exc:
        raise UserError(f"cannot rebuild the image that {run} was fitted to: {exc}") from None
    signal = record.get("signal")
    if not isinstance(signal, dict):
        raise UserError(f"checkpoint of {run} has no description of the fitted signal; it was damaged or edited")
    shape = (signal.get("height"), signal.get("width"), signal.get("channels"))
    if shape != (*task.shape, task.out_features):
        raise UserError(f"the image rebuilt from {config_path} is {task.shape[1]}×{task.shape[0]}×{task.out_features}, "
                        f"but the run was fitted to {shape[1]}×{shape[0]}×{shape[2]}; has the image file changed?")
    return task
