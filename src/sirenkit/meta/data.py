"""Image sets for learning a space of SIRENs: folders, CelebA's layout, and the offline default; context sampling.

Every set is square RGB images of `size`² pixels stored as uint8 (N, size, size, 3) tensors, split into train and
test. Sources, in the order they are recognised:

1. CelebA's layout: a folder holding `img_align_celeba/` and `list_eval_partition.txt` — the official split
   (partition 0 = train, 2 = test; partition 1 = validation, read only when a validation split is asked for).
2. A folder with `train/` and `test/` subfolders: those two, each searched recursively.
3. Any other folder: every image under it (recursively, sorted by path), split by a fixed seeded permutation with
   `test_fraction` of the images (at least one) held out.
4. No folder: the offline default (see `offline_default`).

Each image is centre-cropped to a square and resized to `size`² (anti-aliased bilinear); grey images are
repeated to three channels and alpha is dropped.

With `validation=True` a validation split is held out of the TRAINING images (never of the test images), for
choosing settings on a signal that is not the reported one: CelebA's partition 1; for folders a fixed seeded
`VALIDATION_FRACTION` of the training files (at least one); for the offline default the right-most
`DEFAULT_VALIDATION_COLUMNS` of every training photograph's columns (its windows; the training windows come from
the other columns only, so no pixel is in both). Without it the training images are all used, as before.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import UserError
from ..io.images import IMAGE_SUFFIXES, image_files_under, load_image
from ..io.limits import carry_limits

SPLIT_SEED = 0  # the folder split and the offline default's subsampling never depend on --seed

# The offline default: colour photographs bundled with scikit-image (loaded without any download).
DEFAULT_TRAIN_SOURCES = ("chelsea", "rocket", "motorcycle", "immunohistochemistry", "hubble_deep_field", "retina")
DEFAULT_TEST_SOURCES = ("astronaut", "coffee")
DEFAULT_WINDOWS = (1, 2, 4)  # crop sides as multiples of --size; each window is box-averaged down to --size
DEFAULT_MIN_STD = 8.0 / 255.0  # windows flatter than this (sky, black borders) are dropped
DEFAULT_PER_SOURCE = 1000  # at most this many windows per source photograph (a seeded choice)
DEFAULT_VALIDATION_COLUMNS = 0.2  # offline default: validation windows come from this right-most part of the columns
DEFAULT_VALIDATION_PER_SOURCE = 200  # … at most this many per training photograph (a seeded choice)
VALIDATION_FRACTION = 0.1  # folders: this fraction of the training files (at least one) is the validation split


@dataclass
class ImageSet:
    """Train and test images as uint8 (N, S, S, 3) tensors, and one line saying where they came from;
    `validation`: images held out of the training source (None unless asked for)."""

    train: Tensor
    test: Tensor
    description: str
    validation: Tensor | None = None

    @property
    def side(self) -> int:
        return int(self.train.shape[1])


def load_image_set(path: str | None, size: int, test_fraction: float = 0.1, validation: bool = False) -> ImageSet:
    """The train/test images of `path` (a folder; None: the offline default) at `size`² pixels; with
    `validation`, also a validation split held out of the training images (see the module's docstring)."""
    if path is None:
        return offline_default_validation(size) if validation else offline_default(size)
    root = Path(path)
    if not root.exists():
        raise UserError(f"data folder {root} does not exist")
    if not root.is_dir():
        raise UserError(f"data {root} is a file; give a folder of images (or nothing for the offline default)")
    if (root / "img_align_celeba").is_dir() and (root / "list_eval_partition.txt").is_file():
        return _celeba(root, size, validation)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_files, test_files = image_files_under(root / "train"), image_files_under(root / "test")
        if not train_files or not test_files:
            empty = root / ("train" if not train_files else "test")
            raise UserError(f"data folder {empty} holds no images ({_suffixes()})")
        how = f"{root}: train/ and test/ subfolders"
    else:
        files = image_files_under(root)
        if len(files) < 2:
            found = "no images" if not files else "only one image"
            raise UserError(f"data folder {root} holds {found} ({_suffixes()}); need at least two "
                            "(some to train on, one to test)")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(files))
        n_test = min(len(files) - 1, max(1, round(test_fraction * len(files))))
        test_files = [files[i] for i in sorted(order[:n_test])]
        train_files = [files[i] for i in sorted(order[n_test:])]
        how = f"{root}: {len(files)} images, {n_test} held out for testing (seeded split)"
    if not validation:
        train, test = _load_files(train_files, size), _load_files(test_files, size)
        return ImageSet(train, test, f"{how}; {len(train)} train / {len(test)} test at {size}²")
    if len(train_files) < 2:
        raise UserError(f"data {root}: only one training image, none to hold out for validation; give more images "
                        "or evaluate on the test split")
    order = np.random.default_rng(SPLIT_SEED + 1).permutation(len(train_files))
    n_val = min(len(train_files) - 1, max(1, round(VALIDATION_FRACTION * len(train_files))))
    val_files = [train_files[i] for i in sorted(order[:n_val])]
    train_files = [train_files[i] for i in sorted(order[n_val:])]
    train, val, test = (_load_files(f, size) for f in (train_files, val_files, test_files))
    return ImageSet(train, test, f"{how}; {len(train)} train / {len(val)} validation (seeded, held out of the "
                                 f"training images) / {len(test)} test at {size}²", val)


