"""Property-based tests (hypothesis): coordinate grids, the point-cloud normalisation, image values, and
loaders fed arbitrary bytes.

Example counts are small so that the file runs in seconds; `database=None` keeps hypothesis from writing a
`.hypothesis/` folder into the project (its caches go to a temporary folder).
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.extra import numpy as hnp

from sirenkit.errors import UserError
from sirenkit.geometry.pointcloud import Normalisation
from sirenkit.grids import axis_coords, grid_coords
from sirenkit.io.images import image_from_array

# Hypothesis keeps caches in ./.hypothesis/ even without an example database: send them to a temporary folder.
set_hypothesis_home_dir(os.path.join(os.environ["SIRENKIT_TEST_SCRATCH"], "hypothesis"))  # tests/conftest.py


def fast(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------ grids
# Every axis has ≥ 1 sample and the longest ≥ 2: a grid whose longest side is one sample cannot span [-1, 1].
shapes = st.lists(st.integers(1, 24), min_size=1, max_size=3).filter(lambda s: max(s) >= 2)


@fast(60)
@given(shape=shapes, keep_aspect=st.booleans())
def test_grid_shape_range_and_row_major_order(shape, keep_aspect):
    coords = grid_coords(shape, keep_aspect=keep_aspect)
    axes = axis_coords(shape, keep_aspect=keep_aspect)
    assert coords.shape == (math.prod(shape), len(shape))
    assert coords.dtype == torch.float32
    assert float(coords.abs().max()) <= 1.0 + 1e-6
    # row i of the grid is the pixel that `array.reshape(-1, C)` puts at row i
    flat = np.arange(math.prod(shape))
    index = np.unravel_index(flat, shape)
    expected = torch.stack([axes[k][torch.from_numpy(index[k])] for k in range(len(shape))], dim=-1)
    assert torch.equal(coords, expected)


@pytest.mark.parametrize("h, w", [(5, 7), (8, 3)])
def test_image_task_pairs_each_coordinate_with_its_own_pixel(tmp_path, h, w):
    """Through the real task: in an image whose every pixel is distinct, the target paired with each grid
    coordinate is the pixel at that coordinate's (row, col), read back from the axes."""
    import imageio.v3 as iio

    from sirenkit.tasks.image import ImageConfig, ImageTask

    pixels = (np.arange(h * w).reshape(h, w) * (255 // (h * w))).astype(np.uint8)
    iio.imwrite(tmp_path / "ramp.png", pixels)
    task = ImageTask(ImageConfig(path=str(tmp_path / "ramp.png"), size=0), torch.device("cpu"))
    rows, cols = axis_coords((h, w), keep_aspect=True)
    r = (task.coords[:, 0, None] - rows[None]).abs().argmin(1)
    c = (task.coords[:, 1, None] - cols[None]).abs().argmin(1)
    expected = torch.from_numpy(pixels[r.numpy(), c.numpy()]).float() / 255 * 2 - 1
    assert torch.allclose(task.values[:, 0], expected, atol=1e-6)


@fast(60)
@given(shape=shapes)
def test_longest_axis_spans_exactly_and_spacing_is_shared(shape):
    axes = axis_coords(shape, keep_aspect=True)
    longest = max(shape)
    step = 2.0 / (longest - 1)
    for n, axis in zip(shape, axes):
        assert axis.shape == (n,)
        if n == longest:
            assert float(axis[0]) == -1.0 and float(axis[-1]) == 1.0  # exactly, not approximately
        if n >= 2:
            assert torch.allclose(axis[1:] - axis[:-1], torch.full((n - 1,), step), rtol=1e-5, atol=1e-6)
        assert torch.allclose(axis, -axis.flip(0), atol=1e-6)  # symmetric about 0
        assert float(axis.min()) >= -1.0 - 1e-6 and float(axis.max()) <= 1.0 + 1e-6


@fast(40)
@given(shape=st.lists(st.integers(2, 24), min_size=1, max_size=3))
def test_without_aspect_every_axis_spans_minus_one_to_one(shape):
    for _n, axis in zip(shape, axis_coords(shape, keep_aspect=False)):
        assert float(axis[0]) == -1.0 and float(axis[-1]) == 1.0
        assert torch.allclose(axis, -axis.flip(0), atol=1e-6)


@fast(30)
@given(h=st.integers(2, 20), w=st.integers(2, 20))
def test_square_grid_is_linspace_on_both_axes(h, w):
    n = max(h, w)
    a, b = axis_coords((n, n))
    assert torch.equal(a, torch.linspace(-1.0, 1.0, n)) and torch.equal(b, torch.linspace(-1.0, 1.0, n))


# ------------------------------------------------------------------------------------------------ normalisation
coordinates = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
point_sets = st.integers(2, 40).flatmap(lambda n: hnp.arrays(np.float64, (n, 3), elements=coordinates))


@fast(80)
@given(points=point_sets, extent=st.floats(0.05, 1.0), offset=st.floats(-1e4, 1e4), zoom=st.floats(1e-3, 1e3))
def test_normalisation_round_trip_extent_and_aspect(points, extent, offset, zoom):
    points = points * zoom + offset
    sides = points.max(axis=0) - points.min(axis=0)
    magnitude = float(np.abs(points).max()) + 1.0
    assume(sides.max() > 1e-9 * magnitude)  # a point (all sides 0) has no extent to scale
    norm = Normalisation.fit(points, extent)
    unit = norm.to_unit(points)
    # Rounding: x − center is exact only to ε·|x|, which the scale then magnifies. A small shape far from the
    # origin (side 3e-5 at x = 512) thus lands a few 1e-9 outside [−extent, extent]; that is float64, not a bug.
    slack = 64 * np.finfo(np.float64).eps * magnitude * norm.scale
    # round trip: back to the input's units up to rounding
    assert np.allclose(norm.from_unit(unit), points, rtol=0, atol=64 * np.finfo(np.float64).eps * magnitude)
    # the longest side spans [-extent, extent], centred
    unit_sides = unit.max(axis=0) - unit.min(axis=0)
    assert abs(unit_sides.max() - 2.0 * extent) <= slack
    assert np.allclose((unit.max(axis=0) + unit.min(axis=0)) / 2.0, 0.0, atol=slack)
    assert np.abs(unit).max() <= extent + slack
    # aspect ratio kept: one scale for all axes
    assert np.allclose(unit_sides / unit_sides.max(), sides / sides.max(), atol=slack / extent)
    # what the checkpoint stores gives the same transform back
    assert Normalisation.from_dict(norm.as_dict()) == norm


@fast(20)
@given(point=hnp.arrays(np.float64, (3,), elements=coordinates), copies=st.integers(1, 10))
def test_normalisation_of_a_single_location_is_a_pure_shift(point, copies):
    points = np.tile(point, (copies, 1))
    norm = Normalisation.fit(points)
    assert norm.scale == 1.0
    assert np.allclose(norm.to_unit(points), 0.0)
    assert np.allclose(norm.from_unit(norm.to_unit(points)), points)


# ------------------------------------------------------------------------------------------------ image values
def _image_arrays():
    dtypes = st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int16, np.bool_])
    shapes = st.tuples(st.integers(2, 12), st.integers(2, 12), st.sampled_from([None, 1, 3, 4]))

    def build(dtype, shape):
        h, w, c = shape
        full = (h, w) if c is None else (h, w, c)
        if np.issubdtype(dtype, np.floating):
            elements = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, width=32)
        else:
            elements = None
        return hnp.arrays(dtype, full, elements=elements)

    return st.tuples(dtypes, shapes).flatmap(lambda args: build(*args))


