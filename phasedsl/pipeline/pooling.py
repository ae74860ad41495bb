"""Each sweep value's masses from its neighbours' draws too (``report.pool``).

After the sweep's points are sampled (and after each round of refinement), every point whose
engine gives independent repeats (``smc``, ``smc_path``) is summarised again from the draws of
the ``report.pool`` nearest sweep values on each side (itself included), each group (run)
reweighted to the point by multistate importance sampling (``analysis.pooling``: MBAR over
the window's values). Groups are pooled separately, so the spread of the groups' pooled
masses is still an honest standard error, now of an estimate that rests on up to
``2 * pool + 1`` independent tempering runs per group instead of one. The window stops, on
each side, at the first neighbour whose draws keep less than ``report.pool_overlap`` of their
effective sample size reweighted to the value (``Pooler._trimmed``).

Measured on PT1 (22 values, 300 particles x 4 runs): the rms standard error of the masses fell
from 0.0052 / 0.0069 (own draws) to 0.0015 / 0.0018 with ``pool = 5``; the masses agree with
an independent 1,000-particle run (``benchmarks/README.md``). The point's own estimate is kept
in ``diagnostics.own``.

The cost is one evaluation of the log density (no gradient) and of the phase indicators per
saved sample and neighbouring value, cached for the whole run (refinement re-pools only new
pairs). Not pooled: NUTS (its standard errors come from each point's chains' autocorrelation),
quadrature (exact), several data sets and two-dimensional grids (each point its own, as
before).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..analysis.pooling import Pooled, overlap, pooling_helps, with_discrepancy
from ..analysis.records import Mass, PointSummary
from ..language.setting_records import report_settings
from ..lower.target import Draws
from ..rundir import load_draws, point_index

__all__ = ["Pooler", "pool_overlap", "pool_width", "pools", "window"]

BLOCK = 16      # samples per vmapped block inside the compiled evaluation
PAD = 512       # sample counts are padded to this times a power of 2 (few compiled shapes)


def pool_width(report: dict) -> int:
    """``report.pool``: neighbouring sweep values on each side whose draws a point uses."""
    return int(report_settings(report).pool)


def pool_overlap(report: dict) -> float:
    """``report.pool_overlap``: the least share of their effective sample size a neighbour's
    draws keep at a value for them to join its pool (``Pooler.pool``)."""
    return float(report_settings(report).pool_overlap)


def pools(checked) -> bool:
    """Whether a run of ``checked`` pools its points (module docstring)."""
    seeds = getattr(getattr(checked, "network", None), "seeds", 1) or 1
    return (checked.engine in ("smc", "smc_path") and checked.grid is None and seeds == 1
            and pool_width(checked.report) > 0)


def _evaluator(compiled):
    """``fn(params f[M, D], ctx) -> (logdensity f[M], indicators bool[M, P])``, jitted,
    ``M`` a multiple of ``BLOCK``."""
    import jax

    target = compiled.target

    def one(z, ctx):
        return target.logdensity(z, ctx), target.indicators(z, ctx)

    @jax.jit
    def fn(params, ctx):
        blocks = params.reshape(-1, BLOCK, params.shape[-1])
        u, ind = jax.lax.map(lambda b: jax.vmap(one, (0, None))(b, ctx), blocks)
        # the row count spelled out: reshape(-1, 0) cannot infer it (a spec without phases)
        return u.reshape(-1), ind.reshape(u.size, ind.shape[-1])

    return fn


class Pooler:
    """The pooled summaries of one run folder's points, with the cross evaluations cached.

    ``summarise(compiled, value, draws, wall_s) -> PointSummary``: how a point's draws become
    its record (``pipeline.sweep.summarise``). ``arrays(index) -> dict | None``: a point's
    saved draws (default: from ``folder``); ``evaluator``: another Pooler's ``evaluator``
    over the same compiled spec (its compiled program, shared rather than traced again);
    ``min_overlap``: ``report.pool_overlap`` (``pool``)."""

    def __init__(self, compiled, folder, width: int, summarise, arrays=None, evaluator=None,
                 min_overlap: float = 0.0):
        self._compiled = compiled
        self._folder = folder
        self._width = width
        self._min_overlap = min_overlap
        self._summarise = summarise
        self._load = arrays or (lambda index: load_draws(folder, index))
        self._fn = evaluator
        self._own: dict[int, dict] = {}                 # index -> saved arrays
        self._cross: dict[tuple[int, float], tuple] = {}  # (index, value) -> (u, ind)
        self._done: dict[tuple, tuple] = {}  # (window's indices, position) -> estimate
        self._log_z: dict[tuple[int, int], float] = {}  # (group, index) -> log Z + offset

    def _arrays(self, index: int) -> dict | None:
        """Point ``index``'s saved draws (``None`` where its file is missing)."""
        if index not in self._own:
            self._own[index] = self._load(index)
        return self._own[index]

    @classmethod
    def of_report(cls, report: dict, compiled, folder, summarise, **options) -> "Pooler":
        """The Pooler a run with ``report`` settings uses: ``report.pool`` on each side,
        cut at ``report.pool_overlap`` (``options``: ``arrays``, ``evaluator``)."""
        return cls(compiled, folder, pool_width(report), summarise,
                   min_overlap=pool_overlap(report), **options)

    @property
    def evaluator(self):
        """The compiled cross evaluation (``None`` until first used)."""
        return self._fn

    def _at(self, index: int, value) -> tuple[np.ndarray, np.ndarray]:
        """Point ``index``'s samples evaluated at sweep ``value``: ``(u f[G, S], ind bool[G,
        S, P])``."""
        key = (index, float(value))
        if key not in self._cross:
            import jax.numpy as jnp

            if self._fn is None:
                self._fn = _evaluator(self._compiled)
            params = self._arrays(index)["params"]
            g, s, d = params.shape
            flat = params.reshape(g * s, d)
            pad = PAD * 2 ** max(0, math.ceil(math.log2(flat.shape[0] / PAD))) - flat.shape[0]
            if pad:
                flat = np.concatenate([flat, np.repeat(flat[:1], pad, axis=0)])
            u, ind = self._fn(jnp.asarray(flat, jnp.float32),
                              self._compiled.context(jnp.asarray(value, jnp.float32)))
            self._cross[key] = (np.asarray(u, float)[: g * s].reshape(g, s),
                                np.asarray(ind, bool)[: g * s].reshape(g, s, -1))
        return self._cross[key]

    def overlap(self, index: int, own_value: float, value: float) -> float:
        """``analysis.pooling.overlap`` of point ``index``'s draws (made at ``own_value``)
        reweighted to ``value``: the share of their effective sample size they keep."""
        a = self._arrays(index)
        w = a.get("weights")
        w = np.ones(a["params"].shape[:2]) if w is None else np.asarray(w, float)
        return overlap(w, self._at(index, value)[0] - self._at(index, own_value)[0])

    def points(self, results: dict) -> list[PointSummary]:
        """Every point of ``results`` pooled (sorted by value). A point already pooled keeps
        its own estimate from before (``diagnostics.own``)."""
        points = sorted((PointSummary.from_json(p) for p in results["points"]),
                        key=lambda p: p.value)
        return self.pool(points, [point_index(results, p.value) for p in points])

    def pool(self, points: list[PointSummary], indices: list[int]) -> list[PointSummary]:
        """``points`` (sorted by value; ``indices``: their draws' indices) pooled."""
        out = []
        for k, point in enumerate(points):
            full = window(k, len(points), self._width)
            lo, hi = self._trimmed(points, indices, k, *full)
            out.append(self._pooled(point, [points[j].value for j in range(lo, hi)],
                                    indices[lo:hi], k - lo, cut=full[1] - full[0] - hi + lo))
        return out

    def _trimmed(self, points, indices, k: int, lo: int, hi: int) -> tuple[int, int]:
        """``(lo, hi)`` cut on each side at the first neighbour (walking out from ``k``) whose
        draws keep less than ``min_overlap`` of their effective sample size reweighted to
        point ``k``'s value (``overlap``); a window stays contiguous."""
        if self._min_overlap <= 0:
            return lo, hi

        def reaches(j: int) -> bool:
            if self._arrays(indices[j]) is None:
                return True   # a missing file: ``_pooled`` keeps the point's own
            return self.overlap(indices[j], points[j].value,
                                points[k].value) >= self._min_overlap

        a, b = k, k + 1
        while a > lo and reaches(a - 1):
            a -= 1
        while b < hi and reaches(b):
            b += 1
        return a, b

    def _pooled(self, point: PointSummary, values: list, indices: list[int],
                at: int, cut: int = 0) -> PointSummary:
        """``point`` summarised from the draws of ``indices`` (at sweep ``values``; the
        point itself is ``indices[at]``; ``cut``: the values of its full window left out for
        their overlap)."""
        if any(self._arrays(i) is None for i in indices):
            return point   # a draws file is missing (removed by hand): the point's own
        groups = self._arrays(indices[at])["params"].shape[0]
        if any(self._arrays(i)["params"].shape[0] != groups for i in indices):
            return point   # neighbours with another number of runs: not comparable groups
        key = (tuple(indices), at)
        if key not in self._done:  # the same window as before: the same estimate
            self._done[key] = self._estimate(point, values, indices, at)
        raw, ess = self._done[key]
        own = self._own_summary(point, indices[at])
        # whether the neighbours' draws add information: the runs' spread pooled against
        # the value's own (a choice between the bias-aware variance and the own one would
        # pick the own estimate where its se came out small by chance: measured, that cost
        # coverage, docs/coverage.md); the se reported counts the discrepancy as bias
        used = pooling_helps(_variances(own), _variances(raw))
        new = _bias_aware(raw, own)
        diagnostics = {**point.diagnostics, "own": _own_record(own),
                       "pooled": {"values": len(indices), "from": float(values[0]),
                                  "to": float(values[-1]), "cut": cut, "ess": ess,
                                  "used": used,
                                  "variance": _total(_variances(raw)),
                                  "own_variance": _total(_variances(own)),
                                  "phases": _own_record(new)["phases"],
                                  "spread_se": {k: m.se for k, m in raw.phases.items()}}}
        if not used:   # the neighbours' draws did not narrow this value's error: its own
            new = own
        diagnostics["mixing_ok"] = new.mixing_ok
        return dataclasses.replace(
            point, phases=new.phases, other=new.other, preferred=new.preferred,
            overlap=new.overlap, diagnostics=diagnostics, modes=new.modes,
            findings=new.findings, notes=new.notes)

    def _own_summary(self, point: PointSummary, index: int) -> PointSummary:
        """What ``point``'s own draws say: ``point`` itself where it is not pooled yet, else
        its draws summarised again, with the mixing verdict its own record kept (the engine's
        findings, the directions of ``smc_path`` among them, are not in its draws file)."""
        key = ("own", index)
        if key not in self._done:
            stored = point.diagnostics.get("own")
            if "pooled" not in point.diagnostics or stored is None:
                self._done[key] = point
                return point
            a = self._arrays(index)
            draws = Draws(params=a["params"], indicators=self._at(index, point.value)[1],
                          logdensity=a.get("logdensity"), weights=a.get("weights"),
                          method="repeats", log_z=a.get("log_z"))
            own = self._summarise(self._compiled, point.value, draws,
                                  point.diagnostics.get("wall_s", 0.0))
            self._done[key] = dataclasses.replace(
                own, diagnostics={**point.diagnostics,
                                  "mixing_ok": stored.get("mixing_ok", own.mixing_ok)},
                notes=tuple(stored.get("mixing_notes", own.notes)))
        return self._done[key]

    def _estimate(self, point: PointSummary, values: list, indices: list[int], at: int):
        """``(summary, ess f[G])``: the pooled record of ``point`` and each group's effective
        sample size at it."""
        own = self._arrays(indices[at])
        groups = own["params"].shape[0]
        u = [np.stack([self._at(i, v)[0] for v in values], axis=-1) for i in indices]
        ind = [self._at(i, values[at])[1] for i in indices]
        weights = np.zeros((groups, sum(x.shape[1] for x in u)))
        states = np.concatenate([np.full(x.shape[1], j) for j, x in enumerate(u)])
        ess = []
        for g in range(groups):
            w = np.concatenate([_group_weights(self._arrays(i), g) for i in indices])
            pooled = Pooled(np.concatenate([x[g] for x in u]), w, states,
                            self._start(g, indices))
            self._remember(g, indices, pooled.log_z)
            weights[g] = pooled.weights_at(at)
            ess.append(1.0 / float(np.sum(weights[g] ** 2)))
        draws = Draws(
            params=np.concatenate([self._arrays(i)["params"] for i in indices], axis=1),
            indicators=np.concatenate(ind, axis=1),
            logdensity=np.concatenate([x[..., at] for x in u], axis=1),
            weights=weights, method="repeats", log_z=own.get("log_z"))
        return self._summarise(self._compiled, point.value, draws,
                               point.diagnostics.get("wall_s", 0.0)), ess

    def _start(self, g: int, indices: list[int]) -> np.ndarray:
        """Group ``g``'s ``log Z`` at ``indices`` as solved before (NaN where not yet)."""
        return np.array([self._log_z.get((g, i), np.nan) for i in indices])

    def _remember(self, g: int, indices: list[int], log_z: np.ndarray) -> None:
        """Keep a window's solution, aligned to the solutions kept before (one offset)."""
        old = self._start(g, indices)
        known = np.isfinite(old)
        shift = float(np.median(old[known] - log_z[known])) if known.any() else 0.0
        self._log_z.update({(g, i): float(f) + shift for i, f in zip(indices, log_z)})


