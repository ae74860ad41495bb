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

PT1 (``specs/pt1_degeneracy.phase``, case ``pt1``) has no quadrature: its reference masses at
theta = 1.0, 1.18 and 1.3 (``PT1_CENTRES``) come from a long run made once and stored
(``PT1_REFERENCE``: many independent SMC runs of many particles, each value's own draws, no
pooling; its se is their spread):

    python benchmarks/coverage.py --cases pt1 --reference --centres 1.18 --first-seed 1 \
        --set particles=1000 --set runs=8 --set final_stages=6
    python benchmarks/coverage.py --cases pt1 --engines smc --centres 1.18 --repeats 10 \
        --batch 10
    python benchmarks/coverage.py --rescore benchmarks/results/coverage-*.json

Each centre is sampled with ``--neighbours`` values on each side at the shipped spacing 0.02
(1: 0.98, 1.0, 1.02; 1.16, 1.18, 1.2; 1.28, 1.3, 1.32), each group of neighbours pooled on its
own, and only the centres are scored. ``--batch B`` samples B repeats in one engine call (B x
``runs`` independent runs, each repeat taking its own ``runs`` of them: the same runs a call
per repeat would make, at less overhead per run on a loaded CPU).
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
# PT1 at three values of theta against a stored long reference (module docstring)
PT1_SPEC = ROOT / "specs" / "pt1_degeneracy.phase"
PT1_CENTRES = (1.0, 1.18, 1.3)
PT1_SPACING = 0.02
PT1_REFERENCE = ROOT / "benchmarks" / "results" / "cpu2_pt1_reference.json"
REFERENCED = {"pt1": (PT1_SPEC, PT1_CENTRES, PT1_SPACING, PT1_REFERENCE)}
ENGINES = ("smc", "smc_path", "nuts")
ANALYSIS = {"report.lcoef": "0", "report.minimum_steps": "0", "report.resolution": "0"}


def neighbourhoods(centres, spacing: float, neighbours: int) -> list[list[float]]:
    """Each centre with ``neighbours`` values at ``spacing`` on each side (rounded to 1e-9)."""
    return [[round(c + j * spacing, 9) for j in range(-neighbours, neighbours + 1)]
            for c in centres]


def with_sweep(text: str, values) -> str:
    """A spec's ``text`` with its sweep's values replaced by ``values`` (same name)."""
    import re

    line = re.search(r"^sweep\s+(\w+)\s+over\s.*$", text, flags=re.M)
    if line is None:
        raise ValueError("the spec has no one-line sweep")
    listed = ", ".join(repr(float(v)) for v in values)
    return text[:line.start()] + f"sweep {line.group(1)} over {listed}" + text[line.end():]


def load(case: str, overrides: dict, values=None):
    """The ``phasedsl.Spec`` of ``case`` with ``overrides`` (``--set`` values as text);
    ``values``: the sweep's values instead of the case's own (a referenced case's)."""
    import tempfile

    import phasedsl

    source = CASES[case] if case in CASES else REFERENCED[case][0]
    if values is not None:
        text = source.read_text() if isinstance(source, Path) else source
        source = with_sweep(text, values)
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


def reference_masses(case: str, neighbours: int, path: Path | None = None,
                     centres=None, strict: bool = True) -> tuple[list[float], list, np.ndarray]:
    """``(values, phases, masses f[V, P])`` of a referenced case: its ``centres`` (default
    all) with their neighbours, the stored reference's masses at the centres and NaN (not
    scored) elsewhere (``path``: the reference file, default the case's)."""
    _, every, spacing, stored = REFERENCED[case]
    centres = every if centres is None else centres
    path = path or stored
    values = [v for group in neighbourhoods(centres, spacing, neighbours) for v in group]
    if not path.exists() and not strict:    # sampled now, scored later (--rescore)
        print(f"no reference at {path} yet: nothing scored", flush=True)
        return values, None, np.full((len(values), 0), np.nan)
    if not path.exists():
        raise SystemExit(f"no reference at {path}: make it first (--cases {case} --reference)")
    ref = json.loads(path.read_text())
    names = list(ref["phases"])
    masses = np.full((len(values), len(names)), np.nan)
    for point in ref["points"]:
        if round(point["value"], 9) in values:
            masses[values.index(round(point["value"], 9))] = point["mass"]
    missing = [c for c in centres if not np.isfinite(masses[values.index(round(c, 9))]).all()]
    if missing and not strict:
        print(f"{path} has no reference at {missing} yet: not scored there", flush=True)
    elif missing:
        raise SystemExit(f"{path} has no reference at {missing}")
    return values, names, masses


