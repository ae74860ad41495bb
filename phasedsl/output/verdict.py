"""The report's diagnostics block: what the run's checks mean, with advice (disagreeing
groups, divergences, low ESS, mass in no phase, pooling, the standard errors)."""

from __future__ import annotations

import math

from rich.text import Text

from ..language.setting_records import report_settings
from .format import exact_run, run_traits, se_line, sweep_names, unknown_errors, value_text
from .notes import point_notes

__all__ = ["ESS_LOW", "verdict"]


ESS_LOW = 100


def verdict(results: dict) -> Text:
    """What the diagnostics mean, with advice."""
    sweep = sweep_names(results)
    points = results["points"]
    t = Text()
    t.append("diagnostics\n", style="bold")
    bad = [p for p in points if not p.get("diagnostics", {}).get("mixing_ok", True)]
    smc = run_traits(results).repeats
    if bad:
        where = ", ".join(value_text(p) for p in bad[:8]) + (" ..." if len(bad) > 8 else "")
        why = ("the independent runs disagree there: raise particles or runs"
               if smc else "the masses there depend on where the chains started and cannot be "
                           "trusted")
        t.append(f"  {'runs' if smc else 'chains'} disagree at {len(bad)} of {len(points)} "
                 f"points ({sweep} = {where}): {why}.\n", style="red")
        for p in bad[:3]:
            for note in point_notes(p)[:3]:
                t.append(f"    {sweep} = {value_text(p)}: {note}\n")
        if run_traits(results).chains:
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
    if exact_run(results):
        worst = max((m.get("se") or 0.0 for p in points
                     for m in [*p["phases"].values(), p["other"]]), default=0.0)
        t.append("  exact quadrature: no sampling error; each mass's error is its grid's (the "
                 f"difference from half the cells: at most {worst:.1g}); free energies are "
                 "absolute.\n", style="green")
    elif not bad and not div and not low and not unknown:
        t.append("  all clear: independent runs agree, enough effective samples.\n" if smc
                 else "  all clear: chains agree, no divergences, enough effective samples.\n",
                 style="green")
    t.append(_other_block(points, sweep))
    again = [p for p in points if p.get("diagnostics", {}).get("retempered")]
    if again:
        where = ", ".join(value_text(p) for p in again[:8]) + (" ..." if len(again) > 8 else "")
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
    cut = [p for p in pooled if p["diagnostics"]["pooled"].get("cut")]
    if cut:
        # a few values by name; many (a sparse sweep, where most windows lose their far
        # ends) by the windows' sizes, which say more than a list
        sizes = sorted(p["diagnostics"]["pooled"]["values"] for p in cut)
        where = (", ".join(value_text(p) for p in cut) if len(cut) <= 3 else
                 f"to {sizes[0]}-{sizes[-1]} values" if sizes[0] < sizes[-1] else
                 f"to {sizes[0]} values")
        line += (f"; the window cut at {len(cut)} of {len(pooled)} values, where a "
                 f"neighbour's draws keep under report.pool_overlap = "
                 f"{report_settings(report).pool_overlap:g} of their effective sample size "
                 f"({where})")
    mine = [p for p in pooled if p["diagnostics"]["pooled"].get("used") is False]
    if mine:
        where = ", ".join(value_text(p) for p in mine[:6]) + (" ..." if len(mine) > 6 else "")
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


def _other_block(points: list[dict], sweep: str) -> Text:
    """Where the mass in no phase sits, when ``other`` holds more than half the posterior
    somewhere (the groups ``pipeline.summarise`` records): a phase the spec may have missed."""
    t = Text()
    big = [p for p in points if p.get("other", {}).get("mass", 0.0) > 0.5]
    if not big:
        return t
    where = ", ".join(value_text(p) for p in big[:8]) + (" ..." if len(big) > 8 else "")
    t.append(f"  `other` (in no phase) holds more than half the posterior at {len(big)} of "
             f"{len(points)} points ({sweep} = {where}): a phase may be missing.\n",
             style="yellow")
    worst = max(big, key=lambda p: p["other"]["mass"])
    groups = (worst.get("modes") or {}).get("other_groups") or []
    if groups:
        t.append(f"    at {sweep} = {value_text(worst)} ({worst['other']['mass']:.3f} in no "
                 "phase) it sits at:\n")
        for grp in groups[:4]:
            point = "; ".join(f"{k} = {v}" for k, v in grp["point"].items())
            t.append(f"      {grp['mass']:.3f}  {grp['key']}  e.g. {point}\n")
    t.append(f"    `phasedsl discover SPEC --at {value_text(worst)} --into RUN_FOLDER` finds the "
             "posterior's basins there, writes `phase` lines for them and shows them under "
             "this report (docs/discover.md).\n")
    return t
