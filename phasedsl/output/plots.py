"""Figures of a run folder, drawn (never computed: no parsing, checking or compiling here):
phase masses and free energies along the sweep from the results document, and the figures
whose data the pipeline prepares (``phasedsl.pipeline.figures``): the posterior of a per-node
let on one plane (networks), the posterior density of a one-parameter energy.

``write_plots(folder, results, figures)`` writes PNGs into the run folder and returns their
paths. Matplotlib (Agg backend) is imported inside the functions.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..analysis.thinning import thin_indices
from .notes import step_only, unresolved_span

GREEK = set("alpha beta gamma delta epsilon zeta eta theta vartheta kappa lambda mu nu xi rho "
            "sigma tau phi psi omega".split())
OTHER = "0.45"  # the colour of `other` and of merges
# nodes of a network in posterior_NAME.png: apart from the phase colours (tab10) and red
NODE_COLOURS = ("#222222", "#c51b7d", "#8c510a", "#01665e", "#7b3294", "#4d9221")
STYLE = {"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3,
         "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8.5}


def draw_figures(results: dict, figures=()) -> dict:
    """The run's figures as matplotlib ``Figure`` objects by name (``masses``,
    ``free_energy``, ``posterior_u``, ``energy``; ``phase_diagram`` instead of the sweep's
    figures for a two-dimensional sweep). ``figures``: the prepared data of the
    spec-dependent ones (``PlaneFigure``, ``EnergyFigure``). Close them when done."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    with plt.rc_context(STYLE):
        if results.get("points") and results.get("sweep2"):  # a grid: its phase diagram
            from .diagram import diagram_figure

            name, fig = diagram_figure(
                plt, results, _colours(plt, results["phases"]), sweep_label,
                _title(results, "phase diagram: preferred phase per cell, boundaries with "
                                "their bands"), OTHER)
            out[name] = fig
        elif results.get("points"):
            for what in ("masses", "free_energy"):
                name, fig = _sweep_figure(plt, results, what)
                out[name] = fig
            from .lcoef import has_lcoef, lambda_figure

            if has_lcoef(results):
                name, fig = lambda_figure(plt, results, _colours(plt, results["phases"]),
                                          sweep_label(results["sweep"]["name"]))
                out[name] = fig
        for data in figures:
            draw = {"plane": _posterior, "energy": _energy}[data.kind]
            name, fig = draw(plt, results, data)
            out[name] = fig
    return out


FORMATS = ("png", "pdf", "svg")


def check_formats(formats) -> tuple[str, ...]:
    """``("png",)`` from ``"png"``, ``"png,pdf"`` or a sequence; ``ValueError`` for others."""
    if isinstance(formats, str):
        formats = formats.split(",")
    out = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in formats if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise ValueError(f"figure formats are {', '.join(FORMATS)} (comma-separated), "
                         f"not {', '.join(bad) or 'nothing'}")
    return out


def write_plots(folder: Path, results: dict, figures=(), formats=("png",),
                dpi: float | None = None) -> list[Path]:
    """Write the figures of a run into ``folder``, one file per figure and format (``png``,
    ``pdf``, ``svg``; ``dpi`` for the raster one, default 130); their paths."""
    import matplotlib.pyplot as plt

    import io

    from ..rundir import atomic_write

    formats = check_formats(formats)
    paths = []
    with plt.rc_context(STYLE):
        for name, fig in draw_figures(results, figures).items():
            for fmt_ in formats:
                paths.append(Path(folder) / f"{name}.{fmt_}")
                buf = io.BytesIO()  # then replaced atomically: a link there is replaced,
                fig.savefig(buf, format=fmt_, dpi=dpi or STYLE["savefig.dpi"])  # not followed
                atomic_write(paths[-1], buf.getvalue())
            plt.close(fig)
    return paths


def sweep_label(name: str | None) -> str:
    """The sweep variable as an axis label (Greek names in mathtext)."""
    return "sweep value" if not name else rf"$\{name}$" if name in GREEK else name


