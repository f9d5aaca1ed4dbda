"""Many images at once: one network per image, all trained together as stacked parameters (`fit images`).

Images are resized like `fit image` and grouped by shape (height, width, channels); each group is one
`ModelBank` evaluated with batched matmuls, so B small fits cost about as much as one wide one. Every member
starts from the initialisation that `sirenkit fit image FILE --seed S` would give it and sees the same pixels
in the same order, its loss is its own mean squared error, Adam is elementwise and `--clip-grad` clips each
member separately: member b follows the separate fit of image b (up to floating-point summation order).
Each image gets a complete `fit image` run folder under RUN/images/NAME (render, export and compress work there).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from .._version import __version__
from ..config import DEFAULT_CHUNK, MAX_POINTS, check_side, check_values, in_range, option
from ..diff import unwrap
from ..errors import UserError, check_all
from ..grids import grid_coords
from ..io.atomic import write_json
from ..io.images import IMAGE_SUFFIXES, Image, image_files_under, load_image, resize_longer_side, save_image, to_grey
from ..models import ModelConfig, count_parameters, model_spec
from ..models.bank import ImageBanks, ModelBank
from ..models.numerics import LossNeeds
from ..plots import curve_plot, image_grid
from ..train.checkpoint import CHECKPOINT, prefixed, save_checkpoint
from .base import ArtefactContext, Batch, BuiltModel, DamagedSignal, ListOf, Record, RenderOptions, Task, Text
from .image import ImageTask, psnr_from_mse, ssim
from .registry import register

BUNDLED = ("camera", "astronaut", "coffee", "chelsea", "moon", "rocket")
"""scikit-image's bundled photographs used when no folder is given (files inside the package, no download)."""


@dataclass(frozen=True)
class ImagesConfig:
    """Which images to fit and how to sample them."""

    folder: str | None = option(
        None, "folder of images (searched recursively; PNG, JPEG, TIFF, BMP, WebP); default: six photographs "
              "bundled with scikit-image", positional=True, metavar="DIR", path=True)
    size: int = option(128, "resize each image so that its longer side has this many pixels (0: native size)")
    batch_pixels: int = option(0, "random pixels per image per step (0: every pixel, full batch)")
    grey: bool = option(False, "convert colour images to grey before fitting")
    max_images: int = option(0, "fit only the first N images in path order (0: all)")
    chunk: int = option(DEFAULT_CHUNK, "points per chunk when evaluating whole images")
    bank_mode: Literal["auto", "vmap", "loop"] = option(
        "auto", "how the stacked networks run: vmap (batched matmuls), loop (each network's slice in turn), "
                "auto (loop on a CPU, where it measured faster; vmap on GPUs)")

    def validate(self) -> None:
        """UserError for the first setting out of range (before the images are read)."""
        check_values(self)
        check_all([
            (self.batch_pixels >= 0 and self.max_images >= 0 and self.chunk >= 1,
             "--batch-pixels and --max-images must be ≥ 0 and --chunk ≥ 1"),
            (self.size >= 0, f"--size must be ≥ 0, got {self.size}"),
            check_side("--size", self.size),
            in_range("--batch-pixels", self.batch_pixels, high=MAX_POINTS),
        ])


@dataclass
class ImagesBatch(Batch):
    """Per shape group: the coordinates (n, 2) every member sees and their targets (B_g, n, C)."""

    groups: list[tuple[Tensor, Tensor]] | None = None


def _banks(model: nn.Module) -> Sequence[ModelBank]:
    """The banks of an `ImageBanks` model (behind any torch.compile / DistributedDataParallel wrapper)."""
    return cast("Sequence[ModelBank]", unwrap(model).banks)  # its ModuleList of ModelBanks, typed


