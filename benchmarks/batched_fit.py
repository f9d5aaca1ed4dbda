#!/usr/bin/env python
"""Batched fitting benchmark: `sirenkit fit images` (one network per image, stacked) against fitting the same
images one by one with `sirenkit fit image`, same settings and seed.

The images are square crops of scikit-image's bundled colour photographs (astronaut, coffee, chelsea, rocket,
round-robin, crop positions seeded), written as PNG files to a temporary folder so both paths read the same files.
Throughput is images fitted per second of training (the trainers' own clock: start-up, evaluation and export are
excluded for both). `fit images` runs with its default `--bank-mode auto` (a loop over the members' slices on a
CPU, vmap on GPUs) and, on a CPU, again forced to `vmap` (batched matmuls). The mean PSNR of both paths is
reported too: they must agree (the batched fit equals the
separate fits up to summation order).

    python benchmarks/batched_fit.py --quick                  # smoke run, seconds
    python benchmarks/batched_fit.py --threads 1               # CPU table for RESULTS.md
    python benchmarks/batched_fit.py --device cuda --images 32 --size 256 --widths 256
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import cpu_name

import sirenkit
from sirenkit.train.device import resolve_device

SOURCES = ("astronaut", "coffee", "chelsea", "rocket")


def write_crops(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """`count` RGB crops of side `size` (downscaled 2× first so a crop shows a sizeable part of the photo)."""
    import imageio.v3 as iio
    from skimage import data
    from skimage.transform import rescale

    rng = np.random.default_rng(seed)
    photos = [rescale(getattr(data, name)(), 0.5, channel_axis=-1, anti_aliasing=True) for name in SOURCES]
    files = []
    for i in range(count):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        side = min(size, h, w)
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        path = folder / f"crop{i:03d}.png"
        iio.imwrite(path, (255 * photo[y : y + side, x : x + side]).round().astype(np.uint8))
        files.append(path)
    return files


def measure(files: list[Path], folder: Path, out: Path, width: int, options: dict[str, Any]) -> dict[str, Any]:
    opts = {**options, "hidden_features": width, "quiet": True}
    separate = [sirenkit.fit("image", path=str(p), out=str(out / f"one-{width}-{p.stem}"), **opts) for p in files]
    batched = sirenkit.fit("images", folder=str(folder), out=str(out / f"bank-{width}"), **opts)
    if resolve_device(options["device"]).type == "cpu":
        vmapped = sirenkit.fit("images", folder=str(folder), out=str(out / f"vmap-{width}"), bank_mode="vmap", **opts)
    else:
        vmapped = batched  # off the CPU, --bank-mode auto is vmap already
    sep_s = sum(r.metrics["seconds"] for r in separate)
    bat_s = batched.metrics["seconds"]
    sep_psnr = float(np.mean([r.metrics["psnr"] for r in separate]))
    return {"width": width, "images": len(files), "separate_s": sep_s, "batched_s": bat_s,
            "separate_images_per_s": len(files) / sep_s, "batched_images_per_s": len(files) / bat_s,
            "speedup": sep_s / bat_s, "vmap_s": vmapped.metrics["seconds"],
            "vmap_images_per_s": len(files) / vmapped.metrics["seconds"], "separate_psnr": sep_psnr,
            "batched_psnr": batched.metrics["psnr"],
            "max_psnr_difference": max(abs(r.metrics["psnr"] - batched.metrics["per_image"][p.stem]["psnr"])
                                       for r, p in zip(separate, files))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=8, help="number of images (default 8)")
    p.add_argument("--size", type=int, default=64, help="side of each square image (default 64)")
    p.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    p.add_argument("--batch-pixels", type=int, default=0, help="pixels per image per step (default 0: all)")
    p.add_argument("--widths", default="64,256", help="hidden widths to compare (default 64,256)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quick", action="store_true", help="4 images of 24², 30 steps, width 32")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the numbers to FILE")
    args = p.parse_args(argv)
    if args.quick:
        args.images, args.size, args.steps, args.widths = 4, 24, 30, "32"
    if args.threads:
        torch.set_num_threads(args.threads)
    options = {"size": args.size, "steps": args.steps, "batch_pixels": args.batch_pixels, "lr": 1e-3,
               "schedule": "cosine", "device": args.device, "eval_every": args.steps, "seed": 0}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        files = write_crops(folder, args.images, args.size)
        for width in (int(w) for w in args.widths.split(",")):
            rows.append(measure(files, folder, Path(tmp) / "runs", width, options))
            print(f"width {width}: done", file=sys.stderr, flush=True)
            if args.json:  # after each width: a run cut short (the GPU script's timeouts) keeps what it measured
                Path(args.json).write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=2))
    device = resolve_device(args.device)
    head = (f"{args.images} images of {args.size}², {args.steps} steps, "
            f"{'every pixel' if not args.batch_pixels else str(args.batch_pixels) + ' pixels'} per step; "
            f"device {device}, {cpu_name()}, {torch.get_num_threads()} thread(s)")
    lines = [head, "", "| width | one by one: s | images/s | `fit images` (auto): s | images/s | speed-up "
             "| `--bank-mode vmap`: s | images/s | mean PSNR one by one | batched | max ΔPSNR |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['width']} | {r['separate_s']:.1f} | {r['separate_images_per_s']:.3f} | "
                     f"{r['batched_s']:.1f} "
                     f"| {r['batched_images_per_s']:.3f} | {r['speedup']:.2f}× | {r['vmap_s']:.1f} "
                     f"| {r['vmap_images_per_s']:.3f} | {r['separate_psnr']:.2f} "
                     f"| {r['batched_psnr']:.2f} | {r['max_psnr_difference']:.1e} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
