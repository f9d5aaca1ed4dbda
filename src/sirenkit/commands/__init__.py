"""The commands: importing this package imports every command module, each of which registers its `Command`s in
`registry.COMMANDS`, in the order of `sirenkit --help`. `cli.py` builds the parser from them."""

from __future__ import annotations

from .registry import COMMANDS, Command, Group, register

# One import line per command module: importing registers its commands (a new command adds its line here).
# isort: off
from . import fit  # noqa: F401  one command per registered task: fit, poisson, solve, invert, meta train
from . import render  # noqa: F401
from . import mesh  # noqa: F401  mesh, eval-mesh
from . import meta  # noqa: F401  meta eval, meta inpaint
from . import export  # noqa: F401  export, compress
from . import bench  # noqa: F401  bench suite, bench activations
from . import reproduce  # noqa: F401
# isort: on

GROUPS = {
    "fit": Group("fit a network to a signal ({words})"),
    "poisson": Group("reconstruct an image from its derivatives, or blend two ({words})"),
    "solve": Group("solve a PDE with a network ({words})"),
    "invert": Group("recover a medium from measurements ({words})"),
    "meta": Group("learn a space of SIRENs ({words})"),
    "bench": Group("benchmarks (suite: reference vs default step time and memory; activations: every representation "
                   "at one parameter budget)", metavar="BENCH"),
}
"""The first words shared by several commands; one a new task brings reads "VERB a network (…)"."""

__all__ = ["COMMANDS", "GROUPS", "Command", "Group", "register"]
