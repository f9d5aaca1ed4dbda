"""`sirenkit bench activations`: every representation fitted to the same images at the same parameter budget.

For each image and each method: the same seed, the same pixels per step, the same schedule and step count (or
time budget); the network's width (the grid's resolution) is chosen by `ModelConfig.with_parameter_budget` so
that every method has at most as many parameters as the SIREN of `--hidden-features`×`--hidden-layers`. Each
method trains at its own learning rate from `METHOD_LR` (measured on the cameraman, see benchmarks/RESULTS.md;
`--lr` sets one for all, `--lr-sweep` picks each method's best of a list). Reported: PSNR against steps and
against training seconds (evaluation excluded), PSNR at twice the resolution, a table and, with `--out`, a
PSNR-vs-time figure and results.json with every hyperparameter and curve.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from ..config import add_arguments, device_option, option, overwrite_option
from ..errors import TrainingDiverged, UserError
from ..io.atomic import describe_os_error
from ..plots import draws_figure
from ..runs.folder import writing_outputs
from ..train.callbacks import Callback

if TYPE_CHECKING:
    from ..models.builder import ActivationName

METHOD_LR: dict[str, float] = {
    "sine": 1e-3, "relu": 1e-3, "tanh": 1e-3, "softplus": 1e-3, "elu": 1e-2, "selu": 3e-4, "relu-pe": 1e-3,
    "rbf-relu": 3e-3, "fourier": 3e-3, "finer": 1e-3, "gauss": 1e-3, "wire": 3e-4, "grid": 1e-1,
}
"""Adam learning rate of each method (cosine decay): the best of {3e-4, 1e-3, 3e-3, 1e-2, 1e-1} on the cameraman
at 128², 4,096 pixels per step, 300 steps, seed 0 (`--lr-sweep`; benchmarks/RESULTS.md, "Representations");
a method missing here uses 1e-3."""

DEFAULT_IMAGES = {"cpu": ("camera", "astronaut"), "gpu": ("camera", "astronaut", "coffee", "chelsea", "rocket")}
"""Bundled scikit-image photographs used without `--images` (no download); two on a CPU so that the default
run of every method stays within minutes there."""


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def image_files(folder: str | None, limit: int = 0, gpu: bool = False) -> list[tuple[str, Path]]:
    """(name, path) of the benchmark images: every image under `folder`, or the bundled default set."""
    from ..tasks.images import bundled_image_files, named_image_files

    if folder:
        files = named_image_files(folder)
    else:
        bundled = dict(bundled_image_files())
        files = [(name, bundled[name]) for name in DEFAULT_IMAGES["gpu" if gpu else "cpu"] if name in bundled]
    return files[:limit] if limit else files


def _rates(text: str | None) -> list[float]:
    """Parse --lr-sweep: comma-separated positive learning rates."""
    if not text:
        return []
    try:
        rates = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--lr-sweep takes comma-separated numbers, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise UserError(f"--lr-sweep takes positive learning rates, got {text!r}")
    return rates


def _methods(names: str | None) -> list[ActivationName]:
    from ..models import ACTIVATIONS

    if not names:
        return list(ACTIVATIONS)
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in chosen if n not in ACTIVATIONS]
    if unknown or not chosen:
        raise UserError(f"--methods: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                        f"known: {', '.join(ACTIVATIONS)}")
    return cast("list[ActivationName]", chosen)  # each checked against ACTIVATIONS above


class _Collect(Callback):
    """Trainer callback keeping every evaluated row (step, seconds, PSNR)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_log(self, row: dict[str, Any]) -> None:
        if row.get("metric") is not None:
            self.rows.append({"step": row["step"], "seconds": row["seconds"], "psnr": row["metric"]})


