"""The phase diagram of a two-dimensional sweep, from its results document (``sweep2``,
points with ``value2``, events with ``value2``, ``boundaries``): the report's text (a map of
the preferred phase per cell, the boundary curves row by row with their bands, the flagged
cells) and the figure ``phase_diagram.png``.

Rendering only: everything here reads the results dictionary; nothing samples or computes
the boundaries (``analysis.boundaries`` does). The report and the figures call this module
(``report.render``, ``plots.draw_figures``), so it imports neither: they hand it their number
format ``fmt(x, digits)`` and figure helpers.
"""

from __future__ import annotations

import string

import numpy as np
from rich.text import Text

from .notes import refinement_words

__all__ = ["is_grid", "grid_blocks", "grid_markdown", "phase_map", "boundary_table",
           "flagged_block", "diagram_figure", "cell_text"]


def is_grid(results: dict) -> bool:
    """Whether the document is of a two-dimensional sweep."""
    return bool(results.get("sweep2"))


def cell_text(results: dict, point: dict, fmt) -> str:
    """``theta = 0.5, n = 10``: where a cell is."""
    return (f"{results['sweep']['name']} = {fmt(point['value'], 4)}, "
            f"{results['sweep2']['name']} = {fmt(point['value2'], 4)}")


def _letters(phases: list[str]) -> dict:
    """A letter per phase for the text map: its initial where that is unique, else A, B ..."""
    initials = [p[:1].upper() for p in phases]
    if len(set(initials)) == len(initials) and all(c.isalpha() for c in initials):
        return dict(zip(phases, initials))
    return {p: string.ascii_uppercase[k % 26] for k, p in enumerate(phases)}


def _cells(results: dict) -> dict:
    return {(float(p["value"]), float(p["value2"])): p for p in results["points"]}


def phase_map(results: dict, fmt) -> Text:
    """The preferred phase of every cell as letters, the second variable's rows from the
    top (largest) down, the first variable's values left to right; ``.`` no preferred phase,
    ``?`` not sampled (yet), lower case where the sampler's groups disagree (flagged)."""
    phases = list(results["phases"])
    letters = _letters(phases)
    xs = [float(v) for v in results["sweep"]["values"]]
    ys = [float(v) for v in results["sweep2"]["values"]]
    cells = _cells(results)
    name, name2 = results["sweep"]["name"], results["sweep2"]["name"]
    width = max(len(fmt(y, 4)) for y in ys)
    t = Text()
    t.append("phase diagram (preferred phase per cell: "
             + ", ".join(f"{letters[p]} {p}" for p in phases)
             + "; . none, ? not sampled, lower case: chains or runs disagree)\n", style="bold")
    for y in reversed(ys):
        row = []
        for x in xs:
            p = cells.get((x, y))
            if p is None:
                row.append("?")
                continue
            c = letters.get(p.get("preferred"), ".")
            ok = p.get("diagnostics", {}).get("mixing_ok", True)
            row.append(c if ok else c.lower())
        t.append(f"  {name2} = {fmt(y, 4):>{width}}  {' '.join(row)}\n")
    t.append(f"  {' ' * (len(name2) + 3 + width)}  {name} = {fmt(xs[0], 4)} ... "
             f"{fmt(xs[-1], 4)} ({len(xs)} values, left to right)\n")
    return t


def _axes(results: dict, b: dict) -> tuple[str, str, str, str]:
    """``(along, across, key along, key across)``: the variable a curve is traced along
    (its band's), the one that numbers its lines, and their keys in a point's record."""
    name, name2 = results["sweep"]["name"], results["sweep2"]["name"]
    return (name, name2, "value", "value2") if not b.get("axis") else (
        name2, name, "value2", "value")