def bundled_image_files() -> list[tuple[str, Path]]:
    from skimage import data

    root = Path(data.__file__).parent
    out = []
    for name in BUNDLED:
        hits = sorted(p for p in root.glob(f"{name}.*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if hits:
            out.append((name, hits[0]))
    return out


def named_image_files(folder: str) -> list[tuple[str, Path]]:
    """(unique name, path) of every image under `folder`, in path order; names come from relative paths."""
    root = Path(folder)
    if not root.exists():
        raise UserError(f"image folder {root} does not exist")
    if not root.is_dir():
        raise UserError(f"{root} is a file; `fit images` takes a folder (use `sirenkit fit image` for one image)")
    files = image_files_under(root)
    if not files:
        raise UserError(f"image folder {root} holds no PNG, JPEG, TIFF, BMP or WebP files")
    out, seen = [], set()
    for path in files:
        base = "__".join(path.relative_to(root).with_suffix("").parts)
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}-{n}"
        seen.add(name)
        out.append((name, path))
    return out



@register
class ImagesTask(Task):
    name = "images"
    command = ("fit", "images")
    description = "fit one network per image to many images at once (stacked, batched matmuls)"
    Config = ImagesConfig
    metric = "psnr"
    supports_distributed = True
    # bf16 hidden-layer matmuls under --precision auto: value-only loss, accuracy measured in benchmarks/RESULTS.md
    needs = LossNeeds(bf16=True)

    def loss_needs(self, model: nn.Module) -> LossNeeds:
        """Compiled on CUDA only: compiling the loop over a CPU bank's members has not been measured."""
        return replace(super().loss_needs(model), compile=self.device.type == "cuda")

    recipes = {  # paper and gpu: each image exactly as `fit image` fits it; cpu: smaller, for many images
        "paper": ImageTask.recipes["paper"],
        "gpu": ImageTask.recipes["gpu"],
        "cpu": {"task": {"size": 128, "batch_pixels": 4096},
                "train": {"steps": 500, "lr": 1e-3, "schedule": "cosine", "eval_every": 250}},
    }
    recipe_notes = {
        "paper": "each image as the paper: 512², full batch, Adam lr 1e-4 constant, 10k steps",
        "gpu": "512², full batch, lr 2e-3 with cosine decay, 2000 steps",
        "cpu": "128², 4096 random pixels per image per step, lr 1e-3 with cosine decay, 500 steps",
    }
    smoke = ({"size": 24, "max_images": 3, "steps": 150, "lr": 1e-3, "schedule": "cosine", "hidden_features": 32,
              "batch_pixels": 0}, 24.0)

    def __init__(self, config: ImagesConfig, device: torch.device) -> None:
        super().__init__(config, device)
        config.validate()
        listed = named_image_files(config.folder) if config.folder else bundled_image_files()
        if config.max_images:
            listed = listed[: config.max_images]
        self.names = [name for name, _ in listed]
        self.images: list[Image] = []
        for _, path in listed:
            image = resize_longer_side(load_image(path), config.size)
            self.images.append(to_grey(image) if config.grey else image)
        # Shape groups in order of first appearance; member order inside a group follows the image order.
        keys: dict[tuple[int, int, int], list[int]] = {}
        for i, image in enumerate(self.images):
            keys.setdefault(tuple(image.pixels.shape), []).append(i)
        self.groups = list(keys.items())
        self.in_features, self.out_features = 2, max(im.channels for im in self.images)
        self.samples = max(max(im.pixels.shape[:2]) for im in self.images)
        self.coords = [grid_coords(shape[:2], device=device) for shape, _ in self.groups]
        self.values = [
            torch.stack([torch.from_numpy(self.images[i].pixels.reshape(-1, shape[2])) for i in members]).to(device)
            * 2.0 - 1.0
            for shape, members in self.groups
        ]  # (B_g, H*W, C) in [-1, 1]
        self._model_cfg: ModelConfig | None = None

    def describe(self) -> str:
        source = self.config.folder or "images bundled with scikit-image"
        shapes = ", ".join(f"{len(m)}× {s[1]}×{s[0]}{' RGB' if s[2] == 3 else ' grey'}" for s, m in self.groups)
        n, largest = self.config.batch_pixels, max(c.shape[0] for c in self.coords)
        batch = f"{n} pixels per image" if 0 < n < largest else "all pixels"  # as `batch` draws them
        return f"{len(self.images)} images from {source}: {shapes}; {batch} per step"

    def set_shard(self, rank: int, world_size: int) -> None:
        if self.config.batch_pixels % world_size:
            raise UserError(f"--batch-pixels {self.config.batch_pixels} does not split evenly over "
                            f"{world_size} processes; choose a multiple of {world_size}")
        super().set_shard(rank, world_size)

    # ------------------------------------------------------------------ model
    def build_model(self, model_cfg: ModelConfig) -> BuiltModel:
        """One bank per shape group; every member starts from the weights the global seed gives one network."""
        self._model_cfg = model_cfg
        start = torch.get_rng_state()
        banks, specs = [], []
        for shape, members in self.groups:
            nets = []
            for _ in members:
                torch.set_rng_state(start)  # the same draw as `fit image --seed S` makes
                nets.append(model_cfg.build(2, shape[2], max(shape[:2])))
            banks.append(ModelBank(nets, mode=self.config.bank_mode))
            specs.append({"count": len(members), "member": model_spec(model_cfg, 2, shape[2], max(shape[:2]))})
        per = count_parameters(banks[0].member(0))
        description = f"{len(self.images)} × {model_cfg.activation} {model_cfg.hidden_features}×" \
                      f"{model_cfg.hidden_layers + 1} ({per:,} parameters each) in {len(banks)} shape groups"
        return BuiltModel(ImageBanks(banks), {"groups": specs}, description)

    def clip_gradients(self, model: nn.Module, params: list[Tensor], max_norm: float) -> None:
        for bank in _banks(model):
            bank.clip_member_gradients_(max_norm)

    # ------------------------------------------------------------------ training
    def batch(self, step: int, generator: torch.Generator) -> ImagesBatch:
        """Per group one draw of pixel indices shared by its members (what a separate fit of each would draw);
        under torchrun every rank keeps its slice of the same draw."""
        n, r, w = self.config.batch_pixels, self.rank, self.world_size
        groups = []
        start = generator.get_state()
        for coords, values in zip(self.coords, self.values):
            pool = coords.shape[0]
            if n == 0 or n >= pool:
                idx = None if w == 1 else torch.arange(r, pool, w, device=self.device)
            else:
                generator.set_state(start)  # every group draws from the state a separate fit would have
                idx = self.random_indices(n, pool, generator)
                if w > 1:
                    share = n // w
                    idx = idx[r * share : (r + 1) * share]
            groups.append((coords, values) if idx is None else (coords[idx], values[:, idx]))
        return ImagesBatch(groups[0][0], groups[0][1], groups=groups)

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        """Sum over images of each image's own pixel MSE, so each member's gradient is its separate fit's."""
        assert isinstance(batch, ImagesBatch) and batch.groups is not None
        outputs = model([coords for coords, _ in batch.groups])
        total = sum(((out - target) ** 2).mean(dim=(1, 2)).sum() for out, (_, target) in zip(outputs, batch.groups))
        return {"mse_sum": total}

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def reconstructions(self, model: nn.Module) -> list[np.ndarray]:
        """Every fitted image in [0, 1], (H, W, C), in image order."""
        banks = _banks(model)
        out: list[np.ndarray | None] = [None] * len(self.images)
        for (shape, members), bank, coords in zip(self.groups, banks, self.coords):
            parts = [bank(coords[i : i + self.config.chunk]) for i in range(0, coords.shape[0], self.config.chunk)]
            fit = ((torch.cat(parts, dim=1) + 1.0) * 0.5).clamp(0.0, 1.0).reshape(len(members), *shape)
            for k, i in enumerate(members):
                out[i] = fit[k].cpu().numpy()
        return out  # type: ignore[return-value]

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        fits = self.reconstructions(model)
        psnrs = [psnr_from_mse(float(np.mean((f - im.pixels) ** 2))) for f, im in zip(fits, self.images)]
        out: dict[str, Any] = {"psnr": float(np.mean(psnrs)), "psnr_min": float(np.min(psnrs)),
                               "psnr_max": float(np.max(psnrs)), "images": len(self.images)}
        if final:
            ssims = [ssim(f, im.pixels) for f, im in zip(fits, self.images)]
            scored = [s for s in ssims if s is not None]  # None for images below 3 pixels a side
            if scored:
                out["ssim"] = float(np.mean(scored))
            out["per_image"] = {name: {"psnr": round(p, 4), **({} if s is None else {"ssim": round(s, 5)})}
                                for name, p, s in zip(self.names, psnrs, ssims)}
        return out

    def signal_meta(self) -> dict[str, Any]:
        return {"images": [{"name": name, "height": im.pixels.shape[0], "width": im.pixels.shape[1],
                            "channels": im.channels, "bit_depth": im.bit_depth, "source": im.source}
                           for name, im in zip(self.names, self.images)]}

    @classmethod
    def check_signal(cls, signal: dict[str, Any], fields: tuple[str, ...] | None = None,
                     partial: bool = False) -> dict[str, Any]:
        """Each image as a `fit image` run's signal, with its name (the folder of its own run)."""
        from .base import check_schema
        from .image import IMAGE_SIGNAL

        schema = {"images": ListOf(Record({"name": Text(optional=False), **IMAGE_SIGNAL}))}
        return check_schema(schema, signal, fields=fields, partial=partial)

    @classmethod
    def check_network(cls, spec: Any, signal: dict[str, Any]) -> None:
        """One network per image, in banks of images of one shape."""
        groups = spec.get("groups") if isinstance(spec, dict) else None
        counts = [g.get("count") for g in groups if isinstance(g, dict)] if isinstance(groups, list) else None
        if counts is None or sum(c for c in counts if isinstance(c, int)) != len(signal["images"]):
            raise DamagedSignal(f"{len(signal['images'])} images, but the network is not a bank of as many networks")

    # ------------------------------------------------------------------ export
    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        """A complete `fit image` run folder per image (images/NAME), an overview figure and the mean PSNR curve."""
        fits = self.reconstructions(model)
        banks = _banks(model)
        record = json.loads((ctx.out_dir / "config.json").read_text(encoding="utf-8"))
        per_image = ctx.metrics.get("per_image", {})
        written = []
        for (_shape, members), bank in zip(self.groups, banks):
            for k, i in enumerate(members):
                written.append(self._write_member(ctx, record, bank.member(k), i, fits[i], per_image))
        rows = [[(f"{self.names[i]}", self.images[i].pixels, {"vmin": 0, "vmax": 1}),
                 (f"fit ({per_image.get(self.names[i], {}).get('psnr', float('nan')):.2f} dB)", fits[i],
                  {"vmin": 0, "vmax": 1})] for i in range(min(8, len(self.images)))]
        image_grid(rows, ctx.out_dir / "overview.png")
        curve_plot(ctx.curve, "mean PSNR (dB)", ctx.out_dir / "psnr_curve.png")
        return ["overview.png", "psnr_curve.png", *written]

    def _write_member(self, ctx: ArtefactContext, record: dict[str, Any], net: nn.Module, index: int,
                      fit: np.ndarray, per_image: dict[str, Any]) -> str:
        """images/NAME/: config.json a `fit image` run would have, checkpoint, metrics, reconstruction."""
        image, name = self.images[index], self.names[index]
        folder = ctx.out_dir / "images" / name
        folder.mkdir(parents=True, exist_ok=True)
        h, w, c = image.pixels.shape
        spec = model_spec(self._model_cfg or ModelConfig(), 2, c, max(h, w))
        signal = {"height": h, "width": w, "channels": c, "bit_depth": image.bit_depth, "source": image.source}
        task_cfg = {"path": image.source, "size": self.config.size, "batch_pixels": self.config.batch_pixels,
                    "grey": self.config.grey, "chunk": self.config.chunk}
        config = {**record, "command": ["fit", "image"], "task_name": "image", "task": task_cfg}
        write_json(folder / "config.json", config)
        record = {"task": "image", "model": spec, "signal": signal, "sirenkit": __version__,
                "step": ctx.metrics.get("steps"), "fitted_by": "fit images"}
        save_checkpoint(folder / CHECKPOINT, prefixed("model", net.state_dict()), record)
        save_image(folder / "reconstruction.png", fit, image.bit_depth)
        scores = per_image.get(name, {})
        metrics = {"psnr": scores.get("psnr"), "ssim": scores.get("ssim"), "task": "image",
                   "steps": ctx.metrics.get("steps"), "seconds": ctx.metrics.get("seconds"),
                   "seconds_note": "wall time of the whole batched fit, shared by every image",
                   "fitted_by": {"command": "fit images", "run": str(ctx.out_dir), "image": name},
                   "parameters": count_parameters(net), "metric": "psnr", "artefacts": ["reconstruction.png"]}
        write_json(folder / "metrics.json", metrics)
        return f"images/{name}/reconstruction.png"

    @classmethod
    def render(cls, model: nn.Module, record: dict[str, Any], out: Path, options: RenderOptions,
               device: torch.device) -> Path:
        names = [im.get("name", "?") for im in record.get("images", [])][:3]
        raise UserError("a `fit images` run holds one network per image: render one of its folders, e.g. "
                        f"`sirenkit render RUN/images/{names[0] if names else 'NAME'}`")


__all__ = ["BUNDLED", "ImagesConfig", "ImagesTask"]
