"""The report's events in words: each crossover, destruction, creation, merge and split
(``event_text``), and the block that lists them (``events_block``)."""

from __future__ import annotations

from rich.text import Text

from .format import fmt, noise_words, se_dof, sweep_name
from .notes import (floor_words, minimum_words, refinement_words, step_only,
                    unresolved_span)

__all__ = ["event_text", "events_block"]


def event_text(event: dict, sweep: str, dof=None, floor_of=None) -> str:
    """One event in words (``dof``: the degrees of freedom of the run's standard errors,
    ``se_dof``, for how wide the noise is; ``floor_of``: the run's ``report.floor``)."""
    lo, hi = event.get("between", [None, None])
    refinement = refinement_words(event.get("refinement"), event.get("between"))
    if event["kind"] == "crossover":
        if event.get("resolved") is False:
            info = event.get("refinement") or {}
            lo, hi = unresolved_span(event)  # where the change lies, the noise included
            if info.get("bracket"):
                refinement = {"noise": "; refinement stopped for noise",
                              "located": f"; located to {fmt(info.get('width'), 4)}, the "
                                         "noise included"}.get(info.get("status"),
                                                               refinement_words(info))
            return (f"unresolved crossover {event['from']} -> {event['to']} somewhere between "
                    f"{sweep} = {fmt(lo, 4)} and {fmt(hi, 4)} (the mass ratio is within "
                    f"{noise_words(dof)} of 1 at an end{refinement})")
        a, b = event.get("interval", [lo, hi])
        if step_only(event):   # the bracket is the finding, the interpolated zero a guess
            return (f"first-order crossover {event['from']} -> {event['to']} between "
                    f"{sweep} = {fmt(a, 4)} and {fmt(b, 4)} (no values added between; the "
                    f"mass ratio's interpolation crosses 1 at {fmt(event['at'], 4)})")
        return (f"first-order crossover {event['from']} -> {event['to']} at {sweep} = "
                f"{fmt(event['at'], 4)} [{fmt(a, 4)}, {fmt(b, 4)}]"
                + (f" ({refinement[2:]})" if refinement else ""))
    if event["kind"] in ("destruction", "creation") and event.get("criterion") == "minimum":
        a, b = event.get("interval") or [lo, hi]
        text = (f"second-order {event['kind']} of {event['phase']}: it "
                f"{'stops' if event['kind'] == 'destruction' else 'starts'} holding a local "
                f"minimum of the potential at {sweep} = {fmt(event.get('at'), 4)} "
                f"[{fmt(a, 4)}, {fmt(b, 4)}]")
        floor = event.get("floor")
        if floor is None:
            return text + " (its mass crosses no floor near there)"
        return text + "; " + floor_words(event["kind"], floor, sweep, floor_of, event.get("at"))
    if event.get("secondary"):
        verb = "falls below" if event["kind"] == "destruction" else "rises above"
        return (f"{event['phase']}: its mass {verb} the floor"
                + ("" if floor_of is None else f" {fmt(floor_of, 3)}") + " between "
                f"{sweep} = {fmt(lo, 4)} and {fmt(hi, 4)}, while it "
                f"{'keeps' if (event.get('minimum') or {}).get('holds') == 'throughout' else 'has'}"
                f" a local minimum there: not a {event['kind']}")
    if event["kind"] in ("destruction", "creation"):
        text = (f"second-order {event['kind']} of {event['phase']} between {sweep} = "
                f"{fmt(lo, 4)} and {fmt(hi, 4)}")
        moves = event.get("other_floors") or []
        if moves:
            where = "; ".join(f"floor {m['floor']:g}: " + ("not crossed" if m["between"] is None
                              else f"{fmt(m['between'][0], 4)}-{fmt(m['between'][1], 4)}")
                              for m in moves)
            text += f" ({where}{refinement})"
        elif refinement:
            text += f" ({refinement[2:]})"
        if event.get("minimum") is not None:
            text += "; " + minimum_words(event["minimum"], event["kind"], sweep)
        return text
    a, b = event["phases"]
    return f"second-order {event['kind']} of {a} and {b} between {sweep} = {fmt(lo, 4)} and {fmt(hi, 4)}"


def _resolution_text(report: dict) -> str:
    r = report.get("resolution")
    if isinstance(r, dict):
        return f"{fmt(r.get('absolute'))}, absolute"
    return "?" if r is None else f"{r:g} of the sweep's span"


def events_block(results: dict) -> Text:
    sweep = sweep_name(results)
    events = results.get("events") or []
    t = Text()
    t.append("events\n", style="bold")
    if not events:
        t.append("  none found (no change of preferred phase, no phase crossing the floor "
                 f"{fmt(results.get('report', {}).get('floor'))})\n")
    added = (results.get("sweep") or {}).get("added") or []
    if added:
        t.append(f"  {len(added)} sweep value{'s' if len(added) != 1 else ''} added inside "
                 "event brackets to locate them (report.resolution "
                 f"{_resolution_text(results.get('report') or {})})\n")
    floor = (results.get("report") or {}).get("floor")
    for e in [e for e in events if not e.get("secondary")]:
        t.append(f"  {event_text(e, sweep, se_dof(results), floor)}")
        if e.get("trusted") is False:
            t.append("  (chains disagree at an end: not trustworthy)", style="red")
        t.append("\n")
    quiet = [e for e in events if e.get("secondary")]
    if quiet:
        t.append("  mass floor crossings (not events: the phase's well persists)\n", style="dim")
        for e in quiet:
            t.append(f"    {event_text(e, sweep, se_dof(results), floor)}\n", style="dim")
    return t