def boundary_table(results: dict, fmt) -> Text:
    """Each boundary curve, one line per row (or column): where it crosses it, its band."""
    t = Text()
    t.append("boundaries", style="bold")
    t.append(" (band: the bisection's bracket, or ± 2 se where resolved (SMC: the t "
             "interval of its runs), else the bracket between two sweep values)\n")
    curves = results.get("boundaries") or []
    if not curves:
        t.append("  none found (no event in any row or column)\n")
    added = results["sweep"].get("added") or []
    if added:
        t.append(f"  {len(added)} cell{'s' if len(added) != 1 else ''} added inside event "
                 "brackets along the rows and columns to locate them (report.resolution "
                 f"{_resolution(results.get('report') or {})}; not on the map)\n")
    for b in curves:
        along, across, key, key2 = _axes(results, b)
        lines = len(results["sweep2" if not b.get("axis") else "sweep"]["values"])
        t.append(f"  {_label(b)} along {along}: {len(b['points'])} of {lines} "
                 f"{'rows' if not b.get('axis') else 'columns'}\n")
        for p in b["points"]:
            lo, hi = p["band"]
            how = (f"the phase {'stops' if b['kind'] == 'destruction' else 'starts'} "
                   "holding a local minimum (gradient flows, bisected)"
                   if b.get("criterion") == "minimum" else
                   "exact (bisection)" if p.get("refined") else
                   "resolved" if p["resolved"] else
                   f"located to {fmt(p['refinement']['width'], 3)} by added cells"
                   if _located(p) and hi - lo < _grid_step(results, b, p) else
                   "somewhere in the bracket")
            t.append(f"    {across} = {fmt(p[key2], 4)}: {along} = {fmt(p[key], 5)} "
                     f"[{fmt(lo, 5)}, {fmt(hi, 5)}] {how}"
                     + refinement_words(p.get("refinement")).replace("sweep values",
                                                                      "cells"))
            if p.get("trusted") is False:
                t.append("  (chains disagree at an end: not trustworthy)", style="red")
            t.append("\n")
    return t


def _located(p: dict) -> bool:
    """A boundary point whose line's event was refined to the resolution width."""
    return (p.get("refinement") or {}).get("status") == "located"


def _grid_step(results: dict, b: dict, p: dict) -> float:
    """The spacing of the product grid around a boundary point along its curve's variable
    (a band narrower than this was narrowed by added cells)."""
    along = sorted(float(v) for v in results["sweep" if not b.get("axis") else "sweep2"]["values"])
    at = p["value"] if not b.get("axis") else p["value2"]
    gaps = [hi - lo for lo, hi in zip(along, along[1:]) if lo <= at <= hi]
    return min(gaps) if gaps else float("inf")


def _resolution(report: dict) -> str:
    r = report.get("resolution")
    if isinstance(r, dict):
        return f"absolute({r.get('absolute')}) in the first variable"
    return "?" if r is None else f"{r:g} of each variable's span"


def _label(b: dict) -> str:
    a = b["phases"]
    text = (f"crossover {a[0]} | {a[1]}" if b["kind"] == "crossover" else
            f"{b['kind']} of {a[0]}" if len(a) == 1 else f"{b['kind']} of {a[0]} and {a[1]}")
    if b.get("criterion") == "minimum":  # where the phase's well vanishes or appears
        text += " (local minimum)"
    elif b["kind"] in ("destruction", "creation"):  # where its mass meets the floor
        text += " (mass floor)"
    return text + (f" (branch {b['branch'] + 1})" if b.get("branch") else "")


def flagged_block(results: dict, fmt) -> Text:
    """The cells whose sampler groups disagree (``mixing_ok`` false)."""
    bad = [p for p in results["points"] if not p.get("diagnostics", {}).get("mixing_ok", True)]
    t = Text()
    if bad:
        where = "; ".join(cell_text(results, p, fmt) for p in bad[:8]) + (" ..." if len(bad) > 8 else "")
        t.append(f"  flagged cells ({len(bad)} of {len(results['points'])}: chains or runs "
                 f"disagree, masses not to be trusted): {where}\n", style="red")
    return t


def grid_blocks(results: dict, fmt) -> list[Text]:
    """The report's blocks of a two-dimensional sweep in place of the table and the events:
    the map of preferred phases, the boundaries, the flagged cells."""
    blocks = [phase_map(results, fmt), boundary_table(results, fmt), flagged_block(results, fmt)]
    return [b for b in blocks if b.plain]


