"""Shared test setup: private matplotlib/cache folders, the shared data folder, small helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_TMP = tempfile.mkdtemp(prefix="sirenkit-tests-")
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_TMP, "mpl"))
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(_TMP, "cache"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def run_cli(*args: str, timeout: float = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `python -m sirenkit ARGS` in a subprocess, as a user would."""
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "sirenkit", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )
