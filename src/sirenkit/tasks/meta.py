"""Learning a space of SIRENs (the paper's Section 4.4): `sirenkit meta train` (`meta eval` and `meta inpaint`,
which use a finished run, are in sirenkit/commands/meta.py).

An encoder turns a few context pixels of an image into a latent code, a hypernetwork turns the code into all
weights of a SIREN, and the SIREN is evaluated on the whole image (the CNP baseline decodes the code with a ReLU
MLP instead). Each step draws `--batch-size` training images and, per image, a context of `--context-min` …
`--context-max` random pixels (default 10 … every pixel, log-uniform: training covers every context size the
metrics use, issue 21); the loss is the paper's MSE + 0.1·mean(latent²) + 100·mean(weights²) (MSE on
values in [-1, 1]). The metrics are the official test script's: the pixel MSE of the reconstruction mapped to
[0, 1] and clipped, on the test split (or with `--eval-split validation` on a validation split held out of the
training images, for choosing settings), from 10, 100 and 1000 random context pixels and from the top half of the
image (`mse_10`, `mse_100`, `mse_1000`, `mse_half`), with the same seeded contexts at every evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from ..config import (
    MAX_DEPTH,
    MAX_IMAGE_SIDE,
    MAX_POINTS,
    MAX_SCALE,
    MAX_SEED,
    MAX_WEIGHT,
    MAX_WIDTH,
    check_values,
    in_range,
    option,
)
from ..diff.forward import unwrap
from ..errors import UserError, check_all
from ..grids import grid_coords
from ..meta.data import (
    fixed_context,
    load_image_set,
    offline_test_source,
    random_context,
    spread,
    to_signed,
)
from ..meta.model import MetaNetConfig
from ..meta.types import MetaOutput
from ..models.numerics import LossNeeds
from ..plots import curve_plot, image_grid
from .base import (
    ArtefactContext,
    Batch,
    BuiltModel,
    Choice,
    DamagedSignal,
    Nullable,
    Number,
    Task,
    Text,
    Whole,
)
from .registry import register

CONTEXTS: list[int | str] = [10, 100, 1000, "half"]  # the paper's, parsed
EVAL_CHUNK = 100  # images per network call when evaluating
MAX_META_SIDE = 1024
"""Largest image side of a meta run that `meta eval` and `meta inpaint` take: they reconstruct whole images in one
pass of the emitted SIREN (a 1024² image is 10⁶ points), and evaluating 100 test images at a time (EVAL_CHUNK)
makes far smaller sides the practical limit of training."""


@dataclass(frozen=True)
class MetaConfig:
    """The image set, the encoder and hypernetwork, the context sampling and the loss weights."""

    data: str | None = option(
        None, "folder of images (recursive; CelebA's layout uses its official split); default: the offline "
        "set of scikit-image photograph crops", positional=True, metavar="DATA", path=True)
    size: int = option(32, "images are centre-cropped and resized to size×size pixels")
    encoder: Literal["set", "cnn", "cnp"] = option(
        "set", "set encoder or CNN encoder into the hypernetwork, or the CNP baseline (no SIREN)")
    encoder_activation: Literal["sine", "relu"] = option(
        "relu", "set encoder: activation of its MLP (sine: the official code's default, slower to train here)")
    latent_features: int = option(256, "size of the latent code")
    encoder_hidden_features: int = option(256, "set encoder (and CNP encoder): width of its MLP")
    encoder_hidden_layers: int = option(2, "set encoder (and CNP encoder): hidden-to-hidden layers of its MLP")
    cnn_width: int = option(256, "CNN encoder: channels of the residual blocks")
    cnn_blocks: int = option(4, "CNN encoder: number of residual blocks")
    cnn_stem: Literal["masked", "partial"] = option(
        "masked", "CNN encoder: first conv plain on the zero-filled image and mask (the paper's), or a partial "
        "convolution renormalised by the context pixels under it (features independent of the density)")
    hyper_hidden_features: int = option(256, "width of each per-tensor hypernetwork MLP")
    hyper_hidden_layers: int = option(1, "hidden-to-hidden layers of each per-tensor hypernetwork MLP")
    hyper_output_scale: float = option(
        0.1, "initial spread of the emitted weights around the SIREN init, relative to that init's spread")
    batch_size: int = option(100, "images per step (over all processes under torchrun)")
    context_min: int = option(10, "fewest context pixels per training image")
    context_max: int = option(0, "most context pixels per training image (0: every pixel of the image)")
    context_sampling: Literal["log-uniform", "uniform"] = option(
        "log-uniform", "how each training image's context size is drawn from context-min … context-max: "
        "log-uniform (as many 10–100 as 100–1000) or uniform (the paper's, with 10 … 200)")
    target_pixels: int = option(
        0, "random pixels per image the loss is measured on (0, or at least the image's pixel count: every pixel)")
    latent_weight: float = option(0.1, "weight of mean(latent²) in the loss")
    weights_weight: float = option(100.0, "weight of mean(emitted SIREN weights²) in the loss")
    test_fraction: float = option(0.1, "plain image folders: fraction of the images held out for testing")
    eval_images: int = option(0, "held-out images used by the evaluations during training, evenly spaced through "
                                 "the held-out set (0: all; the final evaluation uses --held-out-images)")
    held_out_images: int = option(0, "held-out images every evaluation uses, the final one included: at most this "
                                     "many, evenly spaced through the test (or validation) split (0: all)")
    eval_seed: int = option(0, "seed of the fixed test contexts")
    eval_split: Literal["test", "validation"] = option(
        "test", "split every evaluation uses: test, or validation — a fixed part of the training source held out "
        "of training (for choosing settings; report on test)")
    eval_source: Literal["", "astronaut", "coffee"] = option(
        "", "offline default set only: evaluate on the test crops of this one test photograph (empty: both)")

    @property
    def most_context(self) -> int:
        """--context-max, with 0 meaning every pixel of a --size² image."""
        return self.context_max if self.context_max else self.size * self.size

    def validate(self) -> None:
        """UserError for the first setting out of range (before the images are read)."""
        check_values(self)
        c, pixels = self, self.size * self.size
        check_all([
            (c.size >= 10, f"--size must be ≥ 10 (the headline mse_100 needs 100 context pixels), got {c.size}"),
            in_range("--size", c.size, high=MAX_IMAGE_SIDE),
            (c.batch_size >= 1, "--batch-size must be ≥ 1"),
            in_range("--batch-size", c.batch_size, high=MAX_POINTS),
            (1 <= c.context_min <= self.most_context <= pixels and c.context_max >= 0,
             f"--context-min and --context-max must satisfy 1 ≤ min ≤ max ≤ {pixels} (pixels of a {c.size}² image; "
             "--context-max 0: all of them)"),
            (c.target_pixels >= 0, "--target-pixels must be ≥ 0 (0: every pixel)"),
            in_range("--target-pixels", c.target_pixels, high=MAX_POINTS),
            (min(c.latent_features, c.encoder_hidden_features, c.hyper_hidden_features, c.cnn_width) >= 1,
             "--latent-features, --encoder-hidden-features, --hyper-hidden-features and --cnn-width must be ≥ 1"),
            in_range("--latent-features", c.latent_features, high=MAX_WIDTH),
            in_range("--encoder-hidden-features", c.encoder_hidden_features, high=MAX_WIDTH),
            in_range("--hyper-hidden-features", c.hyper_hidden_features, high=MAX_WIDTH),
            in_range("--cnn-width", c.cnn_width, high=MAX_WIDTH),
            (min(c.encoder_hidden_layers, c.hyper_hidden_layers, c.cnn_blocks) >= 0,
             "--encoder-hidden-layers, --hyper-hidden-layers and --cnn-blocks must be ≥ 0"),
            in_range("--encoder-hidden-layers", c.encoder_hidden_layers, high=MAX_DEPTH),
            in_range("--hyper-hidden-layers", c.hyper_hidden_layers, high=MAX_DEPTH),
            in_range("--cnn-blocks", c.cnn_blocks, high=MAX_DEPTH),
            (c.hyper_output_scale >= 0, "--hyper-output-scale must be ≥ 0"),
            in_range("--hyper-output-scale", c.hyper_output_scale, high=MAX_SCALE),
            (c.latent_weight >= 0 and c.weights_weight >= 0, "--latent-weight and --weights-weight must be ≥ 0"),
            in_range("--latent-weight", c.latent_weight, high=MAX_WEIGHT),
            in_range("--weights-weight", c.weights_weight, high=MAX_WEIGHT),
            (0 < c.test_fraction < 1, f"--test-fraction must be in (0, 1), got {c.test_fraction}"),
            (c.eval_images >= 0, "--eval-images must be ≥ 0 (0: every test image)"),
            (c.held_out_images >= 0, "--held-out-images must be ≥ 0 (0: every held-out image)"),
            in_range("--eval-seed", c.eval_seed, 0, MAX_SEED),
            (not c.eval_source or (c.data is None and c.eval_split == "test"),
             "--eval-source picks test crops of the offline default set: give no DATA and --eval-split test"),
        ])


@dataclass
class MetaBatch(Batch):
    """coords: query coordinates (N, 2) or (B, N, 2); target (B, N, C) in [-1, 1]; the context as values
    (B, K, C), coordinates (B, K, 2) and a mask (B, K) that is 1 on real context pixels."""

    context_values: Tensor | None = None
    context_coords: Tensor | None = None
    context_mask: Tensor | None = None


def meta_losses(out: MetaOutput, target: Tensor, latent_weight: float, weights_weight: float) -> dict[str, Tensor]:
    """The paper's loss terms, weighted: mse, latent (mean z²) and weights (mean of all emitted parameters²)."""
    terms = {"mse": ((out.values - target) ** 2).mean()}
    if out.weights is not None:
        squares = sum(w.square().sum() for w in out.weights.values())
        assert isinstance(squares, Tensor)  # the hypernetwork emits at least one tensor (never sum's start 0)
        count = sum(w.numel() for w in out.weights.values())
        terms["latent"] = latent_weight * out.latent.square().mean()
        terms["weights"] = weights_weight * squares / count
    return terms


