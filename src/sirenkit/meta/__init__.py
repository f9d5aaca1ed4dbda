"""Learning a space of SIRENs (the paper's Section 4.4): encoders, a hypernetwork, a batched SIREN, the CNP baseline.

`MetaNetConfig(...).build()` gives the network; `sirenkit meta train` (tasks/meta.py) trains it with the one
trainer; `data.py` loads image folders, CelebA's layout and the offline default set; `train/distributed.py` runs the
same training under torchrun.
"""

from .functional import BatchedSiren
from .hypernetwork import HyperNetwork
from .model import MetaNetConfig, MetaSiren
from .types import MetaOutput

__all__ = ["BatchedSiren", "HyperNetwork", "MetaNetConfig", "MetaOutput", "MetaSiren"]
