"""The engines by name: ``make_engine(name, target, settings)``."""

from __future__ import annotations

from phasedsl.engines.nuts import NutsEngine
from phasedsl.engines.protocol import Engine
from phasedsl.engines.quadrature import QuadratureEngine
from phasedsl.engines.smc import SmcEngine
from phasedsl.engines.smc_path import SmcPathEngine
from phasedsl.lower.target import Target

__all__ = ["ENGINES", "make_engine"]

ENGINES: dict[str, type] = {
    "nuts": NutsEngine,  # BlackJAX window adaptation + NUTS
    "smc": SmcEngine,  # adaptive tempered SMC from the prior, persistent sampling
    "smc_path": SmcPathEngine,  # the sweep as one tempering path (particles carried along)
    "quadrature": QuadratureEngine,  # exact grid integration, 1 or 2 bounded parameters
}


def make_engine(name: str, target: Target, settings: dict | None = None) -> Engine:
    """Build the engine called ``name`` for ``target``.

    ``settings`` is a plain dict; missing keys take the engine's defaults (``DEFAULTS`` on each
    engine class). Keys the engine does not know are ignored (checking them is the caller's
    job). Raises ``ValueError`` for an unknown engine name, or when the engine cannot handle
    the target (e.g. quadrature in more than two dimensions).
    """
    if name not in ENGINES:
        raise ValueError(f"unknown sampler {name!r}; expected one of {sorted(ENGINES)}")
    return ENGINES[name](target, dict(settings or {}))