def group_masses(draws) -> np.ndarray:
    """``f[G, P]``: each group's (run's) weighted phase masses."""
    ind = np.asarray(draws.indicators, float)
    w = (np.full(ind.shape[:2], 1.0 / ind.shape[1]) if draws.weights is None
         else np.asarray(draws.weights, float))
    w = w / w.sum(axis=1, keepdims=True)
    return np.einsum("gs,gsp->gp", w, ind)


def split_groups(draws, parts: int) -> list:
    """``draws`` of ``parts x R`` independent groups as ``parts`` Draws of ``R`` groups each
    (per-group entries of ``info`` split alike)."""
    g = np.asarray(draws.params).shape[0]
    if g % parts:
        raise ValueError(f"{g} groups do not split into {parts}")
    r = g // parts

    def cut(x, k):
        return None if x is None else x[k * r:(k + 1) * r]

    out = []
    for k in range(parts):
        info = None if draws.info is None else draws.info.of_runs(k * r, (k + 1) * r)
        out.append(draws._replace(
            params=cut(draws.params, k), indicators=cut(draws.indicators, k),
            logdensity=cut(draws.logdensity, k), weights=cut(draws.weights, k),
            log_z=cut(draws.log_z, k), phase_log_z=cut(draws.phase_log_z, k),
            divergent=cut(draws.divergent, k), info=info))
    return out


def make_reference(case: str, settings: dict, seed: int, out: Path | None,
                   centres=None) -> dict:
    """The long reference of a referenced case: each of its ``centres`` (default all)
    sampled once with the ``settings`` given (many particles and runs), its own draws only (no
    pooling); the mass is the runs' mean and the se their spread (``se_dof`` = runs - 1; at
    least what the runs' importance weights say, as every smc se). Written to ``out``
    (default: the case's reference file), merged with the centres already there when they
    were made with the same sampler."""
    from phasedsl.engines.registry import make_engine
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.sweep import point_key, summarise

    _, every, _, path = REFERENCED[case]
    centres = list(every if centres is None else centres)
    spec = load(case, {**ANALYSIS, **settings, "report.pool": "0", "engine": "smc"}, centres)
    compiled = compile_spec(spec.checked)
    engine = make_engine("smc", compiled.target, dict(spec.checked.sample))
    names = list(compiled.phase_names)
    points = []
    for v in centres:       # keys by the centre's place among all (as one call would give)
        t0 = time.perf_counter()
        draws = engine.run(point_key(seed, list(every).index(v)), compiled.context(v))
        wall = time.perf_counter() - t0
        point = summarise(compiled, v, draws, wall)
        load_avg = os.getloadavg()
        points.append({"value": v, "seed": seed, "mass": [point.phases[n].mass for n in names],
                       "se": [point.phases[n].se for n in names],
                       "dof": [point.phases[n].se_dof for n in names],
                       "run_masses": group_masses(draws).tolist(),
                       "wall_s": wall, "load_average": load_avg})
        print(f"reference {case} {v}: " + ", ".join(
            f"{n} {m:.4f} +- {e if e is None else round(e, 4)}" for n, m, e in zip(names, points[-1]["mass"],
                                                       points[-1]["se"]))
              + f" ({wall:.0f} s, load {load_avg[0]:.1f})", flush=True)
    sample = {k: v for k, v in spec.checked.sample.items() if k != "seed"}
    ref = {"case": case, "spec": str(REFERENCED[case][0].relative_to(ROOT)), "phases": names,
           "sampler": {"engine": "smc", **sample}, "seed": seed, "points": points,
           "cores": os.cpu_count()}
    out = out or path
    for point in points:
        point["sampler"] = ref["sampler"]
    if out.exists():     # the centres made before (each point says how it was sampled)
        old = json.loads(out.read_text())
        if old.get("phases") == names:
            kept = [{"sampler": old.get("sampler"), **p} for p in old["points"]
                    if round(p["value"], 9) not in {round(c, 9) for c in centres}]
            ref["points"] = sorted(kept + points, key=lambda p: p["value"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rounded(ref), indent=1))
    print(f"written {out}")
    return ref


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

    def __init__(self, case: str, engine: str, settings: dict, groups=None, batch: int = 1):
        """``groups``: the sweep's values in groups pooled each on its own (default: one
        group, the case's sweep); ``batch``: repeats sampled in one engine call (``smc``)."""
        from phasedsl.engines.registry import make_engine
        from phasedsl.lower.compile import compile_spec
        from phasedsl.pipeline.pooling import pool_width

        self.case, self.engine_name = case, engine
        values = None if groups is None else [v for g in groups for v in g]
        self.spec = load(case, {**ANALYSIS, **settings, "engine": engine}, values)
        checked = self.spec.checked
        self.compiled = compile_spec(checked)
        sample = dict(checked.sample)
        if batch > 1:
            if engine != "smc":
                raise SystemExit("--batch is for smc only")
            sample["runs"] = sample["runs"] * batch
        self.batch = batch
        self.engine = make_engine(engine, self.compiled.target, sample)
        self.values = [float(v) for v in checked.sweep_values]
        self.groups = ([list(range(len(self.values)))] if groups is None else
                       [[self.values.index(float(v)) for v in g] for g in groups])
        self.names = list(self.compiled.phase_names)
        self.width = pool_width(checked.report) if engine != "nuts" else 0
        self.report = dict(checked.report)
        self.sample = {"engine": engine, **{k: v for k, v in checked.sample.items()
                                           if k != "seed"}}
        self._evaluator = None

    def draws(self, seed: int) -> list:
        from phasedsl.pipeline.sweep import point_key

        ctxs = [self.compiled.context(v) for v in self.values]
        if self.engine_name == "smc_path":
            return self.engine.run_sweep(point_key(seed, len(self.values)), ctxs)
        return [self.engine.run(point_key(seed, i), c) for i, c in enumerate(ctxs)]

    def repeats(self, seed: int) -> list[dict]:
        """``batch`` repeats from one seed: ``[{estimate name: [per-point record]}]``; a
        batch's sampling time is shared equally by its repeats."""
        t0 = time.perf_counter()
        draws = self.draws(seed)
        sample_s = (time.perf_counter() - t0) / self.batch
        if self.batch == 1:
            return [self.repeat(draws, sample_s)]
        parts = [split_groups(d, self.batch) for d in draws]
        return [self.repeat([p[k] for p in parts], sample_s) for k in range(self.batch)]

    def repeat(self, draws: list, sample_s: float) -> dict:
        """``{estimate name: [per-point record]}`` of one repeat's ``draws`` (per point)."""
        from phasedsl.pipeline.pooling import Pooler
        from phasedsl.pipeline.sweep import summarise

        t0 = time.perf_counter()
        points = [summarise(self.compiled, v, d, 0.0) for v, d in zip(self.values, draws)]
        out = {"own": _records(points, self.names)}
        if self.engine_name != "nuts":
            out["run_masses"] = [group_masses(d).tolist() for d in draws]
        if self.width > 0:
            arrays = {i: _arrays(d) for i, d in enumerate(draws)}
            pooled = [None] * len(points)
            for group in self.groups:     # each group of neighbours pooled on its own
                pooler = Pooler.of_report(self.report, self.compiled, None, summarise,
                                          arrays=arrays.get, evaluator=self._evaluator)
                for i, p in zip(group, pooler.pool([points[i] for i in group], group)):
                    pooled[i] = p
                self._evaluator = pooler.evaluator
            out["pooled"] = _records(pooled, self.names)
            out["pooled*"] = _always_pooled(pooled, self.names)
            out["pooled spread"] = _always_pooled(pooled, self.names, spread=True)
            out["used"] = [bool(p.diagnostics["pooled"]["used"]) for p in pooled]
        out["sample_s"] = sample_s
        out["total_s"] = sample_s + time.perf_counter() - t0
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
                if not math.isfinite(ex):     # a referenced case's value not scored
                    continue
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


