"""Do phasedsl's error bars hold? Coverage of the reported standard errors against exact
masses (issue 27; ``docs/coverage.md``). Run by hand, from the repository root:

    python benchmarks/coverage.py                          # every case and engine, 20 seeds
    python benchmarks/coverage.py --cases ex42 --engines smc --repeats 40 \
        --set particles=100 --set runs=4 --set final_stages=0

For each energy with exact masses (``CASES``: Examples 4.1 and 4.2 of the seed, a tilted
quartic/quadratic pair, a two-dimensional ring, and Example 4.2 swept sparsely at n = 40)
the spec is compiled once and each engine built once; each repeat samples every sweep
value under a new seed (``fold_in(PRNGKey(seed), index)``, as ``phasedsl run --seed`` does), summarises every point as ``phasedsl run`` does
(``pipeline.sweep.summarise``), pools them for ``smc``/``smc_path`` (``pipeline.pooling``, in
memory) and compares every phase mass with exact quadrature at the same value
(``z = (mass - exact) / se``). Engines, each reported separately:

- ``smc``: each value's own draws (``smc own``), the pooled estimate where it is used
  (``smc pooled``: what ``phasedsl run`` reports), the pooled estimate everywhere
  (``smc pooled*``: pooling without the per-value choice) and the same with the runs'
  spread alone as its se (``smc pooled spread``: before the discrepancy from the value's
  own estimate was counted, ``analysis.pooling.with_discrepancy``);
- ``smc_path``: the sweep walked as one path (``run_sweep``; the re-tempering of points whose
  directions disagree, ``pipeline.sweep._walk_sweep``, is left out), own and pooled;
- ``nuts``: each value's chains (ESS-based se).

The table gives, per case and engine, the share of (repeat, value, phase) with the exact
mass within 1 se, within 2 se and within the t interval (``analysis.intervals.factor`` of the
se's dof: 3.31 se with 4 runs), and the rms z. A mass with se 0 is covered only where it
equals the exact one to 1e-9. Results: ``benchmarks/results/coverage-<stamp>.json`` (every
z, so other summaries can be drawn) and the table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# spec texts (or shipped files) with exact masses by quadrature; a case's sweep is its own
CASES = {
    "ex41": ROOT / "specs" / "example_4_1_first_order.phase",
    "ex42": ROOT / "specs" / "example_4_2_merge.phase",
    "pair": """\
experiment "a quadratic well against a quartic one, tilted"
sweep theta over linspace(-0.2, 0.2, 9)
param w in [-2, 2]
energy K = (w + 1)^2 * (w - 1)^4 + theta * w
let n = 20
phase quadratic = ball(w, -1, 1/2)
phase quartic   = ball(w, 1, 1/2)
""",
    # Example 4.2's energy at n = 40 swept sparsely: neighbours far apart (pooling's worst case)
    "sparse": """\
experiment "Example 4.2 at n = 40, five values far apart"
sweep theta over 0, 0.2, 0.4, 0.6, 0.8
param w in [-2, 2]
energy K = (w + 1 - theta)^2 * (w - 1 + theta)^4
let n = 40
phase left  = ball(w, theta - 1, 1/2)
phase right = ball(w, 1 - theta, 1/2)
""",
    "ring": """\
experiment "a point and a ring of radius r"
sweep r over linspace(0.3, 0.9, 7)
param v[2] in [-1, 1]
energy K = (norm(v)^2 - r^2)^2 * norm(v - [0.5, 0])^2
let n = 50
phase point = ball(v, [0.5, 0], 0.3)
phase ring  = annulus(v, r, 0.1) and not ball(v, [0.5, 0], 0.3)
""",
}
ENGINES = ("smc", "smc_path", "nuts")
ANALYSIS = {"report.lcoef": "0", "report.minimum_steps": "0", "report.resolution": "0"}


def load(case: str, overrides: dict):
    """The ``phasedsl.Spec`` of ``case`` with ``overrides`` (``--set`` values as text)."""
    import tempfile

    import phasedsl

    source = CASES[case]
    if isinstance(source, Path):
        return phasedsl.load(source, overrides)
    with tempfile.NamedTemporaryFile("w", suffix=".phase", delete=False) as f:
        f.write(source)
    try:
        return phasedsl.load(f.name, overrides)
    finally:
        os.unlink(f.name)


def exact_masses(case: str) -> tuple[list[float], list[str], np.ndarray]:
    """``(values, phases, masses f[V, P])`` by quadrature at the case's sweep values."""
    from phasedsl.engines.registry import make_engine
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.sweep import summarise

    spec = load(case, {**ANALYSIS, "engine": "quadrature"})
    compiled = compile_spec(spec.checked)
    engine = make_engine("quadrature", compiled.target, dict(spec.checked.sample))
    values = [float(v) for v in spec.checked.sweep_values]
    names = list(compiled.phase_names)
    masses = np.array([[summarise(compiled, v, engine.run(None, compiled.context(v)), 0.0)
                        .phases[n].mass for n in names] for v in values])
    return values, names, masses


