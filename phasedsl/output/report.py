"""The terminal report of a results document (the shape of ``results.json``), as rich
renderables, and its Markdown form.

Compute first, render last: every function here takes the results dictionary and returns text
or a rich renderable; nothing samples or prints.
"""

from __future__ import annotations

import math

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..analysis.intervals import factor, se_range
from ..analysis.mixing import RHAT_LIMIT
from ..language.setting_records import report_settings
from ..language.traits import EngineTraits, traits
from .notes import (floor_words, minimum_words, point_notes, refinement_words,
                    shown_above, unresolved_span)

ESS_LOW = 100


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


def _se(se, exact: bool) -> str:
    """`` ± 0.012``; `` ± ?`` where a sampled mass has no known error; `` ± 3e-04`` below
    what three decimals show (never `` ± 0.000``); nothing for an exact engine's 0."""
    if se is None:
        return "" if exact else " ± ?"
    if se == 0:
        return ""
    return f" ± {se:.3f}" if se >= 0.0005 else f" ± {se:.0e}"


def _mass(m: dict, exact: bool = False) -> str:
    return f"{m['mass']:.3f}" + _se(m.get("se"), exact)


def _traits(results: dict) -> EngineTraits:
    """The traits of the engine a run used (``language.traits``)."""
    return traits(results.get("sampler", {}).get("engine"))


def _exact(results: dict) -> bool:
    return _traits(results).exact


def unknown_errors(results: dict) -> list[dict]:
    """The points of a sampled run where some phase's standard error is unknown."""
    if _exact(results):
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
        return text + "; " + floor_words(event["kind"], floor, sweep, floor_of)
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
        exact = _exact(results)
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


def _names(results: dict) -> str:
    """The sweep variable, or ``(theta, n)`` for a two-dimensional sweep."""
    if results.get("sweep2"):
        return f"({results['sweep']['name']}, {results['sweep2']['name']})"
    return sweep_name(results)


def _value(point: dict) -> str:
    """A point's sweep value, or ``(0.5, 10)`` for a grid's cell."""
    if "value2" in point:
        return f"({fmt(point['value'], 4)}, {fmt(point['value2'], 4)})"
    return fmt(point["value"], 4)


def verdict(results: dict) -> Text:
    """What the diagnostics mean, with advice."""
    sweep = _names(results)
    points = results["points"]
    t = Text()
    t.append("diagnostics\n", style="bold")
    bad = [p for p in points if not p.get("diagnostics", {}).get("mixing_ok", True)]
    smc = _traits(results).repeats
    if bad:
        where = ", ".join(_value(p) for p in bad[:8]) + (" ..." if len(bad) > 8 else "")
        why = ("the independent runs disagree there: raise particles or runs"
               if smc else "the masses there depend on where the chains started and cannot be "
                           "trusted")
        t.append(f"  {'runs' if smc else 'chains'} disagree at {len(bad)} of {len(points)} "
                 f"points ({sweep} = {where}): {why}.\n", style="red")
        for p in bad[:3]:
            for note in point_notes(p)[:3]:
                t.append(f"    {sweep} = {_value(p)}: {note}\n")
        if _traits(results).chains:
            t.append("  advice: run with `--engine smc` (tempered SMC moves between modes), "
                     "or more chains and draws.\n")
    div = sum(p.get("diagnostics", {}).get("divergences") or 0 for p in points)
    if div:
        t.append(f"  {div} divergent transitions in all: raise target_accept "
                 "(e.g. --set target_accept=0.95).\n", style="yellow")
    low = [p for p in points if (p.get("diagnostics", {}).get("ess_min") or math.inf) < ESS_LOW]
    if low:
        t.append(f"  effective sample size below {ESS_LOW} at {len(low)} points: "
                 "draw more (--set draws=...).\n", style="yellow")
    unknown = unknown_errors(results)
    if unknown:
        runs = results["sampler"].get("runs")
        why = (f"{runs} independent run{'s' if runs != 1 else ''}; their spread is quoted from 4"
               if smc and runs is not None else "too few independent groups")
        t.append(f"  standard errors unknown at {len(unknown)} of {len(points)} points ({why}): "
                 "the masses there cannot be compared within their noise"
                 + (" (--set runs=4)" if smc else "") + ".\n", style="yellow")
    if _exact(results):
        t.append("  exact quadrature: no sampling error; free energies are absolute.\n",
                 style="green")
    elif not bad and not div and not low and not unknown:
        t.append("  all clear: independent runs agree, enough effective samples.\n" if smc
                 else "  all clear: chains agree, no divergences, enough effective samples.\n",
                 style="green")
    t.append(_other_block(points, sweep))
    again = [p for p in points if p.get("diagnostics", {}).get("retempered")]
    if again:
        where = ", ".join(_value(p) for p in again[:8]) + (" ..." if len(again) > 8 else "")
        t.append(f"  tempered again from the prior at {len(again)} of {len(points)} points "
                 f"({sweep} = {where}): the runs carried along the sweep disagreed there.\n",
                 style="yellow")
    if smc:
        t.append(_smc_line(points))
    pooled = _pooled_line(points, results.get("report") or {})
    if pooled:
        t.append(pooled)
    t.append(se_line(results))
    speed = [p.get("diagnostics", {}) for p in points]
    grads = [d.get("grad_evals_per_s") for d in speed if d.get("grad_evals_per_s")]
    walls = [d.get("sample_s", d.get("wall_s")) for d in speed if d.get("wall_s") is not None]
    if walls:
        line = f"  time: {sum(walls):.1f} s sampling over {len(walls)} points"
        compile_s = [d.get("compile_s") for d in speed if d.get("compile_s")]
        if compile_s:
            line += f", {sum(compile_s):.1f} s compiling"
        if grads:
            line += f", {sum(grads) / len(grads):,.0f} gradient evaluations/s"
        steps = [d.get("steps_per_draw") for d in speed if d.get("steps_per_draw")]
        if steps:
            line += f", {sum(steps) / len(steps):.1f} leapfrog steps/draw"
        t.append(line + "\n")
    return t