def fit_one(path: Path, method: ActivationName, size: int, batch_pixels: int, steps: int, seconds: float | None,
            budget_width: int, budget_layers: int, lr: float | None, seed: int, eval_every: int,
            device: torch.device) -> dict[str, Any]:
    """Fit `method` to one image; returns its hyperparameters, parameter count and PSNR curve."""
    from ..models import ModelConfig, Siren, count_parameters, model_spec
    from ..tasks.image import ImageConfig, ImageTask
    from ..train.trainer import TrainConfig, Trainer

    task = ImageTask(ImageConfig(path=str(path), size=size, batch_pixels=batch_pixels), device)
    budget = count_parameters(Siren(2, task.out_features, budget_width, budget_layers))
    model_cfg = ModelConfig(activation=method, hidden_features=budget_width, hidden_layers=budget_layers)
    model_cfg = model_cfg.with_parameter_budget(budget, 2, task.out_features, task.samples)
    rate = lr if lr is not None else METHOD_LR.get(method, 1e-3)
    train_cfg = TrainConfig(steps=steps, lr=rate, schedule="cosine", seed=seed, eval_every=eval_every,
                            log_every=eval_every, max_seconds=seconds, device=str(device), compile="off")
    torch.manual_seed(seed)
    model = model_cfg.build(2, task.out_features, task.samples).to(device)
    collect = _Collect()
    record: dict[str, Any] = {
        "method": method, "parameters": count_parameters(model), "budget": budget,
        "model": model_spec(model_cfg, 2, task.out_features, task.samples), "train": dataclasses.asdict(train_cfg),
        "curve": collect.rows,
    }
    try:
        result = Trainer(train_cfg, device, None, [collect]).fit(task, model)
    except TrainingDiverged:  # reported as a result (this rate is too high for this method), not a crash
        last = collect.rows[-1] if collect.rows else {"step": 0, "seconds": 0.0}
        nan = float("nan")
        return {**record, "steps": last["step"], "seconds": last["seconds"], "psnr": nan, "ssim": nan,
                "psnr_2x": nan, "diverged": True}
    final = task.evaluate(model, final=True)
    between = float("nan")
    if size and max(task.native_shape) >= 2 * size:
        # The same network sampled at twice the resolution against the image resized to it: what the
        # representation does between the pixels it was fitted to (a grid or a high-σ encoding can fit the
        # pixels and still alias between them).
        between = ImageTask(ImageConfig(path=str(path), size=2 * size), device).evaluate(model)["psnr"]
    return {**record, "steps": result.steps, "seconds": round(result.seconds, 3), "psnr": final["psnr"],
            "ssim": final["ssim"], "psnr_2x": between}


def psnr_at(curve: list[dict[str, Any]], seconds: float) -> float:
    """Best PSNR reached within `seconds` of training (the curve is evaluated every few steps)."""
    within = [row["psnr"] for row in curve if row["seconds"] <= seconds + 1e-9]
    return max(within) if within else float("nan")


OUTPUTS = ("results.json", "results.md", "psnr_vs_time.png")
"""The files `--out` receives."""