def _arrays(draws) -> dict:
    """A point's draws as the run folder keeps them (``rundir.save_draws``)."""
    out = {"params": np.asarray(draws.params), "indicators": np.asarray(draws.indicators),
           "logdensity": np.asarray(draws.logdensity)}
    if draws.weights is not None:
        out["weights"] = np.asarray(draws.weights)
    if draws.log_z is not None:
        out["log_z"] = np.asarray(draws.log_z)
    return out


def _records(points, names) -> list[dict]:
    """``[{mass, se, dof}]`` per point and phase (``mass f[P]`` lists)."""
    return [{"mass": [p.phases[n].mass for n in names],
             "se": [p.phases[n].se for n in names],
             "dof": [p.phases[n].se_dof for n in names]} for p in points]


def _always_pooled(points, names, spread: bool = False) -> list[dict]:
    """The pooled estimate at every value, whether or not it was used (``spread``: with the
    runs' spread alone as its se, without the discrepancy from the value's own estimate)."""
    out = []
    for p in points:
        info = p.diagnostics.get("pooled") or {}
        est = info.get("phases")
        if est is None:
            out.append(_records([p], names)[0])
            continue
        se = info.get("spread_se") if spread else None
        out.append({"mass": [est[n]["mass"] for n in names],
                    "se": [(se or {}).get(n, est[n]["se"]) for n in names],
                    "dof": [est[n].get("se_dof") for n in names]})
    return out


class Study:
    """One case and engine setting: compiled once, sampled under many seeds."""

    def __init__(self, case: str, engine: str, settings: dict):
        from phasedsl.engines.registry import make_engine
        from phasedsl.lower.compile import compile_spec
        from phasedsl.pipeline.pooling import pool_width

        self.case, self.engine_name = case, engine
        self.spec = load(case, {**ANALYSIS, **settings, "engine": engine})
        checked = self.spec.checked
        self.compiled = compile_spec(checked)
        self.engine = make_engine(engine, self.compiled.target, dict(checked.sample))
        self.values = [float(v) for v in checked.sweep_values]
        self.names = list(self.compiled.phase_names)
        self.width = pool_width(checked.report) if engine != "nuts" else 0
        self.sample = {"engine": engine, **{k: v for k, v in checked.sample.items()
                                           if k != "seed"}}
        self._evaluator = None

    def draws(self, seed: int) -> list:
        from phasedsl.pipeline.sweep import point_key

        ctxs = [self.compiled.context(v) for v in self.values]
        if self.engine_name == "smc_path":
            return self.engine.run_sweep(point_key(seed, len(self.values)), ctxs)
        return [self.engine.run(point_key(seed, i), c) for i, c in enumerate(ctxs)]

    def repeat(self, seed: int) -> dict:
        """``{estimate name: [per-point record]}`` for one seed."""
        from phasedsl.pipeline.pooling import Pooler
        from phasedsl.pipeline.sweep import summarise

        t0 = time.perf_counter()
        draws = self.draws(seed)
        points = [summarise(self.compiled, v, d, 0.0) for v, d in zip(self.values, draws)]
        sample_s = time.perf_counter() - t0
        out = {"own": _records(points, self.names)}
        if self.width > 0:
            arrays = {i: _arrays(d) for i, d in enumerate(draws)}
            pooler = Pooler(self.compiled, None, self.width, summarise, arrays=arrays.get,
                            evaluator=self._evaluator)
            pooled = pooler.pool(points, list(range(len(points))))
            self._evaluator = pooler.evaluator
            out["pooled"] = _records(pooled, self.names)
            out["pooled*"] = _always_pooled(pooled, self.names)
            out["pooled spread"] = _always_pooled(pooled, self.names, spread=True)
            out["used"] = [bool(p.diagnostics["pooled"]["used"]) for p in pooled]
        out["sample_s"] = sample_s
        out["total_s"] = time.perf_counter() - t0
        return out