def markdown(results: dict) -> str:
    """The table and events as Markdown, for notes and papers."""
    if results.get("sweep2"):  # a two-dimensional sweep: its cells and boundaries
        from .diagram import grid_markdown

        return grid_markdown(results, fmt, lambda m: _mass(m, _exact(results)))
    phases = results["phases"]
    name = sweep_name(results)
    spread = _datasets(results) > 1
    head = [name] + [c for n in phases for c in ([n, f"{n} sd"] if spread else [n])]
    head += ["other", "preferred", "mixing"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in results["points"]:
        ok = p.get("diagnostics", {}).get("mixing_ok", True)
        exact = _exact(results)
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


def _pooled_line(points: list[dict], report: dict) -> str:
    """How far pooling neighbours' draws (``pipeline.pooling``) narrowed the errors: the rms
    standard error of the phase masses, pooled and each value's own."""
    pooled = [p for p in points if (p.get("diagnostics") or {}).get("pooled")]
    if not pooled:
        return ""
    widest = max(p["diagnostics"]["pooled"]["values"] for p in pooled)
    now, own = [], []
    for p in pooled:
        mine = p["diagnostics"].get("own", {}).get("phases", {})
        for name, m in p["phases"].items():
            if m.get("se") is not None and (mine.get(name) or {}).get("se") is not None:
                now.append(m["se"] ** 2)
                own.append(mine[name]["se"] ** 2)
    pool = report_settings(report).pool
    line = (f"  each value's masses pooled from the draws of up to {widest} sweep values "
            f"(itself and report.pool = {pool} on each side)")
    mine = [p for p in pooled if p["diagnostics"]["pooled"].get("used") is False]
    if mine:
        where = ", ".join(_value(p) for p in mine[:6]) + (" ..." if len(mine) > 6 else "")
        line += (f"; {len(mine)} of {len(pooled)} values keep their own draws' estimate, "
                 f"where pooling did not lower its variance ({where})")
    if now and sum(now) > 0:
        line += (f": rms standard error {math.sqrt(sum(now) / len(now)):.2g}, each value's "
                 f"own draws {math.sqrt(sum(own) / len(own)):.2g}")
    return line + ".\n"


def _smc_line(points: list[dict]) -> str:
    """``  tempering: 12-15 stages, particle ESS 800-1,900 per run, acceptance 0.6-0.8``."""
    def spread(key: str) -> list[float]:
        out = []
        for p in points:
            v = p.get("diagnostics", {}).get(key)
            out += [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, (int, float))]
        return out

    parts = []
    for key, label, form in (("stages", "stages", "{:.0f}"), ("particle_ess", "particle ESS",
                             "{:,.0f}"), ("acceptance", "HMC acceptance", "{:.2f}")):
        v = spread(key)
        if v:
            lo, hi = form.format(min(v)), form.format(max(v))
            parts.append(f"{label} {lo}" if lo == hi else f"{label} {lo}-{hi}")
    if not parts:
        return ""
    unfinished = [p for p in points if p.get("diagnostics", {}).get("reached_posterior") is False]
    n = len(unfinished)
    tail = (f"; {n} point{'s' if n != 1 else ''} stopped before the posterior (max_stages)"
            if n else "")
    return "  tempering (per run): " + ", ".join(parts) + tail + "\n"


def _short(value) -> str:
    if isinstance(value, list):
        if len(value) > 6:
            return f"{fmt(value[0], 4)} ... {fmt(value[-1], 4)} ({len(value)} values, one per sweep value)"
        return ", ".join(fmt(v, 4) if isinstance(v, (int, float)) else str(v) for v in value)
    if isinstance(value, float):
        return fmt(value, 6)
    return "-" if value is None else str(value)


