"""The learning coefficients of a run, rendered: a block of the report (one row per sweep
value, one column per phase: ``lambda +- se`` and the variance estimate) and ``lambda.png``
(lambda against the sweep, one line per phase, error bars; the variance estimate dashed).
Drawing only, from ``results.json``'s ``lcoef`` records (``phasedsl.measure.lcoef``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["has_lcoef", "lcoef_block", "lcoef_markdown", "lambda_figure"]


def fmt(x, digits: int = 4) -> str:
    return f"{x:.{digits}g}"


def sweep_name(results: dict) -> str:
    return results["sweep"]["name"] or "point"


def has_lcoef(results: dict) -> bool:
    return any(p.get("lcoef") or p.get("lcoef_posterior") for p in results.get("points") or [])


def _has_posterior(results: dict) -> bool:
    """Whether the run recorded the whole posterior's learning coefficient (a column)."""
    return any(p.get("lcoef_posterior") for p in results.get("points") or [])


def _columns(results: dict) -> list[str]:
    return [f"λ {n}" for n in results["phases"]] + (
        ["λ posterior"] if _has_posterior(results) else [])


def _cell(rec: dict | None) -> str:
    if not rec or rec.get("lambda") is None:
        return "-"
    lam, se, var = rec["lambda"], rec.get("lambda_se"), rec.get("lambda_var")
    text = f"{lam:.3f}" + ("" if not se else f" ± {se:.3f}")
    if var is not None:
        text += f" (var {var:.3f})"
    if rec.get("minimiser_in_phase") is False:
        text += " edge"
    return text


def _rows(results: dict):
    phases = results["phases"]
    whole = _has_posterior(results)
    for p in sorted(results.get("points") or [], key=lambda p: p["value"]):
        lc = p.get("lcoef") or {}
        cells = [_cell(lc.get(name)) for name in phases]
        yield p["value"], cells + ([_cell(p.get("lcoef_posterior"))] if whole else [])


def lcoef_block(results: dict):
    """The report's learning-coefficient block (a rich ``Group``), or None without records."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    if not has_lcoef(results):
        return None
    t = Table(box=None, pad_edge=False, header_style="bold")
    t.add_column(sweep_name(results), justify="right", no_wrap=True, min_width=5)
    for name in _columns(results):
        t.add_column(name, justify="right", no_wrap=True)
    for value, cells in _rows(results):
        t.add_row(fmt(value, 4), *cells)
    methods = {r.get("lambda_method") for p in results["points"]
               for r in (p.get("lcoef") or {}).values()}
    methods |= {p["lcoef_posterior"].get("lambda_method") for p in results["points"]
                if p.get("lcoef_posterior")}
    how = ("exact: derivatives of each phase's log Z in beta" if methods == {"logz"} else
           "E[n beta L_n | phase] - n beta L_n(w*); ± sampling se; posterior: every draw")
    if "path" in methods:
        how += (" (SMC: fitted along the tempering path to t -> infinity, lambda - a/log t "
                "+ b beta, ± the runs' spread)")
    title = Text("learning coefficients ", style="bold")
    title.append(f"({how}; var: Var[n beta L_n | phase], the second estimate; "
                 "edge: the loss falls across the phase's boundary)", style="dim")
    return Group(title, t, Text(""))


def lcoef_markdown(results: dict) -> list[str]:
    if not has_lcoef(results):
        return []

    head = [sweep_name(results)] + _columns(results)
    lines = ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([fmt(v, 4)] + cells) + " |" for v, cells in _rows(results)]
    return lines


def lambda_figure(plt, results: dict, colours: dict, xlabel: str):
    """``("lambda", Figure)``: each phase's lambda along the sweep with +- 1 se bars, and its
    variance estimate dashed (``colours``: by phase; ``xlabel``: the sweep axis)."""
    phases = results["phases"]
    points = sorted(results["points"], key=lambda p: p["value"])
    x = np.array([p["value"] for p in points], float)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    series = [(name, [(p.get("lcoef") or {}).get(name) or {} for p in points],
               colours[name]) for name in phases]
    if _has_posterior(results):  # the whole posterior's, in black
        series.append(("posterior", [p.get("lcoef_posterior") or {} for p in points], "black"))
    for name, recs, colour in series:
        lam = np.array([np.nan if r.get("lambda") is None else r["lambda"] for r in recs])
        se = np.array([0.0 if not r.get("lambda_se") else r["lambda_se"] for r in recs])
        var = np.array([np.nan if r.get("lambda_var") is None else r["lambda_var"] for r in recs])
        if np.all(np.isnan(lam)):
            continue
        ax.errorbar(x, lam, yerr=se, marker="o", ms=3.5, capsize=2.5, color=colour,
                    label=f"{name}: E[nβL] − nβL(w*)")
        ax.plot(x, var, ls="--", lw=1, color=colour, alpha=0.7,
                label=f"{name}: Var[nβL]")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning coefficient λ")
    ax.set_title(f"{results.get('experiment', '')}: learning coefficients")
    ax.legend(loc="best")
    fig.tight_layout()
    return "lambda", fig
