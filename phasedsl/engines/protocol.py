"""What every sampling engine provides (``phasedsl.engines.registry.make_engine`` builds one).

An engine samples the posterior of a ``Target`` at sweep points: ``run`` one point,
``run_many`` several (in one compiled call where the engine can batch them, else one ``run``
each). Callers use these members directly; no engine lacks one.
"""

from __future__ import annotations

from typing import Protocol

from phasedsl.language.traits import EngineTraits
from phasedsl.lower.target import Draws

__all__ = ["Engine"]


class Engine(Protocol):
    """The engine interface (``NutsEngine``, ``SmcEngine``, ``QuadratureEngine``)."""

    name: str
    settings: dict  # the engine's settings, defaults filled in
    # what it can do (``language.traits``): ``traits.splits_points``, run_many splits one
    # point's work across devices (NUTS: a point's chains), so that even a lone point is
    # worth sending through run_many when there are several; ``traits.follows_sweep``, it
    # walks the whole sweep at once (``run_sweep(key, ctxs)``: particles carried from each
    # sweep value to the next), where the others sample each point on its own; ...
    traits: EngineTraits

    @property
    def traces(self) -> int:  # pragma: no cover - protocol
        """How many times the work was traced and compiled (1 for a whole sweep of ``run``)."""
        ...

    def run(self, key, ctx) -> Draws:  # pragma: no cover - protocol
        """Sample at one sweep point: ``key`` a JAX PRNG key (or an int seed), ``ctx`` the
        context pytree (``phasedsl.lower.target.Context``). ``Draws.info["compile_s"]`` is
        0.0 when a compiled function was re-used."""
        ...

    def run_many(self, keys, ctxs, method: str | None = None) -> list[Draws]:  # pragma: no cover
        """Sample ``V`` sweep points; one ``Draws`` per point, in order. ``keys``: ``V`` keys
        (or int seeds), a list or a stacked key array; ``ctxs``: a list of ``V`` contexts or
        one pytree stacked along a leading ``V`` axis. ``method``: how the points are batched
        (``phasedsl.engines.many.METHODS`` and the engine's own; ``None``: the engine's
        default for the machine)."""
        ...
