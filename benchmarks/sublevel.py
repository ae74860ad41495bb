"""Which of the minima `phasedsl discover` found each flow start reaches without climbing
above its own potential: the component of the sublevel set at the draw's level, tested as
the joins test two ends (a straight path, split at its ridge's flowed point up to
``discovery.DEPTH`` times; a lower bound, since a curved route can be missed). Where most
draws reach several minima, the basins are not separated at the posterior's level, and a
basin's mass (where a draw's flow ends) depends on the flow (``docs/discover.md``, Limits).
Run by hand, from the repository root, on a ``discover --json`` file of one value:

    python benchmarks/sublevel.py specs/pt1_degeneracy.phase 1.18 \\
        examples/discover/pt1_theta_1.18_2026-12-07.json --basins 3

The draws are the spec's own sampler's at sweep index 0 and seed 0, as ``phasedsl discover
--at VALUE`` draws them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    import phasedsl
    from phasedsl.analysis.basins import canonical
    from phasedsl.engines.registry import make_engine
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline import discovery as D
    from phasedsl.pipeline.points import point_key

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("value", type=float)
    ap.add_argument("found", help="a `phasedsl discover --at VALUE --json` file")
    ap.add_argument("--basins", type=int, default=3, help="the largest basins to test")
    args = ap.parse_args(argv)
    basins = json.loads(Path(args.found).read_text())["points"][0]["basins"][: args.basins]
    checked = phasedsl.load(args.spec).checked
    compiled = compile_spec(checked)
    engine = make_engine(checked.engine, compiled.target, dict(checked.sample))
    draws = engine.run(point_key(0, 0), compiled.context(args.value))
    starts, _, share = D._starts(draws)
    flows = D._Flows(compiled, D.STEPS, x64=False)
    symmetry = D.symmetry_of(checked)
    sd = D._spread(starts, share)
    ctx = flows.context(compiled, args.value)
    lr0 = np.asarray(D.CAP * sd, flows.dtype)
    dt = np.asarray(D.RATE * sd ** 2, flows.dtype)

    def descend(p):
        return flows.chunked(lambda q, c: flows.settle(q, lr0, dt, c), p, ctx=ctx)[0]

    x = np.asarray(starts, flows.dtype)
    w = share / share.sum()
    reach = []
    for b in basins:   # the basin's critical point in each draw's node order
        m = canonical(np.tile(np.asarray(b["at"], float), (len(x), 1)), symmetry, reference=x)
        reach.append(D._connected(flows, x, np.asarray(m, flows.dtype), descend, ctx, symmetry))
        print(f"{b['name']} (mass {b['mass']:.3f}): reached by {w[reach[-1]].sum():.3f} of "
              "the draws", flush=True)
    reach = np.array(reach)
    k = reach.sum(0)
    print(f"draws reaching none of them {w[k == 0].sum():.3f}, exactly one "
          f"{w[k == 1].sum():.3f}, several {w[k > 1].sum():.3f}")
    for b, r in zip(basins, reach):
        print(f"{b['name']}: reached by it alone {w[(k == 1) & r].sum():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
