"""The colour-bar rule that every figure of the `figures` tests is held to (tests/conftest.py): a map of a
quantity has a colour bar with its units; pictures have none."""

from __future__ import annotations

import numpy as np
import pytest

from sirenkit.plots import image_grid, new_figure

from .conftest import unlabelled_maps


def _grid(tmp_path, panels):
    """The Figure `image_grid` draws for `panels` (captured at save time; nothing is checked while capturing)."""
    import matplotlib.figure

    seen = []
    original = matplotlib.figure.Figure.savefig
    matplotlib.figure.Figure.savefig = lambda self, *a, **k: seen.append(self)  # type: ignore[method-assign]
    try:
        image_grid(panels, tmp_path / "grid.png")
    finally:
        matplotlib.figure.Figure.savefig = original  # type: ignore[method-assign]
    return seen[0]


@pytest.mark.figures
def test_a_map_without_a_labelled_bar_is_found(tmp_path):
    field = np.random.default_rng(0).normal(size=(8, 8))
    bare = _grid(tmp_path, [[("error", np.abs(field), {"cmap": "magma"})]])
    assert unlabelled_maps(bare) == ["error"]
    unlabelled = _grid(tmp_path, [[("error", np.abs(field), {"cmap": "magma", "colorbar": True})]])
    assert unlabelled_maps(unlabelled) == ["error"]
    labelled = _grid(tmp_path, [[("error", np.abs(field), {"cmap": "magma", "colorbar": "pixel value"})]])
    assert unlabelled_maps(labelled) == []


@pytest.mark.figures
def test_panels_sharing_a_scale_may_share_one_bar_and_pictures_need_none(tmp_path):
    field = np.random.default_rng(1).normal(size=(8, 8))
    shared = {"cmap": "RdBu_r", "vmin": -1, "vmax": 1}
    fig = _grid(tmp_path, [[("picture", np.random.rand(8, 8, 3), {}), ("grey", field, {}),
                            ("target", field, shared), ("fit", field, {**shared, "colorbar": "u"})]])
    assert unlabelled_maps(fig) == []
    other_scale = _grid(tmp_path, [[("target", field, {**shared, "vmax": 2}), ("fit", field, {**shared,
                                                                                         "colorbar": "u"})]])
    assert unlabelled_maps(other_scale) == ["target"]


@pytest.mark.figures
def test_the_check_runs_on_saved_figures(tmp_path):
    fig = new_figure(2, 2)
    fig.subplots().imshow(np.eye(4), cmap="viridis")
    with pytest.raises(AssertionError, match="maps without a labelled colour bar"):
        fig.savefig(tmp_path / "x.png")
