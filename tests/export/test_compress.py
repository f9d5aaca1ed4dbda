"""`sirenkit compress`: quantiser error bounds, bpp arithmetic, PSNR of the decoded network, the file, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import sirenkit
from sirenkit.cli import main
from sirenkit.compression import (
    compress,
    decode,
    dequantise_uniform,
    encode,
    load_compressed,
    quantise_float16,
    quantise_uniform,
    read_compressed,
)
from sirenkit.errors import UserError
from sirenkit.grids import grid_coords, predict
from sirenkit.models import ACTIVATIONS, ModelConfig, model_spec
from sirenkit.train.checkpoint import save_checkpoint

from ..conftest import run_cli

FP16_UNIT_ROUNDOFF = 2.0**-11  # float16 keeps 11 significant bits: relative error ≤ 2^-11 for normal values
FP16_SMALLEST_NORMAL = 2.0**-14


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A 32² cameraman run, SIREN 32×2, 150 full-batch steps (≈ 40 dB; 2 s)."""
    out = tmp_path_factory.mktemp("compress") / "run"
    sirenkit.fit("image", size=32, steps=150, hidden_features=32, hidden_layers=2, lr=1e-3, schedule="cosine",
                 batch_pixels=0, out=str(out), quiet=True, device="cpu")
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A 16² run of SIREN 2 → 16 → 16 → 1 (337 parameters in 6 tensors), 3 steps."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    sirenkit.fit("image", size=16, steps=3, hidden_features=16, hidden_layers=1, out=str(out), quiet=True,
                 device="cpu")
    return out


def _snapshot(*folders: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns) for f in folders for p in f.rglob("*"))


def _one_line_error(capsys, code: int, *needles: str) -> None:
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


# ------------------------------------------------------------------------------------------- quantisers
TENSORS = {
    "normal": lambda g: torch.randn(64, 32, generator=g) * 0.05,
    "uniform": lambda g: torch.rand(1000, generator=g) * 2 - 1,
    "outlier": lambda g: torch.cat([torch.randn(500, generator=g) * 1e-3, torch.tensor([7.5])]),
    "tiny-range": lambda g: 1.0 + torch.rand(100, generator=g) * 1e-6,
    "constant": lambda g: torch.full((5, 5), -0.3),
    "single": lambda g: torch.tensor([0.123]),
    "large": lambda g: torch.randn(10, 10, generator=g) * 1e4,
}


@pytest.mark.parametrize("name", sorted(TENSORS))
def test_uniform_8bit_error_is_at_most_half_a_step(name):
    w = TENSORS[name](torch.Generator().manual_seed(0))
    q, scale, offset = quantise_uniform(w, 8)
    assert q.dtype == torch.uint8 and q.shape == w.shape
    assert np.float32(scale) == scale and np.float32(offset) == offset  # stored exactly as float32
    w_hat = dequantise_uniform(q, scale, offset, torch.float64)
    err = (w.double() - w_hat).abs()
    assert float(err.max()) <= scale / 2 * (1 + 1e-12) + 1e-300
    assert scale <= (float(w.max()) - float(w.min())) / 255 * (1 + 1e-6) + 1e-30  # the grid is no coarser than needed
    # In float32 (what the network uses) half a float32 ulp of the value is added at most.
    err32 = (w - dequantise_uniform(q, scale, offset)).abs()
    assert bool((err32 <= scale / 2 + w.abs() * 2.0**-23 + 1e-30).all())


def test_float16_relative_error():
    g = torch.Generator().manual_seed(0)
    magnitude = torch.exp(torch.empty(10000).uniform_(math.log(FP16_SMALLEST_NORMAL), math.log(60000.0), generator=g))
    w = magnitude * torch.where(torch.rand(10000, generator=g) < 0.5, -1.0, 1.0)
    h = quantise_float16(w)
    assert h.dtype == torch.float16
    rel = ((h.double() - w.double()).abs() / w.double().abs())
    assert float(rel.max()) <= FP16_UNIT_ROUNDOFF


