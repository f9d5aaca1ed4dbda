#!/usr/bin/env python
"""Representations benchmark: the same as `sirenkit bench activations` (see src/sirenkit/bench/activations.py).

    python benchmarks/activations.py --steps 300 --out bench-activations   # CPU: cameraman, astronaut, coffee at 256²
    python benchmarks/activations.py --images ~/kodak --device cuda --steps 2000
"""

from __future__ import annotations

import sys

from sirenkit.bench.activations import main

if __name__ == "__main__":
    sys.exit(main())
