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

from phasedsl.engines import ticks
from phasedsl.engines.base import CompiledCache, as_arrays, as_key, unconstrained
from phasedsl.engines.smc import SmcEngine, build_smc, hmc_moves
from phasedsl.language.traits import TRAITS
from phasedsl.lower.target import Draws, Target

__all__ = ["SmcPathEngine", "build_path", "stratified_resample"]

MAX_BRIDGE_STAGES = 200  # safety cap on the stages of one bridge
BRIDGE_CESS = 0.9  # each reweighting keeps this conditional ESS (a fraction of the particles)


def stratified_resample(key, weights, codes, n: int):
    """``int[n]`` indices drawn from ``weights f[M]`` by systematic resampling over the
    particles sorted by ``codes i[M]`` (which phases each lies in): every code's total weight
    ``W_c`` gets ``floor(n W_c)`` or ``ceil(n W_c)`` particles."""
    import jax
    import jax.numpy as jnp

    order = jnp.argsort(codes, stable=True)
    cum = jnp.cumsum(weights[order])
    cum = cum / cum[-1]
    u = (jax.random.uniform(key, (), weights.dtype) + jnp.arange(n, dtype=weights.dtype)) / n
    pos = jnp.clip(jnp.searchsorted(cum, u, side="right"), 0, weights.shape[0] - 1)
    return order[pos]


