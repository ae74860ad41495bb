"""Numbers and names for people, shared by the report's blocks: ``fmt``, the sweep's name, a
point's value, the run's engine traits and how sure its standard errors are."""

from __future__ import annotations

import math

from ..analysis.intervals import factor, se_range
from ..language.traits import EngineTraits, traits

__all__ = ["fmt", "sweep_name", "run_traits", "exact_run", "unknown_errors", "se_dof",
           "noise_words", "se_line", "sweep_names", "value_text"]


def fmt(x, digits: int = 3) -> str:
    """A number for people: ``0.93``, ``1.262``, ``3e-05``; ``-`` for missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-" if x is None else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    if abs(x) >= 1e4 or abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def sweep_name(results: dict) -> str:
    """The sweep variable's name, or ``point`` for a spec without a sweep."""
    return results["sweep"]["name"] or "point"


def run_traits(results: dict) -> EngineTraits:
    """The traits of the engine a run used (``language.traits``)."""
    return traits(results.get("sampler", {}).get("engine"))


def exact_run(results: dict) -> bool:
    return run_traits(results).exact


def unknown_errors(results: dict) -> list[dict]:
    """The points of a sampled run where some phase's standard error is unknown."""
    if exact_run(results):
        return []
    return [p for p in results["points"]
            if any(m.get("se") is None for m in p["phases"].values())]


def se_dof(results: dict) -> int | None:
    """The degrees of freedom of the run's standard errors (``runs - 1`` for a spread of
    independent runs; the smallest where points differ), ``None`` where they have none."""
    dofs = [m["se_dof"] for p in results.get("points", [])
            for m in p.get("phases", {}).values() if m.get("se_dof") is not None]
    return min(dofs) if dofs else None


def noise_words(dof) -> str:
    """How many standard errors make "beyond the noise": ``2 se``, or ``3.31 se (t, 3 dof)``."""
    if dof is None:
        return "2 se"
    return f"{factor(dof):.2f} se (t, {dof} dof)"


def se_line(results: dict) -> str:
    """How sure the standard errors are, where they rest on a few runs (``""`` otherwise)."""
    dof = se_dof(results)
    if dof is None:
        return ""
    low, high = se_range(dof)
    return (f"  standard errors from {dof + 1} independent runs rest on {dof} degrees of "
            f"freedom: the true error may be {low:.2g}-{high:.2g}x the one quoted (95%); "
            f"events are judged beyond {noise_words(dof)}, as 2 se would be for a normal.\n")


def sweep_names(results: dict) -> str:
    """The sweep variable, or ``(theta, n)`` for a two-dimensional sweep."""
    if results.get("sweep2"):
        return f"({results['sweep']['name']}, {results['sweep2']['name']})"
    return sweep_name(results)


def value_text(point: dict) -> str:
    """A point's sweep value, or ``(0.5, 10)`` for a grid's cell."""
    if "value2" in point:
        return f"({fmt(point['value'], 4)}, {fmt(point['value2'], 4)})"
    return fmt(point["value"], 4)
