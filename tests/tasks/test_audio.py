"""Audio fitting: file round trips, a short CPU fit of a synthetic tone, render at any rate, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import sirenkit
from sirenkit.cli import main
from sirenkit.errors import UserError
from sirenkit.io.audio import default_audio, load_audio, save_audio, window

from ..conftest import run_cli

RATE = 8000
# Short clips fit fastest with the paper's ω0 3000 and a high learning rate on the whole clip.
FAST = {"steps": 200, "lr": 1e-3, "schedule": "cosine", "hidden_features": 64, "first_omega_0": 3000.0, "device": "cpu",
        "quiet": True, "eval_every": 100, "checkpoint_every": 0}


def _tone(seconds: float = 0.25, rate: int = RATE) -> np.ndarray:
    """Stereo test signal (N, 2): 440 Hz + 660 Hz on the left, a 300 Hz tone with a 900 Hz overtone on the right."""
    t = np.arange(round(seconds * rate)) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 660 * t)
    right = 0.6 * np.sin(2 * np.pi * 300 * t + 0.3) + 0.2 * np.sin(2 * np.pi * 900 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def tone_run(tmp_path_factory):
    """A short full-clip CPU fit of a stereo tone (2000 samples, two outputs)."""
    root = tmp_path_factory.mktemp("tone")
    path = root / "tone.wav"
    save_audio(path, _tone(), RATE, subtype="PCM_16")
    return sirenkit.fit("audio", path=str(path), batch_samples=0, out=str(root / "run"), **FAST)


# ------------------------------------------------------------------------------------------------ I/O
@pytest.mark.parametrize("suffix,subtype,tol", [(".wav", "FLOAT", 0.0), (".wav", "PCM_16", 1.0 / 32767),
                                                (".flac", "PCM_24", 1.0 / 2**23)])
def test_write_read_round_trip(tmp_path, suffix, subtype, tol):
    samples = _tone(0.1, 11025) * 0.9
    path = tmp_path / f"clip{suffix}"
    save_audio(path, samples, 11025, subtype=subtype)
    back = load_audio(path)
    assert back.rate == 11025 and back.samples.shape == samples.shape and back.samples.dtype == np.float32
    assert np.abs(back.samples - samples).max() <= tol + 1e-7
    assert sf.info(str(path)).samplerate == 11025
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic write left no temporary


def test_time_window(tmp_path):
    path = tmp_path / "clip.wav"
    samples = _tone(1.0)
    save_audio(path, samples, RATE)
    part = load_audio(path, start=0.25, duration=0.5)
    assert part.samples.shape == (4000, 2)
    np.testing.assert_array_equal(part.samples, samples[2000:6000])
    assert load_audio(path, start=0.9, duration=5.0).frames == 800  # a window past the end is cut at the end
    with pytest.raises(UserError, match="outside"):
        load_audio(path, start=1.5)
    with pytest.raises(UserError, match="--duration"):
        load_audio(path, duration=0)
    assert window(default_audio(1.0), 0.5).frames == default_audio(1.0).frames // 2


def test_default_signal_is_offline_and_normalised():
    audio = default_audio()
    assert audio.channels == 1 and 2.9 < audio.seconds < 3.1
    assert np.abs(audio.samples).max() == pytest.approx(0.8, abs=1e-6)


# ------------------------------------------------------------------------------------------------ fitting
def test_short_cpu_fit_of_a_tone_reaches_snr(tone_run):
    metrics = tone_run.metrics
    assert metrics["snr_db"] >= 35.0  # measured ≈ 43 dB
    assert metrics["mse"] <= 1e-3
    assert tone_run.model.out_features == 2  # channels are outputs
    assert metrics["steps"] == 200


@pytest.mark.figures
def test_run_folder_contents(tone_run):
    run = tone_run.out_dir
    rec, rate = sf.read(str(run / "reconstruction.wav"), always_2d=True)
    assert rate == RATE and rec.shape == (2000, 2)  # same rate and length as the input
    truth = _tone()
    err = np.mean((rec - truth) ** 2) / np.abs(truth).max() ** 2
    assert err == pytest.approx(tone_run.metrics["mse"], rel=1e-3)  # the file carries the original scale
    for name in ("comparison.png", "mse_curve.png"):
        assert (run / name).stat().st_size > 1000
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["first_omega_0"] == 3000.0 and config["recipe"] == "cpu"
    lines = (run / "curve.csv").read_text().splitlines()
    assert lines[0].startswith("step,seconds,loss,metric") and len(lines) >= 4


def test_render_at_another_sample_rate(tone_run, tmp_path):
    run = tone_run.out_dir
    native = sirenkit.render(run, out=tmp_path / "same.wav", device="cpu", chunk=500)
    a, rate = sf.read(str(native), always_2d=True)
    b, _ = sf.read(str(run / "reconstruction.wav"), always_2d=True)
    assert rate == RATE and np.abs(a - b).max() < 1e-6
    up = sirenkit.render(run, size=2 * RATE, out=tmp_path / "up.wav", device="cpu")
    c, rate = sf.read(str(up), always_2d=True)
    assert rate == 2 * RATE and c.shape == (4000, 2)
    # every other sample of the 2× render lies on the fitted samples
    assert np.abs(c[::2] - b).max() < 1e-3
    flac = sirenkit.render(run, size=RATE // 2, out=tmp_path / "down.flac", device="cpu")
    assert sf.info(str(flac)).samplerate == RATE // 2 and sf.info(str(flac)).frames == 1000
    with pytest.raises(UserError, match=".wav, .flac or .ogg"):
        sirenkit.render(run, out=tmp_path / "song.mp3", device="cpu")


def test_siren_beats_relu(tmp_path):
    """Same size and schedule: ReLU cannot follow the tone (the paper's ordering)."""
    path = tmp_path / "tone.wav"
    save_audio(path, _tone(0.1), RATE)
    options = {**FAST, "steps": 150, "batch_samples": 0}
    sine = sirenkit.fit("audio", path=str(path), out=str(tmp_path / "sine"), **options).metrics
    relu = sirenkit.fit("audio", path=str(path), activation="relu", out=str(tmp_path / "relu"), **options).metrics
    assert sine["snr_db"] > relu["snr_db"] + 15.0  # measured ≈ 51 dB against ≈ 0 dB


def test_loudness_sampling_prefers_loud_passages_and_stays_unbiased(tmp_path):
    """Half silence, half tone: the loud half is drawn more often, and the weighted mean still estimates the
    mean over the whole clip."""
    t = np.arange(8000) / RATE
    signal = np.where(t < 0.5, 0.001 * np.sin(2 * np.pi * 50 * t), 0.8 * np.sin(2 * np.pi * 440 * t))
    path = tmp_path / "half.wav"
    save_audio(path, signal, RATE)
    from sirenkit.tasks.audio import AudioConfig, AudioTask, WeightedBatch

    task = AudioTask(AudioConfig(path=str(path), batch_samples=4000, sampling="loudness"), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    batches = [task.batch(step, generator) for step in range(20)]
    assert all(isinstance(b, WeightedBatch) for b in batches)
    loud = np.mean([float((b.coords > 0).float().mean()) for b in batches])
    assert 0.65 < loud < 0.8  # uniform sampling would give 0.5
    estimate = np.mean([float((b.weight * b.target**2).mean()) for b in batches])
    assert estimate == pytest.approx(float((task.values**2).mean()), rel=0.03)


def test_bach_clip_loads(shared_data):
    bach = shared_data / "bach.wav"
    if not bach.is_file():
        pytest.skip(f"{bach} is absent")
    audio = load_audio(bach, start=1.0, duration=0.5)
    assert audio.rate == 44100 and audio.samples.shape == (22050, 1)


# ------------------------------------------------------------------------------------------------ errors
def _one_line_error(capsys, args, *needles):
    code = main(["fit", "audio", *args, "--steps", "2", "--hidden-features", "8", "--device", "cpu", "--quiet"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    "make,needle",
    [
        (lambda d: d / "missing.wav", "does not exist"),
        (lambda d: _write(d / "empty.wav", b""), "empty"),
        (lambda d: _write(d / "noise.wav", bytes(range(256)) * 8), "could not read"),
        (lambda d: _write(d / "cut.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), "could not read"),
        (lambda d: _write(d / "text.ogg", b"this is not audio\n" * 20), "could not read"),
        (lambda d: d, "folder"),
    ],
)
def test_bad_files_give_one_line_and_exit_2(tmp_path, capsys, make, needle):
    data = tmp_path / "data"
    data.mkdir()
    path = make(data)
    _one_line_error(capsys, [str(path), "--out", str(tmp_path / "run")], needle)
    assert not (tmp_path / "run").exists()


def test_bad_samples_and_windows(tmp_path, capsys):
    nan = np.sin(np.arange(400, dtype=np.float32))[:, None]
    nan[100] = np.nan
    sf.write(str(tmp_path / "nan.wav"), nan, RATE, subtype="FLOAT")
    sf.write(str(tmp_path / "one.wav"), np.array([[0.5]], dtype=np.float32), RATE, subtype="FLOAT")
    sf.write(str(tmp_path / "silent.wav"), np.zeros((400, 1), dtype=np.float32), RATE)
    sf.write(str(tmp_path / "ok.wav"), _tone(0.05), RATE)
    out = ["--out", str(tmp_path / "run")]
    _one_line_error(capsys, [str(tmp_path / "nan.wav"), *out], "NaN")
    _one_line_error(capsys, [str(tmp_path / "one.wav"), *out], "1 sample")
    _one_line_error(capsys, [str(tmp_path / "silent.wav"), *out], "silent")
    _one_line_error(capsys, [str(tmp_path / "ok.wav"), "--start", "3", *out], "--start", "outside")
    _one_line_error(capsys, [str(tmp_path / "ok.wav"), "--duration", "-1", *out], "--duration")
    _one_line_error(capsys, ["--start", "-1", *out], "--start")
    _one_line_error(capsys, ["--batch-samples", "-5", *out], "--batch-samples")
    assert not (tmp_path / "run").exists()


def test_cli_subprocess_error(tmp_path):
    """As a user meets it: a real process, one line on stderr, exit code 2, nothing written."""
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC but not really")
    proc = run_cli("fit", "audio", str(bad), "--out", str(tmp_path / "run"), "--device", "cpu")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "bad.flac" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_cli_default_signal_runs_offline(tmp_path, capsys):
    code = main(["fit", "audio", "--duration", "0.05", "--steps", "3", "--hidden-features", "8", "--device", "cpu",
                 "--out", str(tmp_path / "ok")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "recipe cpu" in err and "22050 Hz" in err and "ω0 6000" in err
    rec, rate = sf.read(str(tmp_path / "ok" / "reconstruction.wav"))
    assert rate == 22050 and rec.shape == (1102,)