def _plain(text: str) -> str:
    """Text from a spec, shown as written: matplotlib would read ``$...$`` as mathtext
    (and fail on an unbalanced ``$``)."""
    return str(text).replace("$", r"\$")


def _title(results: dict, what: str) -> str:
    name = results.get('experiment') or Path(results.get('spec_file') or 'run').stem
    return f"{_plain(name)}\n{what}"


def _colours(plt, phases) -> dict:
    """Phase colours: tab10 without its red (truth markers) and grey (``other``)."""
    cycle = [c for k, c in enumerate(plt.get_cmap("tab10").colors) if k not in (3, 7)]
    return {name: cycle[k % len(cycle)] for k, name in enumerate(phases)}


def _num(x) -> float:
    return np.nan if x is None else float(x)


def _mark_events(ax, results: dict, colours: dict) -> list:
    """Shade the sweep's events and number them in a band above the data (the axes are
    given the head room by the caller), so that no label runs over a marker; legend handles:
    one line per event with its number and words, in the colour it is shaded in."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    handles, marks = [], []
    events = [e for e in results.get("events", [])  # a floor crossing that is no event: none
              if (e.get("interval") or e.get("between") or (None,))[0] is not None
              and not e.get("secondary")]
    for k, e in enumerate(events, 1):
        lo, hi = e.get("interval") or e.get("between")
        if e.get("kind") == "crossover" and e.get("resolved") is False:
            lo, hi = unresolved_span(e)  # within the noise: somewhere in it, no `at`
            ax.axvspan(lo, hi, color="k", alpha=0.10, lw=0, hatch="..")
            marks.append((0.5 * (lo + hi), k))
            handles.append(Patch(facecolor="k", alpha=0.25, hatch="..", label=(
                f"{k}: unresolved crossover {e['from']} \u2192 {e['to']}\n"
                "   (within the noise: somewhere in the span)")))
        elif e.get("kind") == "crossover" and step_only(e):  # no `at` drawn
            ax.axvspan(lo, hi, color="k", alpha=0.10, lw=0)
            marks.append((0.5 * (lo + hi), k))
            handles.append(Patch(facecolor="k", alpha=0.25, label=(
                f"{k}: crossover {e['from']} \u2192 {e['to']} between {lo:.4g} and {hi:.4g}\n"
                "   (no values added between)")))
        elif e.get("kind") == "crossover":
            ax.axvspan(lo, hi, color="k", alpha=0.10, lw=0)
            ax.axvline(e["at"], color="k", ls=":", lw=1.2)
            marks.append((e["at"], k))
            handles.append(Line2D([], [], color="k", ls=":", label=(
                f"{k}: crossover {e['from']} \u2192 {e['to']} at {e['at']:.4g}\n"
                "   (grey: its interval)")))
        else:
            merge = e.get("kind") in ("merge", "split")
            colour = OTHER if merge else colours.get(e.get("phase"), OTHER)
            ax.axvspan(lo, hi, color=colour, alpha=0.12, lw=0, hatch="//" if merge else None)
            subject = e.get("phase") or " + ".join(e.get("phases", []))
            marks.append((0.5 * (lo + hi), k))
            handles.append(Patch(facecolor=colour, alpha=0.35, hatch="//" if merge else None,
                                 label=f"{k}: {e.get('kind')} of {subject}\n" + (
                                     "   (its local minimum, bisected)"
                                     if e.get("criterion") == "minimum" else
                                     "   (order 2: somewhere in the span)")))
    top = blended_transform_factory(ax.transData, ax.transAxes)
    values = results["sweep"].get("values") or [0.0, 1.0]
    near, last, row = 0.04 * (max(values) - min(values) or 1.0), None, 0
    for x, k in sorted(marks):
        row = row + 1 if last is not None and x - last < near else 0
        last = x
        ax.text(x, 0.965 - 0.05 * (row % 2), str(k), transform=top, ha="center", va="center",
                fontsize=7.5, bbox={"boxstyle": "circle,pad=0.2", "fc": "white", "ec": "0.3",
                                    "lw": 0.6})
    return handles


def _head_room(ax, events: list, fraction: float = 0.14) -> None:
    """Raise the top of the axes so that the event numbers sit above the data."""
    if events:
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + fraction * (hi - lo))


def _sweep_figure(plt, results: dict, what: str):
    """``masses.png`` (``what == "masses"``) or ``free_energy.png`` against the sweep."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    points = sorted(results["points"], key=lambda p: p["value"])
    x = np.array([p["value"] for p in points], float)
    phases = list(results.get("phases") or points[0]["phases"])
    colours = _colours(plt, phases)
    absolute = bool(points[0].get("absolute"))
    bad = np.array([p.get("diagnostics", {}).get("mixing_ok") is False for p in points])
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    events = _mark_events(ax, results, colours)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    series = [(n, colours[n], "-", [p["phases"][n] for p in points]) for n in phases]
    if what == "masses":
        series.append(("other (in no phase)", OTHER, "--", [p["other"] for p in points]))
    handles, empty, bars = [], False, False
    for name, colour, ls, rows in series:
        m = np.array([_num(r.get("mass")) for r in rows])
        se = np.nan_to_num(np.array([_num(r.get("se")) for r in rows]))
        y, err = m, se
        if what != "masses":
            y = np.array([_num(r.get("free_energy")) for r in rows])
            # F = -log(mass) (+ -log Z): the mass's se gives se/mass (log Z's own spread aside)
            err = np.where(m > 0, se / np.where(m > 0, m, 1.0), 0.0)
        bars = bars or bool(np.any(err > 0))
        err = err if np.any(err > 0) else None
        handles.append(ax.errorbar(x, y, yerr=err, color=colour, ls=ls, marker="o", ms=4,
                                   capsize=2, lw=1.5, label=name))
        hollow = bad & np.isfinite(y)
        ax.plot(x[hollow], y[hollow], "o", ms=8, mfc="white", mec=colour, mew=1.5, zorder=5)
        if (gone := ~np.isfinite(y)).any():
            empty = True
            ax.plot(x[gone], np.full(gone.sum(), 0.985), "^", color=colour, ms=7,
                    transform=top, clip_on=False)
    log_z = np.array([_num(p.get("log_z")) for p in points])
    network = results.get("kind") == "network"
    if what == "masses":
        ax.set_ylim(-0.03, 1.03 + (0.16 if events else 0.0))
        ax.set_yticks(np.linspace(0, 1, 6))
        ylabel = "posterior mass" + ("  (bars: \u00b1 1 se)" if bars else "")
    else:
        if absolute and np.isfinite(log_z).any():
            handles += ax.plot(x, -log_z, color="k", lw=1, ls="--",
                               label="whole posterior (\u2212log Z)")
        # networks: the likelihood is prod_i N(y_i | f(x_i, w), noise^2)^beta = exp(-n beta L_n)
        # with L_n the empirical loss (mean negative log likelihood), not a K(w)
        ylabel = ((r"absolute $F = -\log \int_{\mathrm{phase}} \varphi(w)\, e^{-n\beta L_n(w)}\, dw$"
                   if network else
                   r"absolute $F = -\log \int_{\mathrm{phase}} \varphi(w)\, e^{-n\beta K(w)}\, dw$")
                  if absolute else "relative  F = \u2212log(mass)")
        if bars:
            ylabel += "  (bars: \u00b1 se/mass)"
        _head_room(ax, events)
    if empty:
        handles.append(Line2D([], [], ls="", marker="^", color="k",
                              label="no mass: F = +\u221e (at the top)"))
    if bad.any():
        handles.append(Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec="k",
                              label="hollow: chains disagree\n(mixing_ok = false)"))
    ax.set_xlabel(sweep_label(results["sweep"].get("name")))
    ax.set_ylabel(ylabel)
    ax.set_title(_title(results, "posterior mass of each phase" if what == "masses" else
                        "free energy of each phase (lower is preferred)"))
    ax.legend(handles=handles + events, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return what, fig


def _facets(plt, count: int, ncols: int, panel: tuple, xlabel: str, ylabel: str, **kw):
    """A grid of ``count`` panels of size ``panel`` (inches); the used axes, in order, with the
    lowest panel of each column and the first column labelled."""
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained", sharex=True,
                             figsize=(panel[0] * ncols + 0.4, panel[1] * nrows + 1.3), **kw)
    for k, ax in enumerate(axes.flat):
        ax.set_visible(k < count)
        if k < count and k + ncols >= count:  # nothing below it
            ax.set_xlabel(xlabel)
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    return fig, list(axes.flat[:count])


