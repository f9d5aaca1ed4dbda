"""Print the docs/errors.md rows of a bad-input test file from a real run of its cases (never from memory).

    python -m tests.error_rows tests/test_safety_runs.py [FIRST_ROW_NUMBER]

Each `Case` of the file's `CASES` runs as its test does (`check_case`, which also asserts the contract); the row
shows the error line with the temporary folders cut: the bad-file folder and the case's own folder vanish
(`noise.png`), the finished runs read as RUN (IMAGE-RUN, SDF-RUN, META-RUN where the kind matters).
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import tempfile
import types
from pathlib import Path

import pytest

from .badinput import QUICK, TASK_QUICK, Env, check_case, fit_quietly, write_bad_files


class _Stderr:
    """Stands in for pytest's capsys in `check_case`: what went to sys.stderr since the last read."""

    def __enter__(self) -> _Stderr:
        self.saved, sys.stderr = sys.stderr, io.StringIO()
        return self

    def __exit__(self, *exc) -> None:
        sys.stderr = self.saved

    def readouterr(self) -> types.SimpleNamespace:
        text = sys.stderr.getvalue()
        sys.stderr.seek(0)
        sys.stderr.truncate()
        return types.SimpleNamespace(err=text, out="")


def main(argv: list[str]) -> int:
    module_path = Path(argv[0])
    first = int(argv[1]) if len(argv) > 1 else 1
    module = importlib.import_module("tests." + module_path.stem)
    test = "test_bad_input" if module_path.stem == "test_bad_inputs" else "test_case"
    root = Path(tempfile.mkdtemp(prefix="sirenkit-rows-"))
    data = root / "bad"
    data.mkdir()
    write_bad_files(data)
    runs = {}
    for kind, args in (("image", ["fit", "image", *TASK_QUICK["image"]]),
                       ("sdf", ["fit", "sdf", "--shape", "sphere", *TASK_QUICK["sdf"]]),
                       ("meta", ["meta", "train", *TASK_QUICK["meta"]])):
        runs[kind] = root / f"{kind}-run" / "run"
        fit_quietly([*args, "--out", str(runs[kind]), *QUICK])
    if hasattr(module, "make_runs"):  # runs of other kinds that the file's cases read (`RUNS`)
        module.RUNS.update(module.make_runs(root))
    number = first
    for case in module.CASES:
        if any(mark.name == "skipif" and mark.args and mark.args[0] for mark in case.marks):
            continue  # as the test is skipped here (its row says under which condition)
        tmp = root / "cases" / case.id
        tmp.mkdir(parents=True)
        env = Env(data, runs["image"], runs["sdf"], tmp, runs["meta"])
        with pytest.MonkeyPatch.context() as monkeypatch, _Stderr() as capture:
            monkeypatch.setenv("HOME", os.environ.get("HOME", str(tmp)))  # a case may point HOME elsewhere
            try:
                line = check_case(case, env, capture, monkeypatch)
            finally:
                if getattr(env, "held", None) is not None:  # a case holding a run's lock for another process
                    env.held.release()
        for path, name in ((runs["image"], "RUN"), (runs["sdf"], "SDF-RUN"), (runs["meta"], "META-RUN"),
                           (tmp, ""), (data, "")):
            line = line.replace(f"{path}/", f"{name}/" if name else "").replace(str(path), name or ".")
        print(f"| {number} | {case.what} | `{line}` | `{module_path.as_posix()}::{test}[{case.id}]` |")
        number += 1
    return 0



if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