@torch.no_grad()
def context_mse(model: nn.Module, images: Tensor, context: int | str, seed: int, device: torch.device) -> float:
    """Mean squared error in [0, 1] (clipped) over `images` (uint8 (N, S, S, C)) reconstructed from a fixed
    seeded context of `context` pixels (or the top half)."""
    n, side, _, channels = images.shape
    pixels = side * side
    grid = grid_coords((side, side), device=device)
    index = fixed_context(n, pixels, side, context, seed)
    total = 0.0
    for i in range(0, n, EVAL_CHUNK):
        truth = to_signed(images[i : i + EVAL_CHUNK].to(device)).reshape(-1, pixels, channels)
        idx = index[i : i + EVAL_CHUNK].to(device)
        values = truth.gather(1, idx.unsqueeze(-1).expand(-1, -1, channels))
        mask = torch.ones(idx.shape, device=device)
        pred = model(values, grid[idx], mask, grid).values
        total += float((((pred + 1.0) * 0.5).clamp(0.0, 1.0) - (truth + 1.0) * 0.5).square().sum())
    return total / (n * pixels * channels)


def evaluate_contexts(model: nn.Module, images: Tensor, contexts: list[int | str], seed: int,
                      device: torch.device) -> dict[str, float]:
    """{'mse_<context>': MSE} for each context size (or 'half') on `images`."""
    net = unwrap(model)
    was_training = net.training
    net.eval()
    try:
        return {f"mse_{c}": context_mse(net, images, c, seed, device) for c in contexts}
    finally:
        net.train(was_training)


