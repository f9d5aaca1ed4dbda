"""Tables and figures of a `sirenkit reproduce` result: markdown with the paper's number beside ours, and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..plots import draws_figure
from .protocol import Experiment, ordering

HIGHER_IS_BETTER = frozenset({"psnr", "ssim", "psnr_mean", "fscore", "normal_consistency", "snr_db",
                              "psnr_derivative", "psnr_null"})


def cell(stat: dict[str, Any]) -> str:
    """`mean ± std` in a precision that suits the metric (dB with two decimals, errors in 3 significant digits)."""
    mean, std = stat.get("mean"), stat.get("std")
    if mean is None:
        return "diverged" if stat.get("missing") else "—"
    text = f"{mean:.2f} ± {std:.2f}" if abs(mean) >= 1 else f"{mean:.3g} ± {std:.2g}"
    return text + (f" ({stat['missing']} diverged)" if stat.get("missing") else "")


def paper_cell(experiment: Experiment, method: str, key: str) -> str:
    value = experiment.paper.get(method, {}).get(key)
    if value is None:
        return "—"
    return f"{value:g}"


def results_markdown(result: dict[str, Any], experiment: Experiment) -> str:
    """The results table of one experiment: a row per method and protocol, a column per evaluation signal (mean ±
    std over seeds) for each metric, then the paper's number, the learning rate and the parameter count."""
    settings = result["settings"]
    lines = [
        f"## {experiment.title}: `sirenkit reproduce {experiment.name} --scale {settings['scale']}`",
        "",
        f"* Setting: {settings['note'] or settings['scale']}; {settings['seeds']} seeds; {result['fits']} fits in "
        f"{result['seconds'] / 60:.1f} min on {result['machine'].get('cpu')} ({result['machine'].get('device')}, "
        f"{result['machine'].get('torch_threads')} torch threads), {result['machine'].get('date')}.",
        f"* Tuning signals: {', '.join(settings['tuning_signals'])} (learning rates: {settings['rates_from']}); "
        f"evaluation signals: {', '.join(s['name'] for s in settings['evaluation_signals'])}.",
        f"* Paper: {experiment.paper_setting or '—'}.",
        f"* Command: `{settings['command']}`",
        "",
    ]
    if settings.get("partial"):
        lines[-1:-1] = [f"* **Partial run** ({', '.join(settings['partial'])}): not the whole protocol."]
    signals = [s["name"] for s in settings["evaluation_signals"]]
    for key in experiment.metrics:
        better = experiment.higher_is_better if key == experiment.headline else key in HIGHER_IS_BETTER
        header = ["method", "protocol", "lr", "params", *signals, "all fits", "paper"]
        lines += [f"**{key}** ({'higher' if better else 'lower'} is better; mean ± std over seeds, and over every "
                  "fit in the last column but one)", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
        for row in result["summary"]:
            edge = row["protocol"] == "tuned" and at_grid_edge(result["tuning"], row["method"])
            cells = [row["method"], row["protocol"], f"{row['lr']:g}{'*' if edge else ''}", f"{row['parameters']:,}",
                     *(cell(row["signals"][s][key]) for s in signals), cell(row["all"][key]),
                     paper_cell(experiment, row["method"], key)]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    if any(at_grid_edge(result["tuning"], row["method"]) for row in result["summary"]):
        lines.append("* `*`: the tuned rate is at an edge of its grid (the best rate may lie beyond it).")
    for protocol in ("tuned", "paper"):
        order = ordering(experiment, result["summary"], protocol)
        if order:
            lines.append(f"* Ranking by {experiment.headline} ({protocol} protocol): ours "
                         f"{' > '.join(order['ours'])}; paper {' > '.join(order['paper'])}; "
                         f"{order['agree']} of {order['pairs']} ordered pairs agree.")
    return "\n".join(lines).rstrip() + "\n"


def at_grid_edge(tuning: dict[str, Any], method: str) -> bool:
    """Whether the rate chosen for `method` is the smallest or largest of the grid it was chosen from."""
    scores, best = tuning.get("scores", {}).get(method), tuning.get("chosen", {}).get(method)
    if not scores or best is None:
        return False
    return f"{best:g}" in (min(scores, key=float), max(scores, key=float))


def tuning_markdown(tuning: dict[str, Any], experiment: Experiment, settings: dict[str, Any]) -> str:
    """The learning-rate grid of every method on the tuning signals, and the rate chosen."""
    key = experiment.headline
    lines = [f"## Tuning: `sirenkit reproduce {experiment.name} --scale {settings['scale']} --tune`", "",
             f"* Tuning signals: {', '.join(tuning['signals'])}, {tuning['seeds']} seed(s); mean {key} per rate "
             f"({'higher' if experiment.higher_is_better else 'lower'} is better; diverged fits count as worst).",
             f"* Command: `{settings['command']}`", "",
             "| method | " + " | ".join(f"lr {lr}" for lr in _all_rates(tuning)) + " | chosen |",
             "|---|" + "---:|" * (len(_all_rates(tuning)) + 1)]
    for method, scores in tuning["scores"].items():
        values = []
        for lr in _all_rates(tuning):
            value = scores.get(lr)
            value = value if value is None or experiment.higher_is_better else -value
            values.append("—" if lr not in scores else "diverged" if value is None else
                          f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}")
        edge = " (grid edge)" if at_grid_edge(tuning, method) else ""
        lines.append(f"| {method} | " + " | ".join(values) + f" | {tuning['chosen'][method]:g}{edge} |")
    return "\n".join(lines) + "\n"


def _all_rates(tuning: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for scores in tuning["scores"].values():
        for lr in scores:
            if lr not in seen:
                seen.append(lr)
    return sorted(seen, key=float)


@draws_figure
def figure(result: dict[str, Any], experiment: Experiment, path: Path) -> None:
    """Bars (headline metric per method and evaluation signal, ± std) or, for `lines` experiments, every metric
    per method (meta: error against context pixels); the tuned protocol, with the paper's numbers as markers."""
    from ..plots import new_figure, save_figure

    rows = [r for r in result["summary"] if r["protocol"] == "tuned"]
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    if experiment.figure == "lines":
        keys = list(experiment.metrics)
        keys.sort(key=lambda k: int(k.rsplit("_", 1)[-1]) if k.rsplit("_", 1)[-1].isdigit() else 0)
        xs = [int(k.rsplit("_", 1)[-1]) for k in keys]
        for row in rows:
            means = [row["all"][k]["mean"] for k in keys]
            stds = [row["all"][k]["std"] or 0.0 for k in keys]
            line = ax.errorbar(xs, [m if m is not None else float("nan") for m in means], yerr=stds, marker="o",
                               capsize=3, label=f"{row['method']} (ours)")
            paper = experiment.paper.get(row["method"], {})
            if paper:
                ax.plot(xs, [paper.get(k, float("nan")) for k in keys], linestyle="--", marker="x",
                        color=line[0].get_color(), label=f"{row['method']} (paper)")
        ax.set_xscale("log")
        ax.set_xlabel("context pixels")
        ax.set_ylabel("pixel MSE")
    else:
        key = experiment.headline
        signals = [s["name"] for s in result["settings"]["evaluation_signals"]]
        width = 0.8 / max(1, len(signals))
        for j, signal in enumerate(signals):
            means = [row["signals"][signal][key]["mean"] for row in rows]
            stds = [row["signals"][signal][key]["std"] or 0.0 for row in rows]
            positions = [i + (j - (len(signals) - 1) / 2) * width for i in range(len(rows))]
            ax.bar(positions, [m if m is not None else 0.0 for m in means], width, yerr=stds, capsize=3,
                   label=signal)
        for i, row in enumerate(rows):
            value = experiment.paper.get(row["method"], {}).get(key)
            if value is not None:
                ax.plot([i - 0.4, i + 0.4], [value, value], color="black", linestyle="--",
                        label="paper" if i == 0 or "paper" not in ax.get_legend_handles_labels()[1] else None)
        ax.set_xticks(range(len(rows)), [row["method"] for row in rows], rotation=20)
        ax.set_ylabel(key)
        if not experiment.higher_is_better:
            ax.set_yscale("log")
    ax.set_title(f"{experiment.title} ({result['settings']['scale']} scale, tuned lr, mean ± std)", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def experiments_markdown(experiments: dict[str, Experiment]) -> str:
    """The table of every experiment's methods, tuning and evaluation signals and scales (docs/reproduction.md
    holds it verbatim; a test keeps the two the same)."""
    lines = ["| experiment | methods | tuning signals | evaluation signals | cpu scale | paper lr |",
             "|---|---|---|---|---|---|"]
    for e in experiments.values():
        lines.append(f"| `{e.name}` | {', '.join(m.name for m in e.methods)} | "
                     f"{', '.join(s.name for s in e.tuning)} | {', '.join(s.name for s in e.evaluation)} | "
                     f"{e.scales['cpu'].note or '—'} | {'—' if e.paper_lr is None else f'{e.paper_lr:g}'} |")
    return "\n".join(lines) + "\n"