def test_float16_overflow_is_a_user_error():
    with pytest.raises(UserError, match="float16 range"):
        quantise_float16(torch.tensor([1.0, 7e4]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("bits", [16, 8])
def test_encode_decode_every_network(activation, bits):
    """Round trip of every tensor of every network type; buffers come back exactly (stored or rebuilt)."""
    torch.manual_seed(0)
    config = ModelConfig(activation=activation, hidden_features=16, hidden_layers=1, rbf_centers=32, ff_features=16)
    model = config.build(2, 3, 32)
    with torch.no_grad():
        for p in model.parameters():  # a zero-initialised grid would round-trip trivially
            p.add_(0.01 * torch.randn_like(p))
    spec = model_spec(config, 2, 3, 32)
    tensors, kinds, payload = encode(model, spec, bits)
    assert payload == sum(t.numel() * t.element_size() for t in tensors.values())
    decoded = decode(tensors, spec, kinds)
    params = dict(model.named_parameters())
    for name, value in model.state_dict().items():
        got = decoded.state_dict()[name]
        if name not in params:
            assert torch.equal(got, value), name
        elif bits == 16:
            bound = torch.maximum(value.abs() * FP16_UNIT_ROUNDOFF, torch.full_like(value, 2.0**-25))
            assert bool(((got - value).abs() <= bound).all()), name
        else:
            scale, _ = (float(v) for v in tensors[f"affine.{name}"])
            assert float((got - value).abs().max()) <= scale / 2 + float(value.abs().max()) * 2.0**-23, name
    coords = torch.rand(64, 2) * 2 - 1
    assert decoded(coords).shape == (64, 3)


def test_random_buffers_are_stored_and_counted():
    """The Fourier-feature matrix is random: it cannot be rebuilt from the spec, so it is stored raw."""
    if "fourier" not in ACTIVATIONS:
        pytest.skip("no fourier network")
    config = ModelConfig(activation="fourier", hidden_features=8, hidden_layers=0, ff_features=4)
    model = config.build(2, 1)
    _, kinds, payload = encode(model, model_spec(config, 2, 1), 8)
    raw = [name for name, kind in kinds.items() if kind == "raw"]
    assert raw and all(kind != "raw" for name, kind in kinds.items() if name in dict(model.named_parameters()))
    params = sum(p.numel() for p in model.parameters())
    tensors = len(list(model.parameters()))
    assert payload == params + 8 * tensors + sum(model.state_dict()[n].numel() * 4 for n in raw)
    # Even when the caller's random state repeats the one the network was built from, the draw is stored: a
    # decoder in another process would not repeat it.
    for seed in (0, 1, 12345):
        torch.manual_seed(seed)
        model = config.build(2, 1)
        torch.manual_seed(seed)
        _, kinds, _ = encode(model, model_spec(config, 2, 1), 8)
        assert [name for name, kind in kinds.items() if kind == "raw"] == raw


# ------------------------------------------------------------------------------------------- bpp and PSNR
def test_bpp_arithmetic_on_a_known_model(tiny, tmp_path):
    # 2 → 16 → 16 → 1: weights 32 + 256 + 16, biases 16 + 16 + 1 = 337 parameters in 6 tensors; 16² = 256 pixels.
    r16 = compress(tiny, 16, tmp_path / "a.safetensors")
    assert r16["parameters"] == 337 and r16["pixels"] == 256
    assert r16["payload_bytes"] == 2 * 337
    assert r16["bpp"] == 674 * 8 / 256 == 21.0625
    r8 = compress(tiny, 8, tmp_path / "b.safetensors")
    assert r8["payload_bytes"] == 337 + 6 * 8  # one uint8 per weight + float32 scale and offset per tensor
    assert r8["bpp"] == 385 * 8 / 256
    for r, name in ((r16, "a"), (r8, "b")):
        assert r["file_bytes"] == (tmp_path / f"{name}.safetensors").stat().st_size > r["payload_bytes"]
        assert r["file_bpp"] == 8 * r["file_bytes"] / 256


def test_16bit_psnr_is_within_0_1_db_and_file_decodes_the_same(fitted):
    metrics = json.loads((fitted / "metrics.json").read_text())
    result = compress(fitted, 16)
    assert result["file"] == str(fitted / "compressed-16bit.safetensors")
    assert result["psnr_original"] == pytest.approx(metrics["psnr"], abs=1e-6)  # same measure as the fit's
    assert metrics["psnr"] > 30
    assert abs(result["psnr"] - result["psnr_original"]) <= 0.1
    # Decode the file independently: render the grid, map (v + 1)/2, compare with the fitted image.
    model = load_compressed(result["file"])
    from sirenkit.io.images import default_image, resize_longer_side

    target = torch.from_numpy(resize_longer_side(default_image(), 32).pixels)
    fit = ((predict(model, grid_coords((32, 32))) + 1) / 2).clamp(0, 1).reshape(32, 32, 1)
    psnr = -10 * math.log10(float(((fit - target) ** 2).mean()))
    assert psnr == pytest.approx(result["psnr"], abs=1e-4)
    png = iio.imread(result["image"]).astype(np.float64)
    assert np.abs(png - np.round(fit[..., 0].numpy() * 255)).max() <= 1


def test_8bit_round_trip_and_header(fitted, tmp_path):
    result = compress(fitted, 8, tmp_path / "c.safetensors")
    assert 20 < result["psnr"] <= result["psnr_original"] + 0.5
    assert (tmp_path / "c.png").is_file()
    model, record = read_compressed(tmp_path / "c.safetensors")
    assert record["bits"] == 8 and record["task"] == "image" and record["signal"]["height"] == 32
    assert set(record["tensors"].values()) == {"uint8-affine"}
    original, _ = sirenkit.load_run(fitted)
    coords = grid_coords((32, 32))
    assert float((predict(model, coords) - predict(original, coords)).abs().max()) < 0.2


def test_rgb_and_grey_settings_are_rebuilt(tmp_path):
    from skimage import data

    path = tmp_path / "astronaut.png"
    iio.imwrite(path, data.astronaut()[::8, ::8])
    for grey in (False, True):
        run = tmp_path / f"run-{grey}"
        sirenkit.fit("image", path=str(path), size=24, steps=20, hidden_features=16, grey=grey, out=str(run),
                     quiet=True, device="cpu")
        result = compress(run, 16)
        metrics = json.loads((run / "metrics.json").read_text())
        assert result["psnr_original"] == pytest.approx(metrics["psnr"], abs=1e-6)
        assert iio.imread(result["image"]).ndim == (2 if grey else 3)


def test_python_api(tiny, tmp_path):
    assert "compress" in sirenkit.__all__ and "compress" in sirenkit.__doc__
    result = sirenkit.compress(tiny, bits=8, out=tmp_path / "d.safetensors")
    assert result["bits"] == 8
    assert isinstance(sirenkit.compression.load_compressed(tmp_path / "d.safetensors"), torch.nn.Module)


# ------------------------------------------------------------------------------------------- command line
def test_cli_compress(tiny, tmp_path, capsys):
    assert main(["compress", str(tiny), "--bits", "8", "--out", str(tmp_path / "e.safetensors")]) == 0
    printed = json.loads(capsys.readouterr().out)
    for key in ("bits", "parameters", "payload_bytes", "file_bytes", "bpp", "psnr", "psnr_original"):
        assert key in printed
    assert (tmp_path / "e.safetensors").is_file() and (tmp_path / "e.png").is_file()


def test_compress_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compress", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for needle in ("RUN", "--bits {16,8}", "--out", "image runs only", "bpp", "psnr_original", "COIN"):
        assert needle in out


def _sdf_run(folder: Path) -> Path:
    config = ModelConfig(hidden_features=8, hidden_layers=0)
    model = config.build(3, 1)
    folder.mkdir(parents=True)
    save_checkpoint(folder / "checkpoint.safetensors", {f"model.{k}": v for k, v in model.state_dict().items()},
                    {"task": "sdf", "model": model_spec(config, 3, 1), "signal": {}})
    (folder / "config.json").write_text(json.dumps({"task_name": "sdf", "task": {}}))
    return folder


def _meta_run(folder: Path) -> Path:
    from sirenkit.meta.model import MetaNetConfig

    net = MetaNetConfig(latent_features=8, encoder_hidden_features=8, hyper_hidden_features=8, hidden_features=8,
                        hidden_layers=1)
    folder.mkdir(parents=True)
    save_checkpoint(folder / "checkpoint.safetensors", {f"model.{k}": v for k, v in net.build().state_dict().items()},
                    {"task": "meta", "model": net.to_spec(), "signal": {}})
    return folder


@pytest.mark.parametrize("case", ["missing", "not-a-run", "sdf", "meta", "out-folder", "out-suffix", "out-no-folder",
                                  "no-config", "image-gone"])
def test_refusals(tiny, tmp_path, capsys, case):
    work = tmp_path / "work"
    work.mkdir()
    run = tiny
    if case == "no-config":  # a checkpoint copied out of its run folder
        run = work / "lonely"
        run.mkdir()
        (run / "checkpoint.safetensors").write_bytes((tiny / "checkpoint.safetensors").read_bytes())
    if case == "image-gone":
        image = tmp_path / "gone.png"
        iio.imwrite(image, (np.random.default_rng(0).random((12, 12)) * 255).astype(np.uint8))
        run = tmp_path / "gone-run"
        sirenkit.fit("image", path=str(image), size=12, steps=2, hidden_features=8, out=str(run), quiet=True,
                     device="cpu")
        image.unlink()
    args = {
        "missing": [str(tmp_path / "nope")],
        "not-a-run": [str(work)],
        "sdf": [str(_sdf_run(work / "sdf"))],
        "meta": [str(_meta_run(work / "meta"))],
        "out-folder": [str(run), "--out", str(work)],
        "out-suffix": [str(run), "--out", str(work / "x.png")],
        "out-no-folder": [str(run), "--out", str(work / "no" / "x.safetensors")],
        "no-config": [str(run)],
        "image-gone": [str(run)],
    }[case]
    needles = {
        "missing": ("no checkpoint at",),
        "not-a-run": ("no checkpoint at", "is this a sirenkit run folder?"),
        "sdf": ("compress handles image runs (`sirenkit fit image`) only", "task 'sdf'"),
        "meta": ("compress handles image runs (`sirenkit fit image`) only", "task 'meta'"),
        "out-folder": ("--out", "is a folder"),
        "out-suffix": ("must end in .safetensors",),
        "out-no-folder": ("--out: folder", "does not exist"),
        "no-config": ("needs the run's config.json", "does not exist"),
        "image-gone": ("cannot rebuild the image", "gone.png does not exist"),
    }[case]
    before = _snapshot(tmp_path, tiny)
    _one_line_error(capsys, main(["compress", *args]), *needles)
    assert _snapshot(tmp_path, tiny) == before


def test_bad_bits_is_refused_by_the_parser(tiny):
    proc = run_cli("compress", str(tiny), "--bits", "4")
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "argument --bits: invalid choice: 4 (choose from 16, 8)" in lines[0]
    assert not (tiny / "compressed-4bit.safetensors").exists()


def test_api_bad_bits():
    with pytest.raises(UserError, match="--bits must be 16 or 8, got 4"):
        compress("anything", 4)


def test_damaged_compressed_file(tmp_path, tiny):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not safetensors at all" * 10)
    with pytest.raises(UserError, match="damaged or not a safetensors file"):
        load_compressed(bad)
    with pytest.raises(UserError, match="was not written by sirenkit compress"):
        load_compressed(tiny / "checkpoint.safetensors")


@pytest.mark.parametrize("source", ["folder", "checkpoint"])
def test_never_overwrites_the_run_it_reads(tiny, tmp_path, capsys, source):
    """`--out RUN/checkpoint.safetensors` used to replace the run's checkpoint by the compressed file, after which
    the run could not be loaded, rendered or resumed; it is refused and the run is left as it was."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("checkpoint.safetensors", "checkpoint.json", "config.json"):
        (run / name).write_bytes((tiny / name).read_bytes())
    before = _snapshot(run)
    arg = run if source == "folder" else run / "checkpoint.safetensors"
    _one_line_error(capsys, main(["compress", str(arg), "--out", str(run / "checkpoint.safetensors")]),
                    "--out", "is the checkpoint of run", "writing it would destroy it")
    assert _snapshot(run) == before
    assert sirenkit.load_run(run)[1]["task"] == "image"


def _edited_signal(tiny: Path, folder: Path, signal) -> Path:
    """A copy of run `tiny` whose checkpoint stores `signal` as its description of the fitted image."""
    from sirenkit.train.checkpoint import load_checkpoint

    folder.mkdir()
    (folder / "config.json").write_bytes((tiny / "config.json").read_bytes())
    tensors, record = load_checkpoint(tiny)
    save_checkpoint(folder / "checkpoint.safetensors", tensors, {**record, "signal": signal})
    return folder


def test_damaged_signal_description_is_refused(tiny, tmp_path, capsys):
    """A signal description that is not a JSON object used to end in an AttributeError traceback."""
    run = _edited_signal(tiny, tmp_path / "run", [16, 16, 1])
    _one_line_error(capsys, main(["compress", str(run), "--out", str(tmp_path / "x.safetensors")]),
                    "has no description of the fitted signal; it was damaged or edited")
    assert not (tmp_path / "x.safetensors").exists()


def test_png_bit_depth_comes_from_the_rebuilt_image(tiny, tmp_path):
    """The decoded PNG's bit depth is the rebuilt image's, as for the fit's reconstruction.png; an edited
    `bit_depth` in the checkpoint used to end in a ValueError traceback."""
    signal = {**sirenkit.load_run(tiny)[1]["signal"], "bit_depth": "eight"}
    run = _edited_signal(tiny, tmp_path / "run", signal)
    result = compress(run, 8, tmp_path / "y.safetensors")
    assert iio.imread(result["image"]).dtype == np.uint8


def test_an_image_given_by_a_relative_path_is_found_from_another_folder(tmp_path, monkeypatch):
    """config.json keeps the path as typed; compress, run from elsewhere, looks for it in the folder the fit ran
    in (config.json's `cwd`)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    iio.imwrite(photos / "pic.png", (np.random.default_rng(0).random((12, 12)) * 255).astype(np.uint8))
    monkeypatch.chdir(photos)
    sirenkit.fit("image", path="pic.png", size=0, steps=5, hidden_features=8, out=str(tmp_path / "run"),
                 quiet=True, device="cpu")
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["task"]["path"] == "pic.png" and record["cwd"] == str(photos)
    monkeypatch.chdir(tmp_path)
    result = compress(tmp_path / "run", 16)
    assert result["psnr_original"] == pytest.approx(
        json.loads((tmp_path / "run" / "metrics.json").read_text())["psnr"], abs=1e-6)