PAPER_CONTEXTS = {"context_min": 10, "context_max": 200, "context_sampling": "uniform", "cnn_stem": "masked"}
"""The official training contexts (10 … 200 pixels, uniform) and the closest CNN to the official one (plain first
conv): the paper recipe's. Its CNN's error rises beyond 200 context pixels (docs/meta.md)."""

PAPER_SIZES = {"size": 32, "batch_size": 100, "latent_features": 256, "encoder_hidden_features": 256,
               "hyper_hidden_features": 256, "cnn_width": 256, "cnn_blocks": 4, "target_pixels": 0}
"""The paper's data and network sizes (CelebA 32², batch 100, 256-wide everywhere), shared by the paper and gpu
recipes."""


@register
class MetaTask(Task):
    name = "meta"
    command = ("meta", "train")
    description = ("learn a space of SIRENs: encoder → latent → hypernetwork → SIREN, trained on an image set "
                   "(default: offline crops of scikit-image photographs)")
    Config = MetaConfig
    metric = "mse_100"
    higher_is_better = False
    supports_distributed = True
    recipes = {
        "paper": {
            "task": {**PAPER_SIZES, **PAPER_CONTEXTS},
            "model": {"hidden_features": 256, "hidden_layers": 3},
            "train": {"steps": 652_828, "lr": 5e-5, "schedule": "constant", "clip_grad": 1.0,
                      "eval_every": 5000, "checkpoint_every": 5000, "log_every": 100},
        },
        "gpu": {
            "task": PAPER_SIZES,
            "model": {"hidden_features": 256, "hidden_layers": 3},
            "train": {"steps": 50_000, "lr": 1e-4, "schedule": "cosine", "clip_grad": 1.0,
                      "eval_every": 2500, "checkpoint_every": 2500, "log_every": 100},
        },
        "cpu": {
            "task": {"size": 32, "batch_size": 32, "latent_features": 64, "encoder_hidden_features": 64,
                     "hyper_hidden_features": 128, "cnn_width": 32, "cnn_blocks": 2, "target_pixels": 256,
                     "weights_weight": 20.0},
            "model": {"hidden_features": 64, "hidden_layers": 2},
            "train": {"steps": 5000, "lr": 2e-4, "schedule": "cosine", "clip_grad": 1.0,
                      "eval_every": 500, "checkpoint_every": 1000, "log_every": 50},
        },
    }
    recipe_notes = {
        "paper": "the paper: 32², SIREN 2→256×3→3, latent 256, hypernetwork 256→256→256→P per tensor, batch 100, "
                 "Adam lr 5e-5 constant, clip 1, 401 epochs of CelebA's train split (652,828 steps)",
        "gpu": "the paper's sizes, lr 1e-4 with cosine decay, clip 1, 50,000 steps",
        "cpu": "32², SIREN 2→64×2→3, latent 64, hypernetwork width 128, batch 32, 256 loss pixels per image, "
               "weights weight 20, lr 2e-4 with cosine decay (both chosen on the validation crops: "
               "docs/recipes.md), clip 1, 5,000 steps",
    }
    smoke = ({"size": 12, "steps": 60, "lr": 1e-3, "batch_size": 8, "latent_features": 16,
              "encoder_hidden_features": 16, "hyper_hidden_features": 16, "hidden_features": 16, "hidden_layers": 1,
              "context_max": 60, "eval_every": 30, "eval_images": 64}, 0.04)
    # measured 0.029; predicting the training set's mean colour everywhere scores 0.076 at this size (12²)

    def __init__(self, config: MetaConfig, device: torch.device) -> None:
        super().__init__(config, device)
        c = config
        pixels = c.size * c.size
        c.validate()
        self.images = load_image_set(c.data, c.size, c.test_fraction, validation=c.eval_split == "validation")
        self.train_images = self.images.train.to(device)
        held_out = self.images.validation if c.eval_split == "validation" else self.images.test
        assert held_out is not None  # load_image_set returns a validation split when asked for one
        self.eval_set = spread(offline_test_source(c.size, c.eval_source) if c.eval_source else held_out,
                               c.held_out_images)
        self.in_features, self.out_features, self.samples = 2, 3, c.size
        self.pixels = pixels
        self.grid = grid_coords((c.size, c.size), device=device)
        # mse_1000 needs ≥ 32² images; CONTEXTS holds pixel counts besides "half"
        self.eval_contexts = [x for x in CONTEXTS if x == "half" or cast(int, x) <= pixels]

    def describe(self) -> str:
        c = self.config
        loss = f"{c.target_pixels} random pixels" if 0 < c.target_pixels < self.pixels else "every pixel"
        return (f"{self.images.description}; batch {c.batch_size}, {c.context_min}–{c.most_context} context pixels "
                f"per image ({c.context_sampling}), loss on {loss}; evaluated on the {c.eval_split} split")

    def set_shard(self, rank: int, world_size: int) -> None:
        if self.config.batch_size % world_size:
            raise UserError(f"--batch-size {self.config.batch_size} does not split evenly over {world_size} "
                            "processes; give a multiple of the process count")
        super().set_shard(rank, world_size)

    needs = LossNeeds(compile=False)  # not measured with torch.compile yet; --compile on tries it

    # ------------------------------------------------------------------ model
    def net_config(self, model_cfg: Any) -> MetaNetConfig:
        """The architecture from the task options and the SIREN options (--hidden-features, ω0 …)."""
        if model_cfg.activation != "sine":
            raise UserError("meta train emits SIREN weights: --activation must be sine "
                            "(the CNP baseline's decoder is a ReLU MLP by design)")
        model_cfg.validate()  # the SIREN settings the hypernetwork emits (ω0 > 0, widths, depth)
        c = self.config
        return MetaNetConfig(
            encoder=c.encoder, channels=3, side=c.size, latent_features=c.latent_features,
            encoder_activation=c.encoder_activation, encoder_hidden_features=c.encoder_hidden_features,
            encoder_hidden_layers=c.encoder_hidden_layers, cnn_width=c.cnn_width, cnn_blocks=c.cnn_blocks,
            cnn_stem=c.cnn_stem,
            hyper_hidden_features=c.hyper_hidden_features, hyper_hidden_layers=c.hyper_hidden_layers,
            hyper_output_scale=c.hyper_output_scale, hidden_features=model_cfg.hidden_features,
            hidden_layers=model_cfg.hidden_layers, first_omega_0=model_cfg.first_omega_0,
            hidden_omega_0=model_cfg.hidden_omega_0,
        )

    def build_model(self, model_cfg: Any) -> BuiltModel:
        net = self.net_config(model_cfg)
        return BuiltModel(net.build(), net.to_spec(), net.describe())

    # ------------------------------------------------------------------ training
    def batch(self, step: int, generator: torch.Generator) -> MetaBatch:
        """A global batch drawn from the shared generator (identical on every rank); this rank keeps its slice."""
        c = self.config
        total, pixels = c.batch_size, self.pixels
        dev = generator.device
        which = torch.randint(0, len(self.train_images), (total,), generator=generator, device=dev)
        index, mask = random_context(total, pixels, c.context_min, c.most_context, generator, c.context_sampling)
        targets = None
        if 0 < c.target_pixels < pixels:
            targets = torch.rand(total, pixels, generator=generator, device=dev).argsort(dim=1)[:, : c.target_pixels]
        share = total // self.world_size
        part = slice(self.rank * share, (self.rank + 1) * share)
        images = to_signed(self.train_images[which[part].to(self.device)]).reshape(share, pixels, 3)
        index, mask = index[part].to(self.device), mask[part].to(self.device)
        values = images.gather(1, index.unsqueeze(-1).expand(-1, -1, 3))
        if targets is None:
            coords, target = self.grid, images
        else:
            t = targets[part].to(self.device)
            coords, target = self.grid[t], images.gather(1, t.unsqueeze(-1).expand(-1, -1, 3))
        return MetaBatch(coords, target, context_values=values, context_coords=self.grid[index],
                         context_mask=mask.to(values.dtype))

    def loss_terms(self, model: nn.Module, batch: Batch) -> dict[str, Tensor]:
        assert isinstance(batch, MetaBatch)
        out = model(batch.context_values, batch.context_coords, batch.context_mask, batch.coords)
        return meta_losses(out, batch.target, self.config.latent_weight, self.config.weights_weight)

    def evaluate(self, model: nn.Module, final: bool = False) -> dict[str, float]:
        test = self.eval_set  # the test split, or with --eval-split validation the validation split
        if not final:
            test = spread(test, self.config.eval_images)
        contexts: list[int | str] = self.eval_contexts if final else [100]
        return evaluate_contexts(model, test, contexts, self.config.eval_seed, self.device)

    @classmethod
    def render(cls, model: nn.Module, signal: dict[str, Any], out: Path, options: Any, device: torch.device) -> Path:
        raise UserError("a meta run holds a space of images, not one; reconstruct an image with "
                        "`sirenkit meta inpaint RUN IMAGE`")

    # ------------------------------------------------------------------ artefacts
    def signal_meta(self) -> dict[str, Any]:
        data = None if self.config.data is None else str(Path(self.config.data).resolve())
        return {"side": self.config.size, "channels": 3, "data": data, "test_fraction": self.config.test_fraction,
                "train_images": len(self.images.train), "test_images": len(self.images.test),
                "description": self.images.description, "eval_seed": self.config.eval_seed,
                "eval_split": self.config.eval_split, "eval_images": len(self.eval_set)}

    signal_schema = {"side": Whole(10, MAX_META_SIDE), "channels": Choice((3,)),
                     "data": Nullable(Text(), optional=True), "test_fraction": Number(gt=0, lt=1, optional=True),
                     "eval_seed": Whole(-2**40, 2**40, optional=True), "train_images": Whole(0, 2**40, optional=True),
                     "test_images": Whole(0, 2**40, optional=True), "description": Text(),
                     "eval_split": Choice(("test", "validation"), optional=True),
                     "eval_images": Whole(0, 2**40, optional=True)}

    @classmethod
    def check_network(cls, spec: Any, signal: dict[str, Any]) -> None:
        """The network is a meta network (encoder → hypernetwork → SIREN) for images of the stored side."""
        if not isinstance(spec, dict) or spec.get("kind") != "meta":
            raise DamagedSignal("the network is not a meta network (encoder, hypernetwork and SIREN)")
        for key in ("side", "channels"):
            if key in signal and spec.get(key) != signal[key]:
                raise DamagedSignal(f"{key} {signal[key]}, but the network was built for {key} {spec.get(key)!r}")

    def write_artefacts(self, model: nn.Module, ctx: ArtefactContext) -> list[str]:
        test = self.eval_set
        rows = np.linspace(0, len(test) - 1, min(4, len(test))).round().astype(int).tolist()
        reconstruction_grid(unwrap(model), test[rows], self.eval_contexts, self.config.eval_seed, self.device,
                            ctx.out_dir / "reconstructions.png")
        curve_plot(ctx.curve, f"{self.config.eval_split} MSE from 100 context pixels", ctx.out_dir / "mse_curve.png",
                   log_y=True)
        return ["reconstructions.png", "mse_curve.png"]


