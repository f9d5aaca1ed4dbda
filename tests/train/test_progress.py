"""The progress bar's postfix: the last evaluated metric stays on screen between evaluations (issue 24)."""

from __future__ import annotations

from sirenkit.train.callbacks import ProgressBar


class _Bar:
    """Stands in for tqdm: records every postfix the progress bar sets."""

    def __init__(self) -> None:
        self.postfixes: list[dict[str, str]] = []

    def set_postfix(self, shown: dict[str, str], refresh: bool = False) -> None:
        self.postfixes.append(dict(shown))


def test_the_last_evaluated_metric_stays_between_evaluations():
    bar = ProgressBar("psnr", enabled=True)
    bar.bar = _Bar()
    rows = [{"step": 0, "loss": None, "metric": 11.0}]
    rows += [{"step": s, "loss": 0.5 / s, "metric": None} for s in range(10, 100, 10)]
    rows += [{"step": 100, "loss": 0.004, "metric": 25.25}, {"step": 110, "loss": 0.003, "metric": None}]
    for row in rows:
        bar.on_log(row)
    shown = bar.bar.postfixes
    assert [p.get("psnr") for p in shown] == ["11"] * 10 + ["25.25"] * 2
    assert all("loss" in p for p in shown[1:])


def test_no_metric_is_invented_before_the_first_evaluation():
    bar = ProgressBar("psnr", enabled=True)
    bar.bar = _Bar()
    bar.on_log({"step": 5, "loss": 0.1, "metric": None})
    assert bar.bar.postfixes == [{"loss": "1.000e-01"}]