def score(case, engine, setting, reps, values, exact, sample, echo=True) -> list[dict]:
    """The table's rows of one case and engine (a referenced case's centres each on its own
    too, ``case @value``)."""
    rows = []
    kinds = [k for k in ("own", "pooled", "pooled*", "pooled spread") if k in reps[0]]
    scored = [(case, exact)]
    if case in REFERENCED:       # each centre on its own too
        scored += [(f"{case} @{values[v]:g}", masked(exact, v))
                   for v in range(len(values)) if np.isfinite(exact[v]).all()]
    for label_case, ex in scored:
        for kind in kinds:
            label = engine if kind == "own" and engine == "nuts" else f"{engine} {kind}"
            rows.append({**summarise_study(label_case, label, setting,
                                           [r[kind] for r in reps], ex),
                         "sampler": sample,
                         "seconds_per_repeat": float(np.mean([r["total_s"] for r in reps])),
                         "used_share": (float(np.mean([np.mean(r["used"]) for r in reps]))
                                        if "used" in reps[0] else None)})
            if echo:
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    return rows


def rescore(files: list[Path], reference: Path | None) -> list[dict]:
    """The rows of results files written before (``raw``: every repeat's masses and se),
    a referenced case's scored against its reference as it is now. Files of the same case,
    engine, values and settings (repeats under other seeds) are scored as one."""
    merged: dict[tuple, dict] = {}
    for f in files:
        res = json.loads(Path(f).read_text())
        setting = " ".join(f"{k}={v}" for k, v in res["settings"].items()) or "defaults"
        for key, block in res["raw"].items():
            ident = (key, setting, tuple(block["values"]), res.get("neighbours", 1))
            if ident in merged:
                merged[ident]["repeats"] = merged[ident]["repeats"] + block["repeats"]
            else:
                merged[ident] = dict(block)
    rows = []
    for (key, setting, _, neighbours), block in merged.items():
        case, engine = key.split("/")
        values = block["values"]
        if case in REFERENCED:
            centres = [v for v in REFERENCED[case][1] if round(v, 9) in values]
            vals, names, exact = reference_masses(case, neighbours, reference, centres)
            assert vals == values and names == block["phases"]
        else:
            exact = np.array(block["exact"], float)
        rows.extend(score(case, engine, setting, block["repeats"], values, exact,
                          block["sampler"], echo=False))
    return rows