def run_activations(images: str | None = None, steps: int = 300, seconds: float | None = None,
                    methods: str | None = None, size: int | None = None, batch_pixels: int | None = None,
                    hidden_features: int = 256, hidden_layers: int = 3, lr: float | None = None, seed: int = 0,
                    max_images: int = 0, device: str = "auto", threads: int | None = None,
                    out: str | None = None, quiet: bool = False, lr_sweep: str | None = None,
                    overwrite: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns {"machine", "settings", "runs", "summary", "markdown"} and, with `out`, writes
    results.json, results.md and psnr_vs_time.png into that folder (replacing files there that sirenkit did not
    write only with `overwrite`)."""
    from ..train.device import resolve_device
    from .suite import check_threads

    if steps < 1 or (seconds is not None and seconds <= 0):
        raise UserError("--steps must be ≥ 1 and --seconds > 0")
    if hidden_features < 1 or hidden_layers < 0:
        raise UserError("--hidden-features must be ≥ 1 and --hidden-layers ≥ 0")
    if lr is not None and lr <= 0:
        raise UserError(f"--lr must be > 0, got {lr}")
    if max_images < 0:
        raise UserError(f"--max-images must be ≥ 0 (0: all), got {max_images}")
    threads = check_threads(threads)
    rates = _rates(lr_sweep)
    if rates and lr is not None:
        raise UserError("give either --lr or --lr-sweep, not both")
    chosen = _methods(methods)
    dev = resolve_device(device)
    gpu = dev.type in ("cuda", "mps")
    files = image_files(images, max_images, gpu)
    out_dir = None
    made: list[Path] = []
    guard = contextlib.ExitStack()
    if out is not None:
        out_dir = Path(out)
        if out_dir.exists() and not out_dir.is_dir():
            raise UserError(f"--out {out_dir} is a file, not a folder")
        if out_dir.is_dir():  # refused before the fits: files there that sirenkit did not write
            guard.enter_context(writing_outputs([(out_dir / name, "--out") for name in OUTPUTS], "bench activations",
                                                overwrite=overwrite))
    with guard:
        if out_dir is not None:
            made = _writable_folder(out_dir)  # before the fits: the benchmark may take hours
        if threads:
            torch.set_num_threads(threads)
        try:
            return _benchmark(files, chosen, dev, gpu, rates, steps, seconds, size, batch_pixels, hidden_features,
                              hidden_layers, lr, seed, out_dir, quiet)
        except BaseException:
            _remove_empty(made)  # a benchmark that fails leaves no empty folder behind
            raise


def _writable_folder(folder: Path) -> list[Path]:
    """Make `folder` (and its missing parents) and check that a file can be written there; returns the folders
    made, last first. One line if not: a file on the way, no permission, a read-only file system, …"""
    import tempfile

    made = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".sirenkit-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        _remove_empty(made)
        raise UserError(f"cannot write to output folder {folder}: {describe_os_error(exc)}") from None
    return made


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders `_writable_folder` made, deepest first, where they are still empty."""
    for path in folders:
        with contextlib.suppress(OSError):
            path.rmdir()


def _benchmark(files, chosen, dev, gpu, rates, steps, seconds, size, batch_pixels, hidden_features, hidden_layers,
               lr, seed, out_dir, quiet) -> dict[str, Any]:
    """Every fit of the benchmark, the summary, and the files in `out_dir`."""
    from .suite import machine_info

    size = size if size is not None else (512 if gpu else 128)
    batch_pixels = batch_pixels if batch_pixels is not None else (0 if gpu else 4096)
    eval_every = max(1, min(50, steps // 6))
    settings = {"images": [str(p) for _, p in files], "methods": chosen, "steps": steps, "seconds": seconds,
                "size": size, "batch_pixels": batch_pixels, "budget_network": f"sine {hidden_features}×"
                f"{hidden_layers + 1}", "seed": seed,
                "lr": (f"best of {rates} per method and image" if rates else
                       lr if lr is not None else "per method (METHOD_LR)"),
                "schedule": "cosine", "eval_every": eval_every}
    runs: list[dict[str, Any]] = []
    for name, path in files:
        for method in chosen:
            tried = [fit_one(path, method, size, batch_pixels, steps, seconds, hidden_features, hidden_layers, rate,
                             seed, eval_every, dev) for rate in (rates or [lr])]
            run = max(tried, key=lambda r: -math.inf if math.isnan(r["psnr"]) else r["psnr"])  # best rate
            if rates:
                run["sweep"] = [{"lr": r["train"]["lr"], "psnr": r["psnr"], "psnr_2x": r["psnr_2x"]} for r in tried]
            run["image"] = name
            runs.append(run)
            _log(f"{name:>10s} {method:>9s}: {run['psnr']:6.2f} dB, {run['parameters']:,} parameters, "
                 f"{run['steps']} steps in {run['seconds']:.1f} s", quiet)
    summary = summarise(runs, chosen)
    result: dict[str, Any] = {"machine": machine_info(dev), "settings": settings, "runs": runs, "summary": summary}
    result["markdown"] = markdown(result)
    if out_dir is not None:
        from ..io.atomic import write_json, write_text

        out_dir.mkdir(parents=True, exist_ok=True)  # made and checked before the fits (`_writable_folder`)
        write_json(out_dir / "results.json", {k: v for k, v in result.items() if k != "markdown"})
        write_text(out_dir / "results.md", result["markdown"] + "\n")
        figure(runs, chosen, out_dir / "psnr_vs_time.png")
    return result


def summarise(runs: list[dict[str, Any]], methods: list[str]) -> list[dict[str, Any]]:
    """Per method: mean final PSNR over images, mean PSNR at a common time (the fastest method's mean training
    time), mean seconds, parameters; sorted best first."""
    by = {m: [r for r in runs if r["method"] == m] for m in methods}
    common = min(float(np.mean([r["seconds"] for r in rs])) for rs in by.values() if rs)
    rows = []
    for m, rs in by.items():
        if not rs:
            continue
        rows.append({"method": m, "psnr": float(np.mean([r["psnr"] for r in rs])),
                     "ssim": float(np.mean([r["ssim"] for r in rs])),
                     "psnr_2x": float(np.mean([r["psnr_2x"] for r in rs])),
                     "psnr_at_common_time": float(np.mean([psnr_at(r["curve"], common) for r in rs])),
                     "common_time_s": round(common, 2), "seconds": float(np.mean([r["seconds"] for r in rs])),
                     "parameters": rs[0]["parameters"], "lr": rs[0]["train"]["lr"],
                     "diverged": sum(bool(r.get("diverged")) for r in rs),
                     "per_image": {r["image"]: round(r["psnr"], 2) for r in rs}})
    rows.sort(key=lambda row: math.inf if math.isnan(row["psnr"]) else -row["psnr"])  # diverged runs last
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return rows


def markdown(result: dict[str, Any]) -> str:
    s, m = result["settings"], result["machine"]
    images = sorted({r["image"] for r in result["runs"]}, key=[r["image"] for r in result["runs"]].index)
    common = result["summary"][0]["common_time_s"] if result["summary"] else float("nan")
    lines = [f"Representations on {', '.join(images)} at {s['size']} px (longer side), "
             f"{'every pixel' if not s['batch_pixels'] else str(s['batch_pixels']) + ' pixels'} per step, "
             f"{s['steps']} steps{'' if s['seconds'] is None else ' or ' + str(s['seconds']) + ' s'}, cosine lr, "
             f"seed {s['seed']}, budget {s['budget_network']}; {m['device']}, {m['cpu']}, "
             f"{m['torch_threads']} thread(s)",
             "",
             "| rank | method | params | lr | PSNR (dB) | SSIM | PSNR at 2× | PSNR at "
             f"{common:.1f} s | train s | " + " | ".join(images) + " |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(images)]
    for row in result["summary"]:
        per = " | ".join(f"{row['per_image'].get(i, float('nan')):.2f}" for i in images)
        name = row["method"] + (f" (diverged on {row['diverged']} image(s))" if row.get("diverged") else "")
        lines.append(f"| {row['rank']} | {name} | {row['parameters']:,} | {row['lr']:g} | {row['psnr']:.2f} "
                     f"| {row['ssim']:.3f} | {row['psnr_2x']:.2f} | {row['psnr_at_common_time']:.2f} "
                     f"| {row['seconds']:.1f} "
                     f"| {per} |")
    return "\n".join(lines)


@draws_figure
def figure(runs: list[dict[str, Any]], methods: list[str], path: Path) -> None:
    """PSNR against training seconds, one line per method (mean over images at each evaluation)."""
    from ..plots import new_figure, save_figure

    fig = new_figure(7.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    import matplotlib

    colours = matplotlib.colormaps["tab20"]
    for i, method in enumerate(methods):
        rs = [r for r in runs if r["method"] == method]
        if not rs:
            continue
        n = min(len(r["curve"]) for r in rs)
        t = np.mean([[row["seconds"] for row in r["curve"][:n]] for r in rs], axis=0)
        p = np.mean([[row["psnr"] for row in r["curve"][:n]] for r in rs], axis=0)
        ax.plot(t, p, marker=".", label=method, color=colours(i % 20), linestyle=("-", "--", ":")[i // 7 % 3],
                linewidth=2.4 if method == "sine" else 1.2)
    ax.set_xlabel("training seconds (evaluation excluded)")
    ax.set_ylabel("mean PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    save_figure(fig, path)


@dataclasses.dataclass(frozen=True)
class ActivationsConfig:
    """Options of `sirenkit bench activations` (and `python benchmarks/activations.py`)."""

    images: str | None = option(None, "folder of images (e.g. Kodak); default: scikit-image's cameraman and astronaut "
                                      "(on GPUs also coffee, chelsea, rocket)", metavar="DIR", default_help="")
    max_images: int = option(0, "use only the first N images (default 0: all)", default_help="")
    steps: int = option(300, "training steps per method and image (default 300)", default_help="")
    seconds: float | None = option(None, "also stop each fit after this many seconds", default_help="")
    methods: str | None = option(None, "comma-separated methods", default_help="every --activation")
    size: int | None = option(None, "longer image side", default_help="128 on CPU, 512 on GPU")
    batch_pixels: int | None = option(None, "random pixels per step",
                                      default_help="4096 on CPU, 0 = every pixel on GPU")
    hidden_features: int = option(256, "width of the SIREN that sets the budget", default_help="")
    hidden_layers: int = option(3, "hidden layers of the SIREN that sets the budget", default_help="")
    lr: float | None = option(None, "one learning rate for all", default_help="per method")
    lr_sweep: str | None = option(None, "comma-separated learning rates: fit each method with each and keep its best",
                                  metavar="LRS", default_help="")
    seed: int = option(0, "seed of every fit (default 0)", default_help="")
    device: str = device_option()
    threads: int | None = option(None, "torch CPU threads", default_help="")
    out: str | None = option(None, "write results.json, results.md and psnr_vs_time.png into DIR", metavar="DIR",
                             default_help="")
    overwrite: bool = overwrite_option("results file in --out")
    quiet: bool = option(False, "print only the table")


def run_from_config(c: ActivationsConfig) -> int:
    """Run the benchmark and print its table."""
    result = run_activations(c.images, c.steps, c.seconds, c.methods, c.size, c.batch_pixels, c.hidden_features,
                             c.hidden_layers, c.lr, c.seed, c.max_images, c.device, c.threads, c.out, c.quiet,
                             c.lr_sweep, c.overwrite)
    print(result["markdown"])
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python benchmarks/activations.py` entry point (the same options as `sirenkit bench activations`)."""
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p, ActivationsConfig, layered=False)
    try:
        return run_from_config(ActivationsConfig(**vars(p.parse_args(argv))))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