def window(k: int, count: int, width: int) -> tuple[int, int]:
    """``(lo, hi)``: the positions ``lo..hi-1`` of the values point ``k`` of ``count`` pools:
    ``width`` on each side, shifted inward at the ends of the sweep so that every point uses
    ``2 width + 1`` values where there are that many (an end value has neighbours on one
    side only, and would otherwise pool half as many)."""
    size = min(count, 2 * width + 1)
    lo = min(max(0, k - width), count - size)
    return lo, lo + size


def _group_weights(arrays: dict, g: int) -> np.ndarray:
    """``f[S]``: group ``g``'s weights, summing to 1 (equal where the draws are unweighted)."""
    s = arrays["params"].shape[1]
    w = arrays.get("weights")
    w = np.full(s, 1.0 / s) if w is None else np.asarray(w[g], float)
    return w / w.sum()


def _bias_aware(pooled: PointSummary, own: PointSummary) -> PointSummary:
    """``pooled`` with every mass's se widened by its discrepancy from ``own`` beyond the
    own noise (``analysis.pooling.with_discrepancy``)."""
    phases = {k: dataclasses.replace(m, se=with_discrepancy(m.mass, m.se, own.phases[k].mass,
                                                            own.phases[k].se))
              for k, m in pooled.phases.items()}
    other = dataclasses.replace(pooled.other, se=with_discrepancy(
        pooled.other.mass, pooled.other.se, own.other.mass, own.other.se))
    return dataclasses.replace(pooled, phases=phases, other=other)


def _variances(point: PointSummary) -> list[float | None]:
    """Each phase's squared standard error (``None``: unknown)."""
    return [None if m.se is None else m.se ** 2 for m in point.phases.values()]


def _total(variances: list) -> float | None:
    return None if any(v is None for v in variances) else float(sum(variances))


def _own_record(point: PointSummary) -> dict:
    """What a point's own draws said, kept beside its pooled estimate."""
    return {"phases": {k: Mass(m.mass, m.se, se_dof=m.se_dof).to_json()
                       for k, m in point.phases.items()},
            "other": point.other.to_json(), "preferred": point.preferred,
            "mixing_ok": point.mixing_ok, "mixing_notes": list(point.notes)}
