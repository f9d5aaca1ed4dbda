#!/usr/bin/env python
"""Compression benchmark: SIRENs stored as quantised weights (COIN, `sirenkit compress`) against JPEG.

For each image (8-bit grey, resized with anti-aliasing so the longer side has `--size` pixels, written as PNG
so that SIREN and JPEG see exactly the same pixels) and each network size:
1. fit a SIREN with `sirenkit.fit("image", …)`: Adam lr `--lr` with cosine decay, `--batch-pixels` random pixels
   per step (0: every pixel), `--steps` steps;
2. compress it at 16 bits (float16) and 8 bits (per-tensor uniform) with `sirenkit.compress`: bpp = payload bits
   per pixel, PSNR of the decoded network against the image;
3. encode the image as JPEG with Pillow at quality 1–4, 5, 10, …, 95, 98 and 100 (optimised Huffman tables) and
   interpolate JPEG's PSNR-vs-bpp curve (bpp from the whole .jpg file, headers included) at each SIREN's bpp.
Images: scikit-image's cameraman and astronaut (converted to grey with ITU-R 601 luma), both bundled.

    OMP_NUM_THREADS=1 python benchmarks/compression.py                 # 256², 5000 steps (≈ 6 min, 1 thread)
    OMP_NUM_THREADS=1 python benchmarks/compression.py --quick         # smoke run, under a minute
    python benchmarks/compression.py --size 512 --steps 10000          # closer to COIN's setting (slow on CPU)

Writes the markdown table to stdout, and `results.json`, `compression.png` (PSNR vs bpp) and the runs into `--out`.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import cpu_name

import sirenkit

# Networks (hidden_features, hidden_layers): at 256² they span ≈ 0.3–4 bpp at 16 bits and half that at 8 bits.
NETWORKS = ((24, 2), (32, 3), (48, 3), (64, 4))
QUICK_NETWORKS = ((16, 1), (32, 2))
JPEG_QUALITIES = (1, 2, 3, 4, *range(5, 96, 5), 98, 100)
IMAGES = ("camera", "astronaut")


def _grey_image(name: str, size: int) -> np.ndarray:
    """A bundled scikit-image picture as 8-bit grey, longer side `size` (anti-aliased resize)."""
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.transform import resize

    raw = getattr(data, name)()
    grey = raw.astype(np.float64) / 255.0 if raw.ndim == 2 else rgb2gray(raw)
    h, w = grey.shape
    scale = size / max(h, w)
    if scale != 1:
        grey = resize(grey, (round(h * scale), round(w * scale)), anti_aliasing=scale < 1, preserve_range=True)
    return np.round(np.clip(grey, 0, 1) * 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) / 255.0 - b.astype(np.float64) / 255.0) ** 2))
    return float("inf") if mse == 0 else -10.0 * np.log10(mse)


def jpeg_curve(pixels: np.ndarray) -> list[dict[str, float]]:
    """[{quality, bpp, psnr}] of Pillow's JPEG at every quality, sorted by bpp."""
    from PIL import Image

    points = []
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality, optimize=True)
        decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
        points.append({"quality": quality, "bpp": 8.0 * buffer.tell() / pixels.size, "psnr": _psnr(decoded, pixels)})
    return sorted(points, key=lambda p: p["bpp"])


def jpeg_at(curve: list[dict[str, float]], bpp: float) -> float | None:
    """JPEG's PSNR interpolated linearly at `bpp`; None outside the measured range."""
    x = [p["bpp"] for p in curve]
    if not x[0] <= bpp <= x[-1]:
        return None
    return float(np.interp(bpp, x, [p["psnr"] for p in curve]))


