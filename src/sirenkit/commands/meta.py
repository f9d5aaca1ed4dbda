"""`sirenkit meta eval` (test-split MSE of a finished `meta train` run per context size) and `sirenkit meta
inpaint` (an image reconstructed from a few of its pixels); `meta_eval` and `meta_inpaint` are also the Python
API's `sirenkit.meta_eval` and `sirenkit.meta_inpaint`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..config import (
    MAX_SEED,
    REQUIRED,
    check_number,
    device_option,
    json_option,
    max_pixels_option,
    option,
    overwrite_option,
)
from ..diff.forward import unwrap
from ..errors import UserError
from ..io.atomic import dumps_json
from ..io.files import require_output_file
from ..meta.data import ImageSet, fixed_context, load_image_set, parse_contexts, spread, square_rgb
from ..plots import image_grid
from ..runs.folder import writing_outputs
from ..tasks.meta import CONTEXTS, MetaTask, evaluate_contexts, observed, reconstruct
from ..tasks.stored import checked_signal
from .registry import Command, register

DEFAULT_CONTEXTS = "10,100,1000,half"
def _load_meta_run(run_dir: str | Path, device: str, verb: str) -> tuple[nn.Module, dict[str, Any], torch.device]:
    from ..runs.load import load_run
    from ..train.device import resolve_device

    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise UserError(f"run {run_dir} does not exist")
    dev = resolve_device(device)
    model, record = load_run(run_dir, dev)
    if record.get("task") != MetaTask.name:
        raise UserError(f"{run_dir} is a run of task {record.get('task')!r}; `sirenkit meta {verb}` needs a "
                        "`meta train` run")
    return model, {**record, "signal": checked_signal(record, run_dir, MetaTask)}, dev


def meta_eval(run_dir: str | Path, context: str = DEFAULT_CONTEXTS, images: int = 0, data: str | None = None,
              device: str = "auto", json_path: str | Path | None = None, overwrite: bool = False,
              split: str = "test") -> dict[str, float]:
    """Test-split MSE of a finished `meta train` run from each context size (`sirenkit meta eval`); with
    `json_path`, also written there (`writing_outputs`: never a file of a run's fit, nor one sirenkit did not write
    unless `overwrite`). `split="validation"`: the validation split instead, only for a run trained with
    `--eval-split validation` (any other run trained on those images)."""
    images = check_number("--images", images, int)
    if images < 0:
        raise UserError(f"--images must be ≥ 0 (0: every test image), got {images}")
    if split not in ("test", "validation"):
        raise UserError(f"split must be test or validation, got {split!r}")
    if json_path is not None:
        require_output_file(json_path, "--json")
    outputs = [(json_path, "--json")] if json_path is not None else []
    with writing_outputs(outputs, "meta eval", overwrite=overwrite, reads=run_dir):
        model, record, dev = _load_meta_run(run_dir, device, "eval")
        signal = record["signal"]
        side = signal["side"]
        if context == DEFAULT_CONTEXTS:  # as training: mse_1000 only where the images have 1000 pixels
            contexts = [x for x in CONTEXTS if x == "half" or x <= side * side]
        else:
            contexts = parse_contexts(context, side * side)
        source = data if data is not None else signal.get("data")
        if split == "validation" and signal.get("eval_split") != "validation":
            raise UserError(f"{run_dir} was not trained with --eval-split validation: its training images include "
                            "the validation split; evaluate it on the test split")
        image_set: ImageSet = load_image_set(source, side, float(signal.get("test_fraction", 0.1)),
                                             validation=split == "validation")
        held_out = image_set.validation if split == "validation" else image_set.test
        assert held_out is not None
        test = spread(held_out, images)
        metrics = evaluate_contexts(model, test, contexts, int(signal.get("eval_seed", 0)), dev)
        metrics[f"{split}_images"] = len(test)
        if json_path is not None:
            from ..io.atomic import write_json

            write_json(json_path, metrics)
        return metrics


def meta_inpaint(run_dir: str | Path, image: str | Path, context: str = "100", out: str | Path | None = None,
                 seed: int = 0, device: str = "auto", overwrite: bool = False) -> tuple[Path, float]:
    """Reconstruct IMAGE from `context` random pixels (or 'half') with a finished `meta train` run and write a
    PNG (context | reconstruction | truth); returns the path and the MSE in [0, 1] (`sirenkit meta inpaint`)."""
    from ..io.images import load_image

    seed = check_number("--seed", seed, int, 0, MAX_SEED)
    run_dir = Path(run_dir)
    if out is None:
        out = (run_dir if run_dir.is_dir() else run_dir.parent) / f"inpaint-{Path(image).stem}-{context}.png"
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: give a .png file name")
    require_output_file(out, "--out", "give a file name ending in .png")
    with writing_outputs([(out, "--out")], "meta inpaint", overwrite=overwrite, inputs=(image,), reads=run_dir):
        model, record, dev = _load_meta_run(run_dir, device, "inpaint")
        side = record["signal"]["side"]
        if "," in str(context):
            raise UserError(f"--context takes one size (a pixel count or 'half'), got {context!r}")
        ctx = parse_contexts(str(context), side * side)[0]
        picture = square_rgb(load_image(image).pixels, side).unsqueeze(0)
        index = fixed_context(1, side * side, side, ctx, seed)
        rec = reconstruct(unwrap(model), picture, index, dev)[0]
        truth = picture[0].float() / 255.0
        mse = float((rec - truth).square().mean())
        label = "top half" if ctx == "half" else f"{ctx} pixels"
        image_grid([[(f"context ({label})", observed(picture[0], index[0]), {}),
                     (f"reconstruction (MSE {mse:.4f})", rec.numpy(), {"vmin": 0, "vmax": 1}),
                     ("truth", truth.numpy(), {"vmin": 0, "vmax": 1})]], out, cell=2.4)
        return out, mse



# ------------------------------------------------------------------------------------------------ the commands
@dataclass(frozen=True)
class MetaEvalConfig:
    """The meta run, the context sizes and the images to evaluate on."""

    run_dir: str = option(REQUIRED, "folder of a finished `sirenkit meta train` run", positional=True, metavar="RUN")
    context: str = option(DEFAULT_CONTEXTS, "comma-separated context sizes in pixels, or 'half'")
    split: Literal["test", "validation"] = option(
        "test", "test (default), or validation for a run trained with --eval-split validation", default_help="")
    images: int = option(0, "evaluate N held-out images, evenly spaced through the split: the images of "
                                 "`meta train --held-out-images N` (default 0: all)", default_help="")
    data: str | None = option(None, "image folder to test on", metavar="DIR", default_help="the run's")
    json: str | None = json_option()
    device: str = device_option()
    max_pixels: int = max_pixels_option()
    overwrite: bool = overwrite_option("--json FILE")


def run_eval(c: MetaEvalConfig) -> int:
    print(dumps_json(meta_eval(c.run_dir, c.context, c.images, c.data, c.device, c.json, c.overwrite,
                               split=c.split)))
    return 0


@dataclass(frozen=True)
class MetaInpaintConfig:
    """The meta run, the image and its context pixels."""

    run_dir: str = option(REQUIRED, "folder of a finished `sirenkit meta train` run", positional=True, metavar="RUN")
    image: str = option(REQUIRED, "image file (PNG, JPEG, TIFF, BMP or WebP)", positional=True, metavar="IMAGE")
    context: str = option("100", "context pixels, or 'half'")
    seed: int = option(0, "seed of the random context pixels", default_help="")
    out: str | None = option(None, "output PNG", default_help="RUN/inpaint-IMAGE-CONTEXT.png")
    device: str = device_option()
    max_pixels: int = max_pixels_option()
    overwrite: bool = overwrite_option("--out")


def run_inpaint(c: MetaInpaintConfig) -> int:
    path, mse = meta_inpaint(c.run_dir, c.image, c.context, c.out, c.seed, c.device, c.overwrite)
    given = "the top half" if c.context.strip().lower() == "half" else f"{c.context} context pixels"
    print(f"{path}: MSE {mse:.5f} from {given}")
    return 0


register(Command(
    ("meta", "eval"), "test-split MSE of a meta run from 10, 100, 1000 pixels and the top half", MetaEvalConfig,
    run_eval, description="Reconstruct the test images of a finished `meta train` run from fixed, seeded contexts "
                          "and print the MSE (images in [0, 1]) per context size.",
    memory_flags="--images"))
register(Command(
    ("meta", "inpaint"), "reconstruct an image from a few of its pixels with a meta run", MetaInpaintConfig,
    run_inpaint, description="Centre-crop and resize IMAGE to the run's size, keep CONTEXT random pixels (or the top "
                             "half) and write context | reconstruction | truth."))
