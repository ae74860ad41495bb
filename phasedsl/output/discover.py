"""The report of ``phasedsl discover``: one table of basins per sweep value, then the
``phase`` lines that select them (rendered from ``Discovery.to_json()``)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

__all__ = ["render_discovery", "discovery_block", "shared_lines"]


def _num(x, fmt: str = ".4f") -> str:
    return "?" if x is None else format(x, fmt)


def _pm(x, se, fmt: str = ".4f") -> str:
    if x is None:
        return "-"
    if se is None:
        return f"{format(x, fmt)} ± ?"
    return f"{format(x, fmt)} ± {format(se, fmt)}"


def _point_table(point: dict, sweep: str) -> Table:
    title = (f"{sweep} = {point['value']:g}: {len(point['basins'])} basin(s) holding "
             f"{point['coverage']:.3f} of the mass")
    checked = len(point.get("flows") or []) > 1
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in ("basin", "mass") + (("pure - reach",) if checked else ()) + (
            "loss L", "lambda", "captured", "leak", "critical point"):
        table.add_column(col, overflow="fold")
    for b in point["basins"]:
        bounds = (_bounds(b),) if checked else ()
        table.add_row(b["name"], _pm(b["mass"], b["se"]), *bounds, _num(b["loss"], ".5g"),
                      _pm(b["lambda"], b["lambda_se"], ".3f"), _num(b["captured"], ".3f"),
                      _num(b["leak"], ".3f"),
                      b["description"] + ("" if b["converged"] else " (flows not converged)")
                      + (" (only the check's flows end here)" if checked and b["mass"] == 0
                         else ""))
    return table


def _bounds(basin: dict, fmt: str = ".3f") -> str:
    """``0.105 - 0.554``: the mass every flow sends to the basin and the mass some flow
    sends there (``analysis.reach``)."""
    if basin.get("pure") is None or basin.get("reach") is None:
        return "-"
    return f"{format(basin['pure'], fmt)} - {format(basin['reach'], fmt)}"


def shared_lines(point: dict, agreed: bool = True) -> list[str]:
    """Words for the mass a point's two flows split between basins (``analysis.reach``);
    where they split none, a line saying so (``agreed``) or none; none with one flow."""
    flows = point.get("flows") or []
    if len(flows) < 2:
        return []
    shared = point.get("shared") or []
    total = sum(x["mass"] for x in shared)
    if total <= 0:
        return [f"the {flows[0]} and {flows[1]} steps' flows end at the same minimum from "
                "every start: each basin's mass is its pure mass"] if agreed else []
    pairs = ", ".join(f"{'/'.join(x['basins'])} {_pm(x['mass'], x['se'], '.3f')}"
                      for x in shared[:6])
    more = f" and {len(shared) - 6} more pairs" if len(shared) > 6 else ""
    return [f"the {flows[0]} and {flows[1]} steps' flows end at different minima for "
            f"{total:.3f} of the mass ({pairs}{more}): the mass column is the "
            f"{flows[0]} step's partition of it, and each basin's mass lies between its pure "
            "(every flow) and reach (some flow) masses"]


def _kinds_table(point: dict) -> Table:
    """A tensor spec's kinds of critical point held by several basins, each one phase."""
    table = Table(title="kinds of critical point held by several basins (`--write` writes "
                  "each as one phase, in place of its basins)", title_justify="left",
                  show_edge=False, pad_edge=False)
    for col in ("kind", "basins", "mass", "captured", "leak", "what they are"):
        table.add_column(col, overflow="fold")
    for k in point["kinds"]:
        table.add_row(k["name"], ", ".join(k["basins"]), _pm(k["mass"], k["se"]),
                      _num(k["captured"], ".3f"), _num(k["leak"], ".3f"), k["description"])
    return table


