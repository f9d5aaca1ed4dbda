"""README.md stays a front page that works: small, its set-up lines exact (CI runs the second), its Python quick
start runnable as printed, and every relative link pointing at a file (and heading) that exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

MAX_BYTES = 10_500
INSTALL_AND_FIT = ("python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && pip install -e . "
                   "&& sirenkit fit image")
INSTALL_AND_TEST = ("python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 && "
                    "pip install -e '.[test]' && python -m pytest -q")
"""The README's two set-up lines, exactly. .ci/run runs the steps of the second one: change both together."""

FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {github_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def test_readme_is_a_front_page():
    size = README.stat().st_size
    assert size <= MAX_BYTES, f"README.md is {size:,} bytes; move detail into docs/ (limit {MAX_BYTES:,})"
    text = readme()
    assert text.startswith("# sirenkit\n"), "the title comes first"
    first_screen = "\n".join(text.splitlines()[:40])
    assert "docs/reproduction.md" in first_screen, "the paper comparison is linked from the first screen"


def test_setup_lines_are_exact():
    language, body = fenced_blocks(readme())[0]
    lines = body.splitlines()
    assert language == "bash" and len(lines) == 2, body
    assert lines[0] == INSTALL_AND_FIT
    assert lines[1] == INSTALL_AND_TEST, "CI runs the README's second line: keep it equal to the test command"


def test_every_command_is_in_the_table():
    import argparse

    from sirenkit.cli import build_parser

    table = "\n".join(line for line in readme().splitlines() if line.startswith("| `sirenkit "))
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command in subparsers.choices:
        assert f"`sirenkit {command}" in table, f"`sirenkit {command}` is missing from the README's command table"


def relative_links(page: Path) -> list[str]:
    """The relative link targets of a markdown page (code blocks left out), `path#anchor` as written."""
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def check_links(page: Path) -> None:
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.is_file(), f"{page.name} links to {target}, which does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{page.name} links to {target}: {file.name} has no such heading"


def test_relative_links_point_to_existing_files():
    assert len(relative_links(README)) >= 20  # the command table alone links a page per command
    check_links(README)


@pytest.mark.parametrize("page", sorted((ROOT / "docs").glob("*.md")), ids=lambda p: p.name)
def test_docs_links_point_to_existing_files(page):
    """What moved out of the README stays reachable: the docs' own links hold too."""
    check_links(page)


def test_python_quick_start_runs(tmp_path):
    blocks = [body for language, body in fenced_blocks(readme()) if language == "python"]
    assert len(blocks) == 1, "the README has one Python quick start"
    # One thread: on a busy machine two spinning OpenMP threads made each step of this tiny fit 40× slower.
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl"), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("the README's quick start ran for more than 5 minutes; keep it tiny")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PSNR" in done.stdout, done.stdout
    assert (tmp_path / "runs" / "cam" / "metrics.json").is_file()
