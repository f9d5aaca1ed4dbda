#!/usr/bin/env python
"""Benchmark suite (issue #7): reference (official method) vs sirenkit's default, per workload, in one run.

    python benchmarks/suite.py --quick                    # smoke run, about 1.5 minutes on 2 CPU cores
    OMP_NUM_THREADS=1 python benchmarks/suite.py --threads 1 --json suite_cpu.json
    python benchmarks/suite.py --device cuda --json suite_gpu.json

The same as `sirenkit bench suite`; the logic lives in `sirenkit.bench.suite`.
"""

from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp())

from sirenkit.bench.suite import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
