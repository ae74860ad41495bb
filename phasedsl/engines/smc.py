"""The ``smc`` engine: tempered SMC from the prior to the posterior, with persistent sampling.

Each run moves through the tempered targets ``logprior(z) + lambda * loglik(z)`` in the
unconstrained coordinates of the prior's box (the Jacobian belongs to the prior,
``phasedsl.engines.base.Box``). It keeps an ensemble of weighted particles made of

- ``prior_draws`` generations of ``particles`` independent prior draws (``target.init``: one
  likelihood evaluation each, no gradient), held for the whole run, and
- the last ``generations`` generations of ``particles`` HMC-moved particles, one per stage.

All of them count at every temperature (persistent sampling, Karamanis et al. 2025, here over
a window of generations): generation ``j`` was made for ``lambda_j``, and a held particle
``z`` gets, at ``lambda``, the balance-heuristic weight

    exp(lambda * loglik(z)) / mean_j [exp(lambda_j * loglik(z)) / Z_j]

over the held generations ``j``, where ``Z_j`` is the normalising constant of target ``j`` as
it was estimated when ``lambda_j`` was chosen (``Z = 1`` for the prior, which is normalised).
Each stage

1. chooses the next ``lambda`` so that the newest generation's incremental weights
   ``exp((lambda - lambda_now) * loglik)`` keep an effective sample size of
   ``target_ess * particles`` (bisection, as in ``blackjax.adaptive_tempered_smc``);
2. estimates ``Z(lambda)`` as the mean weight of the ensemble, resamples ``particles``
   particles from the whole weighted ensemble (systematic) and moves each by ``mutations`` HMC
   steps of ``integration_steps`` leapfrog steps that target ``lambda``;
3. keeps the moved particles as a new generation, dropping the oldest HMC generation beyond
   ``generations``.

Once ``lambda`` reaches 1, ``final_stages`` more stages run at ``lambda = 1`` (resample from
the ensemble, move, keep the generation). Each costs what a tempering stage costs and adds a
generation made for the posterior itself, where the tempering generations before it carry
little weight: on PT1 (9 tempering stages, 150 particles) 4 final stages raised the run's
time by 30% and cut the pooled masses' standard errors by 40% (``benchmarks/README.md``).
They do not change the share of particles that reached each mode at low temperature (HMC
does not cross the barriers); they sharpen the masses inside the modes and of phases whose
boundaries cut through a mode.

Why: with no HMC move across a barrier, the share of particles in each mode is settled at the
low temperatures where the modes separate, and plain tempered SMC settles it from one
generation of ``particles``. On Example 4.1 at n = 30 (2000 particles) the per-run error of
``log Z`` followed the narrow mode's share (correlation 0.87) and was 0.09; more HMC steps did
not reduce it, while the ensemble did: 0.04 with 3 generations of prior draws, 0.025 with 16,
0.019 with 32 (the default), at fewer tempering stages than before.

HMC follows the ensemble: the inverse mass matrix is the diagonal of the weighted variance of
the ensemble at the new ``lambda``, and each HMC step draws its step size as
``scale * D^(-1/4)`` times a factor log-uniform in ``[step_min, step_max]``. The spread lets
one ``scale`` serve modes of very different widths: a narrow mode beside a wide one (Examples
4.1, 4.2) gets enough small steps to mix, where a single step size (or the former jitter in
[0.6, 1.4]) left its particles rejecting nearly every move; random lengths also break the
periodicity of fixed-length leapfrog trajectories. ``scale`` is pushed up or down after each
stage by the mean acceptance's distance from ``target_accept``.

Output per run: the held particles with their final weights, oldest generation first, less
those with a weight below ``DROP_WEIGHT`` (under a concentrated posterior, nearly all prior
draws), so a ``Draws`` group holds up to ``(prior_draws + generations) * particles`` samples,
the same number in every run; the weights' effective sample size can exceed ``particles``.
``runs`` independent repeats are vmapped; the standard error of any estimate comes from their
spread (``Draws.method = "repeats"``). ``log_z`` per run is the final estimate of ``log Z`` at
``lambda = 1`` (consistent; a ratio of estimates, so not exactly unbiased, but its bias was
below the resolution of 512 runs in our checks); ``phase_log_z = log_z + log(weighted phase
mass)``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import jax
import jax.numpy as jnp
import blackjax

from phasedsl.engines import ticks
from phasedsl.engines.base import (
    CompiledCache,
    TimedRun,
    settings_with_defaults,
    unconstrained,
)
from phasedsl.language.setting_records import settings_record
from phasedsl.language.settings import defaults
from phasedsl.language.traits import TRAITS
from phasedsl.engines.devices import default_method, default_particle_block
from phasedsl.engines.many import ManyCaller, stacked
from phasedsl.engines.outputs import SmcOutput
from phasedsl.lower.target import Draws, Target
from phasedsl.lower.run_info import SmcInfo

__all__ = ["DEFAULTS", "SmcEngine", "build_smc", "hmc_moves", "kept_samples", "split_runs",
           "tempering_path"]

# every key, its default, bounds and meaning: phasedsl.language.settings.TABLE["smc"]
DEFAULTS = defaults("smc", arguments_only=True)

DROP_WEIGHT = 1e-12  # samples with less normalised weight are not returned


def hmc_moves(mutations: int, integration_steps: int, step_min: float, step_max: float,
              block: int = 0):
    """``move(key, z f[N, D], logdensity, step f[], imm f[D]) -> (moved f[N, D], acceptance
    f[])``: ``mutations`` HMC steps of ``integration_steps`` leapfrog steps for each particle,
    each step's size ``step`` times a factor log-uniform in ``[step_min, step_max]``, with
    the diagonal inverse mass matrix ``imm``; particles in blocks of ``block`` (``lax.map``
    over blocks, ``vmap`` within; 0: one ``vmap`` over all)."""

    hmc = blackjax.hmc.build_kernel()
    log_min, log_max = math.log(step_min), math.log(step_max)

    def move(key, z, logdensity, step, imm):
        dtype = z.dtype

        def hmc_step(state, kk):
            k_size, k_move = jax.random.split(kk)
            factor = jnp.exp(jax.random.uniform(k_size, (), dtype, log_min, log_max))
            state, info = hmc(k_move, state, logdensity, step * factor, imm,
                              num_integration_steps=integration_steps)
            return state, info.acceptance_rate

        def mutate(kk, z0):
            state, acc = jax.lax.scan(hmc_step, blackjax.hmc.init(z0, logdensity),
                                      jax.random.split(kk, mutations))
            return state.position, jnp.mean(acc)

        moved, acc = jax.lax.map(lambda a: mutate(*a), (jax.random.split(key, z.shape[0]), z),
                                 batch_size=block)
        return moved, jnp.mean(acc)

    return move


def build_smc(target: Target, settings, *, block: int = 0, parts: int = 1):
    """``settings``: the engine's settings record (``language.setting_records.
    settings_record("smc", ...)``: ``particles``, ``runs``, ``mutations``,
    ``integration_steps``, ``target_ess``, ``generations``, ``prior_draws``, ``step_min``,
    ``step_max``, ``target_accept``, ``initial_scale``, ``max_stages``, ``final_stages``, each
    read by name, so no reordering can swap two). The pure function ``(key, ctx, item=0) ->
    SmcOutput`` that the engine compiles: the point's runs ``item * R' ... (item + 1) * R' -
    1`` with ``R' = runs / parts`` (``parts``: how many work items share a point's runs,
    ``split_runs``; 1: ``item`` is 0 and the function runs all ``R`` runs). Run ``r``'s key is
    ``fold_in(key, r)`` whichever item runs it, so a point split into parts has the same runs
    as one whole. A progress tick per run and tempering stage, when the program is traced for
    them: ``phasedsl.engines.ticks``. Leading axis runs (``R'`` of them; ``S = prior_draws +
    generations`` slots of ``N = particles``): ``x f[R,S*N,D]``,
    ``ind bool[R,S*N,P]``, ``logdensity f[R,S*N]``, ``weights f[R,S*N]`` (0 in empty slots),
    ``order i[R,S]`` (generation number in each slot, -1 when empty), ``log_z f[R]``,
    ``lam f[R]`` (final tempering, 1 unless ``max_stages`` was hit), ``stages i[R]``,
    ``acceptance f[R]`` (mean over stages), ``scale f[R]`` (final step scale).

    ``block``: the particles' HMC moves run in blocks of this many (``lax.map`` over blocks,
    ``vmap`` within; 0: one ``vmap`` over all particles): see
    ``phasedsl.engines.devices.particle_block_for``.
    """

    from phasedsl.engines import smc_kernel as sk

    s = settings
    kernel = sk.SmcKernel(
        target=target, zt=unconstrained(target),
        move=hmc_moves(s.mutations, s.integration_steps, s.step_min, s.step_max, block),
        particles=s.particles, prior_draws=s.prior_draws, generations=s.generations,
        target_ess=s.target_ess, target_accept=s.target_accept,
        initial_scale=s.initial_scale, max_stages=s.max_stages, final_stages=s.final_stages)
    if s.runs % parts:
        raise ValueError(f"smc cannot split {s.runs} runs into {parts} equal parts")
    runs = s.runs // parts  # per work item

    def one_run(key, ctx, run_number=0):
        point = ticks.point_of(ctx)

        def report(state):  # progress: stages finished, the tempering reached
            ticks.tick(ticks.Source("smc"), point=point, chain=run_number, done=state.stages,
                       lam=state.lam)

        def body(state):
            # every stage (the loop's count is batched under vmap, so no 'every K'; a stage
            # is costly enough); runs that are done tick on with their final state
            report(state)
            return sk.step(kernel, ctx, prior, state)

        state, prior = sk.init(kernel, key, ctx)
        state = jax.lax.while_loop(lambda st: sk.running(kernel, st), body, state)
        report(state)
        return sk.finish(kernel, ctx, prior, state)

    def run(key, ctx, item=0):
        numbers = item * runs + jnp.arange(runs)
        keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(numbers)
        return jax.vmap(one_run, in_axes=(0, None, 0))(keys, ctx, numbers.astype(jnp.int32))

    return run


def split_runs(points: int, devices: int, runs: int) -> int:
    """Into how many equal parts ``run_many`` splits each point's ``runs``, so that ``points``
    points fill ``devices`` devices: 1 (whole points) when there are at least as many points
    as devices, else the smallest divisor ``p`` of ``runs`` with ``points * p >= devices``
    (``runs`` itself when none is enough). On 2 cores the last point of an odd sweep runs 2 of
    its 4 runs on each core instead of all 4 on one."""
    if points >= devices:
        return 1
    return next((p for p in range(2, runs + 1) if runs % p == 0 and points * p >= devices),
                runs)


def tempering_path(lam, energy, var, stages) -> dict:
    """``{"lam", "energy", "var"}``: per run (lists of ``stages[r]`` plain floats) each
    stage's lambda and the ensemble's mean and variance of ``-loglik`` there, from the
    arrays ``f[R, max_stages]`` of ``SmcOutput``."""
    cut = [int(k) for k in np.asarray(stages)]
    return {name: [[float(v) for v in np.asarray(a[r, :k], np.float64)]
                   for r, k in enumerate(cut)]
            for name, a in (("lam", lam), ("energy", energy), ("var", var))}


def kept_samples(order: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """``index i[R, S']``: the samples each run returns, oldest generation first.

    ``order i[R, slots]``: generation number of each slot of ``n`` samples (-1: empty);
    ``weights f[R, slots * n]``: normalised. A sample is kept when its slot is held and its
    weight is at least ``DROP_WEIGHT``; every run returns as many samples as the run that
    keeps most (a run that keeps fewer fills up with its lightest other samples)."""
    size = weights.shape[1]
    age = np.repeat(np.where(order >= 0, order, order.max() + 1), n, axis=1).astype(np.int64)
    keep = np.repeat(order >= 0, n, axis=1) & (weights >= DROP_WEIGHT)
    key = (~keep).astype(np.int64) * (age.max() + 1) + age  # kept first, then by generation
    key = key * size + np.arange(size)  # ties: slot order
    count = max(int(keep.sum(axis=1).max()), 1)
    return np.argsort(key, axis=1)[:, :count]


class SmcEngine(TimedRun):
    """``make_engine("smc", target, settings)``; settings and defaults in ``DEFAULTS``."""

    name = "smc"
    DEFAULTS = DEFAULTS
    traits = TRAITS["smc"]  # run_many's unit of work: a point, or part of its runs

    def __init__(self, target: Target, settings: dict):
        self.target = target
        self.settings = settings_with_defaults(DEFAULTS, settings)
        s = self.settings
        if s["particles"] < 2 or s["runs"] < 1 or s["mutations"] < 1:
            raise ValueError("smc needs particles >= 2, runs >= 1, mutations >= 1")
        if s["integration_steps"] < 1 or s["max_stages"] < 1:
            raise ValueError("smc needs integration_steps >= 1, max_stages >= 1")
        if not 0.0 < s["target_ess"] < 1.0:
            raise ValueError("smc target_ess must lie in (0, 1)")
        if s["generations"] < 1 or s["prior_draws"] < 1:
            raise ValueError("smc needs generations >= 1, prior_draws >= 1")
        if not 0.0 < s["step_min"] <= s["step_max"]:
            raise ValueError("smc needs 0 < step_min <= step_max")
        # an execution setting (by machine when absent): the draws change with it, their
        # distribution does not
        block = settings.get("particle_block")
        self.particle_block = default_particle_block() if block is None else int(block)
        run = build_smc(target, self.record(), block=self.particle_block)
        self._cache = CompiledCache(run)
        # sweep points of run_many are split across this many devices (0: all there are)
        self.devices = int(settings.get("devices") or 0)
        self._many = {1: ManyCaller(run, self.devices)}  # by parts a point's runs make

    def record(self, **changed):
        """The build function's settings record (``settings_record(self.name, ...)``) of this
        engine's settings, with ``changed`` keys replaced."""
        s = {**self.settings, **changed}
        return settings_record(self.name, {k: s[k] for k in DEFAULTS})

    @property
    def traces(self) -> int:
        return self._cache.traces + sum(m.traces for m in self._many.values())

    def run_many(self, keys, ctxs, method: str | None = None) -> list[Draws]:
        """Sample ``V`` sweep points in one compiled call (``phasedsl.engines.many.ManyCaller``):
        ``method`` ``"sequential"`` (default on CPU) runs each point's ``run`` computation one
        after another, ``"vectorized"`` vmaps them; with several devices the points are split
        across them, and with fewer points than devices each point's runs are split too
        (``split_runs``: the same runs, each on its own key, as a whole point's)."""
        method = method or default_method()
        keys, ctxs = stacked(keys, ctxs)
        devices = min(self.devices or jax.device_count(), jax.device_count())
        parts = split_runs(keys.shape[0], devices, self.settings["runs"])
        if parts == 1:
            return self._many[1].run_many(keys, ctxs, method, self._draws)
        many = self._many.get(parts)
        if many is None:
            many = self._many[parts] = ManyCaller(
                build_smc(self.target, self.record(), block=self.particle_block, parts=parts),
                self.devices)
        keys, ctxs = jax.tree.map(lambda a: jnp.repeat(a, parts, axis=0), (keys, ctxs))
        return many.run_many(keys, ctxs, method, self._joined_draws, group=parts)

    def _joined_draws(self, out: SmcOutput, *times) -> Draws:
        """``_draws`` of a point whose runs came in parts: ``out``'s leaves ``[parts, R',
        ...]`` joined into ``[R, ...]``."""
        return self._draws(jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:]), out), *times)

    def _draws(self, out: SmcOutput, compile_s: float, sample_s: float, wall_s: float) -> Draws:
        """``out``: numpy arrays with a leading ``[runs]`` axis."""
        t0 = time.perf_counter()
        x, ind, logd, weights, log_z = out.x, out.ind, out.logdensity, out.weights, out.log_z
        lam, stages = out.lam, out.stages
        s = self.settings
        n = s["particles"]
        weights = weights.astype(np.float64)
        weights /= weights.sum(axis=1, keepdims=True)
        index = kept_samples(out.order, weights, n)
        x = np.take_along_axis(x, index[:, :, None], axis=1)
        ind = np.take_along_axis(ind, index[:, :, None], axis=1)
        logd = np.take_along_axis(logd, index, axis=1)
        weights = np.take_along_axis(weights, index, axis=1)
        weights /= weights.sum(axis=1, keepdims=True)
        log_z = log_z.astype(np.float64)
        with np.errstate(divide="ignore"):
            phase_log_z = log_z[:, None] + np.log(np.einsum("rn,rnp->rp", weights, ind))
        ess = 1.0 / np.sum(weights**2, axis=1)
        wall_s += time.perf_counter() - t0
        grad_evals = int(
            stages.astype(np.int64).sum() * s["mutations"] * s["integration_steps"] * n
        )
        info = SmcInfo(
            engine="smc",
            particle_block=self.particle_block,
            particles=n,
            runs=s["runs"],
            samples_out=index.shape[1],
            stages=[int(v) for v in stages],
            ess=[float(v) for v in ess],
            acceptance=[float(v) for v in out.acceptance],
            step_scale=[float(v) for v in out.scale],
            reached_posterior=bool(np.all(lam >= 1.0)),
            final_lambda=[float(v) for v in lam],
            grad_evals=grad_evals,
            compile_s=compile_s,
            sample_s=sample_s,
            wall_s=wall_s,
            # the tempering path per run (analysis.lcoef.path_fit): each stage's lambda and
            # the weighted ensemble's mean and variance of -loglik there
            path=tempering_path(out.path_lam, out.path_energy, out.path_var, stages),
        )
        return Draws(
            params=x,
            indicators=ind,
            logdensity=logd,
            weights=weights,
            method="repeats",
            log_z=log_z,
            phase_log_z=phase_log_z,
            info=info,
        )
