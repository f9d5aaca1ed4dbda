"""Image sets (folders, train/test subfolders, CelebA's layout, the offline default) and context sampling."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from sirenkit.errors import UserError
from sirenkit.meta.data import (
    DEFAULT_PER_SOURCE,
    fixed_context,
    load_image_set,
    offline_default,
    parse_contexts,
    random_context,
    spread,
    square_rgb,
)


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, array)


def test_square_rgb_crops_the_centre_and_repeats_grey():
    img = np.zeros((40, 80, 1), np.float32)
    img[:, 20:60] = 1.0  # the central 40×40 square is white, the sides black
    out = square_rgb(img, 10)
    assert out.shape == (10, 10, 3) and out.dtype == torch.uint8
    assert int(out.min()) == 255


def test_plain_folder_is_searched_recursively_and_split_by_seed(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(10):
        shape = (20 + i, 30, 3) if i % 2 else (25, 25)
        _write(tmp_path / f"sub{i % 3}" / f"img{i}.png", rng.integers(0, 255, shape, dtype=np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_image_set(str(tmp_path), 16, test_fraction=0.2)
    assert images.train.shape == (8, 16, 16, 3) and images.test.shape == (2, 16, 16, 3)
    again = load_image_set(str(tmp_path), 16, test_fraction=0.2)
    assert torch.equal(images.test, again.test)  # the split is fixed


def test_train_and_test_subfolders_are_used_as_given(tmp_path):
    for part, n in (("train", 3), ("test", 2)):
        for i in range(n):
            _write(tmp_path / part / f"{i}.png", np.full((12, 12, 3), 40 * i, np.uint8))
    images = load_image_set(str(tmp_path), 12)
    assert len(images.train) == 3 and len(images.test) == 2
    assert "train/ and test/" in images.description


def test_celeba_layout_uses_the_official_partition(tmp_path):
    names = []
    for i in range(6):
        name = f"{i:06d}.jpg"
        _write(tmp_path / "img_align_celeba" / name, np.full((218, 178, 3), 30 * i, np.uint8))
        names.append(name)
    partition = [0, 0, 1, 2, 0, 2]
    (tmp_path / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, p in zip(names, partition)))
    images = load_image_set(str(tmp_path), 32)
    assert len(images.train) == 3 and len(images.test) == 2
    assert images.test[:, 0, 0, 0].tolist() == pytest.approx([90, 150], abs=3)
    assert images.description.startswith("CelebA")


def test_offline_default_is_split_by_photograph():
    images = offline_default(16)
    assert images.train.shape[1:] == (16, 16, 3) and images.test.shape[1:] == (16, 16, 3)
    assert len(images.train) == 6 * DEFAULT_PER_SOURCE and len(images.test) == 2 * DEFAULT_PER_SOURCE
    assert "split by photograph" in images.description


@pytest.mark.parametrize("text,message", [("ten", "comma-separated"), ("0", "outside 1"), ("10,10", "once"),
                                          ("5000", "outside 1"), ("", "comma-separated")])
def test_parse_contexts_rejects_bad_lists(text, message):
    with pytest.raises(UserError, match=message):
        parse_contexts(text, 1024)


def test_parse_contexts_and_fixed_contexts():
    assert parse_contexts("10, 100,HALF", 1024) == [10, 100, "half"]
    a, b = fixed_context(5, 64, 8, 10, seed=0), fixed_context(5, 64, 8, 10, seed=0)
    assert torch.equal(a, b) and a.shape == (5, 10)
    assert all(len(set(row.tolist())) == 10 for row in a)  # distinct pixels
    assert not torch.equal(a, fixed_context(5, 64, 8, 10, seed=1))
    half = fixed_context(2, 64, 8, "half", seed=0)
    assert half.shape == (2, 32) and int(half.max()) == 31  # rows 0–3 of an 8×8 image


def test_spread_keeps_both_ends_and_every_part_of_the_set():
    images = torch.arange(1000).reshape(1000, 1, 1, 1)
    chosen = spread(images, 10).flatten().tolist()
    assert chosen[0] == 0 and chosen[-1] == 999 and len(set(chosen)) == 10
    assert max(b - a for a, b in zip(chosen, chosen[1:])) <= 112  # no long stretch of the set left out
    assert spread(images, 10).equal(spread(images, 10))
    assert spread(images, 0) is images and spread(images, 5000) is images


def test_random_context_sizes_and_mask():
    g = torch.Generator().manual_seed(0)
    index, mask = random_context(200, 100, 10, 20, g)
    sizes = mask.sum(1)
    assert int(sizes.min()) >= 10 and int(sizes.max()) == index.shape[1] <= 20
    assert len(set(sizes.tolist())) > 5
    assert all(len(set(row.tolist())) == index.shape[1] for row in index)
