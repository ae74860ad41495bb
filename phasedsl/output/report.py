"""The terminal report of a results document (the shape of ``results.json``), as rich
renderables, and its Markdown form: the header, the table of masses and their composition
(``render``, ``markdown``). The events in words are ``events_text``, the diagnostics
``verdict``, the provenance ``provenance``, shared number formats ``format``.

Compute first, render last: every function here takes the results dictionary and returns text
or a rich renderable; nothing samples or prints.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..analysis.mixing import RHAT_LIMIT
from .events_text import event_text, events_block
from .format import exact_run, fmt, se_dof, sweep_name
from .notes import shown_above
from .provenance import provenance
from .verdict import ESS_LOW, verdict

__all__ = ["render", "markdown", "console", "header", "table", "event_text", "events_block",
           "verdict", "provenance", "fmt", "sweep_name"]


def _se(se, exact: bool) -> str:
    """`` ± 0.012``; `` ± ?`` where a sampled mass has no known error; `` ± 3e-04`` below
    what three decimals show (never `` ± 0.000``); nothing for an exact engine's error
    where the three decimals shown are right (below 0.0005: ``results.json`` has it)."""
    if se is None:
        return "" if exact else " ± ?"
    if se == 0 or exact and se < 0.0005:
        return ""
    return f" ± {se:.3f}" if se >= 0.0005 else f" ± {se:.0e}"


def _mass(m: dict, exact: bool = False) -> str:
    return f"{m['mass']:.3f}" + _se(m.get("se"), exact)


def _flags(point: dict) -> str:
    d = point.get("diagnostics", {})
    flags = []
    if not d.get("mixing_ok", True):
        flags.append("MIXING")
    rhat = d.get("rhat_max")
    if rhat is not None and rhat > RHAT_LIMIT:
        flags.append(f"rhat={shown_above(rhat, RHAT_LIMIT, fmt)}")
    ess = d.get("ess_min")
    if ess is not None and ess < ESS_LOW:
        flags.append(f"ess={ess:.0f}")
    if d.get("divergences"):
        flags.append(f"div={d['divergences']}")
    return " ".join(flags) if flags else "ok"


def _time(d: dict) -> tuple[str, str]:
    """Sampling seconds of a point, and leapfrog steps per draw where the engine has them."""
    s = d.get("sample_s", d.get("wall_s"))
    steps = d.get("steps_per_draw")
    return ("-" if s is None else f"{s:.1f}"), ("-" if not steps else f"{steps:.0f}")


def header(results: dict) -> Text:
    s = results["sampler"]
    settings = ", ".join(f"{k} {v}" for k, v in s.items() if k != "engine" and v is not None)
    t = Text()
    t.append(results["experiment"], style="bold")
    t.append(f"\nengine {s['engine']}" + (f" ({settings})" if settings else ""))
    # how NUTS ran its chains side by side (the draws depend on it, not their distribution)
    methods = sorted({p["diagnostics"].get("chain_method") for p in results["points"]} - {None})
    if methods:
        t.append(f", chain method {' and '.join(methods)}")
    sweep = results["sweep"]
    t.append(f"\nsweep {sweep_name(results)}: {len(sweep['values'])} values"
             if sweep["name"] else "\nno sweep: one posterior")
    total = len(sweep["values"])
    if results.get("sweep2"):  # a two-dimensional sweep
        rows = results["sweep2"]
        total *= len(rows["values"])
        t.append(f" x {rows['name']}: {len(rows['values'])} values ({total} cells)")
    k = _datasets(results)
    if k:
        seeds = results["points"][0]["datasets"]["seeds"]
        t.append(f"\ndata: {k} data sets (seeds {seeds[0]} to {seeds[-1]}); masses are means "
                 "± posterior se; sd: spread between data sets ± its se")
    done = len(results["points"])
    if results.get("status") != "complete":
        t.append(f"  [{results.get('status', 'partial')}: {done} of {total} points]",
                 style="yellow")
    return t


def _datasets(results: dict) -> int:
    """How many data sets each point was sampled on (0: one, and no ``datasets`` record)."""
    counts = [len(p["datasets"]["seeds"]) for p in results["points"] if p.get("datasets")]
    return max(counts) if counts else 0


def _spread(p: dict, name: str) -> str:
    """``0.031 ± 0.008``: a phase's sd between data sets and its se; ``-`` where unknown."""
    d = p.get("datasets") or {}
    sd, se = (d.get("spread") or {}).get(name), (d.get("spread_se") or {}).get(name)
    if sd is None:
        return "-"
    return f"{sd:.3f}" + ("" if se is None else f" ± {se:.3f}")


