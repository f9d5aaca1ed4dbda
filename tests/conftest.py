"""Shared test setup: private matplotlib/cache folders, the shared data folder, small helpers."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .badinput import QUICK, TASK_QUICK, fit_quietly, write_bad_files

# Under pytest-xdist (`-n auto`, the default in pyproject.toml) each worker is one process on one core: torch's
# own threads (and those of the CLI subprocesses, through OMP_NUM_THREADS) would only fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # no pool of compiler processes beside the worker
    import torch

    torch.set_num_threads(1)

# One scratch folder for the whole run, made by the first process (pytest-xdist's workers inherit it) and removed
# when that process exits: matplotlib's and torch.compile's caches (so every run compiles from nothing, as on a
# fresh machine, and leaves nothing in /tmp) and the hypothesis database.
if "SIRENKIT_TEST_SCRATCH" not in os.environ:
    os.environ["SIRENKIT_TEST_SCRATCH"] = tempfile.mkdtemp(prefix="sirenkit-tests-")
    atexit.register(shutil.rmtree, os.environ["SIRENKIT_TEST_SCRATCH"], ignore_errors=True)
_TMP = os.environ["SIRENKIT_TEST_SCRATCH"]
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_TMP, "mpl"))
os.environ.setdefault("XDG_CACHE_HOME", os.path.join(_TMP, "cache"))
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(_TMP, "inductor"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` (10–30 s each) run first: pytest-xdist's workers then end on short tests together,
    instead of one finishing a 30-s fit while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # a stable sort: otherwise as collected


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def run_cli(*args: str, timeout: float = 600, cwd: Path | None = None,
            process: bool = False) -> subprocess.CompletedProcess:
    """`sirenkit ARGS` as a user would run it: its exit code, stdout and stderr. In this process by default
    (`cli.main`: a `python -m sirenkit` costs about 2 s of CPU in imports alone, and the suite has a budget);
    with `process=True` in a fresh `python -m sirenkit`, where the test is about the process itself (signals, its
    console entry, a state no other test may have touched)."""
    if process:
        env = dict(os.environ)
        return subprocess.run([sys.executable, "-m", "sirenkit", *args], capture_output=True, text=True,
                              timeout=timeout, cwd=cwd, env=env)
    from sirenkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help, --version, a usage error
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["sirenkit", *args], code, out.getvalue(), err.getvalue())


# ------------------------------------------------------------------------------------ bad-input fixtures
# One set per session, shared by test_bad_inputs.py and the test_safety_*.py files (see tests/badinput.py).
@pytest.fixture(scope="session")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad-inputs")
    write_bad_files(d)
    return d


@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> Path:
    """A finished (tiny) image run: the target of render, mesh, resume and checkpoint cases."""
    out = tmp_path_factory.mktemp("image-run") / "run"
    fit_quietly(["fit", "image", "--out", str(out), *TASK_QUICK["image"], *QUICK])
    return out


@pytest.fixture(scope="session")
def sdf_run(tmp_path_factory) -> Path:
    """A finished (tiny, barely trained) sdf run: the target of mesh cases."""
    out = tmp_path_factory.mktemp("sdf-run") / "run"
    fit_quietly(["fit", "sdf", "--shape", "sphere", "--out", str(out), *TASK_QUICK["sdf"], *QUICK])
    return out


@pytest.fixture(scope="session")
def meta_run(tmp_path_factory) -> Path:
    """A finished (tiny) `meta train` run: the target of `meta eval` and `meta inpaint` cases."""
    out = tmp_path_factory.mktemp("meta-run") / "run"
    fit_quietly(["meta", "train", "--out", str(out), *TASK_QUICK["meta"], *QUICK])
    return out



_PICTURE_MAPS = {"gray", "grey", "bone", "Greys", "Greys_r", "binary"}


def unlabelled_maps(fig) -> list[str]:
    """Titles of the maps in `fig` without a labelled colour bar: an image or mesh of a quantity (a colour map
    other than grey) whose colour scale no labelled bar in the figure shows. Pictures (RGB, or grey) need none."""
    from matplotlib.collections import QuadMesh
    from matplotlib.contour import ContourSet
    from matplotlib.image import AxesImage

    maps, labelled = [], set()
    for ax in fig.axes:
        if getattr(ax, "_colorbar", None) is not None:  # the bar's own axes
            continue
        for artist in [*ax.images, *ax.collections]:
            if isinstance(artist, ContourSet) or not isinstance(artist, AxesImage | QuadMesh):
                continue
            data = artist.get_array()
            if data is None or (isinstance(artist, AxesImage) and data.ndim == 3):
                continue
            if artist.get_cmap().name in _PICTURE_MAPS:
                continue
            key = (artist.get_cmap().name, artist.norm.vmin, artist.norm.vmax)
            bar = getattr(artist, "colorbar", None)
            if bar is not None and (bar.ax.get_ylabel() or bar.ax.get_xlabel()):
                labelled.add(key)
            maps.append((ax.get_title() or "untitled", key))
    return [title for title, key in maps if key not in labelled]


@pytest.fixture(autouse=True)
def _compile_only_where_tested(request, monkeypatch):
    """`--compile auto` runs eagerly in a test unless it is marked `compiles` (an explicit `--compile on` still
    compiles). On a CPU a process's first torch.compile costs 9–18 s and each new graph about 2 s more, most of
    the suite's wall time on a fresh machine, and it changes no number the other tests assert; the compiled
    paths are tested where the test is about them (tests/train, tests/diff, tests/models, the registry's
    compiled smoke runs)."""
    if request.node.get_closest_marker("compiles") is None:
        from sirenkit.models import numerics

        monkeypatch.setattr(numerics, "compiles_by_default",
                            lambda needs, device, precision, cuda_graphs=False: cuda_graphs)


@pytest.fixture(autouse=True)
def _figures_only_where_looked_at(request, monkeypatch):
    """Figures are drawn only in tests marked `figures` (those that open or list the PNGs): elsewhere a fit
    runs as with --no-figures (drawing costs about half a second a fit, a minute of the suite's wall time).
    Where they are drawn, every figure sirenkit saves is checked: each map of a quantity has a colour bar
    with its units (issue 24)."""
    if not request.node.get_closest_marker("figures"):
        from sirenkit.plots import no_figures

        with no_figures():
            yield
        return
    from matplotlib.figure import Figure

    original = Figure.savefig

    def checked(self, *args, **kwargs):
        missing = unlabelled_maps(self)
        assert not missing, f"maps without a labelled colour bar: {missing}"
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", checked)
    yield