def build_path(target: Target, settings, *, block: int = 0, bridge_mutations: int = 0):
    """``settings``: ``smc``'s settings record (``build_smc``; read by name). The pure
    function ``(key, ctxs) -> (first, path)`` for ``V`` contexts stacked along a
    leading axis, in the order one direction walks them (progress ticks per run: ``smc``'s at
    the first value, then one per stage of each bridge: ``phasedsl.engines.ticks``).

    ``first``: ``smc``'s ``SmcOutput`` at ``ctxs[0]`` (``R`` runs). ``path``: a dict of arrays
    with leading axes ``[R, V-1]`` for values ``1..V-1``: ``x f[N,D]``, ``ind bool[N,P]``,
    ``logdensity f[N]``, ``weights f[N]`` (normalised), ``log_z f[]``, ``stages i[]``
    (reweighting stages of the bridge into the value), ``moves i[]`` (stages that resampled
    and moved), ``acceptance f[]``, ``ess f[]`` (the weights' ESS at the value)."""
    import jax
    import jax.numpy as jnp
    from blackjax.smc import solver
    from jax.scipy.special import logsumexp

    zt = unconstrained(target)
    runs, target_accept = settings.runs, settings.target_accept
    n, dim = settings.particles, int(target.dim)
    first_run = build_smc(target, settings, block=block)
    move = hmc_moves(bridge_mutations or settings.mutations, settings.integration_steps,
                     settings.step_min, settings.step_max, block)
    dim_factor = float(dim) ** -0.25

    def loglik(z, ctx):  # NaN (an undefined likelihood) counts as -inf
        value = zt.loglik(z, ctx)
        return jnp.where(jnp.isnan(value), -jnp.inf, value)

    def codes_of(z, ctx):
        ind = jnp.asarray(target.indicators(zt.to_x(z), ctx), dtype=jnp.int32)
        return jnp.sum(ind * (2 ** jnp.arange(ind.shape[0], dtype=jnp.int32)))

    def normalise(lw):
        return lw - logsumexp(lw)

    def ess(lw):
        return jnp.exp(2 * logsumexp(lw) - logsumexp(2 * lw))

    def bridge(key, state, ctx_a, ctx_b, run_number, number, bridges):
        """Move ``state`` (particles at the posterior of ``ctx_a``) to that of ``ctx_b``;
        ``number`` (1-based) of ``bridges`` along run ``run_number``'s walk (progress ticks)."""
        dtype = state["z"].dtype
        point = ticks.point_of(ctx_b)

        def report(c):  # progress: stages of this bridge, its t
            ticks.tick("smc_path", point=point, chain=run_number, done=c["stages"],
                       lam=c["t"], bridge=number, bridges=bridges)

        la = jax.vmap(lambda z: loglik(z, ctx_a))(state["z"])
        lb = jax.vmap(lambda z: loglik(z, ctx_b))(state["z"])
        log_target = jnp.log(jnp.asarray(BRIDGE_CESS, dtype))

        def cond(c):
            return (c["t"] < 1.0) & (c["stages"] < MAX_BRIDGE_STAGES)

        def body(c):
            report(c)  # every stage: the count is batched under vmap over runs
            key, k_res, k_mut = jax.random.split(c["key"], 3)
            diff = jnp.where(jnp.isfinite(c["lb"] - c["la"]), c["lb"] - c["la"], -jnp.inf)
            lw = normalise(c["lw"])

            def cess_excess(delta):  # log CESS / N - log target_ess
                inc = delta * diff
                return (2 * logsumexp(lw + inc) - logsumexp(lw + 2 * inc)) - log_target

            max_delta = 1.0 - c["t"]
            delta = jnp.clip(jnp.nan_to_num(solver.dichotomy(cess_excess, 0.0, max_delta)),
                             0.0, max_delta)
            delta = jnp.where(cess_excess(max_delta) >= 0, max_delta, delta)
            t = jnp.where(delta >= max_delta, jnp.ones((), dtype), c["t"] + delta)
            inc = delta * diff
            log_z = c["log_z"] + logsumexp(lw + inc)
            lw_new = normalise(lw + inc)
            # every stage resamples and moves unless it changed no weight (a bridge between
            # identical posteriors): particles merely reweighted along several bridges were
            # measured to drift (resampled duplicates are a poor importance sample)
            low = ess(lw_new) < (1.0 - 1e-6) * n

            def resample_move(_):
                w = jnp.exp(lw_new)
                codes = jax.vmap(lambda z: codes_of(z, ctx_b))(c["z"])
                idx = stratified_resample(k_res, w, codes, n)
                start = c["z"][idx]
                mean = w @ c["z"]
                imm = jnp.maximum(w @ (c["z"] - mean) ** 2, jnp.asarray(1e-10, dtype))
                step = jnp.exp(c["log_scale"]) * dim_factor

                def logdensity(z):
                    return (zt.logprior(z, ctx_b) + (1.0 - t) * zt.loglik(z, ctx_a)
                            + t * zt.loglik(z, ctx_b))

                moved, acc = move(k_mut, start, logdensity, step, imm)
                return (moved, jnp.full((n,), -math.log(n), dtype),
                        jax.vmap(lambda z: loglik(z, ctx_a))(moved),
                        jax.vmap(lambda z: loglik(z, ctx_b))(moved), acc)

            def keep(_):
                return c["z"], lw_new, c["la"], c["lb"], jnp.asarray(-1.0, dtype)

            z, lw_out, la_out, lb_out, acc = jax.lax.cond(low, resample_move, keep, None)
            moved = acc >= 0
            return {"key": key, "t": t, "z": z, "lw": lw_out, "la": la_out, "lb": lb_out,
                    "log_z": log_z, "stages": c["stages"] + 1,
                    "moves": c["moves"] + moved.astype(jnp.int32),
                    "acc_sum": c["acc_sum"] + jnp.where(moved, acc, 0.0),
                    "log_scale": jnp.where(moved, jnp.clip(
                        c["log_scale"] + 2.0 * (acc - target_accept), -12.0, 2.0),
                        c["log_scale"])}

        c = jax.lax.while_loop(cond, body, {
            "key": key, "t": jnp.zeros((), dtype), "z": state["z"], "lw": state["lw"],
            "la": la, "lb": lb, "log_z": state["log_z"], "stages": jnp.zeros((), jnp.int32),
            "moves": jnp.zeros((), jnp.int32), "acc_sum": jnp.zeros((), dtype),
            "log_scale": state["log_scale"]})
        report(c)
        new = {"z": c["z"], "lw": c["lw"], "log_z": c["log_z"], "log_scale": c["log_scale"]}
        x = jax.vmap(zt.to_x)(c["z"])
        out = {"x": x,
               "ind": jax.vmap(lambda v: jnp.asarray(target.indicators(v, ctx_b), bool))(x),
               "logdensity": jax.vmap(lambda v: target.logprior(v, ctx_b))(x) + c["lb"],
               "weights": jnp.exp(c["lw"]), "log_z": c["log_z"], "stages": c["stages"],
               "moves": c["moves"],
               "acceptance": c["acc_sum"] / jnp.maximum(c["moves"], 1).astype(dtype),
               "ess": ess(c["lw"])}
        return new, out

    def walk(key, first_z, first_w, first_codes, log_z0, scale0, ctxs, run_number):
        """One run along ``ctxs[1:]``, starting from the first point's weighted ensemble."""
        k_start, k_walk = jax.random.split(key)
        idx = stratified_resample(k_start, first_w, first_codes, n)
        state = {"z": first_z[idx], "lw": jnp.full((n,), -math.log(n), first_z.dtype),
                 "log_z": log_z0, "log_scale": jnp.log(scale0)}
        ctx_a = jax.tree.map(lambda a: a[:-1], ctxs)
        ctx_b = jax.tree.map(lambda a: a[1:], ctxs)
        bridges = jax.tree.leaves(ctxs)[0].shape[0] - 1
        keys = jax.random.split(k_walk, bridges)

        def step(state, item):
            kk, a, b, number = item
            return bridge(kk, state, a, b, run_number, number, bridges)

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
        import jax

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
        devices = min(self._many.devices or jax.device_count(), jax.device_count())
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
        import jax

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
        import jax
        import jax.numpy as jnp

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
                "weights": d.weights, "log_z": d.log_z, "stages": np.asarray(d.info["stages"]),
                "moves": np.asarray(d.info["stages"]),
                "acceptance": np.asarray(d.info["acceptance"]), "ess": np.asarray(d.info["ess"]),
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
        info = {"engine": self.name, "particle_block": self.particle_block,
                "particles": s["particles"], "runs": s["runs"], "stages": [int(v) for v in cat("stages")],
                "ess": cat("ess"), "acceptance": cat("acceptance"), "reached_posterior": True,
                "tempered_from_prior": any(p.get("retempered") for p in parts),
                "directions": [int(v) for p in parts for v in p["direction"]],
                "grad_evals": moves * (self.bridge_mutations or s["mutations"])
                * s["integration_steps"] * s["particles"],
                "compile_s": compile_s, "sample_s": sample_s, "wall_s": sample_s + compile_s}
        info["grad_evals_per_s"] = info["grad_evals"] / sample_s if sample_s > 0 else float("nan")
        return Draws(params=x, indicators=ind, logdensity=logd, weights=weights,
                     method="repeats", log_z=log_z, phase_log_z=phase_log_z, info=info)


def _at(path: dict, v: int) -> dict:
    return {k: a[:, v] for k, a in path.items()}