def table(results: dict) -> Table:
    """One row per finished sweep value: masses ± se (with several data sets, the mean and
    beside it the spread between data sets), preferred phase, diagnostics flags."""
    phases = results["phases"]
    absolute = any(p.get("absolute") for p in results["points"])
    spread = _datasets(results) > 1
    t = Table(box=None, pad_edge=False, header_style="bold")
    t.add_column(sweep_name(results), justify="right", no_wrap=True)
    for name in phases:
        t.add_column(name, justify="right", no_wrap=True)
        if spread:
            t.add_column(f"{name} sd", justify="right", no_wrap=True)
    t.add_column("other", justify="right", no_wrap=True)
    t.add_column("preferred", no_wrap=True)
    if absolute:
        t.add_column("F (abs.)", justify="right")
    t.add_column("seconds", justify="right", no_wrap=True)
    t.add_column("steps/draw", justify="right", no_wrap=True)
    t.add_column("diagnostics")
    for p in results["points"]:
        exact = exact_run(results)
        row = [fmt(p["value"], 4)]
        for n in phases:
            row += [_mass(p["phases"][n], exact)] + ([_spread(p, n)] if spread else [])
        row.append(_mass(p["other"], exact))
        row.append(p.get("preferred") or "-")
        if absolute:
            row.append(fmt(-p["log_z"], 5) if p.get("log_z") is not None else "-")
        row.extend(_time(p.get("diagnostics", {})))
        row.append(_flags(p))
        t.add_row(*[Text(x) for x in row])
    return t


def markdown(results: dict) -> str:
    """The table and events as Markdown, for notes and papers."""
    if results.get("sweep2"):  # a two-dimensional sweep: its cells and boundaries
        from .diagram import grid_markdown

        return grid_markdown(results, fmt, lambda m: _mass(m, exact_run(results)))
    phases = results["phases"]
    name = sweep_name(results)
    spread = _datasets(results) > 1
    head = [name] + [c for n in phases for c in ([n, f"{n} sd"] if spread else [n])]
    head += ["other", "preferred", "mixing"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in results["points"]:
        ok = p.get("diagnostics", {}).get("mixing_ok", True)
        exact = exact_run(results)
        row = [fmt(p["value"], 4)]
        for n in phases:
            row += [_mass(p["phases"][n], exact)] + ([_spread(p, n)] if spread else [])
        row += [_mass(p["other"], exact), p.get("preferred") or "-",
                "ok" if ok else "**chains disagree**"]
        lines.append("| " + " | ".join(row) + " |")
    events = results.get("events") or []
    lines.append("")
    floor = (results.get("report") or {}).get("floor")
    lines.extend(f"- {event_text(e, name, se_dof(results), floor)}"
                 + (" (chains disagree at an end: not trustworthy)" if e.get("trusted") is False else "")
                 for e in sorted(events, key=lambda e: bool(e.get("secondary"))))
    if not events:
        lines.append("- no events found")
    from .lcoef import lcoef_markdown

    lines.extend(lcoef_markdown(results))
    return "\n".join(lines) + "\n"


def console(stderr: bool = False):
    """A console for reports: the terminal's width, or 120 columns when writing to a file."""
    from rich.console import Console

    probe = Console(stderr=stderr)
    return Console(stderr=stderr, highlight=False,
                   width=None if probe.is_terminal else 120)


def render(results: dict) -> Group:
    """The whole terminal report."""
    from .lcoef import lcoef_block

    if results.get("sweep2"):  # a two-dimensional sweep: its phase diagram, boundaries
        from .diagram import grid_blocks

        middle = grid_blocks(results, fmt)
    else:
        block = lcoef_block(results)
        middle = [table(results), Text("")] + ([block] if block else []) + [events_block(results)]
    parts = [header(results), Text("")] + middle + [verdict(results)]
    if results.get("warnings"):
        w = Text("warnings\n", style="bold")
        for line in results["warnings"]:
            w.append(f"  {line}\n", style="yellow")
        parts.append(w)
    return Group(*parts)