def _suffixes() -> str:
    return ", ".join(s.lstrip(".").upper() for s in IMAGE_SUFFIXES)


def _celeba(root: Path, size: int, validation: bool = False) -> ImageSet:
    """CelebA's official split from list_eval_partition.txt ('NAME.jpg PARTITION' per line)."""
    listing = root / "list_eval_partition.txt"
    split: dict[int, list[Path]] = {0: [], 1: [], 2: []}
    for number, line in enumerate(listing.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise UserError(f"{listing} line {number}: expected 'NAME.jpg 0|1|2', got {line.strip()[:60]!r}")
        split[int(parts[1])].append(root / "img_align_celeba" / parts[0])
    if not split[0] or not split[2]:
        raise UserError(f"{listing} names no train (0) or no test (2) images")
    train, test = _load_files(split[0], size), _load_files(split[2], size)
    if not validation:
        return ImageSet(train, test,
                        f"CelebA at {root} (official split): {len(train)} train / {len(test)} test at {size}²")
    if not split[1]:
        raise UserError(f"{listing} names no validation (1) images")
    val = _load_files(split[1], size)
    return ImageSet(train, test, f"CelebA at {root} (official split): {len(train)} train / {len(val)} validation "
                                 f"/ {len(test)} test at {size}²", val)


def _load_files(files: list[Path], size: int) -> Tensor:
    """Load, centre-crop and resize every file (threads: decoding releases the GIL) -> uint8 (N, S, S, 3).

    Every image goes through `load_image`'s checks, --max-pixels included (the limits in force here are carried
    into the worker threads); on the first refusal the images not yet started are not decoded at all."""
    workers = min(8, os.cpu_count() or 1)
    load = carry_limits(lambda f: square_rgb(load_image(f).pixels, size))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        images = list(pool.map(load, files))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return torch.stack(images)


def square_rgb(pixels: np.ndarray, size: int) -> Tensor:
    """(H, W, 1 or 3) floats in [0, 1] -> uint8 (size, size, 3): centre square crop, anti-aliased resize."""
    h, w = pixels.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = torch.from_numpy(np.ascontiguousarray(pixels[top : top + s, left : left + s]))
    if crop.shape[-1] == 1:
        crop = crop.expand(s, s, 3)
    x = crop.permute(2, 0, 1).unsqueeze(0).float()
    if s != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return to_uint8(x[0].permute(1, 2, 0))


def to_uint8(x: Tensor) -> Tensor:
    """Floats in [0, 1] -> uint8, rounded."""
    return torch.round(x.clamp(0.0, 1.0) * 255.0).to(torch.uint8)


# ------------------------------------------------------------------------------------------------ offline default
def _source_photo(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle":
        return data.stereo_motorcycle()[0]  # the left view of the stereo pair
    return getattr(data, name)()


def photo_windows(photo: np.ndarray, size: int, rng: np.random.Generator,
                  keep: int = DEFAULT_PER_SOURCE) -> Tensor:
    """Square windows of side size·k (k in DEFAULT_WINDOWS, stride half a side) box-averaged to size² pixels;
    near-flat windows dropped, at most `keep` kept (seeded) -> uint8 (N, size, size, 3)."""
    img = torch.from_numpy(photo[..., :3].astype(np.float32) / 255.0)
    h, w = img.shape[:2]
    windows = []
    for k in DEFAULT_WINDOWS:
        side = size * k
        if side > min(h, w):
            continue
        stride = max(1, side // 2)
        tiles = img.unfold(0, side, stride).unfold(1, side, stride)  # (nh, nw, 3, side, side)
        tiles = tiles.reshape(-1, 3, size, k, size, k).mean(dim=(3, 5))  # box filter: exact area average
        windows.append(tiles.permute(0, 2, 3, 1))
    if not windows:
        return torch.empty(0, size, size, 3, dtype=torch.uint8)
    tiles = torch.cat(windows)
    tiles = tiles[tiles.reshape(len(tiles), -1).std(dim=1) >= DEFAULT_MIN_STD]
    if len(tiles) > keep:
        chosen = np.sort(rng.choice(len(tiles), keep, replace=False))
        tiles = tiles[torch.from_numpy(chosen)]
    return to_uint8(tiles)


@functools.lru_cache(maxsize=4)
def _offline_parts(size: int) -> dict[str, Tensor]:
    """The offline default's crops per photograph (drawn in one seeded sequence, photograph by photograph)."""
    rng = np.random.default_rng(SPLIT_SEED)
    names = DEFAULT_TRAIN_SOURCES + DEFAULT_TEST_SOURCES
    return {name: photo_windows(_source_photo(name), size, rng) for name in names}


def offline_test_source(size: int, name: str) -> Tensor:
    """The offline default's test crops from one test photograph (`--eval-source`): two evaluation signals that
    share no pixel, for comparisons that must be shown on more than one signal."""
    if name not in DEFAULT_TEST_SOURCES:
        raise UserError(f"--eval-source must be one of {', '.join(DEFAULT_TEST_SOURCES)}, got {name!r}")
    crops = _offline_parts(size)[name]
    if len(crops) == 0:
        raise UserError(f"--size {size} leaves no test crop of {name}; give a smaller --size")
    return crops


@functools.lru_cache(maxsize=4)
def offline_default(size: int) -> ImageSet:
    """Crops of eight colour photographs bundled with scikit-image, split by photograph (no download).

    Train: chelsea, rocket, motorcycle (left view), immunohistochemistry, hubble_deep_field, retina.
    Test: astronaut, coffee. From each photograph: every window of side size, 2·size and 4·size pixels at
    half-side stride, box-averaged to size², windows with a pixel standard deviation below 8/255 dropped, then
    at most 1000 per photograph kept by a seeded choice (numpy seed 0, photograph by photograph).
    Cached per size within a process (the tensors are shared: do not modify them).
    """
    parts = _offline_parts(size)
    train = torch.cat([parts[n] for n in DEFAULT_TRAIN_SOURCES])
    test = torch.cat([parts[n] for n in DEFAULT_TEST_SOURCES])
    if len(train) == 0 or len(test) == 0:
        raise UserError(f"--size {size} is too large for the offline default set (its photographs are 300 to "
                        "1411 pixels high); give a smaller --size or a DATA folder")
    return ImageSet(train, test, f"offline default (scikit-image photographs, split by photograph): "
                                 f"{len(train)} train / {len(test)} test crops at {size}²")


@functools.lru_cache(maxsize=4)
def offline_default_validation(size: int) -> ImageSet:
    """The offline default with a validation split held out of the training photographs: each training
    photograph's right-most DEFAULT_VALIDATION_COLUMNS (0.2) of its columns give the validation windows (at most
    DEFAULT_VALIDATION_PER_SOURCE = 200 per photograph, seeded), the other columns the training windows (at most
    1000); no pixel is in both, and the test crops are `offline_default`'s. Cached like `offline_default`."""
    rng = np.random.default_rng(SPLIT_SEED + 1)
    train_parts, val_parts = [], []
    for name in DEFAULT_TRAIN_SOURCES:
        photo = _source_photo(name)
        cut = photo.shape[1] - round(DEFAULT_VALIDATION_COLUMNS * photo.shape[1])
        train_parts.append(photo_windows(photo[:, :cut], size, rng))
        val_parts.append(photo_windows(photo[:, cut:], size, rng, DEFAULT_VALIDATION_PER_SOURCE))
    train, val = torch.cat(train_parts), torch.cat(val_parts)
    test = offline_default(size).test
    if len(train) == 0 or len(val) == 0:
        raise UserError(f"--size {size} is too large for the offline default's validation split (its narrowest "
                        "held-out band is 90 pixels wide); give a smaller --size, a DATA folder, or evaluate on "
                        "the test split")
    return ImageSet(train, test, f"offline default (scikit-image photographs, split by photograph) with a "
                                 f"validation split (the right-most {DEFAULT_VALIDATION_COLUMNS:.0%} of each training "
                                 f"photograph): {len(train)} train / {len(val)} validation / {len(test)} test "
                                 f"crops at {size}²", val)


# ------------------------------------------------------------------------------------------------ contexts
def to_signed(images: Tensor) -> Tensor:
    """uint8 (..., C) -> float values in [-1, 1], the range the networks work in."""
    return images.float() * (2.0 / 255.0) - 1.0


def random_context(count: int, pixels: int, low: int, high: int, generator: torch.Generator,
                   sampling: str = "uniform") -> tuple[Tensor, Tensor]:
    """For `count` images: a context size in [low, high] each and that many distinct random pixels.

    `sampling`: "uniform" — every size in [low, high] equally likely (the official code's); "log-uniform" — the
    size's logarithm uniform (⌊exp(U(ln low, ln(high + 1)))⌋), so that 10–100 is drawn as often as 100–1000.
    Returns (index (count, K), mask (count, K)) with K the largest size drawn; mask is 1 on real entries.
    """
    dev = generator.device
    if sampling == "log-uniform":
        u = torch.rand(count, generator=generator, device=dev, dtype=torch.float64)
        sizes = torch.exp(math.log(low) + u * (math.log(high + 1) - math.log(low))).floor().long().clamp_(low, high)
    elif sampling == "uniform":
        sizes = torch.randint(low, high + 1, (count,), generator=generator, device=dev)
    else:
        raise ValueError(f"unknown context sampling {sampling!r}")
    k = int(sizes.max())
    index = torch.rand(count, pixels, generator=generator, device=dev).argsort(dim=1)[:, :k]
    mask = torch.arange(k, device=dev).unsqueeze(0) < sizes.unsqueeze(1)
    return index, mask


def spread(images: Tensor, count: int) -> Tensor:
    """At most `count` of `images`, evenly spaced through the set, so that a subset still holds every photograph and
    window size of a crop set (the same count always gives the same images); 0, or at least the set's size: all."""
    if count <= 0 or count >= len(images):
        return images
    index = torch.linspace(0, len(images) - 1, count).round().long()
    return images[index]


def fixed_context(count: int, pixels: int, side: int, context: int | str, seed: int) -> Tensor:
    """The same context for every call: `context` random distinct pixels per image (seeded by `seed` and the
    context size), or 'half' = the top half of the image (rows 0 … side/2 − 1). Returns index (count, K)."""
    if context == "half":
        return torch.arange((side // 2) * side).unsqueeze(0).expand(count, -1)
    g = torch.Generator().manual_seed(seed * 1_000_003 + int(context))
    return torch.rand(count, pixels, generator=g).argsort(dim=1)[:, : int(context)]


def parse_contexts(text: str, pixels: int, flag: str = "--context") -> list[int | str]:
    """'10,100,1000,half' -> [10, 100, 1000, 'half']; each a pixel count in [1, pixels] or 'half'."""
    out: list[int | str] = []
    for part in text.split(","):
        item = part.strip().lower()
        if item == "half":
            out.append("half")
            continue
        try:
            n = int(item)
        except ValueError:
            raise UserError(f"{flag} must be a comma-separated list of pixel counts or 'half', got {text!r}") from None
        if not 1 <= n <= pixels:
            raise UserError(f"{flag}: {n} context pixels is outside 1 … {pixels} (the images have {pixels} pixels)")
        out.append(n)
    if not out or len(set(out)) != len(out):
        raise UserError(f"{flag} must list each context size once, got {text!r}")
    return out
