"""`sirenkit reproduce`: the paper's experiments, one command each, under one fair protocol.

`protocol` holds the rules every comparison follows (same budget, tuned learning rates, several seeds, signals
that tune never evaluate), `experiments` the experiments themselves, `report` their tables and figures and
`run` the command. `tuned.json` holds the learning rates chosen by `--tune` runs (their logs are in
benchmarks/reproduce/).
"""

from .experiments import experiments, get_experiment
from .run import reproduce

__all__ = ["experiments", "get_experiment", "reproduce"]
