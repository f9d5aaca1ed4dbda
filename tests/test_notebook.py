"""examples/quickstart.ipynb runs from top to bottom in a real Jupyter kernel (nbclient), at the tiny sizes its
first cell picks under SIRENKIT_NOTEBOOK_QUICK=1, so that it cannot rot (issue 24)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


@pytest.mark.slow
@pytest.mark.figures
def test_the_quickstart_notebook_runs(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    monkeypatch.setenv("SIRENKIT_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "PSNR" in text and "rendered (128, 128)" in text and "surface_distance" in text, text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 4  # the curve, the derivatives, the 4× render and the SDF slice
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert os.listdir(tmp_path) == []  # in memory: the notebook writes no file
