"""Phases found, not only declared: ``discover(spec, at=...)`` -> ``Discovery``.

At each sweep value asked for:

1. the posterior is sampled by the spec's engine (its settings, ``--set`` and ``--quick``
   included; one key per value, as a run's);
2. a deterministic start set is taken from the draws (``analysis.basins.flow_starts``:
   ``STARTS`` per group by systematic resampling; exact draws: every grid node that holds
   mass, each with its weight), and each start is flowed down the potential ``U = -loglik``
   (``n beta L_n``, or ``n beta K`` for an energy) by the same discretised gradient flow as the
   local-minimum criterion (``measure.lcoef.descent_flow``, ``method="gd"``);
3. the end points are put in canonical form (``analysis.basins.canonical``: node
   permutations, sign flips of odd activations, ReLU rescalings), and two ends are one basin
   when the straight path between them rises by no more than the potential's rounding (or
   ``FLAT`` nats), or when the path's highest point flows down to a third point of the
   valley and both halves are joined in turn (``_connected``): a flat or curved critical set
   stays one basin, two minima with a barrier are two;
4. each basin gets its mass with its standard error (spread between the engine's groups;
   0 for exact draws), its loss ``L`` at its critical point, its learning coefficient from
   its own draws (``analysis.lcoef.phase_estimate``), words, and a ``phase`` condition in
   the language, itself checked: compiled and evaluated on the draws, it ``captured`` this
   share of the basin's mass and its ``leak`` is the share of the condition's mass that
   belongs to other basins.

Basins below ``MIN_MASS`` are summed into ``rest``; ``coverage`` is the mass of the basins
reported (the report says what is left).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..analysis.basins import (Basin, Symmetry, Track, basin_masses, canonical, components,
                               best_ball, condition, continue_minimum, describe, fit_nodes,
                               flow_starts, node_condition)
from ..analysis.lcoef import PhaseDraws, PhaseMinimum, phase_estimate
from ..analysis.minima import holds_minimum
from ..analysis.reach import Shared, reach_masses
from ..language.errors import PhaseDSLError, UsageError
from ..language.settings import resolution_width
from ..language.traits import traits
from ..measure.lcoef import curvature_steps, descent_flow, n_beta
from ..measure.minima import CAP, FALLBACK_WIDTH, RATE
from ..measure.stationarity import GOLDSTEIN, ball_points, stationarity
from .tensor_discovery import KindPhase, TensorBasins, kind_groups, kind_words

__all__ = ["discover", "Discovery", "PointBasins", "STARTS", "STEPS", "MIN_MASS",
           "spec_with_phases"]

STARTS = 256  # flows per group of draws (sampled engines)
EXACT_NODES = 40_000  # at most this many grid nodes flowed for exact draws (strided beyond)
STEPS = 2000  # gradient-flow steps per start
ROUNDING = 64  # a path rising by less than this many ulps of the potential is flat ...
FLAT = 1e-6  # ... or by less than this many nats (a chord of a curved valley rises ~ its length^4)
DEPTH = 4  # a path over a ridge is split at the ridge's flowed point at most this often
NEIGHBOURS = 6  # each distinct end is tested against its nearest distinct ends
ROUNDS = 4  # then each basin against its nearest other basins, at most this many rounds
MAX_COMPONENTS = 300  # ... while there are at most this many
PATH_POINTS = 17  # points on each straight path tested
MIN_MASS = 0.005  # basins below this mass are summed into "rest"
SHARED = 0.05  # a note where the two flows split more than this mass between basins
CHUNK = 4096  # flows per compiled call
SETTLE = 4  # the joins' flows take STEPS / SETTLE steps
OTHER_STEP = {"curvature": "spread", "spread": "curvature"}  # the check's flows (``check``)


@dataclass(frozen=True)
class PointBasins:
    """The basins found at one sweep value."""

    value: float
    basins: tuple[Basin, ...]
    coverage: float  # mass of the basins reported
    rest: float  # mass of the basins too small to report
    condition_coverage: float | None  # mass inside the union of the emitted conditions
    method: str  # the draws' ("exact", "repeats", "mcmc")
    spread: tuple[float, ...] = ()  # the draws' spread per coordinate (the flows' scale)
    # the flows' starts f[K, D] (as drawn), their basin int[K] (-1: in `rest`) and the share
    # of the value's mass each carries f[K], for figures (not in to_json)
    starts: np.ndarray | None = field(default=None, repr=False, compare=False)
    labels: np.ndarray | None = field(default=None, repr=False, compare=False)
    share: np.ndarray | None = field(default=None, repr=False, compare=False)
    # tensor specs: each basin's kind of critical point (``analysis.tensor_basins.signature``)
    kinds: tuple = field(default=(), repr=False, compare=False)
    # tensor specs: the kinds held by several basins, each as one phase (``KindPhase``)
    kind_phases: tuple[KindPhase, ...] = ()
    steps: tuple[str, ...] = ()  # the flows' steps, the first the one ``mass`` is of
    shared: tuple[Shared, ...] = ()  # mass the two flows split between two basins

    @property
    def shared_mass(self) -> float:
        """The mass the two flows split between basins (0 with one flow)."""
        return float(sum(x.mass for x in self.shared))

    def to_json(self) -> dict:
        return {"value": self.value, "coverage": self.coverage, "rest": self.rest,
                "condition_coverage": self.condition_coverage, "method": self.method,
                "basins": [b.to_json() for b in self.basins],
                "kinds": [k.to_json() for k in self.kind_phases],
                "flows": list(self.steps), "shared": [x.to_json() for x in self.shared]}

    def written(self) -> list:
        """The phases ``--write`` adds for this value: each kind held by several basins as
        one phase, in place of its basins (their own conditions, written from the same
        invariants, cannot tell them apart), and every other basin the main flow reaches
        (a basin only the check's flows end in has no mass of its own to reproduce)."""
        grouped = {name for k in self.kind_phases for name in k.basins}
        return list(self.kind_phases) + [b for b in self.basins
                                         if b.name not in grouped and b.mass >= MIN_MASS]


@dataclass(frozen=True)
class Discovery:
    """What ``discover`` found: one ``PointBasins`` per sweep value asked for."""

    sweep_name: str
    points: tuple[PointBasins, ...]
    source: str | None = None  # the spec's text, for ``spec_with_phases``
    notes: tuple[str, ...] = field(default=())
    tracks: tuple[Track, ...] = field(default=())

    def to_json(self) -> dict:
        return {"sweep": self.sweep_name, "points": [p.to_json() for p in self.points],
                "tracks": [t.to_json() for t in self.tracks], "notes": list(self.notes)}


def symmetry_of(checked) -> Symmetry:
    """The model's symmetries (``analysis.basins.Symmetry``) from the checked spec. A tensor
    spec's are not listed (its ends stay as flowed): its ends are merged by function
    instead (``pipeline.tensor_discovery``)."""
    names = tuple(str(s) for s in checked.symbols)
    if checked.kind == "network":
        net = checked.network
        box = None
        if net.x_dist is not None and net.x_dist[0] == "uniform":
            box = (float(net.x_dist[1]), float(net.x_dist[2]))
        return Symmetry("network", net.width, net.inputs, net.activation, names, box)
    return Symmetry("energy", names=names)


class _Flows:
    """The compiled pieces of one spec: flows, the potential along paths, the potential."""

    def __init__(self, compiled, steps: int, x64: bool, step: str = "curvature",
                 check: bool = False):
        import jax
        import jax.numpy as jnp

        target = compiled.target
        self.x64, self.dtype = x64, (np.float64 if x64 else np.float32)
        self.steps = (step, OTHER_STEP[step]) if check else (step,)
        lower = np.asarray(target.lower, float)
        upper = np.asarray(target.upper, float)

        def potential(p, ctx):
            return -target.loglik(p, ctx)

        def everywhere(p, ctx):
            return jnp.ones((1,), bool)

        flow = descent_flow(potential, everywhere, lower, upper, steps, method="gd")

        points = ball_points(target.dim)
        gradient = jax.grad(potential)

        settle = descent_flow(potential, everywhere, lower, upper, max(steps // SETTLE, 1),
                              method="gd")

        def one(p0, lr0, dt, ctx, flow=flow, step=step):
            if step == "curvature":   # else the draws' spread alone: one step for every flow
                dt = curvature_steps(potential, p0, ctx, RATE, dt)
            _, _, _, last = flow(p0, lr0, ctx, 0, dt)
            return last, potential(last, ctx)

        def stationary(p, sd, ctx):
            return stationarity(gradient, p, ctx, GOLDSTEIN * sd, lower, upper, points)

        t = jnp.linspace(0.0, 1.0, PATH_POINTS)

        def rise(a, b, ctx):
            path = a[None, :] + t[:, None] * (b - a)[None, :]
            u = jax.vmap(potential, in_axes=(0, None))(path, ctx)
            top = jnp.maximum(u[0], u[-1])
            # beyond the potential's own rounding, not beyond a fixed height: a barrier is
            # a barrier at every n, and a flat critical set's path rises by rounding only
            slack = ROUNDING * jnp.finfo(a.dtype).eps * (jnp.abs(top) + 1.0) + FLAT
            return jnp.max(u) - top - slack, path[jnp.argmax(u)]

        self.flow = jax.jit(jax.vmap(one, in_axes=(0, None, None, None)))
        # ``check``: the other step's flows from the same starts (``analysis.reach``)
        self.other = (jax.jit(jax.vmap(partial(one, step=OTHER_STEP[step]),
                                       in_axes=(0, None, None, None))) if check else None)
        # the joins' flows from a path's highest point: they need only fall below half the
        # path's rise, away from both ends, not to converge (``_connected``)
        self.settle = jax.jit(jax.vmap(partial(one, flow=settle), in_axes=(0, None, None, None)))
        self.stationarity = jax.jit(jax.vmap(stationary, in_axes=(0, None, None)))
        self.rise = jax.jit(jax.vmap(rise, in_axes=(0, 0, None)))
        self.potential = jax.jit(jax.vmap(potential, in_axes=(0, None)))
        self.indicators = jax.jit(jax.vmap(target.indicators, in_axes=(0, None)))

    def scope(self):
        import jax

        return jax.enable_x64(True) if self.x64 else contextlib.nullcontext()

    def context(self, compiled, value):
        import jax
        import jax.numpy as jnp

        return jax.tree.map(lambda a: jnp.asarray(a, self.dtype) if jnp.issubdtype(
            jnp.asarray(a).dtype, jnp.floating) else a, compiled.context(value))

    def chunked(self, fn, *arrays, ctx):
        """``fn`` over the rows of ``arrays`` in chunks of ``CHUNK``, each padded to a power
        of two rows (at least 8), so a handful of compilations serves every call: joining
        basins calls the flows on dozens of different numbers of rows, and each new shape
        costs a compilation (seconds); numpy outputs."""
        import jax.numpy as jnp

        k = len(arrays[0])
        outs = []
        for s in range(0, k, CHUNK):
            part = [np.asarray(a[s:s + CHUNK], self.dtype) for a in arrays]
            pad = min(CHUNK, max(8, 1 << (len(part[0]) - 1).bit_length())) - len(part[0])
            part = [np.concatenate([p, np.repeat(p[-1:], pad, 0)]) if pad else p for p in part]
            got = fn(*[jnp.asarray(p) for p in part], ctx)
            got = got if isinstance(got, tuple) else (got,)
            outs.append([np.asarray(g, float)[: min(CHUNK, k - s)] for g in got])
        return tuple(np.concatenate(parts) for parts in zip(*outs))


def _starts(draws) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(params f[K, D], group int[K], share f[K])``: the flows' starts (module)."""
    params = np.asarray(draws.params, float)
    g, s, d = params.shape
    if draws.weights is None:
        weights = np.full((g, s), 1.0 / s)
    else:
        weights = np.where(np.isfinite(draws.weights), np.asarray(draws.weights, float), 0.0)
    if draws.method == "exact":
        w = weights[0]
        keep = np.flatnonzero(w > 1e-12 * w.max())
        if len(keep) > EXACT_NODES:  # strided: the kept nodes' weights renormalised
            keep = keep[:: math.ceil(len(keep) / EXACT_NODES)]
        share = w[keep] / w[keep].sum()
        return params[0, keep], np.zeros(len(keep), np.int64), share
    idx = flow_starts(weights, STARTS)
    rows = np.arange(g)[:, None].repeat(STARTS, 1)
    return (params[rows, idx].reshape(-1, d), rows.ravel(),
            np.full(g * STARTS, 1.0 / STARTS))


def _spread(params, share) -> np.ndarray:
    """``f[D]``: the starts' weighted spread per coordinate (a floor where it is 0)."""
    w = share / share.sum()
    mu = (w[:, None] * params).sum(0)
    sd = np.sqrt((w[:, None] * (params - mu) ** 2).sum(0))
    return np.where(sd > 0, sd, 1e-2)


def _join(flows, ends, energy, descend, ctx, symmetry, same=None) -> np.ndarray:
    """``int[K]``: the basin of each end ``f[K, D]`` (canonical, potential ``energy f[K]``);
    distinct ends are tested against their ``NEIGHBOURS`` nearest, the nearest first and a
    farther one only while the two are in different basins so far (``_connected``).
    ``same(reps f[R, D]) -> pairs``: ends joined before any path is tested (tensor specs:
    one function, ``pipeline.tensor_discovery``)."""
    scale = max(float(np.max(np.abs(ends))) if len(ends) else 1.0, 1e-12)
    close = 1e-3 * scale
    keys = np.round(ends / close).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(energy[first], kind="stable")  # lowest first
    reps, first = ends[first[order]], first[order]
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    near = _nearest(reps, NEIGHBOURS)
    joined = list(same(reps)) if same is not None else []
    labels = components(len(reps), joined)
    for r in range(near.shape[1]):  # r-th nearest neighbours, only across components so far
        pairs = sorted({(min(i, int(j)), max(i, int(j))) for i, j in enumerate(near[:, r])
                        if labels[i] != labels[j]})
        if not pairs:
            continue
        a, b = (np.array(x) for x in zip(*pairs))
        ok = _connected(flows, reps[a], reps[b], descend, ctx, symmetry)
        joined += [pr for pr, yes in zip(pairs, ok) if yes]
        labels = components(len(reps), joined)
    tested = set()
    for _ in range(ROUNDS):  # components whose members' neighbours all lie inside them
        pairs = [pr for pr in _closest_between(reps, labels) if pr not in tested]
        if not pairs:
            break
        tested.update(pairs)
        a, b = (np.array(x) for x in zip(*pairs))
        ok = _connected(flows, reps[a], reps[b], descend, ctx, symmetry)
        joined += [pr for pr, yes in zip(pairs, ok) if yes]
        labels = components(len(reps), joined)
    return labels[rank[np.ravel(inverse)]]


def _labelled(flows, ends, energy, converged, k: int, descend, ctx, symmetry, same=None):
    """``int[E]``: the basin of each of ``E`` ends ``f[E, D]`` (``k`` per flow, the main
    flow's first): each flow's ends joined on their own (``_join``; joined together, an end
    of one flow stopped on a slope between two minima would join both), then the second
    flow's basins matched to the main flow's (``_matched``)."""
    both = np.concatenate([_join(flows, ends[s:s + k], energy[s:s + k], descend, ctx,
                                 symmetry, same) + s for s in range(0, len(ends), k)])
    if len(ends) == k:
        return both
    return _matched(flows, ends, energy, both, converged, descend, ctx, symmetry, same)


def _converged(flows, ends, sd, nb: float, ctx) -> np.ndarray:
    """``bool[K]``: which of the flows' ends ``f[K, D]`` are local minima by Goldstein's
    test (``measure.stationarity``; ``sd f[D]`` the draws' spread, ``nb`` = n beta)."""
    (grad,) = flows.chunked(lambda p, c: flows.stationarity(p, sd, c), ends, ctx=ctx)
    return holds_minimum(np.ones(len(ends), bool), grad / nb)


def _checked_flows(flows, starts, lr0, dt, sd, nb: float, ctx):
    """``(ends f[K, D], potential f[K], converged bool[K])``: the check's flows
    (``_Flows.other``) from ``starts f[K, D]``, each that ends short of a critical point
    carried on by the main step's flow from where it stopped: still one descent, so still a
    certificate of the minimum it reaches (the spread's step crawls where it is far too
    long along some coordinates, as on the toy model of superposition)."""
    ends, energy = flows.chunked(lambda p, c: flows.other(p, lr0, dt, c), starts, ctx=ctx)
    converged = _converged(flows, ends, sd, nb, ctx)
    short = np.flatnonzero(~converged)
    if len(short):
        ends[short], energy[short] = flows.chunked(lambda p, c: flows.flow(p, lr0, dt, c),
                                                   ends[short], ctx=ctx)
        converged[short] = _converged(flows, ends[short], sd, nb, ctx)
    return ends, energy, converged


def _matched(flows, ends, energy, labels, converged, descend, ctx, symmetry, same=None):
    """``int[2K]``: ``labels int[2K]`` of two flows' ends ``f[2K, D]`` (the main flow's
    first, each flow's basins numbered apart, ``_join``), with each basin of the second
    flow given the number of the main flow's basin at the same minimum, where there is
    one: its lowest end (its critical point), where it converged, is tested against the
    ``NEIGHBOURS`` nearest of the main basins' converged lowest ends (``_connected``; tensor
    specs: also by function, ``same``) and takes the nearest it joins. Minimum to minimum,
    not through the main flow's other ends: those join a basin where they reach its minimum,
    and a check basin matched through one would be counted as reaching it too, whatever its
    own flows found. Two basins of one flow are never merged here, and a check basin whose
    lowest end did not converge stays apart: an end stopped on a slope or a ridge between two
    minima would join both, since the straight path from it down to either does not rise.
    Numbered in order of first end."""
    k = len(labels) // 2

    def lowest_ends(part, offset):
        found = np.unique(part)
        return found, np.array([offset + np.flatnonzero(part == b)[np.argmin(
            energy[offset:offset + k][part == b])] for b in found])

    mine, first = lowest_ends(labels[:k], 0)
    theirs, lowest = lowest_ends(labels[k:], k)
    merged = {int(b): int(b) for b in theirs}
    if same is not None and len(lowest):
        for i, j in same(np.concatenate([ends[first], ends[lowest]])):
            i, j = min(i, j), max(i, j)
            b = int(theirs[j - len(first)]) if i < len(first) <= j else None
            if b is not None and merged[b] == b:
                merged[b] = int(mine[i])
    ok = np.flatnonzero(converged[first])
    todo = [n for n, b in enumerate(theirs)
            if merged[int(b)] == int(b) and converged[lowest[n]]]
    if len(ok) and todo:
        near = _nearest(ends[lowest[todo]], NEIGHBOURS, among=ends[first[ok]])
        pairs = [(n, int(ok[m])) for n, row in zip(todo, near) for m in row]
        a, b = (np.array(x) for x in zip(*pairs))
        joined = _connected(flows, ends[lowest[a]], ends[first[b]], descend, ctx, symmetry)
        for (n, m), yes in zip(pairs, joined):  # nearest first within each basin's pairs
            if yes and merged[int(theirs[n])] == int(theirs[n]):
                merged[int(theirs[n])] = int(mine[m])
    out = labels.copy()
    out[k:] = [merged[int(b)] for b in labels[k:]]
    return _renumbered(out)


def _renumbered(labels) -> np.ndarray:
    """``int[E]``: ``labels`` renumbered 0, 1, ... in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first, kind="stable"), kind="stable")
    return rank[np.ravel(inverse)]


def _closest_between(points, labels, per: int = 3, block: int = 1024) -> list[tuple]:
    """For each component of ``labels int[R]``, the closest pair of rows of ``points
    f[R, D]`` between it and each of its ``per`` nearest other components: ``(i, j)`` with
    ``i < j``. A component's own neighbours can all lie inside it (a dense cluster of ends),
    so the k-nearest rounds alone would never test it against the next basin."""
    comps = int(labels.max()) + 1 if len(labels) else 0
    if not 2 <= comps <= MAX_COMPONENTS:
        return []
    best = np.full((comps, comps), np.inf)
    arg = np.zeros((comps, comps, 2), np.int64)
    sq = (points ** 2).sum(1)
    for s in range(0, len(points), block):
        d = np.sqrt(np.maximum(sq[s:s + block, None] + sq[None, :]
                               - 2 * points[s:s + block] @ points.T, 0.0))
        rows = np.arange(s, s + len(d))
        for c in range(comps):
            cols = np.flatnonzero(labels == c)
            sub = d[:, cols]
            j = np.argmin(sub, axis=1)
            dist = sub[np.arange(len(d)), j]
            for r_c in np.unique(labels[rows]):
                mine = labels[rows] == r_c
                if r_c == c or not mine.any():
                    continue
                k = np.flatnonzero(mine)[np.argmin(dist[mine])]
                if dist[k] < best[r_c, c]:
                    best[r_c, c] = dist[k]
                    arg[r_c, c] = (rows[k], cols[j[k]])
    out = set()
    for c in range(comps):
        for c2 in np.argsort(best[c], kind="stable")[:per]:
            if np.isfinite(best[c, c2]):
                i, j = arg[c, c2]
                out.add((int(min(i, j)), int(max(i, j))))
    return sorted(out)


def _nearest(points, k: int, among=None, block: int = 1024) -> np.ndarray:
    """``int[R, min(k, R - 1)]``: each row's ``k`` nearest other rows of ``points f[R, D]``,
    nearest first (distances computed a block of rows at a time); with ``among f[A, D]``,
    ``int[R, min(k, A)]``: each row's ``k`` nearest rows of ``among``."""
    others = points if among is None else among
    sq, sq_others = (points ** 2).sum(1), (others ** 2).sum(1)
    k = min(k, len(others) - (among is None))
    out = np.zeros((len(points), max(k, 0)), np.int64)
    for s in range(0, len(points), block):
        d = sq[s:s + block, None] + sq_others[None, :] - 2 * points[s:s + block] @ others.T
        if among is None:
            d[np.arange(len(d)), np.arange(s, s + len(d))] = np.inf  # not itself
        if k < d.shape[1] - 1:
            idx = np.argpartition(d, k, axis=1)[:, :k]
        else:
            idx = np.tile(np.arange(d.shape[1]), (len(d), 1))
        order = np.argsort(np.take_along_axis(d, idx, 1), axis=1, kind="stable")[:, :k]
        out[s:s + block] = np.take_along_axis(idx, order, 1)
    return out


def _connected(flows, a, b, descend, ctx, symmetry, depth: int = 0) -> np.ndarray:
    """``bool[M]``: whether ends ``a[m]`` and ``b[m]`` (``f[M, D]``) lie on one critical set:
    the straight path between them rises by no more than rounding, or, where it rises, the
    path's highest point flows to a third point of the set (neither end) and both halves are
    connected in turn (a curved valley: each chord's rise shrinks as it is split). A highest
    point that flows back to an end is a ridge between two minima: not connected.
    ``descend`` need not converge (``_Flows.settle``: a quarter of the flows' steps): a
    point stopped on its way down to an end splits the path at a point of that end's basin,
    and the half across the ridge still rises; what joins two ends (every piece of the split
    path flat, each split point below half its path's rise) is unchanged."""
    if len(a) == 0:
        return np.zeros(0, bool)
    over, top = flows.chunked(flows.rise, a, b, ctx=ctx)
    ok = over <= 0
    todo = np.flatnonzero(~ok)
    if depth >= DEPTH or not len(todo):
        return ok
    mid = canonical(descend(top[todo]), symmetry, reference=a[todo])
    (u_mid,), (u_a,), (u_b,), (u_top,) = (flows.chunked(flows.potential, x, ctx=ctx)
                                          for x in (mid, a[todo], b[todo], top[todo]))
    # a third point of the valley: away from both ends and down in it (a flow that stalls
    # on a saddle, its gradient zero across the ridge, stays as high as the ridge)
    low = u_mid - np.maximum(u_a, u_b) <= 0.5 * (u_top - np.maximum(u_a, u_b))
    gap = np.linalg.norm(a[todo] - b[todo], axis=1)
    apart = low & (np.minimum(np.linalg.norm(mid - a[todo], axis=1),
                              np.linalg.norm(mid - b[todo], axis=1)) > 0.25 * gap)
    split = todo[apart]
    if len(split):
        m = mid[apart]
        left = _connected(flows, a[split], m, descend, ctx, symmetry, depth + 1)
        right = _connected(flows, m, b[split], descend, ctx, symmetry, depth + 1)
        ok[split] = left & right
    return ok


def _phase_lines(basins: list[Basin]) -> str:
    return "".join(f"phase {b.name} = {b.condition}\n" for b in basins)


def spec_with_phases(source: str, basins) -> str:
    """The spec's text with ``basins``' ``phase`` lines added at its end (under a comment)."""
    text = source if source.endswith("\n") else source + "\n"
    return text + "# phases found by `phasedsl discover`\n" + _phase_lines(list(basins))


def _unique_names(count: int, taken, prefix: str = "basin") -> list[str]:
    names, k = [], 1
    while len(names) < count:
        if f"{prefix}{k}" not in taken:
            names.append(f"{prefix}{k}")
        k += 1
    return names


def _check_conditions(spec, source, basins, kinds, value, start_rows, labels, share, groups):
    """``(basins, kinds, covered)``: ``basins`` and ``kinds`` (``KindPhase``, each the union
    of its ``basins``) with ``captured`` and ``leak`` measured by compiling their conditions
    and evaluating them on the starts' own draws; ``covered``: the mass inside the union of
    the basins' conditions."""
    import dataclasses

    from ..lower.compile import compile_spec
    from .spec import load_text

    if not basins:
        return basins, kinds, None
    try:
        text = spec_with_phases(source, list(basins) + list(kinds))
        checked = load_text(text, "<discovered>", spec.overrides, spec.quick).checked
    except PhaseDSLError:
        return basins, kinds, None
    compiled = compile_spec(checked)
    names = compiled.phase_names
    import jax

    fn = jax.jit(jax.vmap(compiled.target.indicators, in_axes=(0, None)))
    per_value = share / groups
    inds = np.asarray(fn(np.asarray(start_rows, np.float32), compiled.context(value)), bool)

    def measured(phase, mine):
        col = inds[:, names.index(phase.name)]
        in_mass = per_value[mine].sum()
        captured = per_value[mine & col].sum() / in_mass if in_mass > 0 else None
        cond_mass = per_value[col].sum()
        leak = per_value[col & ~mine].sum() / cond_mass if cond_mass > 0 else 0.0
        return dataclasses.replace(phase, captured=captured, leak=leak), col

    out, inside_any = [], np.zeros(len(start_rows), bool)
    for k, b in enumerate(basins):
        b, col = measured(b, labels == k)
        out.append(b)
        inside_any |= col
    order = {b.name: k for k, b in enumerate(basins)}
    kinds = [measured(kind, np.isin(labels, [order[n] for n in kind.basins]))[0]
             for kind in kinds]
    return out, tuple(kinds), float(per_value[inside_any].sum())


def _kind_phases(flows, tensor, probe, starts, basins, labels, kinds, group, share, groups,
                 exact: bool, taken) -> tuple[KindPhase, ...]:
    """The kinds of critical point held by several of ``basins`` (``kinds``: each basin's
    signature; ``labels int[K]``: each start's basin, -1 in ``rest``), each as one phase:
    the union's mass and se (as a basin's, ``basin_masses``) and a condition fitted to the
    union's starts against all others', at the kind's most massive basin's point."""
    out = []
    sets = kind_groups(kinds)
    for name, members in zip(_unique_names(len(sets), taken, "kind"), sets):
        mine = np.isin(labels, members)
        mass, se, _ = basin_masses(np.where(mine, 0, 1), group, share, groups, exact)
        with flows.scope():
            cond = tensor.condition(flows, starts, np.asarray(basins[members[0]].at), mine,
                                    share / groups, probe)
        out.append(KindPhase(name, tuple(basins[m].name for m in members), float(mass[0]),
                             float(se[0]), kind_words(kinds[members[0]]), cond))
    return tuple(out)


def _words(flows, tensor, probe, starts, point, mine, weight, symmetry):
    """``(description, condition, kind)`` of the basin of ``point f[D]`` (its starts
    ``mine bool[K]`` of ``starts f[K, D]``, masses ``weight f[K]``): from the network or
    energy's coordinates, or (``tensor``, a ``TensorBasins``) from matrix invariants."""
    if tensor is None and symmetry.kind == "network":
        return (describe(point, symmetry),
                node_condition(point, fit_nodes(starts, point, mine, weight, symmetry),
                               symmetry), None)
    if tensor is None:
        return (describe(point, symmetry),
                condition(*best_ball(starts, point, mine, weight, symmetry), symmetry), None)
    with flows.scope():
        used = tensor.used(flows, point, probe)  # once for both
        words, kind = tensor.describe(flows, point, probe, used)
        cond = tensor.condition(flows, starts, point, mine, weight, probe, used)
    return words, cond, kind


def _basins_at(spec, source, flows, compiled, value, draws, tensor=None):
    """``PointBasins`` at one sweep value from its ``draws`` (module); ``tensor``: a
    ``TensorBasins`` for a tensor spec (ends merged by function, invariant words)."""
    checked = compiled.checked
    symmetry = symmetry_of(checked)
    starts, group, share = _starts(draws)
    groups = int(group.max()) + 1
    sd = _spread(starts, share)
    nb = n_beta(checked, value)
    with flows.scope():
        ctx = flows.context(compiled, value)
        probe = None if tensor is None else tensor.probe(ctx, flows.dtype)
        same = None if tensor is None else tensor.same(flows, probe)
        lr0 = np.asarray(CAP * sd, flows.dtype)
        dt = np.asarray(RATE * sd ** 2, flows.dtype)
        sd_ = np.asarray(sd, flows.dtype)

        def descend(p):
            return flows.chunked(lambda q, c: flows.settle(q, lr0, dt, c), p, ctx=ctx)[0]

        ends, energy = flows.chunked(lambda p, c: flows.flow(p, lr0, dt, c), starts, ctx=ctx)
        k_starts = len(starts)
        converged = _converged(flows, ends, sd_, nb, ctx)
        if flows.other is not None:  # every start flowed twice (``analysis.reach``)
            ends2, energy2, conv2 = _checked_flows(flows, starts, lr0, dt, sd_, nb, ctx)
            ends, energy = np.concatenate([ends, ends2]), np.concatenate([energy, energy2])
            converged = np.concatenate([converged, conv2])
        ends = canonical(ends, symmetry)
        ends = canonical(ends, symmetry, reference=ends[int(np.argmin(energy))])
        (start_energy,) = flows.chunked(flows.potential, starts, ctx=ctx)
        both = _labelled(flows, ends, energy, converged, k_starts, descend, ctx, symmetry,
                         same)
    labels, other = both[:k_starts], both[k_starts:]
    if not len(other):
        other = labels
    exact = draws.method == "exact"
    count = int(both.max()) + 1
    mass, se, _ = basin_masses(labels, group, share, groups, exact)
    mass2, _, _ = basin_masses(other, group, share, groups, exact)
    mass, se, mass2 = (np.pad(x, (0, count - len(x))) for x in (mass, se, mass2))
    # a basin only the check's flows reach is kept too (its mass under the main flow: 0)
    order = np.lexsort((-mass2, -mass))
    keep = [int(b) for b in order if max(mass[b], mass2[b]) >= MIN_MASS]
    relabel = np.full(count, -1)
    relabel[keep] = np.arange(len(keep))
    reach = (reach_masses(relabel[labels], relabel[other], group, share, groups, exact,
                          len(keep)) if flows.other is not None else None)
    names = _unique_names(len(keep), set(checked.phase_names) | set(checked.lets))
    lowest = [int(np.flatnonzero(both == b)[np.argmin(energy[both == b])]) for b in keep]
    points = ends[lowest]
    per = len(share) // groups  # starts per group
    col = np.arange(len(share)) - group * per
    basins, kinds = [], []
    for k, b in enumerate(keep):
        mine = labels == b
        if not mine.any():  # reached by the check's flows alone
            mine = other == b
        inside = np.zeros((groups, per), bool)
        e, wts = np.zeros((groups, per)), np.zeros((groups, per))
        inside[group, col], e[group, col], wts[group, col] = mine, start_energy, share
        est = phase_estimate(names[k], PhaseDraws(e, wts, inside, draws.method),
                             PhaseMinimum(float(energy[lowest[k]]), points[k]), nb)
        words, cond, kind = _words(flows, tensor, probe, starts, points[k], mine,
                                   share / groups, symmetry)
        kinds.append(kind)
        bounds = {} if reach is None else {
            "pure": float(reach.pure[k]), "pure_se": float(reach.pure_se[k]),
            "reach": float(reach.reach[k]), "reach_se": float(reach.reach_se[k])}
        basins.append(Basin(
            names[k], tuple(float(x) for x in points[k]), float(mass[b]), float(se[b]),
            float(energy[lowest[k]]) / nb, bool(converged[both == b].any()), words, cond,
            int(mine.sum()), est.lam, est.se, **bounds))
    coverage = float(mass[keep].sum()) if keep else 0.0
    kind_phases = ()
    if tensor is not None:
        kind_phases = _kind_phases(flows, tensor, probe, starts, basins, relabel[labels],
                                   kinds, group, share, groups, draws.method == "exact",
                                   set(names) | set(checked.phase_names) | set(checked.lets))
    basins, kind_phases, covered = _check_conditions(spec, source, basins, kind_phases, value,
                                                     starts, relabel[labels], share, groups)
    shared = () if reach is None else tuple(
        Shared(tuple(names[i] if i >= 0 else "rest" for i in (a, b)), m, e)
        for a, b, m, e in reach.shared)
    return PointBasins(float(value), tuple(basins), coverage, float(1 - coverage), covered,
                       draws.method, tuple(float(x) for x in sd), starts, relabel[labels],
                       share / groups, tuple(kinds) if tensor is not None else (),
                       kind_phases, flows.steps, shared)


def _track(flows, compiled, point: PointBasins, width: float) -> list[Track]:
    """Each basin of ``point`` carried along the whole sweep (``analysis.basins.
    continue_minimum``): a flow from the minimum carried so far at each next value; the
    minimum is lost where a flow moves it more than half way to the nearest other basin's
    critical point at ``point.value`` (one basin alone: more than the draws' spread)."""
    checked = compiled.checked
    symmetry = symmetry_of(checked)
    sd = np.asarray(point.spread, float)
    lr0, dt = np.asarray(CAP * sd, flows.dtype), np.asarray(RATE * sd ** 2, flows.dtype)
    values = sorted(float(v) for v in checked.sweep_values)
    centres = np.array([b.at for b in point.basins], float)
    out = []
    for k, basin in enumerate(point.basins):
        others = np.delete(centres, k, axis=0)
        jump = (0.5 * float(np.min(np.linalg.norm(others - centres[k], axis=1)))
                if len(others) else float(np.linalg.norm(sd)))

        def step(v, w, jump=jump):
            with flows.scope():
                ctx = flows.context(compiled, v)
                (end,) = flows.chunked(lambda p, c: flows.flow(p, lr0, dt, c)[0],
                                       np.asarray(w)[None], ctx=ctx)
            end = canonical(end, symmetry, reference=w)[0]
            return end, bool(np.linalg.norm(end - w) <= jump)

        ends, held = [], [point.value]
        for direction, kind in ((1, "destruction"), (-1, "creation")):
            way = [v for v in values if (v - point.value) * direction > 0][::direction]
            kept, lost = continue_minimum(step, basin.at, point.value, way, width)
            held += [v for v, _ in kept]
            if lost is not None:
                ends.append({"kind": kind, "between": sorted(float(x) for x in lost)})
        out.append(Track(basin.name, point.value, tuple(sorted(held)), tuple(ends)))
    return out


def _shared_note(value: str, point: PointBasins) -> str:
    return (f"{value}: the two flows end at different minima for {point.shared_mass:.3f} "
            "of the mass "
            f"(the {point.steps[0]} step's masses are one partition of it; each basin's "
            "mass lies between its pure and reach masses)")


def discover(spec, at=None, *, seed: int | None = None, steps: int = STEPS,
             source: str | None = None, track: bool = False,
             flow_step: str = "curvature", check_flow: bool = True) -> Discovery:
    """The basins of ``spec``'s posterior at the sweep values ``at`` (default: every value
    of the sweep). ``source``: the spec's text (read from ``spec.path`` when None), used to
    check the emitted conditions and by ``spec_with_phases``. ``track``: each basin found at
    the first value asked for is carried along the whole sweep (``Discovery.tracks``): where
    its minimum stops existing is an order-2 destruction or creation, found by flows alone.
    ``flow_step``: each flow's step per coordinate from the curvature at its start
    (``"curvature"``) or from the draws' spread alone, the same for every flow
    (``"spread"``): the same critical points, but where the posterior's mass lies in flat
    valleys leading to several minima the basins' masses can differ (``docs/discover.md``,
    Limits). ``check_flow``: every start is flowed by the other step too, and a basin's
    mass is bounded by the mass both flows send to it (``pure``) and the mass either sends
    to it (``reach``), with the mass they split between two basins (``shared``;
    ``analysis.reach``): the flows' time doubles."""
    from ..engines.registry import make_engine
    from ..lower.compile import compile_spec
    from .points import point_key

    checked = spec.checked
    if checked.grid is not None:
        raise UsageError("discover works on one-dimensional sweeps; give a grid's cells "
                         "as a one-dimensional spec")
    if source is None:
        if spec.path is None:
            raise UsageError("discover needs the spec's text (source=...) for a spec "
                             "loaded without a file")
        from pathlib import Path

        source = Path(spec.path).read_text(encoding="utf-8")
    values = list(checked.sweep_values if not at else at)
    compiled = compile_spec(checked)
    engine = make_engine(checked.engine, compiled.target, dict(checked.sample))
    if flow_step not in ("curvature", "spread"):
        raise UsageError(f"flow_step is 'curvature' or 'spread', not {flow_step!r}")
    flows = _Flows(compiled, steps, x64=traits(checked.engine).exact, step=flow_step,
                   check=check_flow)
    tensor = TensorBasins(compiled, source) if checked.kind == "tensor" else None
    seed = int(checked.sample.get("seed", 0) if seed is None else seed)
    points = []
    for i, v in enumerate(values):
        draws = engine.run(point_key(seed, i), compiled.context(float(v)))
        points.append(_basins_at(spec, source, flows, compiled, float(v), draws, tensor))
    notes = tuple(f"{checked.value_text(p.value)}: basins below {MIN_MASS} hold {p.rest:.3f}"
                  for p in points if p.rest > 0.05)
    notes += tuple(_shared_note(checked.value_text(p.value), p) for p in points
                   if p.shared_mass > SHARED)
    tracks = ()
    if track and points:
        width = resolution_width(checked.report, checked.sweep_values)
        if width <= 0:
            width = FALLBACK_WIDTH * (max(checked.sweep_values) - min(checked.sweep_values))
        tracks = tuple(_track(flows, compiled, points[0], width))
    return Discovery(checked.sweep_name or "value", tuple(points), source, notes, tracks)
