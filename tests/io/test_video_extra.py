"""The video extra (issue 24): without imageio-ffmpeg, `fit video` and video renders refuse in one line naming
`sirenkit[video]`, before anything is written; the other tasks, wave included, run without it."""

from __future__ import annotations

import sys

import pytest

import sirenkit
from sirenkit.errors import UserError

from ..conftest import run_cli

WAVE = {"steps": 3, "batch_points": 64, "initial_points": 32, "source_points": 16, "hidden_features": 16,
        "eval_size": 12, "eval_times": 2, "video_frames": 2, "compile": "off", "device": "cpu", "quiet": True}


@pytest.fixture
def no_ffmpeg(monkeypatch):
    """Python as it is without the extra: importing imageio_ffmpeg fails."""
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)


def test_fit_video_refuses_naming_the_extra(no_ffmpeg, tmp_path):
    proc = run_cli("fit", "video", "--steps", "2", "--out", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("sirenkit: error: fit video needs the video extra (ffmpeg), which is not "
                                   "installed: pip install 'sirenkit[video]'")
    assert list(tmp_path.iterdir()) == []


def test_rendering_a_video_run_refuses_naming_the_extra(tmp_path, monkeypatch):
    run = tmp_path / "run"
    sirenkit.fit("video", out=str(run), steps=2, size=16, frames=3, hidden_features=16, compile="off",
                 device="cpu", quiet=True)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    proc = run_cli("render", str(run), "--out", str(tmp_path / "again.mp4"))
    assert proc.returncode == 2 and "rendering a video run needs the video extra" in proc.stderr
    assert "pip install 'sirenkit[video]'" in proc.stderr and not (tmp_path / "again.mp4").exists()


def test_the_other_tasks_need_no_ffmpeg(no_ffmpeg, tmp_path, capsys):
    image = sirenkit.fit("image", size=16, steps=3, hidden_features=16, compile="off", device="cpu", quiet=True)
    assert image.metrics["steps"] == 3
    wave = sirenkit.fit("wave", out=str(tmp_path / "wave"), **WAVE)
    assert "wave.mp4" not in wave.metrics["artefacts"] and "wave_network.npy" in wave.metrics["artefacts"]
    assert "wave.mp4 not written: videos need the video extra" in capsys.readouterr().err
    with pytest.raises(UserError, match="needs the video extra"):
        sirenkit.fit("video", steps=2, device="cpu", quiet=True)
