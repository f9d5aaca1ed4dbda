"""Derive the medium behind an FWI measurement file: the disc that best explains its receiver values.

Coarse search over centre height, radius and velocity (centre on x = 0), then Nelder–Mead on all four
parameters; prints every candidate's misfit and the result (docs/pde.md, "The true medium").

    python benchmarks/fwi_truth.py                         # ../shared/data/fwi_cylinder_5.mat, about 3 minutes
    python benchmarks/fwi_truth.py DATA.mat --nodes 161
"""

from __future__ import annotations

import argparse
import time

from common import shared_data

from sirenkit.pde.fwi import Cylinder, fit_cylinder, load_measurements, misfit, simulate

DEFAULT = shared_data() / "fwi_cylinder_5.mat"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", nargs="?", default=str(DEFAULT))
    p.add_argument("--k", type=float, default=20.0)
    p.add_argument("--nodes", type=int, default=201)
    args = p.parse_args()
    data = load_measurements(args.path)
    start = time.time()
    uniform = misfit(simulate(data.sources, data.receivers, Cylinder(velocity=1.0), args.k, args.nodes)[0], data.values)
    best, cost, tried = fit_cylinder(data, args.k, args.nodes)
    print("| centre y | radius | velocity | misfit |\n|---|---|---|---|")
    for c, m in sorted(tried, key=lambda t: t[1]):
        print(f"| {c.y:g} | {c.radius:g} | {c.velocity:g} | {m:.4f} |")
    print(f"\nuniform medium: misfit {uniform:.4f}")
    print(f"best disc: centre ({best.x:.5f}, {best.y:.5f}), radius {best.radius:.4f}, velocity {best.velocity:.3f}, "
          f"misfit {cost:.4f} ({time.time() - start:.0f} s, {args.nodes}² nodes)")


if __name__ == "__main__":
    main()