def run(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    networks = QUICK_NETWORKS if args.quick else NETWORKS
    rows: list[dict[str, Any]] = []
    curves: dict[str, list[dict[str, float]]] = {}
    started = time.perf_counter()
    for image in args.images:
        pixels = _grey_image(image, args.size)
        path = out / "images" / f"{image}-{args.size}.png"
        import imageio.v3 as iio

        iio.imwrite(path, pixels)
        curves[image] = jpeg_curve(pixels)
        for width, layers in networks:
            run_dir = out / "runs" / f"{image}-{args.size}-w{width}-l{layers}"
            fitted = sirenkit.fit("image", path=str(path), size=args.size, hidden_features=width, hidden_layers=layers,
                                  steps=args.steps, lr=args.lr, schedule="cosine", batch_pixels=args.batch_pixels,
                                  eval_every=max(args.steps, 1), seed=args.seed, device="cpu", out=str(run_dir),
                                  overwrite=True, quiet=True)
            for bits in (16, 8):
                result = sirenkit.compress(run_dir, bits=bits)
                jpeg = jpeg_at(curves[image], result["bpp"])
                rows.append({
                    "image": image, "width": width, "layers": layers, "parameters": result["parameters"],
                    "bits": bits, "bpp": result["bpp"], "file_bpp": result["file_bpp"], "psnr": result["psnr"],
                    "psnr_original": result["psnr_original"], "jpeg_psnr": jpeg,
                    "delta_db": None if jpeg is None else result["psnr"] - jpeg,
                    "train_seconds": fitted.metrics["seconds"],
                })
            print(f"  {image} {width}×{layers}: {rows[-2]['psnr']:.2f} dB at {rows[-2]['bpp']:.2f} bpp (16 bit), "
                  f"{rows[-1]['psnr']:.2f} dB at {rows[-1]['bpp']:.2f} bpp (8 bit), "
                  f"{fitted.metrics['seconds']:.0f} s", file=sys.stderr, flush=True)
    return {
        "machine": {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds")},
        "settings": {"size": args.size, "steps": args.steps, "lr": args.lr, "schedule": "cosine",
                     "batch_pixels": args.batch_pixels, "seed": args.seed, "images": list(args.images),
                     "networks": [list(n) for n in networks], "jpeg_qualities": list(JPEG_QUALITIES)},
        "rows": rows,
        "jpeg": curves,
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(results: dict[str, Any]) -> str:
    def db(x: float | None) -> str:
        return "outside JPEG's range" if x is None else f"{x:.2f}"

    lines = ["| image | network (width × hidden layers) | parameters | bits | bpp | PSNR dB | unquantised dB | "
             "JPEG dB at same bpp | SIREN − JPEG dB | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        delta = "–" if r["delta_db"] is None else f"{r['delta_db']:+.2f}"
        lines.append(f"| {r['image']} | {r['width']} × {r['layers']} | {r['parameters']:,} | {r['bits']} | "
                     f"{r['bpp']:.3f} | {r['psnr']:.2f} | {r['psnr_original']:.2f} | {db(r['jpeg_psnr'])} | "
                     f"{delta} | {r['train_seconds']:.0f} |")
    lines.append("")
    lines.append("JPEG (Pillow, optimised Huffman tables), bpp of the whole file: " + "; ".join(
        f"{image}: " + ", ".join(f"q{p['quality']} {p['bpp']:.2f} bpp {p['psnr']:.1f} dB"
                                 for p in curve if p["quality"] in (1, 5, 10, 25, 50, 75, 95, 100))
        for image, curve in results["jpeg"].items()))
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="mpl-"))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = list(results["jpeg"])
    fig, axes = plt.subplots(1, len(images), figsize=(5.5 * len(images), 4.2), squeeze=False)
    for ax, image in zip(axes[0], images, strict=True):
        curve = results["jpeg"][image]
        ax.plot([p["bpp"] for p in curve], [p["psnr"] for p in curve], "o-", ms=3, color="0.4", label="JPEG")
        for bits, marker, colour in ((16, "s", "C0"), (8, "^", "C3")):
            rows = sorted((r for r in results["rows"] if r["image"] == image and r["bits"] == bits),
                          key=lambda r: r["bpp"])
            ax.plot([r["bpp"] for r in rows], [r["psnr"] for r in rows], marker + "-", color=colour,
                    label=f"SIREN, {bits}-bit weights")
        ax.set_xlabel("bits per pixel")
        ax.set_ylabel("PSNR (dB)")
        ax.set_xlim(0, max(4.5, max(r["bpp"] for r in results["rows"]) * 1.05))
        ax.set_title(f"{image} {results['settings']['size']}², grey")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="longer image side in pixels (default 256; try 512)")
    parser.add_argument("--steps", type=int, default=5000, help="training steps per network (default 5000)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate, cosine decay (default 1e-3)")
    parser.add_argument("--batch-pixels", type=int, default=8192, help="random pixels per step, 0: all (default 8192)")
    parser.add_argument("--images", nargs="+", default=list(IMAGES), choices=IMAGES, help="bundled images to use")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: two small networks, 64², 200 steps")
    parser.add_argument("--out", default="runs/compression-bench", help="folder for results.json, the plot and runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.steps = 64, 200
    torch.set_num_threads(args.threads)
    results = run(args)
    out = Path(args.out)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, out / "compression.png")
    m, s = results["machine"], results["settings"]
    print(f"Compression: {', '.join(s['images'])} {s['size']}² grey, {s['steps']} steps of "
          f"{s['batch_pixels'] or 'all'} pixels, lr {s['lr']:g} cosine; {m['cpu']}, {m['torch_threads']} "
          f"thread(s), torch {m['torch']}; {results['seconds']:.0f} s\n")
    print(markdown(results))
    print(f"\nwrote {out / 'results.json'} and {out / 'compression.png'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