def masked(exact: np.ndarray, v: int) -> np.ndarray:
    """``exact`` with every value but ``v`` unknown (NaN: not scored)."""
    out = np.full_like(exact, np.nan)
    out[v] = exact[v]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"of {', '.join([*CASES, *REFERENCED])} (default: the energies)")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a sample or report setting for every engine (as phasedsl run)")
    ap.add_argument("--out", default=None, help="the JSON file (default benchmarks/results/)")
    ap.add_argument("--reference", action="store_true",
                    help="make a referenced case's long reference (with --set) and stop")
    ap.add_argument("--reference-file", default=None,
                    help="where a referenced case's reference is (default: PT1_REFERENCE)")
    ap.add_argument("--neighbours", type=int, default=1,
                    help="values on each side of a referenced case's centres (spacing 0.02)")
    ap.add_argument("--centres", default=None,
                    help="a referenced case's centres to sample (default all: 1.0,1.18,1.3)")
    ap.add_argument("--batch", type=int, default=1,
                    help="repeats sampled in one smc call (seeds first-seed, +batch, ...)")
    ap.add_argument("--rescore", nargs="+", default=None, metavar="FILE",
                    help="results files written before: their table, scored again")
    args = ap.parse_args(argv)
    if args.rescore:
        print(table(rescore(args.rescore, Path(args.reference_file) if args.reference_file
                            else None)))
        return 0
    settings = dict(kv.split("=", 1) for kv in args.set)
    centres = None if args.centres is None else [float(c) for c in args.centres.split(",")]
    if args.reference:
        for case in args.cases.split(","):
            make_reference(case, settings, args.first_seed,
                           Path(args.reference_file) if args.reference_file else None,
                           centres)
        return 0
    if args.repeats % args.batch:
        raise SystemExit("--repeats must be a multiple of --batch")
    setting = " ".join(args.set) or "defaults"
    rows, raw = [], {}
    t_all = time.perf_counter()
    out = Path(args.out) if args.out else (ROOT / "benchmarks" / "results" /
                                           f"coverage-{time.strftime('%Y%m%d-%H%M%S')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def write(partial: bool):
        out.write_text(json.dumps(rounded({
            "rows": rows, "settings": settings, "first_seed": args.first_seed,
            "repeats": args.repeats, "batch": args.batch, "neighbours": args.neighbours,
            "load_average": os.getloadavg(), "partial": partial, "raw": raw})))

    for case in args.cases.split(","):
        groups = None
        if case in REFERENCED:
            values, names, exact = reference_masses(
                case, args.neighbours, Path(args.reference_file) if args.reference_file else None,
                centres, strict=False)
            groups = neighbourhoods(centres or REFERENCED[case][1], REFERENCED[case][2],
                                    args.neighbours)
        else:
            values, names, exact = exact_masses(case)
        for engine in args.engines.split(","):
            t0 = time.perf_counter()
            study = Study(case, engine, {k: v for k, v in settings.items()
                                         if engine != "nuts" or k.startswith("report.")
                                         or k in ("chains", "draws", "warmup", "seed")},
                          groups, args.batch if engine == "smc" else 1)
            if names is None:      # no reference yet: sampled now, scored by --rescore
                names, exact = study.names, np.full((len(values), len(study.names)), np.nan)
            assert study.values == values and study.names == names
            reps = []
            step = study.batch
            for r in range(0, args.repeats, step):
                reps.extend(study.repeats(args.first_seed + r))
                load_avg = os.getloadavg()
                print(f"{case} {engine}: {len(reps)} repeats, {time.perf_counter() - t0:.0f} s"
                      f", load {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}",
                      flush=True)
                raw[f"{case}/{engine}"] = {"values": values, "phases": names,
                                           "exact": exact.tolist(), "sampler": study.sample,
                                           "batch": study.batch, "repeats": reps,
                                           "wall_s": time.perf_counter() - t0,
                                           "load_average": load_avg}
                write(partial=True)
            rows.extend(score(case, engine, setting, reps, values, exact, study.sample))
    print()
    print(table(rows))
    load_avg = os.getloadavg()
    print(f"\n{time.perf_counter() - t_all:.0f} s in all; load average "
          f"{load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f}; {os.cpu_count()} cores")
    write(partial=False)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