@fast(120)
@given(raw=_image_arrays())
def test_image_values_land_in_unit_range_with_one_or_three_channels(raw):
    image = image_from_array(raw, "array")
    pixels = image.pixels
    assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
    assert pixels.shape[:2] == raw.shape[:2]
    expected_channels = 3 if raw.ndim == 3 and raw.shape[2] in (3, 4) else 1
    assert pixels.shape[2] == expected_channels == image.channels
    assert np.isfinite(pixels).all()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0, (pixels.min(), pixels.max())
    kept = raw if raw.ndim == 3 else raw[..., None]
    kept = kept[..., :3] if kept.shape[-1] == 4 else kept
    if raw.dtype == np.uint8:  # integer images come back exactly
        assert image.bit_depth == 8 and np.array_equal(np.round(pixels * 255.0), kept)
    elif raw.dtype == np.uint16:
        assert image.bit_depth == 16 and np.array_equal(np.round(pixels.astype(np.float64) * 65535.0), kept)
    elif raw.dtype.kind == "f" and kept.min() >= 0 and kept.max() <= 1:  # already in [0, 1]: untouched
        assert np.array_equal(pixels, kept.astype(np.float32))
    elif raw.dtype.kind == "f" and kept.max() - kept.min() > 1e-6:  # otherwise stretched onto [0, 1]
        # (a range under 1e-12 is divided by 1e-12 instead, so a flat image is not blown up to full contrast)
        assert pixels.min() == 0.0 and pixels.max() == pytest.approx(1.0, abs=1e-6)


@fast(20)
@given(raw=hnp.arrays(np.float32, st.tuples(st.integers(2, 6), st.integers(2, 6)),
                      elements=st.sampled_from([0.5, np.nan, np.inf, -np.inf])))
def test_image_with_nan_or_inf_is_refused(raw):
    if np.isfinite(raw).all():
        assert image_from_array(raw, "array").pixels.shape == raw.shape + (1,)
    else:
        with pytest.raises(UserError, match="NaN or infinite"):
            image_from_array(raw, "array")


