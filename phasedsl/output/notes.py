"""Findings in words: why a point's sampler groups disagree (``phasedsl.analysis.mixing``)."""

from __future__ import annotations

from dataclasses import fields

from ..analysis.mixing import RHAT_LIMIT, Finding

__all__ = ["note_lines", "point_notes", "shown_above", "refinement_words", "minimum_words",
           "floor_words", "order_words", "step_only", "unresolved_span"]


def shown_above(x: float, limit: float, form=None, digits: int = 3) -> str:
    """``x`` (known to exceed ``limit``) as ``form(x, digits)`` (default: ``digits`` decimals),
    with more digits where that would print it at or below ``limit`` (1.0504 against 1.05:
    ``1.0504``, not ``1.050``)."""
    form = form or (lambda v, d: f"{v:.{d}f}")
    for more in range(digits, digits + 6):
        text = form(x, more)
        if float(text) > limit:
            return text
    return repr(x)


def _fmt(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _groups(idx, label: str = "chain", verb: str = "holds") -> str:
    """``(0, 2) -> "chains 1, 3 hold"``, ``(1,) -> "chain 2 holds"``."""
    idx = [int(i) + 1 for i in idx]
    if len(idx) == 1:
        return f"{label} {idx[0]} {verb}"
    plural = verb[:-1] if verb.endswith("s") else verb
    return f"{label}s " + ", ".join(map(str, idx)) + f" {plural}"


def note_lines(f: Finding) -> list[str]:
    """The sentences of one finding (several for ``"modes"``: one per sign pattern)."""
    if f.kind == "rhat":
        what = "the log density" if f.subject == "logdensity" else f"`{f.subject}`"
        r = float("inf") if f.stat is None else f.stat
        return [f"R-hat of {what} is {shown_above(r, RHAT_LIMIT)} (> {RHAT_LIMIT}): "
                "the chains disagree"]
    if f.kind == "held_apart":
        empty = [f.masses[i] for i in f.empty]
        none = ("none of it" if all(m == 0.0 for m in empty)
                else f"almost none of it ({_fmt(empty)})")
        return [f"{_groups(f.hold)} `{f.subject}` ({_fmt(f.masses[i] for i in f.hold)}); "
                f"{_groups(f.empty)} {none}"]
    if f.kind == "chi2":
        return [f"per-chain masses of `{f.subject}` ({_fmt(f.masses)}) disagree more than "
                f"sampling noise allows (chi-square p = {f.stat:.1g}); the chains have not "
                "mixed between phases"]
    if f.kind == "repeats":
        (hi,), (lo,) = f.hold, f.empty
        g = f.masses
        return [f"repeats disagree on `{f.subject}`: masses {_fmt(g)}; repeat "
                f"{hi + 1} holds {g[hi]:.2f} of it, repeat {lo + 1} {g[lo]:.2f}"]
    if f.kind == "directions":
        fwd, bwd = f.masses
        return [f"the runs walking the sweep forwards and backwards disagree on log Z "
                f"({fwd:.2f} against {bwd:.2f}): one direction missed part of the posterior"]
    if f.kind == "modes":
        lines = []
        for pattern in dict.fromkeys(f.patterns):  # in order of the first group there
            idx = [i for i, m in enumerate(f.patterns) if m == pattern]
            lines.append(f"{_groups(idx, f.label, 'sits')} mostly in the sign pattern "
                         f"q = ({', '.join(pattern)})")
        return lines
    raise ValueError(f"unknown finding {f.kind!r}")  # pragma: no cover - analysis bug


def _fmt4(x) -> str:
    return "?" if x is None else f"{x:.4g}"


def unresolved_span(event: dict) -> tuple:
    """Where an unresolved crossover (``resolved: false``) lies: refinement's bracket (the
    points clearly on each side, the noise between), else the two points around it."""
    info = event.get("refinement") or {}
    return tuple(info.get("bracket") or event["between"])


def step_only(event: dict) -> bool:
    """A resolved crossover known only as the step between two sweep values: refinement was
    off (``report.resolution`` or ``refine_points`` 0, a whole-number sweep, say) and its
    interval is the whole step, so its ``at`` (the interpolated ratio's zero) is a guess."""
    interval = list(event.get("interval") or event.get("between") or [])
    return ((event.get("refinement") or {}).get("status") == "off"
            and interval == list(event.get("between") or [None]))


def refinement_words(info: dict | None, between=None) -> str:
    """How far refinement located an event (``Event.extra["refinement"]``), as a clause that
    starts with "; " (empty where there is nothing to say: located within ``between``, or
    turned off)."""
    if not info:
        return ""
    status, width = info.get("status"), info.get("width")
    a, b = info.get("bracket") or (None, None)
    widened = between is not None and a is not None and [a, b] != list(between)
    if status == "located" and widened:  # an end in the noise, the bracket around it narrow
        return (f"; located to {_fmt4(width)}, the noise included: the change lies within "
                f"[{_fmt4(a)}, {_fmt4(b)}]")
    if status == "noise":
        return (f"; refinement stopped for noise: the change lies within "
                f"[{_fmt4(a)}, {_fmt4(b)}]")
    if status == "capped":
        return (f"; not located to {_fmt4(width)}: the cap on added sweep values "
                "(report.refine_points) was reached")
    if status == "open":
        return (f"; not yet located to {_fmt4(width)}: `phasedsl run` again adds the sweep "
                "values")
    return ""


def minimum_words(info: dict, kind: str, sweep: str) -> str:
    """The local-minimum criterion beside a floor crossing (``Event.extra["minimum"]``)."""
    if info.get("at") is not None:
        a, b = info["interval"]
        verb = "stops" if kind == "destruction" else "starts"
        return (f"the phase {verb} holding a local minimum of the potential at {sweep} = "
                f"{_fmt4(info['at'])} [{_fmt4(a)}, {_fmt4(b)}]")
    holds = info.get("holds")
    if holds == "throughout":
        return ("the phase holds a local minimum at every sweep value: its mass decays "
                "smoothly, the potential keeps its shape")
    if holds == "nowhere":
        return "the phase holds no local minimum at any sweep value"
    if holds == "changes":
        return f"no change of its local minimum near here (see the other {kind} events)"
    return "whether the phase holds a local minimum is unknown (no draws in it somewhere)"


def order_words(kind: str, floor_between, at) -> str:
    """Why a phase's mass and its well disagree, where the floor crossing ``floor_between``
    (``(lo, hi)``) lies wholly on one side of the well's change at ``at``; a clause that
    starts with ": " (empty where they overlap or one is unknown)."""
    if at is None or floor_between is None:
        return ""
    lo, hi = floor_between
    before, after = hi <= at, lo >= at
    if kind == "creation" and before:
        return (": before its well exists the phase holds mass that flows out of it, to "
                "minima elsewhere (draws on a slope of the potential, not in a well)")
    if kind == "creation" and after:
        return ": its well exists before it holds that much mass (outweighed by the others)"
    if kind == "destruction" and before:
        return (": the well still exists after its mass is gone below the floor (outweighed "
                "by the others, not destroyed)")
    if kind == "destruction" and after:
        return (": mass stays on the slope where the well was, after the well has gone")
    return ""


def floor_words(kind: str, floor: dict, sweep: str, level=None, at=None) -> str:
    """The floor crossing beside a local-minimum event, its secondary line
    (``Event.extra["floor"]``: ``between``, and where present ``other_floors``, how it moves
    with the floor); ``level``: the run's ``report.floor``; ``at``: where the well changes
    (``order_words``: why the two differ, where they do)."""
    verb = "first falls below" if kind == "destruction" else "first exceeds"
    lo, hi = floor["between"]
    text = (f"its mass {verb} {'the floor' if level is None else f'{level:g}'} between "
            f"{sweep} = {_fmt4(lo)} and {_fmt4(hi)}")
    moves = floor.get("other_floors") or []
    if moves:
        text += " (" + "; ".join(f"floor {m['floor']:g}: " + (
            "not crossed" if m["between"] is None
            else f"{_fmt4(m['between'][0])}-{_fmt4(m['between'][1])}") for m in moves) + ")"
    return text + order_words(kind, (lo, hi), at)


def point_notes(point: dict) -> list[str]:
    """Why a point's groups disagree, in words, rendered now from its recorded findings
    (``diagnostics.findings``: a wording fix reaches old runs too); a run written before
    findings were recorded keeps the sentences it stored (``diagnostics.mixing_notes``)."""
    d = point.get("diagnostics") or {}
    findings = d.get("findings")
    if not findings:
        return list(d.get("mixing_notes") or [])
    known = {f.name for f in fields(Finding)}
    return [line for f in findings
            for line in note_lines(Finding(**{k: tuple(v) if isinstance(v, list) else v
                                              for k, v in f.items() if k in known}))]