def grid_markdown(results: dict, fmt, mass) -> str:
    """The cells and the boundaries as Markdown (``mass(m)``: a mass record as text)."""
    phases = results["phases"]
    name, name2 = results["sweep"]["name"], results["sweep2"]["name"]
    head = [name2, name] + list(phases) + ["other", "preferred", "mixing"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in results["points"]:
        ok = p.get("diagnostics", {}).get("mixing_ok", True)
        row = ([fmt(p["value2"], 4), fmt(p["value"], 4)]
               + [mass(p["phases"][n]) for n in phases]
               + [mass(p["other"]), p.get("preferred") or "-",
                  "ok" if ok else "**chains disagree**"])
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for b in results.get("boundaries") or []:
        along, across, key, key2 = _axes(results, b)
        lines.append(f"- {_label(b)} along {along}: " + "; ".join(
            f"{across} = {fmt(p[key2], 4)}: {along} = {fmt(p[key], 5)} "
            f"[{fmt(p['band'][0], 5)}, {fmt(p['band'][1], 5)}]" for p in b["points"]))
    if not results.get("boundaries"):
        lines.append("- no boundaries found")
    return "\n".join(lines) + "\n"


def _edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres: midpoints, the ends half a spacing out."""
    if len(values) == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    mid = 0.5 * (values[1:] + values[:-1])
    return np.concatenate([[2 * values[0] - mid[0]], mid, [2 * values[-1] - mid[-1]]])


def _preferred_codes(results: dict, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, list]:
    """The preferred phase of each cell, ``f[Y, X]`` over the rows ``ys`` and columns ``xs``:
    its index among the phases, -1 for none, NaN for a cell not sampled; and the flagged
    cells ``(x, y)`` (``mixing_ok`` false)."""
    phases = list(results["phases"])
    cells = _cells(results)
    code = np.full((len(ys), len(xs)), np.nan)
    flagged = []
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            p = cells.get((float(x), float(y)))
            if p is None:
                continue
            pref = p.get("preferred")
            code[j, i] = phases.index(pref) if pref in phases else -1
            if not p.get("diagnostics", {}).get("mixing_ok", True):
                flagged.append((x, y))
    return code, flagged


def _draw_map(ax, xs: np.ndarray, ys: np.ndarray, code: np.ndarray, phases: list,
              colours: dict) -> list:
    """The cells coloured by ``code f[Y, X]`` (``_preferred_codes``), those not sampled
    hatched; the legend's handles for them."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch, Rectangle

    palette = ["white"] + [colours[p] for p in phases]
    cmap = ListedColormap(palette)
    ax.pcolormesh(_edges(xs), _edges(ys), np.ma.masked_invalid(code + 1), cmap=cmap,
                  vmin=-0.5, vmax=len(phases) + 0.5, alpha=0.55, shading="flat",
                  edgecolors="white", linewidth=0.3)
    xe, ye = _edges(xs), _edges(ys)
    for j, i in zip(*np.nonzero(np.isnan(code))):  # cells not sampled (yet)
        ax.add_patch(Rectangle((xe[i], ye[j]), xe[i + 1] - xe[i], ye[j + 1] - ye[j],
                               facecolor="none", edgecolor="0.6", hatch="///", lw=0))
    handles = [Patch(facecolor=colours[p], alpha=0.55, label=f"{p} preferred") for p in phases]
    if (code == -1).any():
        handles.append(Patch(facecolor="white", edgecolor="0.8", label="no preferred phase"))
    if np.isnan(code).any():
        handles.append(Patch(facecolor="white", edgecolor="0.6", hatch="///",
                             label="not sampled (yet)"))
    return handles


def _curve_style(b: dict, colours: dict, other: str) -> tuple[str, str, float, str]:
    """How the boundary ``b`` is drawn: colour, line style, line width and marker (circles
    along the first variable, squares, thinner, along the second)."""
    styles = {"crossover": ("k", "-"), "merge": (other, "-."), "split": (other, "-.")}
    colour, ls = styles.get(b["kind"], (colours.get(b["phases"][0], other), "--"))
    if b.get("criterion") == "minimum":  # the phase's well vanishes or appears: dotted
        colour, ls = colours.get(b["phases"][0], other), ":"
    lw = (2.0 if b["kind"] == "crossover" else 1.4) * (0.6 if b.get("axis") else 1.0)
    marker = "o" if not b.get("axis") else "s"
    return colour, ls, lw, marker


def _draw_boundary(ax, results: dict, b: dict, colours: dict, other: str):
    """The boundary curve ``b`` through its rows (bands horizontal) or columns (bands
    vertical), hollow markers where only the bracket is known; its legend handle."""
    from matplotlib.lines import Line2D

    along, across, key, key2 = _axes(results, b)
    pts = sorted(b["points"], key=lambda p: p[key2])
    fixed = np.array([p[key2] for p in pts], float)
    at = np.array([p[key] for p in pts], float)
    lo = np.array([p["band"][0] for p in pts], float)
    hi = np.array([p["band"][1] for p in pts], float)
    colour, ls, lw, marker = _curve_style(b, colours, other)
    if not b.get("axis"):  # traced along the first variable: bands are horizontal
        ax.fill_betweenx(fixed, lo, hi, color=colour, alpha=0.18, lw=0)
        ax.hlines(fixed, lo, hi, color=colour, alpha=0.45, lw=5)  # each row's band
        x, y = at, fixed
    else:  # along the second: one point per column, bands vertical
        ax.fill_between(fixed, lo, hi, color=colour, alpha=0.18, lw=0)
        ax.vlines(fixed, lo, hi, color=colour, alpha=0.45, lw=5)
        x, y = fixed, at
    ax.plot(x, y, color=colour, ls=ls, lw=lw, marker=marker, ms=3.5)
    unresolved = np.array([_unresolved(p) for p in pts])
    if unresolved.any():
        ax.plot(x[unresolved], y[unresolved], marker, ms=6, mfc="white", mec=colour,
                ls="", zorder=5)
    return Line2D([], [], color=colour, ls=ls, lw=lw, marker=marker, ms=3.5,
                  label=f"{_label(b)}\n(along {along}, a point per {across})")


def _unresolved(p: dict) -> bool:
    """Whether a boundary's point is only known to lie somewhere in its bracket."""
    return not p["resolved"] and not p.get("refined") and not _located(p)


def _draw_marks(ax, results: dict, flagged: list) -> list:
    """The cells refinement added (small dots) and the flagged cells (crossed out); the
    legend's handles for them, for the bands and for the hollow markers."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    added = results["sweep"].get("added") or []
    if added:  # cells refinement added inside event brackets (not on the map)
        ax_, ay_ = zip(*added)
        ax.plot(ax_, ay_, ".", color="0.25", ms=2.5, zorder=4)
        handles.append(Line2D([], [], ls="", marker=".", color="0.25",
                              label=f"cells added to locate\nboundaries ({len(added)})"))
    if flagged:
        fx, fy = zip(*flagged)
        ax.plot(fx, fy, "x", color="red", ms=9, mew=2, zorder=6)
        handles.append(Line2D([], [], ls="", marker="x", color="red", mew=2,
                              label="flagged: chains or runs disagree\n(mixing_ok = false)"))
    handles.append(Patch(facecolor="0.6", alpha=0.3, label="band: located within"))
    if any(_unresolved(p) for b in results.get("boundaries") or [] for p in b["points"]):
        handles.append(Line2D([], [], ls="", marker="o", mfc="white", mec="k",
                              label="hollow: unresolved\n(somewhere in the bracket)"))
    return handles


def diagram_figure(plt, results: dict, colours: dict, label, title: str, other: str):
    """``phase_diagram.png``: the preferred phase per cell (colour; white: none, hatched:
    not sampled; small dots: cells refinement added), each boundary curve through its rows
    (circles, bands horizontal) or columns (squares, thinner, bands vertical) with its band
    (hollow markers: only known to lie in the bracket), flagged cells (chains or runs
    disagree) crossed out, the axes named for the two sweep variables (``label(name)``
    the axis label of a variable; ``colours`` the phases', ``other`` that of merges)."""
    xs = np.array(results["sweep"]["values"], float)
    ys = np.array(results["sweep2"]["values"], float)
    code, flagged = _preferred_codes(results, xs, ys)
    fig, ax = plt.subplots(figsize=(8.4, 5.6), layout="constrained")
    handles = _draw_map(ax, xs, ys, code, list(results["phases"]), colours)
    handles += [_draw_boundary(ax, results, b, colours, other)
                for b in results.get("boundaries") or []]
    handles += _draw_marks(ax, results, flagged)
    ax.set_xlim(_edges(xs)[0], _edges(xs)[-1])
    ax.set_ylim(_edges(ys)[0], _edges(ys)[-1])
    ax.set_xlabel(label(results["sweep"]["name"]))
    ax.set_ylabel(label(results["sweep2"]["name"]))
    ax.grid(False)
    ax.set_title(title)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return "phase_diagram", fig