def smooth_density(xy, weights, xlim, ylim, bins: int = 140):
    """A Gaussian-smoothed 2-D histogram (0.6 x Scott's bandwidth) on a ``bins x bins`` grid:
    ``(x centres, y centres, density f[bins, bins] indexed [y, x])``."""
    h, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[xlim, ylim],
                               weights=weights)
    for axis, edges in ((0, xe), (1, ye)):
        sd = np.std(xy[:, axis]) if len(xy) > 1 else 1.0
        sigma = max(0.6 * sd * max(len(xy), 2) ** (-1 / 6) / (edges[1] - edges[0]), 0.3)
        half = int(min(3 * sigma + 1, bins // 2 - 1))
        k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
        h = np.apply_along_axis(lambda r: np.convolve(r, k / k.sum(), "same"), axis, h)
    return 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), h.T


def _limits(clouds, extra) -> tuple[tuple, tuple]:
    """Axis limits holding 99% of every cloud and all of ``extra`` points, padded."""
    extra = np.asarray(extra, float).reshape(-1, 2)
    pts = np.concatenate(list(clouds) + [extra])
    lo, hi = np.percentile(pts, 0.5, axis=0), np.percentile(pts, 99.5, axis=0)
    if len(extra):
        lo, hi = np.minimum(lo, extra.min(axis=0)), np.maximum(hi, extra.max(axis=0))
    pad = 0.08 * np.maximum(hi - lo, 0.5)
    return (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])