def _track_line(track: dict, sweep: str) -> str:
    """``basin2 (found at a = 0): its minimum holds from a = -1 to 1.539; destroyed between
    a = 1.539 and 1.541`` (order 2: the minimum meets a saddle)."""
    held = track["held"]
    words = [f"{track['basin']} (found at {sweep} = {track['found_at']:g}): its minimum holds "
             f"from {sweep} = {min(held):g} to {max(held):g}"]
    for end in track["ends"]:
        a, b = end["between"]
        what = "destroyed" if end["kind"] == "destruction" else "created"
        words.append(f"{what} between {sweep} = {a:.6g} and {b:.6g} (order 2: the minimum "
                     "meets a saddle)")
    if not track["ends"]:
        words.append("at every sweep value")
    return "; ".join(words)


def render_discovery(doc: dict):
    """A rich renderable of ``Discovery.to_json()``."""
    parts = []
    for point in doc["points"]:
        parts.append(_point_table(point, doc["sweep"]))
        if point.get("kinds"):
            parts.append(_kinds_table(point))
        lines = Text()
        for b in point["basins"]:
            if b["mass"] == 0 and len(point.get("flows") or []) > 1:
                lines.append(f"# phase {b['name']} = {b['condition']}   (only the check's "
                             "flows end here: `--write` leaves it out)\n")
            else:
                lines.append(f"phase {b['name']} = {b['condition']}\n")
        if point["rest"] > 1e-9:
            lines.append(f"# basins each below 0.005 hold {point['rest']:.3f} together\n")
        for line in shared_lines(point):
            lines.append(f"# {line}\n")
        if point["condition_coverage"] is not None:
            lines.append(f"# the conditions above hold {point['condition_coverage']:.3f} of "
                         "the mass together\n")
        if point.get("kinds"):
            lines.append("# each kind of critical point as one phase (`--write` writes these "
                         "in place of its basins)\n")
        for k in point.get("kinds") or []:
            lines.append(f"phase {k['name']} = {k['condition']}\n")
        parts.append(lines)
    for track in doc.get("tracks", []):
        parts.append(Text(_track_line(track, doc["sweep"])))
    for note in doc.get("notes", []):
        parts.append(Text(f"note: {note}"))
    return Group(*parts)


def discovery_block(doc: dict | None, why: str | None, results: dict) -> Text:
    """The run report's block of the basins ``phasedsl discover --into`` found (``doc``,
    ``rundir.load_discovery``), each discovered sweep value beside the declared phases'
    masses at the run's point of that value; ``why``: the reason a saved discovery is not
    shown. Empty where there is none."""
    t = Text()
    if why:
        t.append(f"discovered basins: {why}\n", style="yellow")
    if not doc:
        return t
    sweep = doc.get("sweep") or "value"
    t.append("discovered basins (phasedsl discover)\n", style="bold")
    at = {p.get("value"): p for p in results.get("points") or []}
    for point in doc["points"]:
        value = point.get("value")
        t.append(f"  {sweep} = {value:g}: {len(point['basins'])} basin(s) hold "
                 f"{point['coverage']:.3f} of the mass\n")
        for b in point["basins"]:
            bounds = f" (pure - reach {_bounds(b)})" if b.get("pure") is not None else ""
            t.append(f"    {b['name']:<10} {_pm(b['mass'], b['se'], '.3f'):<16} "
                     f"loss {_num(b['loss'], '.5g')}, lambda "
                     f"{_pm(b['lambda'], b['lambda_se'], '.2f')}{bounds}: "
                     f"{b['description']}\n")
        for line in shared_lines(point, agreed=False):
            t.append(f"    {line}\n", style="dim")
        for k in point.get("kinds") or []:
            t.append(f"    {k['name']:<10} {_pm(k['mass'], k['se'], '.3f'):<16} "
                     f"{len(k['basins'])} basins ({', '.join(k['basins'])}): "
                     f"{k['description']}\n")
        run = at.get(value)
        if run is not None:
            declared = ", ".join(f"{name} {run['phases'][name]['mass']:.3f}"
                                 for name in results.get("phases") or [])
            other = (run.get("other") or {}).get("mass")
            t.append(f"    declared phases at this run's point: {declared}"
                     + ("" if other is None else f", other {other:.3f}") + "\n", style="dim")
    return t
