"""What an engine reports about one point's sampling, beside its draws (``Draws.info``).

One frozen record per engine family: ``SmcInfo`` (``smc``, ``smc_path``), ``NutsInfo``
(``nuts``, ``flat_nuts``), ``QuadratureInfo``; their common part, ``RunInfo``, holds the
timing and the batching of ``run_many``. The values are plain Python numbers and lists.

A field marked ``kept(...)`` is copied into the point's diagnostics in ``results.json``
(``analysis.masses``) under its own name or the name given; a new engine number is added by
declaring it here, once. Fields with one entry per independent run are marked ``per_run``,
so that a record can be cut along with its draws' groups (``RunInfo.of_runs``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import MISSING, dataclass, field

__all__ = ["RunInfo", "SmcInfo", "NutsInfo", "QuadratureInfo", "kept"]


def kept(default=MISSING, *, name: str | None = None, per_run: bool = False):
    """A field the point's diagnostics keep (under ``name``, default the field's own);
    ``per_run``: one entry per independent run. No ``default``: the engine must set it."""
    return field(default=default, metadata={"kept": name or True, "per_run": per_run})


def _per_run(default=MISSING):
    return field(default=default, metadata={"per_run": True})


@dataclass(frozen=True, kw_only=True)
class RunInfo:
    """Common to every engine: ``engine`` (its name), the seconds spent compiling, sampling
    and in all (``wall_s``), the gradient evaluations (``None`` for quadrature). Set by
    ``run_many`` (``engines.many``): ``method`` (how the points were batched),
    ``call_points``, ``call_sample_s``, ``call_compile_s`` (of the whole call) and
    ``devices``."""

    engine: str
    compile_s: float = kept()
    sample_s: float = kept()
    wall_s: float = kept()
    grad_evals: int | None = kept(None)
    method: str | None = None
    call_points: int | None = None
    call_sample_s: float | None = None
    call_compile_s: float | None = None
    devices: int | None = kept(None)

    @property
    def grad_evals_per_s(self) -> float | None:
        """Gradient evaluations per second of sampling (NaN with no sampling time)."""
        if self.grad_evals is None:
            return None
        return self.grad_evals / self.sample_s if self.sample_s > 0 else math.nan

    def replace(self, **changes) -> RunInfo:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def of_runs(self, lo: int, hi: int) -> RunInfo:
        """The record of the independent runs (or chains) ``lo:hi`` alone: the per-run
        fields cut."""
        return self.replace(**{f.name: getattr(self, f.name)[lo:hi]
                               for f in dataclasses.fields(self)
                               if f.metadata.get("per_run") and getattr(self, f.name) is not None})

    def kept(self) -> dict:
        """``{name: value}``: the fields the point's diagnostics keep, ``None`` ones left
        out, ``grad_evals_per_s`` after ``grad_evals``."""
        out = {}
        for f in dataclasses.fields(self):
            mark = f.metadata.get("kept")
            value = getattr(self, f.name)
            if mark and value is not None:
                out[f.name if mark is True else mark] = value
            if f.name == "grad_evals" and value is not None:
                out["grad_evals_per_s"] = self.grad_evals_per_s
        return out


@dataclass(frozen=True, kw_only=True)
class SmcInfo(RunInfo):
    """Tempered SMC (``smc``, and ``smc_path`` over the whole sweep). Per run: ``stages``
    (tempering stages), ``ess`` (the particles' ESS; kept as ``particle_ess``, it is not a
    bulk ESS), ``acceptance`` (mean of its moves); ``smc`` also ``step_scale``,
    ``final_lambda`` and the tempering ``path`` (``{"lam", "energy", "var"}``: per run a
    list of each stage's lambda and the ensemble's mean and variance of ``-loglik``,
    ``analysis.lcoef.path_fit``); ``smc_path`` ``directions`` (which way each run walked the
    sweep) and ``tempered_from_prior`` (a direction started again from the prior)."""

    particle_block: int | None
    particles: int
    runs: int
    stages: list = kept(per_run=True)
    ess: list = kept(name="particle_ess", per_run=True)
    acceptance: list = kept(per_run=True)
    reached_posterior: bool = kept()
    samples_out: int | None = None
    step_scale: list | None = _per_run(None)
    final_lambda: list | None = _per_run(None)
    path: dict | None = None
    tempered_from_prior: bool | None = kept(None)
    directions: list | None = _per_run(None)

    def of_runs(self, lo: int, hi: int) -> SmcInfo:
        """The record of runs ``lo:hi`` alone (``runs``, the per-run fields, the path)."""
        path = None if self.path is None else {k: v[lo:hi] for k, v in self.path.items()}
        return super().of_runs(lo, hi).replace(runs=hi - lo, path=path)


@dataclass(frozen=True, kw_only=True)
class NutsInfo(RunInfo):
    """NUTS (``nuts``, ``flat_nuts``), over ``chains`` chains of ``draws`` draws after
    ``warmup``: divergences (all, and per chain), mean leapfrog steps per draw, the
    lockstep factor (work of chains in lockstep over each alone; 1 = no waste), mean
    acceptance, warmup's gradient evaluations and each chain's (warmup included), each
    chain's adapted step size, and the draws that hit the tree's maximum depth."""

    chain_method: str = kept()
    chains: int
    draws: int
    warmup: int
    divergences: int = kept()
    divergences_per_chain: list = _per_run()
    steps_per_draw: float = kept()
    lockstep_factor: float = kept()
    acceptance: float = kept()
    grad_evals_warmup: int
    grad_evals_per_chain: list = kept(per_run=True)
    step_size: list = _per_run()
    max_depth_hits: int


@dataclass(frozen=True, kw_only=True)
class QuadratureInfo(RunInfo):
    """Exact quadrature over ``nodes`` grid nodes in ``dim`` dimensions (``points`` per
    axis); 1-D: Gauss-Legendre ``order`` and ``bisect`` levels, else ``subdivisions``;
    ``mass_error``: the grid's error estimate (``engines.quadrature``)."""

    points: int
    nodes: int
    dim: int
    # per phase, then ``other``: |mass - the mass on a grid of half the cells per axis|
    mass_error: tuple[float, ...] | None = None
    order: int | None = None
    bisect: int | None = None
    subdivisions: int | None = None
