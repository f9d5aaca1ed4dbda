"""Edge cases of the audio and video tasks and their readers/writers: very short clips, sample rates a format
cannot hold, and frame rates at the ends of the range."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

import sirenkit
from sirenkit.cli import main
from sirenkit.errors import UserError
from sirenkit.io.audio import check_audio_suffix, save_audio
from sirenkit.io.video import load_video, write_video
from sirenkit.tasks.audio import comparison_figure

from ..conftest import run_cli

TINY = {"steps": 2, "hidden_features": 8, "batch_samples": 0, "device": "cpu", "quiet": True, "eval_every": 1,
        "checkpoint_every": 0}


# ------------------------------------------------------------------------------------------------ audio
@pytest.mark.figures
@pytest.mark.parametrize("n", [2, 5, 8, 9, 15])
def test_comparison_figure_of_a_clip_shorter_than_a_spectrogram_segment(tmp_path, n):
    """Clips of 2–8 samples crashed with scipy's "noverlap must be less than nperseg"."""
    x = np.sin(np.arange(n, dtype=np.float32))[:, None]
    comparison_figure(x, 0.9 * x, 8000, tmp_path / "c.png", "short")
    assert (tmp_path / "c.png").stat().st_size > 1000


@pytest.mark.figures
def test_fit_of_a_three_sample_clip_writes_every_file(tmp_path):
    path = tmp_path / "three.wav"
    sf.write(str(path), np.array([0.1, -0.5, 0.3], dtype=np.float32), 8000, subtype="FLOAT")
    result = sirenkit.fit("audio", path=str(path), out=str(tmp_path / "run"), **TINY)
    rec, rate = sf.read(str(result.out_dir / "reconstruction.wav"), always_2d=True)
    assert rate == 8000 and rec.shape == (3, 1)
    assert (result.out_dir / "comparison.png").is_file()


@pytest.mark.parametrize("name,rate,needle", [("x.ogg", 250_000, "OGG takes 1 to 200000 Hz"),
                                              ("x.oga", 200_001, "OGG takes"),
                                              ("x.flac", 700_000, "FLAC takes 1 to 655350 Hz"),
                                              ("x.wav", 0, "WAV takes")])
def test_sample_rate_a_format_cannot_hold_is_a_user_error(tmp_path, name, rate, needle):
    """libsndfile segfaulted on an OGG/Vorbis rate above 200 kHz and raised a raw LibsndfileError for FLAC above
    655,350 Hz."""
    with pytest.raises(UserError, match=needle):
        check_audio_suffix(tmp_path / name, rate)
    assert check_audio_suffix(tmp_path / "x.ogg", 200_000) == tmp_path / "x.ogg"
    assert check_audio_suffix(tmp_path / "x.wav", 1_000_000) == tmp_path / "x.wav"


def test_save_audio_at_a_too_high_ogg_rate_fails_cleanly_in_a_process(tmp_path):
    """In a subprocess, so that a regression (a segmentation fault) fails this test instead of killing pytest."""
    code = ("import numpy as np; from sirenkit.io.audio import save_audio; "
            f"save_audio({str(tmp_path / 'x.ogg')!r}, np.zeros(100), 250000)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "UserError" in proc.stderr and "OGG takes" in proc.stderr, proc.stderr
    assert not list(tmp_path.iterdir())  # no file, no temporary left


def test_render_at_a_rate_the_format_cannot_hold(tmp_path):
    clip = tmp_path / "tone.wav"
    save_audio(clip, 0.5 * np.sin(np.arange(400) * 0.3), 8000)
    run = sirenkit.fit("audio", path=str(clip), out=str(tmp_path / "run"), **TINY).out_dir
    proc = run_cli("render", str(run), "--size", "250000", "--out", str(tmp_path / "high.ogg"), "--device", "cpu")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "OGG takes" in lines[0], proc.stderr
    with pytest.raises(UserError, match="FLAC takes"):
        sirenkit.render(run, size=700_000, out=tmp_path / "high.flac", device="cpu")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    up = sirenkit.render(run, size=200_000, out=tmp_path / "ok.ogg", device="cpu")  # the limit itself works
    assert sf.info(str(up)).samplerate == 200_000


# ------------------------------------------------------------------------------------------------ video
def test_infinite_fps_is_a_user_error_before_training(tmp_path, capsys):
    """--fps inf trained, then crashed with an OverflowError traceback when writing the MP4."""
    out = tmp_path / "run"
    code = main(["fit", "video", "--fps", "inf", "--frames", "2", "--size", "16", "--steps", "2",
                 "--hidden-features", "8", "--device", "cpu", "--quiet", "--out", str(out)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--fps" in lines[0], lines
    assert not out.exists()
    with pytest.raises(UserError, match="positive and finite"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.uint8), float("inf"))


@pytest.mark.parametrize("fps", [1000.0, 2000.0, 1e-4])
def test_frame_rate_survives_a_round_trip_at_the_ends_of_the_range(tmp_path, fps):
    """ffmpeg prints an exact multiple of 1000 fps as "1k fps", which imageio-ffmpeg does not parse (the clip read
    as 25 fps); a rate below 1/2002 fps was written as imageio-ffmpeg's default 16 fps."""
    path = write_video(tmp_path / "clip.mp4", np.zeros((3, 8, 8, 3), np.uint8), fps)
    back = load_video(path)
    assert back.frames.shape == (3, 8, 8, 3)
    assert back.fps == pytest.approx(fps, rel=1e-6)