# ---------------------------------------------------------------------------------------------- pictures
def observed(image: Tensor, index: Tensor) -> np.ndarray:
    """uint8 (S, S, C) and pixel indices (K,) -> RGBA floats, transparent where the pixel is not in the context."""
    side = image.shape[0]
    out = np.zeros((side * side, 4), dtype=np.float32)
    flat = image.reshape(-1, image.shape[-1]).float().numpy() / 255.0
    idx = index.cpu().numpy()
    out[idx, :3], out[idx, 3] = flat[idx], 1.0
    return out.reshape(side, side, 4)


@torch.no_grad()
def reconstruct(model: nn.Module, images: Tensor, index: Tensor, device: torch.device) -> Tensor:
    """Reconstructions in [0, 1], (N, S, S, C), of uint8 images (N, S, S, C) from context pixel indices (N, K)."""
    n, side, _, channels = images.shape
    grid = grid_coords((side, side), device=device)
    truth = to_signed(images.to(device)).reshape(n, side * side, channels)
    idx = index.to(device)
    values = truth.gather(1, idx.unsqueeze(-1).expand(-1, -1, channels))
    pred = model(values, grid[idx], torch.ones(idx.shape, device=device), grid).values
    return ((pred + 1.0) * 0.5).clamp(0.0, 1.0).reshape(n, side, side, channels).cpu()


def reconstruction_grid(model: nn.Module, images: Tensor, contexts: list[int | str], seed: int,
                        device: torch.device, path: Path) -> None:
    """One row per image: the truth, then context and reconstruction for each context size."""
    n, side = images.shape[0], images.shape[1]
    columns = {}
    for c in contexts:
        idx = fixed_context(n, side * side, side, c, seed)
        columns[c] = (idx, reconstruct(model, images, idx, device))
    rows = []
    for i in range(n):
        row = [("truth", images[i].float().numpy() / 255.0, {"vmin": 0, "vmax": 1})]
        for c, (idx, rec) in columns.items():
            label = "top half" if c == "half" else f"{c} pixels"
            row.append((f"context: {label}", observed(images[i], idx[i]), {}))
            row.append(("reconstruction", rec[i].numpy(), {"vmin": 0, "vmax": 1}))
        rows.append(row)
    image_grid(rows, path, cell=1.6)