@fast(20)
@given(shape=st.sampled_from([(1, 5), (5, 1), (1, 1), (2, 2, 2), (3, 3, 5), (2, 3, 4, 3), (4,)]))
def test_odd_image_shapes_are_user_errors(shape):
    raw = np.zeros(shape, np.uint8)
    if len(shape) == 3 and shape[2] == 2:  # grey + alpha is fine
        assert image_from_array(raw, "array").channels == 1
        return
    with pytest.raises(UserError):
        image_from_array(raw, "array")


# ------------------------------------------------------------------------------------------------ loaders, any bytes
@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("random-bytes")


_counter = itertools.count()


def _write(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"f{next(_counter)}{suffix}"
    path.write_bytes(content)
    return path


HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def loads_or_user_error(load, path: Path, silent: bool = True) -> None:
    """`load(path)` either returns or raises UserError; any other exception fails the test.

    With `silent`, it must not emit a warning that a user would see on stderr either (the CLI promises one
    line per error).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load(path)
        except UserError as exc:
            assert str(exc).strip() and "\n" not in str(exc), repr(str(exc))
    if silent:
        shown = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, HIDDEN_WARNINGS)]
        assert not shown, shown


junk = st.binary(min_size=0, max_size=600)


def _prefixed(*prefixes: bytes):
    """Random bytes, sometimes behind a format's real magic number (so the parser gets past its first check)."""
    return st.tuples(st.sampled_from([b"", *prefixes]), junk).map(lambda t: t[0] + t[1])


@fast(60)
@given(content=_prefixed(b"\x89PNG\r\n\x1a\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"\xff\xd8\xff\xe0", b"II*\x00",
                         b"MM\x00*", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 "),
       suffix=st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp"]))
def test_image_loader_on_random_bytes(scratch, content, suffix):
    from sirenkit.io.images import load_image

    loads_or_user_error(load_image, _write(scratch, suffix, content))


numbers = st.one_of(st.integers(-5, 5).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["nan", "inf", "-inf", "1e999", "x", "#", "", "0x10", "1,2"]))
xyz_text = st.lists(st.lists(numbers, min_size=0, max_size=7).map(" ".join), min_size=0, max_size=30).map(
    lambda rows: "\n".join(rows).encode())


@fast(60)
@given(content=st.one_of(junk, xyz_text), estimate=st.booleans())
def test_point_cloud_loader_on_random_bytes_and_tables(scratch, content, estimate):
    from sirenkit.io.meshes import load_surface

    # silent=False: numpy's "input contained no data" warning is a known gap (docs/errors.md, io/meshes.py)
    loads_or_user_error(lambda p: load_surface(p, samples=64, estimate=estimate), _write(scratch, ".xyz", content),
                        silent=False)


@fast(60)
@given(content=_prefixed(b"solid x\n", b"ply\nformat ascii 1.0\n", b"ply\nformat binary_little_endian 1.0\n",
                         b"OFF\n", b"v 0 0 0\nv 1 0 0\nv 0 1 0\n", b"\x00" * 80 + b"\x01\x00\x00\x00"),
       suffix=st.sampled_from([".stl", ".ply", ".obj", ".off"]))
def test_mesh_loaders_on_random_bytes(scratch, content, suffix):
    from sirenkit.io.meshes import load_mesh, load_surface

    path = _write(scratch, suffix, content)
    loads_or_user_error(lambda p: load_surface(p, samples=64), path, silent=False)
    loads_or_user_error(load_mesh, path, silent=False)


@fast(40)
@given(content=_prefixed(b"RIFF\x24\x00\x00\x00WAVEfmt ", b"fLaC", b"OggS"),
       suffix=st.sampled_from([".wav", ".flac", ".ogg"]))
def test_audio_loader_on_random_bytes(scratch, content, suffix):
    from sirenkit.io.audio import load_audio

    loads_or_user_error(load_audio, _write(scratch, suffix, content))


@fast(40)
@given(content=st.one_of(junk, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["task", "model", "train", "recipe", "task_name", "x"]), inner, max_size=4),
    max_leaves=8).map(lambda v: __import__("json").dumps(v).encode())))
def test_config_reader_on_random_bytes(scratch, content):
    from sirenkit.runs.load import read_config_file

    loads_or_user_error(read_config_file, _write(scratch, ".json", content))


@fast(40)
@given(content=st.one_of(junk, st.tuples(st.integers(0, 300), junk).map(
    lambda t: t[0].to_bytes(8, "little") + t[1])))
def test_checkpoint_loader_on_random_bytes(scratch, content):
    from sirenkit.train.checkpoint import load_checkpoint

    loads_or_user_error(load_checkpoint, _write(scratch, ".safetensors", content))
