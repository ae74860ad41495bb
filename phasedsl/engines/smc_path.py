"""The sweep as one tempering path: SMC particles carried from each sweep value to the next.

Neighbouring sweep values have nearby posteriors, so tempering every point from the prior
(``phasedsl.engines.smc``) repeats most of its work. Here each run tempers from the prior once,
at the first value of its path (with ``smc``'s persistent sampling, whose whole weighted
ensemble is that point's answer), then moves its particles along the sweep through bridging
distributions between consecutive values ``a`` and ``b``,

    pi_t(z) ∝ prior(z) * L_a(z)^(1 - t) * L_b(z)^t,        t from 0 to 1,

in stages chosen so that the conditional effective sample size of each reweighting stays at
``target_ess`` (Zhou, Johansen and Aston 2016). Particles keep their weights between stages;
only where the weights' ESS falls below ``target_ess * particles`` are they resampled and
moved (HMC steps targeting ``pi_t``, as in ``smc``). Between close neighbours a bridge is
often one reweighting and nothing else: the posterior moves, the particles need not.

Resampling is systematic over the particles sorted by which phases they lie in, so every
phase keeps its share of the weight to within one particle (a plain resampling would let the
phases' shares drift at random from bridge to bridge). ``log Z`` at each value is the first
point's estimate plus the bridges' log mean incremental weights, so absolute free energies
stay available along the sweep.

Half the runs walk the sweep forwards and half backwards (from the last value), so a phase
that exists at one end but is created or destroyed mid-sweep is seen by the runs that start
where it exists; where the two directions disagree, the analysis flags the point and the
pipeline tempers it again from the prior (``retemper``). Each run is independent, so the
standard error of any mass is the spread of the runs (``Draws.method = "repeats"``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import jax
import jax.numpy as jnp

from phasedsl.engines import ticks
from phasedsl.engines.base import CompiledCache, as_arrays, as_key, unconstrained
from phasedsl.engines.smc import SmcEngine, build_smc, hmc_moves
from phasedsl.language.traits import TRAITS
from phasedsl.lower.target import Draws, Target
from phasedsl.lower.run_info import SmcInfo

__all__ = ["SmcPathEngine", "build_path"]


def build_path(target: Target, settings, *, block: int = 0, bridge_mutations: int = 0):
    """``settings``: ``smc``'s settings record (``build_smc``; read by name). The pure
    function ``(key, ctxs) -> (first, path)`` for ``V`` contexts stacked along a
    leading axis, in the order one direction walks them (progress ticks per run: ``smc``'s at
    the first value, then one per stage of each bridge: ``phasedsl.engines.ticks``).

    ``first``: ``smc``'s ``SmcOutput`` at ``ctxs[0]`` (``R`` runs). ``path``: a dict of arrays
    with leading axes ``[R, V-1]`` for values ``1..V-1``: ``x f[N,D]``, ``ind bool[N,P]``,
    ``logdensity f[N]``, ``weights f[N]`` (normalised), ``log_z f[]``, ``stages i[]``
    (reweighting stages of the bridge into the value), ``moves i[]`` (stages that resampled
    and moved), ``acceptance f[]``, ``ess f[]`` (the weights' ESS at the value); one bridge
    is ``phasedsl.engines.smc_path_kernel.bridge``."""

    from phasedsl.engines import smc_path_kernel as pk

    zt = unconstrained(target)
    runs, n = settings.runs, settings.particles
    first_run = build_smc(target, settings, block=block)
    kernel = pk.PathKernel(
        target=target, zt=zt, particles=n, target_accept=settings.target_accept,
        move=hmc_moves(bridge_mutations or settings.mutations, settings.integration_steps,
                       settings.step_min, settings.step_max, block))

    def walk(key, first_z, first_w, first_codes, log_z0, scale0, ctxs, run_number):
        """One run along ``ctxs[1:]``, starting from the first point's weighted ensemble."""
        k_start, k_walk = jax.random.split(key)
        idx = pk.stratified_resample(k_start, first_w, first_codes, n)
        state = pk.PathState(first_z[idx], jnp.full((n,), -math.log(n), first_z.dtype),
                             log_z0, jnp.log(scale0))
        ctx_a = jax.tree.map(lambda a: a[:-1], ctxs)
        ctx_b = jax.tree.map(lambda a: a[1:], ctxs)
        bridges = jax.tree.leaves(ctxs)[0].shape[0] - 1
        keys = jax.random.split(k_walk, bridges)

        def step(state, item):
            kk, a, b, number = item
            point = ticks.point_of(b)

            def report(c):  # progress: stages of this bridge, its t
                ticks.tick(ticks.Source("smc_path", bridges=bridges), point=point,
                           chain=run_number, done=c.stages, lam=c.t, bridge=number)

            return pk.bridge(kernel, kk, state, a, b, report)

        _, path = jax.lax.scan(step, state, (keys, ctx_a, ctx_b,
                                             jnp.arange(1, bridges + 1, dtype=jnp.int32)))
        return path

    def run(key, ctxs, _item=0):  # _item: build_many's work item number, unused
        k_first, k_walk = jax.random.split(key)
        ctx0 = jax.tree.map(lambda a: a[0], ctxs)
        first = first_run(k_first, ctx0)
        z_first = jax.vmap(jax.vmap(zt.to_z))(first.x)  # [R, M, D]
        codes = jnp.sum(first.ind.astype(jnp.int32)
                        * (2 ** jnp.arange(first.ind.shape[-1], dtype=jnp.int32)), axis=-1)
        keys = jax.vmap(lambda r: jax.random.fold_in(k_walk, r))(jnp.arange(runs))
        path = jax.vmap(walk, in_axes=(0, 0, 0, 0, 0, 0, None, 0))(
            keys, z_first, first.weights, codes, first.log_z, first.scale, ctxs,
            jnp.arange(runs, dtype=jnp.int32))
        return first, path

    return run


class SmcPathEngine(SmcEngine):
    """``make_engine("smc_path", target, settings)``: ``smc``'s settings; ``runs`` independent
    paths, the first half forwards along the sweep, the rest backwards. ``run``/``run_many``
    sample points on their own, as ``smc`` does; ``run_sweep`` walks the path."""

    name = "smc_path"
    traits = TRAITS["smc_path"]

    def __init__(self, target: Target, settings: dict):
        super().__init__(target, settings)
        self.bridge_mutations = int(settings.get("bridge_mutations") or 0)
        # compiled paths: by the runs of one direction, ("both", runs) for two side by side
        self._paths: dict = {}

    @property
    def traces(self) -> int:
        return super().traces + sum(c.traces for c in self._paths.values())

    def run_sweep(self, key, ctxs: list) -> list[Draws]:
        """``Draws`` at each of the ``V`` contexts (sweep order), from ``runs`` paths: the
        first ``ceil(runs / 2)`` walk forwards from ``ctxs[0]``, the others backwards from
        ``ctxs[-1]``. With one context this is ``run``."""

        key = as_key(key)
        if len(ctxs) == 1:
            return [self.run(key, ctxs[0])]
        s = self.settings
        t0 = time.perf_counter()
        forward = -(-s["runs"] // 2)
        directions = [(0, list(ctxs), forward)]
        if s["runs"] > forward:
            directions.append((1, list(reversed(ctxs)), s["runs"] - forward))
        per_point = [[] for _ in ctxs]
        devices = min(self.devices or jax.device_count(), jax.device_count())
        if len(directions) == 2 and forward == s["runs"] - forward and devices > 1:
            walked, compile_total = self._walk_side_by_side(key, directions)
        else:
            walked, compile_total = self._walk_one_by_one(key, directions)
        for (d, ordered, runs), (first, path) in zip(directions, walked):
            for v in range(len(ordered)):
                index = v if d == 0 else len(ordered) - 1 - v
                part = self._first(first) if v == 0 else _at(path, v - 1)
                part["direction"] = np.full(runs, d)
                per_point[index].append(part)
        sample_s = time.perf_counter() - t0 - compile_total
        draws = []
        for v, parts in enumerate(per_point):
            draws.append(self._combine(parts, compile_total if v == 0 else 0.0,
                                       sample_s / len(ctxs)))
        return draws

    def _walk_one_by_one(self, key, directions):
        """``([(first, path)] per direction, compile seconds)``: one call per direction."""

        from phasedsl.engines.many import stack_contexts

        walked, compile_total = [], 0.0
        for d, ordered, runs in directions:
            out, compile_s = self._direction_cache(runs).call(
                jax.random.fold_in(key, d), as_arrays(stack_contexts(ordered)))
            walked.append(jax.tree.map(np.asarray, jax.block_until_ready(out)))
            compile_total += compile_s
        return walked, compile_total

    def _walk_side_by_side(self, key, directions):
        """As ``_walk_one_by_one`` for two directions of equal runs, in one call with the
        directions on two devices (``engines.many.build_many``): on a CPU split into one
        device per core (``--cpu-devices``) both cores walk at once instead of one."""

        from phasedsl.engines.many import build_many, stack_contexts

        runs = directions[0][2]
        cache_key = ("both", runs)
        if cache_key not in self._paths:
            self._paths[cache_key] = CompiledCache(build_many(
                self._build(runs), "sequential", devices=2))
        keys = jnp.stack([jax.random.fold_in(key, d) for d, _, _ in directions])
        ctxs = stack_contexts([stack_contexts(ordered) for _, ordered, _ in directions])
        out, compile_s = self._paths[cache_key].call(keys, as_arrays(ctxs))
        out = jax.tree.map(np.asarray, jax.block_until_ready(out))
        return [jax.tree.map(lambda a: a[d], out) for d in range(2)], compile_s

    def _build(self, runs: int):
        """The pure path function of ``runs`` runs (``build_path``)."""
        return build_path(self.target, self.record(runs=runs), block=self.particle_block,
                          bridge_mutations=self.bridge_mutations)

    def _direction_cache(self, runs: int) -> CompiledCache:
        caches = self._paths
        if runs not in caches:
            caches[runs] = CompiledCache(self._build(runs))
        return caches[runs]

    def _first(self, first) -> dict:
        """The first point of a direction: ``smc``'s persistent ensemble, trimmed to the
        samples of non-negligible weight."""
        d = self._draws(first, 0.0, 0.0, 0.0)
        return {"x": d.params, "ind": d.indicators, "logdensity": d.logdensity,
                "weights": d.weights, "log_z": d.log_z, "stages": np.asarray(d.info.stages),
                "moves": np.asarray(d.info.stages),
                "acceptance": np.asarray(d.info.acceptance), "ess": np.asarray(d.info.ess),
                "retempered": True}

    def _combine(self, parts: list[dict], compile_s: float, sample_s: float) -> Draws:
        """One ``Draws`` from the runs of both directions (padded to a common sample count
        with zero-weight copies)."""
        size = max(p["x"].shape[1] for p in parts)

        def pad(a, fill=0.0):
            extra = size - a.shape[1]
            if extra == 0:
                return a
            tail = np.repeat(a[:, -1:], extra, axis=1)
            return np.concatenate([a, tail if fill is None else np.full_like(tail, fill)], axis=1)

        x = np.concatenate([pad(p["x"], None) for p in parts])
        ind = np.concatenate([pad(p["ind"], None) for p in parts])
        logd = np.concatenate([pad(p["logdensity"], None) for p in parts])
        weights = np.concatenate([pad(p["weights"].astype(np.float64), 0.0) for p in parts])
        weights /= weights.sum(axis=1, keepdims=True)
        log_z = np.concatenate([np.asarray(p["log_z"], np.float64).reshape(-1) for p in parts])
        with np.errstate(divide="ignore"):
            phase_log_z = log_z[:, None] + np.log(np.einsum("rn,rnp->rp", weights, ind))
        cat = lambda key: [float(v) for p in parts for v in np.asarray(p[key]).reshape(-1)]
        s = self.settings
        moves = sum(int(v) for v in cat("moves"))
        info = SmcInfo(
            engine=self.name, particle_block=self.particle_block, particles=s["particles"],
            runs=s["runs"], stages=[int(v) for v in cat("stages")], ess=cat("ess"),
            acceptance=cat("acceptance"), reached_posterior=True,
            tempered_from_prior=any(p.get("retempered") for p in parts),
            directions=[int(v) for p in parts for v in p["direction"]],
            grad_evals=moves * (self.bridge_mutations or s["mutations"])
            * s["integration_steps"] * s["particles"],
            compile_s=compile_s, sample_s=sample_s, wall_s=sample_s + compile_s)
        return Draws(params=x, indicators=ind, logdensity=logd, weights=weights,
                     method="repeats", log_z=log_z, phase_log_z=phase_log_z, info=info)


def _at(path: dict, v: int) -> dict:
    return {k: a[:, v] for k, a in path.items()}