def covered(mass, se, exact, k) -> bool:
    if se is None:
        return False
    if se == 0:
        return abs(mass - exact) <= 1e-9
    return abs(mass - exact) <= k * se


def table(rows: list[dict]) -> str:
    """The coverage table (Markdown)."""
    lines = ["| case | engine | setting | n | within 1 se | within 2 se | within t se | "
             "rms z | unknown se |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['estimate']} | {r['setting']} | {r['n']} | "
                     f"{r['c1']:.3f} | {r['c2']:.3f} | {r['ct']:.3f} | {r['rms_z']:.2f} | "
                     f"{r['unknown']} |")
    return "\n".join(lines)


def summarise_study(case, estimate, setting, records, exact) -> dict:
    from phasedsl.analysis.intervals import factor

    c1 = c2 = ct = n = unknown = 0
    zs = []
    for rec in records:               # one repeat's points
        for v, point in enumerate(rec):
            for p, (m, s, d) in enumerate(zip(point["mass"], point["se"], point["dof"])):
                ex = float(exact[v, p])
                if s is None:
                    unknown += 1
                    continue
                n += 1
                c1 += covered(m, s, ex, 1.0)
                c2 += covered(m, s, ex, 2.0)
                ct += covered(m, s, ex, factor(d))
                if s > 0:
                    zs.append((m - ex) / s)
    return {"case": case, "estimate": estimate, "setting": setting, "n": n,
            "c1": c1 / max(n, 1), "c2": c2 / max(n, 1), "ct": ct / max(n, 1),
            "rms_z": float(np.sqrt(np.mean(np.square(zs)))) if zs else math.nan,
            "unknown": unknown}


def rounded(x, digits: int = 6):
    """``x`` with every float to ``digits`` significant digits (a smaller results file)."""
    if isinstance(x, dict):
        return {k: rounded(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [rounded(v, digits) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(f"{float(x):.{digits}g}") if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a sample or report setting for every engine (as phasedsl run)")
    ap.add_argument("--out", default=None, help="the JSON file (default benchmarks/results/)")
    args = ap.parse_args(argv)
    settings = dict(kv.split("=", 1) for kv in args.set)
    setting = " ".join(args.set) or "defaults"
    rows, raw = [], {}
    t_all = time.perf_counter()
    for case in args.cases.split(","):
        values, names, exact = exact_masses(case)
        for engine in args.engines.split(","):
            t0 = time.perf_counter()
            study = Study(case, engine, {k: v for k, v in settings.items()
                                         if engine != "nuts" or k.startswith("report.")
                                         or k in ("chains", "draws", "warmup", "seed")})
            assert study.values == values and study.names == names
            reps = [study.repeat(args.first_seed + r) for r in range(args.repeats)]
            kinds = [k for k in ("own", "pooled", "pooled*", "pooled spread") if k in reps[0]]
            for kind in kinds:
                label = engine if kind == "own" and engine == "nuts" else f"{engine} {kind}"
                rows.append({**summarise_study(case, label, setting,
                                               [r[kind] for r in reps], exact),
                             "sampler": study.sample,
                             "seconds_per_repeat": float(np.mean([r["total_s"] for r in reps])),
                             "used_share": (float(np.mean([np.mean(r["used"]) for r in reps]))
                                            if "used" in reps[0] else None)})
                print(table(rows[-1:]).splitlines()[-1], flush=True)
            raw[f"{case}/{engine}"] = {"values": values, "phases": names,
                                       "exact": exact.tolist(), "sampler": study.sample,
                                       "repeats": reps, "wall_s": time.perf_counter() - t0}
    print()
    print(table(rows))
    load_avg = os.getloadavg()
    print(f"\n{time.perf_counter() - t_all:.0f} s in all; load average "
          f"{load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}; {os.cpu_count()} cores")
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                           f"coverage-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rounded({"rows": rows, "settings": settings,
                                       "first_seed": args.first_seed, "repeats": args.repeats,
                                       "load_average": load_avg, "raw": raw})))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