def provenance(results: dict) -> Text:
    """What the run was made from (``phasedsl report DIR --provenance``): the spec, the
    effective settings, n, beta, seeds, versions, machine and timings recorded in
    ``results.json``; fields an older run did not record are said to be missing."""
    t = Text()
    t.append("provenance\n", style="bold")
    sha = (results.get("spec_sha256") or "")[:12]
    t.append(f"  spec: {results.get('spec_file') or '-'} (sha256 {sha or '-'}; "
             f"text {'recorded' if results.get('spec_text') is not None else 'not recorded'})\n")
    given = results.get("set") or {}
    t.append("  --set: " + (", ".join(f"{k}={v}" for k, v in given.items()) or "none")
             + f"; --quick: {'yes' if results.get('quick') else 'no'}\n")
    settings = results.get("settings")
    if settings:
        t.append(f"  engine {settings['engine']}: "
                 + ", ".join(f"{k} {_short(v) if v is not None else 'auto'}"
                             for k, v in settings["sample"].items()) + "\n")
        t.append("  report: " + ", ".join(f"{k} {_short(v)}" for k, v in settings["report"].items())
                 + "\n")
    else:
        t.append("  settings: not recorded (a run made before provenance was recorded)\n",
                 style="yellow")
    eff = results.get("effective")
    if eff:
        t.append(f"  n: {_short(eff.get('n'))}\n  beta: {_short(eff.get('beta'))}\n")
        for name, value in (eff.get("lets") or {}).items():
            if name not in ("n", "beta"):
                t.append(f"  let {name}: {_short(value)}\n")
    seeds = results.get("seeds")
    if seeds:
        t.append(f"  seeds: sampler {seeds.get('sampler')}, data {_short(seeds.get('data'))}"
                 f" (each point: {seeds.get('point_key')})\n")
        if seeds.get("data_sets"):
            t.append(f"  data sets: seeds {_short(seeds['data_sets'])} "
                     f"({seeds.get('dataset_key')})\n")
    data = results.get("data_file")
    if data:
        t.append(f"  data file: {data.get('path')} (sha256 {data.get('sha256')}; "
                 f"{data.get('rows')} rows, {data.get('inputs')} inputs)\n")
    versions = results.get("versions") or {}
    if versions:
        t.append("  versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + "\n")
    m = results.get("machine")
    if m:
        t.append(f"  machine: {m.get('platform')}, {m.get('cpu_count')} cpus "
                 f"({m.get('usable_cores')} usable), {m.get('backend')} backend, "
                 f"{m.get('device_count')} x {m.get('device_kind')}\n")
        if m.get("argv"):
            t.append("  command: " + " ".join(m["argv"]) + "\n")
    elif results.get("device"):
        t.append(f"  device: {results['device']}\n")
    cluster = results.get("cluster")
    if cluster:  # a --cluster run: the driver's machine above, the workers here
        workers = {p.get("diagnostics", {}).get("worker") for p in results.get("points", [])}
        t.append(f"  cluster: {cluster.get('address')}, {cluster.get('points_per_task')} "
                 f"point(s) per task, {cluster.get('retries')} retries; points sampled by "
                 f"{len(workers - {None})} worker processes\n")
    tm = results.get("timings")
    if tm:
        wall = tm.get("wall_s")
        t.append(f"  started {tm.get('started')}, ended {tm.get('ended') or '-'}, wall "
                 f"{'-' if wall is None else f'{wall:.1f} s'}"
                 + (f", {tm['points_resumed']} points resumed from an earlier run"
                    if tm.get("points_resumed") else "") + "\n")
    for r in results.get("reanalyses") or []:
        t.append(f"  re-analysed {r.get('at')}: " + ", ".join(f"{k}={v}" for k, v in
                                                              (r.get("set") or {}).items())
                 + (f" spec {r['spec_file']}" if r.get("spec_file") else "") + "\n")
    return t


def _other_block(points: list[dict], sweep: str) -> Text:
    """Where the mass in no phase sits, when ``other`` holds more than half the posterior
    somewhere (the groups ``pipeline.summarise`` records): a phase the spec may have missed."""
    t = Text()
    big = [p for p in points if p.get("other", {}).get("mass", 0.0) > 0.5]
    if not big:
        return t
    where = ", ".join(_value(p) for p in big[:8]) + (" ..." if len(big) > 8 else "")
    t.append(f"  `other` (in no phase) holds more than half the posterior at {len(big)} of "
             f"{len(points)} points ({sweep} = {where}): a phase may be missing.\n",
             style="yellow")
    worst = max(big, key=lambda p: p["other"]["mass"])
    groups = (worst.get("modes") or {}).get("other_groups") or []
    if groups:
        t.append(f"    at {sweep} = {_value(worst)} ({worst['other']['mass']:.3f} in no "
                 "phase) it sits at:\n")
        for grp in groups[:4]:
            point = "; ".join(f"{k} = {v}" for k, v in grp["point"].items())
            t.append(f"      {grp['mass']:.3f}  {grp['key']}  e.g. {point}\n")
    t.append(f"    `phasedsl discover SPEC --at {_value(worst)} --into RUN_FOLDER` finds the "
             "posterior's basins there, writes `phase` lines for them and shows them under "
             "this report (docs/discover.md).\n")
    return t