def _posterior(plt, results: dict, data):
    """``posterior_NAME.png`` from a ``PlaneFigure``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Wedge

    name = data.name
    panels = [(p.value, (p.xy, p.weights), p.truth, p.circles) for p in data.panels]
    extra = [t for _, _, truth, _ in panels for t in truth]  # keep truths, balls, centres in view
    # every circle whole, annuli included (they used to be cropped to their centre)
    extra += [(cx + sx * out, cy + sy * out) for *_, cs in panels
              for _, (cx, cy), inner, out in cs for sx in (-1, 1) for sy in (-1, 1)]
    xlim, ylim = _limits([p[1][0] for p in panels], extra)
    aspect = float(np.clip((ylim[1] - ylim[0]) / (xlim[1] - xlim[0]), 0.4, 2.5))
    ncols = min(len(panels), int(np.ceil(np.sqrt(1.5 * len(panels)))))
    axis = [f"${name}_{{i,{j}}}$" if re.fullmatch(r"[A-Za-z]+", name) else f"{name}[i][{j}]"
            for j in (1, 2)]
    width = 2.6 if aspect >= 0.8 else 3.4
    fig, axes = _facets(plt, len(panels), ncols, (width, width * aspect + 0.35), *axis,
                        sharey=True)
    colours = _colours(plt, data.phase_names)
    for ax, (value, (xy, w), truth, circles) in zip(axes, panels):
        for phase, centre, inner, outer in circles:
            ring = None if inner == 0 else outer - inner
            ax.add_patch(Wedge(centre, outer, 0, 360, width=ring, facecolor=colours[phase],
                               alpha=0.18, lw=0, zorder=1))
            ax.add_patch(Wedge(centre, outer, 0, 360, width=ring, fill=False,
                               edgecolor=colours[phase], lw=1.3, zorder=3))
        node = np.arange(len(xy)) % max(data.nodes, 1)  # rows are draw-major, node-minor
        for i in range(max(data.nodes, 1)):
            # each node on its own scale: a concentrated inactive node no longer hides the rest
            gx, gy, dens = smooth_density(xy[node == i], w[node == i], xlim, ylim)
            if dens.max() > 0:
                c = NODE_COLOURS[i % len(NODE_COLOURS)]
                ax.contourf(gx, gy, dens / dens.max(), levels=[0.2, 0.5, 1.01], colors=[c, c],
                            alpha=0.16, zorder=2)
                ax.contour(gx, gy, dens / dens.max(), levels=[0.05, 0.2, 0.5, 0.8], colors=c,
                           linewidths=0.8, zorder=2)
        ax.plot(truth[:, 0], truth[:, 1], "o", color="red", ms=5, mec="white", mew=0.7, zorder=4)
        ax.set(title=f"{sweep_label(results['sweep'].get('name'))} = {value:.4g}", xlim=xlim,
               ylim=ylim)
        ax.set_aspect("equal", adjustable="box")
    shown = {c[0] for *_, cs in panels for c in cs}
    handles = [Patch(facecolor=colours[p], edgecolor=colours[p], alpha=0.5, label=f"phase {p}")
               for p in data.phase_names if p in shown]
    handles += [Line2D([], [], color=NODE_COLOURS[i % len(NODE_COLOURS)],
                       label=f"{name}[{i + 1}] (each node's peak = 1)")
                for i in range(max(data.nodes, 1))]
    handles += [Line2D([], [], ls="", marker="o", color="red", mec="white",
                       label=f"truth {name}[i]")]
    fig.legend(handles=handles, loc="outside lower center",
               ncols=max(1, min(len(handles), int(fig.get_figwidth() / 2.2))))
    fig.suptitle(f"{_plain(data.experiment or 'run')}: posterior of {name}[i], its {data.nodes} "
                 "nodes by colour (contours at 5, 20, 50, 80% of each node's peak)", fontsize=11)
    return f"posterior_{name}", fig


def _energy(plt, results: dict, data):
    """``energy.png`` from an ``EnergyFigure``: one plot coloured by the sweep value when the
    phases stay put, else one panel per value."""
    from matplotlib.patches import Patch

    grid, values, curves, spans = data.grid, data.values, data.curves, data.spans
    colours = _colours(plt, data.phase_names)
    pname, label = data.parameter, sweep_label(results["sweep"].get("name"))
    shaded = any(ss for ss in spans)
    title = _title(results, rf"posterior density $\varphi({pname})\,e^{{-n\beta K({pname})}}$,"
                   " normalised" + (" (shaded: phases)" if shaded else
                                    " (the phases are not intervals of "
                                    f"{pname}: not shaded)"))
    handles = [Patch(color=colours[p], alpha=0.3, label=f"phase {p}") for p in data.phase_names
               if any(s[0] == p for ss in spans for s in ss)]
    if all(s == spans[0] for s in spans):
        fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
        for phase, a, b in spans[0]:
            ax.axvspan(a, b, color=colours[phase], alpha=0.15, lw=0)
        norm = plt.Normalize(values.min(), max(values.max(), values.min() + 1e-9))
        for v, c in zip(values, curves):
            ax.plot(grid, c, color=plt.get_cmap("viridis")(norm(v)), lw=1.4)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="viridis"), ax=ax, label=label)
        ax.set(xlabel=pname, ylabel="posterior density", title=title)
        if handles:
            ax.legend(handles=handles, loc="upper left")
    else:
        idx = thin_indices(len(values), 24)
        fig, axes = _facets(plt, len(idx), min(len(idx), 4), (2.8, 2.1), pname, "density")
        for ax, k in zip(axes, idx):
            for phase, a, b in spans[k]:
                ax.axvspan(a, b, color=colours[phase], alpha=0.2, lw=0)
            ax.plot(grid, curves[k], color="k", lw=1.2)
            ax.set(title=f"{label} = {values[k]:.4g}", ylim=(0, None))
        fig.suptitle(title, fontsize=11)
        fig.legend(handles=handles, loc="outside lower center", ncols=max(len(handles), 1))
    return "energy", fig
