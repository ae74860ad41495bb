"""What each engine can do, declared once: ``TRAITS[name]`` (an ``EngineTraits``), read by
every stage that must treat engines differently (``traits(name).exact``), never by comparing
engine names. The engine classes carry theirs (``NutsEngine.traits``); a new engine adds one
row here and one to ``engines.registry.ENGINES``.

Part of the language stage, so that the checker, the report of a finished run and the
pipeline all read the same row without importing an engine (or JAX).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EngineTraits", "TRAITS", "traits"]


@dataclass(frozen=True)
class EngineTraits:
    """One engine's capabilities.

    ``exact``: deterministic integrals, not random draws (masses without sampling error,
    crossovers bisected on the sweep variable, float64, other phases need a new run);
    ``repeats``: independent runs of weighted particles (standard errors from the runs'
    spread; masses poolable from neighbouring sweep values); ``chains``: Markov chains run
    side by side (``--chain-method``, divergences, R-hat); ``follows_sweep``: walks the whole
    sweep as one path in one call (``run_sweep``), so its points are not separate tasks;
    ``splits_points``: ``run_many`` splits one point's work across devices (a point's
    chains, or its runs), so a lone point is worth batching; ``method``: the ``Draws.method`` of its draws
    (``mcmc``, ``repeats``, ``exact``)."""

    exact: bool = False
    repeats: bool = False
    chains: bool = False
    follows_sweep: bool = False
    splits_points: bool = False
    method: str = "mcmc"


TRAITS: dict[str, EngineTraits] = {
    "nuts": EngineTraits(chains=True, splits_points=True, method="mcmc"),
    "smc": EngineTraits(repeats=True, splits_points=True, method="repeats"),
    "smc_path": EngineTraits(repeats=True, follows_sweep=True, method="repeats"),
    "quadrature": EngineTraits(exact=True, method="exact"),
}


def traits(engine: str) -> EngineTraits:
    """The traits of the engine called ``engine`` (an unknown name: no capability at all)."""
    return TRAITS.get(engine, EngineTraits())
