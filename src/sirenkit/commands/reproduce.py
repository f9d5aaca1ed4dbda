"""`sirenkit reproduce NAME`: one of the paper's experiments under the fair protocol (`reproduce.run.reproduce`)."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass

from ..config import REQUIRED, device_option, option, overwrite_option
from ..reproduce.experiments import experiments
from ..reproduce.protocol import MIN_SEEDS
from ..reproduce.run import SCALES, reproduce
from .registry import Command, register


@dataclass(frozen=True)
class ReproduceConfig:
    """The experiment, its scale and which part of it to run."""

    name: str = option(REQUIRED, "experiment: " + ", ".join(experiments()), positional=True, metavar="NAME",
                       choices=tuple(experiments()))
    scale: str = option("cpu", "smoke (seconds, what the tests run), cpu (≈ 30 min on 2 cores; evaluation only), "
                               "paper (the paper's setting; a GPU)", choices=SCALES, default_help="")
    seeds: int | None = option(None, "seeds per method and signal", default_help=f"{MIN_SEEDS}; 2 at the smoke scale")
    tune: bool = option(False, "run the learning-rate grid on the tuning signals and write tuning.json instead of "
                               "evaluating")
    tuned: str | None = option(None, "learning rates from a tuning.json of --tune", metavar="FILE",
                               default_help="the committed ones")
    methods: str | None = option(None, "comma-separated subset of the experiment's methods", default_help="")
    signals: str | None = option(None, "comma-separated subset of the evaluation signals (a partial run)",
                                 default_help="")
    protocols: str | None = option(None, "tuned, paper or both", default_help="both; a partial run")
    data: str | None = option(None, "folder of the paper's data files (bach.wav, bikes.mp4, bunny_100k.xyz, "
                                    "bunny.ply, fwi_cylinder_5.mat); default: $SIRENKIT_DATA", metavar="DIR",
                              default_help="")
    device: str = device_option()
    threads: int | None = option(None, "torch CPU threads (of each fit's process, with --jobs)",
                                 default_help="torch's choice; 1 with --jobs")
    jobs: int = option(1, "fits run at once, each in a process of its own: --jobs 2 on 2 cores halves the wall "
                          "time of --scale cpu, with the same numbers")
    out: str | None = option(None, "folder for results.json, results.md, figure.png (or tuning.json, tuning.md)",
                             metavar="DIR", default_help="")
    overwrite: bool = overwrite_option("result file in --out")
    quiet: bool = option(False, "print only the table")


def run(c: ReproduceConfig) -> int:
    command = "sirenkit " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["reproduce"] \
        else None
    result = reproduce(c.name, c.scale, c.seeds, c.out, c.tune, c.tuned, c.methods, c.data, c.device, c.threads,
                       c.quiet, c.overwrite, command, c.signals, c.protocols, c.jobs)
    print(json.dumps(result["chosen"]) if c.tune else result["markdown"])
    return 0


register(Command(
    ("reproduce",), "one of the paper's experiments under a fair protocol: tuned learning rates, equal budgets, "
                    "several seeds; a table beside the paper's numbers", ReproduceConfig, run,
    description="Run one of the paper's experiments (docs/reproduction.md) and write results.md, results.json and "
                "figure.png."))
