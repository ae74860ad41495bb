"""What the check's flows cost: `discover` at one value with one flow per start
(`check_flow=False`) and with the other step's flows too (the default), in the same
process on the same draws (the sampler's key is the value's), with the wall time of each,
their ratio and the load average beside them. Run by hand, from the repository root:

    python benchmarks/discover_check.py specs/pt1_degeneracy.phase 1.0
    python benchmarks/discover_check.py specs/example_4_1_first_order.phase 15

Each is run twice in turn (one, two, one, two) so a compilation or a neighbour's burst of
load shows as a difference between the repeats.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    import phasedsl
    from phasedsl.pipeline.discovery import discover

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("value", type=float)
    ap.add_argument("--quick", action="store_true", help="the engine's quick setting")
    args = ap.parse_args(argv)
    spec = phasedsl.load(args.spec, quick=args.quick)
    times = {False: [], True: []}
    for check in (False, True, False, True):
        t = time.perf_counter()
        (point,) = discover(spec, [args.value], check_flow=check).points
        times[check].append(time.perf_counter() - t)
        print(f"check_flow={check!s:5}  {times[check][-1]:7.1f} s  basins {len(point.basins)}"
              f"  shared {point.shared_mass:.3f}  load {os.getloadavg()[0]:.2f}", flush=True)
    one, two = min(times[False]), min(times[True])
    print(f"two flows / one flow (best of two each): {two / one:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
