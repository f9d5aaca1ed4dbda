"""Every Python block of docs/api.md runs, in file order, in one namespace, in an empty folder (issue 23): the
page cannot show code that does not work."""

from __future__ import annotations

import re
from pathlib import Path

import torch

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_every_python_block_of_the_api_page_runs(tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "docs/api.md lost its examples"
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    namespace: dict = {"__name__": "docs_api"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that failed
            raise AssertionError(f"docs/api.md block {number} failed: {type(exc).__name__}: {exc}") from exc
    assert (tmp_path / "runs" / "cam" / "metrics.json").is_file() and (tmp_path / "cam.onnx").is_file()
