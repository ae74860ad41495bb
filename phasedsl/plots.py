"""Figures of a run folder: phase masses, free energies, and (given the spec) the posterior of
a per-node let on the plane or a one-parameter energy's posterior density.

``write_plots(folder, results, checked=None)`` writes PNGs into the run folder and returns
their paths. Matplotlib (Agg) is imported only here, inside the functions.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import numpy as np

MAX_PANELS = 24  # facet grids show at most this many sweep values (thinned, ends kept)
MAX_DRAWS = 2000  # draws per panel (thinned evenly over chains and iterations)
GREEK = {"theta", "vartheta", "beta", "epsilon", "alpha", "gamma", "delta", "lambda", "mu",
         "sigma", "tau", "phi", "eta", "kappa", "rho", "omega", "nu", "xi", "zeta", "psi"}
OTHER_COLOUR = "0.45"
STYLE = {"figure.dpi": 110, "savefig.dpi": 130, "axes.grid": True, "grid.alpha": 0.3,
         "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 8.5}


def write_plots(folder: Path, results: dict, checked=None) -> list[Path]:
    """Write the figures of a run into ``folder``; their paths. ``checked`` (the spec the run
    used) is re-loaded from ``results["spec_file"]`` when None; the figures that need it are
    skipped when that file is gone or no longer the spec of the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    if checked is None:
        checked = _load_checked(results)
    out = []
    with plt.rc_context(STYLE):
        if results.get("points"):
            out += [_masses(plt, folder, results), _free_energy(plt, folder, results)]
        if checked is not None and checked.kind == "network":
            out.append(_posterior(plt, folder, results, checked))
        elif checked is not None and checked.kind == "energy" and checked.dim == 1:
            out.append(_energy(plt, folder, results, checked))
    return [p for p in out if p is not None]


def _load_checked(results: dict):
    from .check import check
    from .syntax import parse

    path = Path(results.get("spec_file") or "")
    if not path.is_file():
        return None
    source = path.read_text(encoding="utf-8")
    if results.get("spec_sha256") not in (None, hashlib.sha256(source.encode()).hexdigest()):
        print(f"plots: {path} has changed since the run; posterior/energy figures skipped",
              file=sys.stderr)
        return None
    return check(parse(source, str(path)))


# ---------------------------------------------------------------- labels and colours


def sweep_label(name: str | None) -> str:
    """The sweep variable as an axis label (Greek names in mathtext)."""
    if not name:
        return "sweep value"
    return rf"$\{name}$" if name in GREEK else name


def _title(results: dict, what: str) -> str:
    name = results.get("experiment") or Path(results.get("spec_file") or "run").stem
    return f"{name}\n{what}"


def _colours(plt, phases) -> dict:
    """Phase colours: tab10 without its red (truth markers) and grey (``other``)."""
    cycle = [c for k, c in enumerate(plt.get_cmap("tab10").colors) if k not in (3, 7)]
    return {name: cycle[k % len(cycle)] for k, name in enumerate(phases)}


def _points(results: dict) -> tuple[np.ndarray, list[dict]]:
    points = sorted(results["points"], key=lambda p: p["value"])
    return np.array([p["value"] for p in points], float), points


def _num(x) -> float:
    return np.nan if x is None else float(x)


# ---------------------------------------------------------------- masses and free energies


def _mark_events(ax, results: dict, colours: dict) -> list:
    """Shade the sweep's events on ``ax`` and label them at the top (labels at one place are
    set side by side); legend handles for the kinds shown."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    top = blended_transform_factory(ax.transData, ax.transAxes)
    kinds, labels = {}, []
    for e in results.get("events", []):
        kind = e.get("kind")
        lo, hi = e.get("interval") or e.get("between") or (None, None)
        if lo is None:
            continue
        if kind == "crossover":
            ax.axvspan(lo, hi, color="k", alpha=0.10, lw=0)
            ax.axvline(e["at"], color="k", ls=":", lw=1.2)
            x, text = e["at"], f"{e['from']} \u2192 {e['to']} at {e['at']:.4g}"
            kinds["crossover"] = Line2D([], [], color="k", ls=":",
                                        label="crossover (grey: its interval)")
        else:
            colour = colours.get(e.get("phase"), OTHER_COLOUR)
            ax.axvspan(lo, hi, color=colour, alpha=0.10, lw=0, hatch="//" if kind in
                       ("merge", "split") else None)
            x = 0.5 * (lo + hi)
            subject = e.get("phase") or " + ".join(e.get("phases", []))
            text = f"{subject}: {kind}"
            kinds["order 2"] = Patch(color=OTHER_COLOUR, alpha=0.25,
                                     label="order-2 event: somewhere in\nthe shaded span (labelled)")
        labels.append((x, text))
    values = results["sweep"].get("values") or [0.0, 1.0]
    near = 0.02 * (max(values) - min(values) or 1.0)
    groups = []
    for x, text in sorted(labels):
        if groups and x - groups[-1][0] < near:
            groups[-1][1].append(text)
        else:
            groups.append((x, [text]))
    for x, texts in groups:
        ax.text(x, 0.98, "\n".join(texts), transform=top, rotation=90, ha="center", va="top",
                fontsize=7, bbox={"fc": "white", "ec": "none", "alpha": 0.7, "pad": 1})
    return list(kinds.values())


def _hollow(ax, x, y, bad, colour) -> None:
    """Hollow markers over the points whose chains disagree."""
    if bad.any():
        ax.plot(x[bad], y[bad], "o", ms=8, mfc="white", mec=colour, mew=1.5, zorder=5)


def _finish(plt, fig, ax, results, handles, bad, what, ylabel, path) -> Path:
    from matplotlib.lines import Line2D

    if bad.any():
        handles.append(Line2D([], [], ls="", marker="o", ms=8, mfc="white", mec="k",
                              label="hollow: chains disagree\n(mixing_ok = false)"))
    ax.set_xlabel(sweep_label(results["sweep"].get("name")))
    ax.set_ylabel(ylabel)
    ax.set_title(_title(results, what))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path)
    plt.close(fig)
    return path


def _masses(plt, folder: Path, results: dict) -> Path:
    x, points = _points(results)
    phases = list(results.get("phases") or points[0]["phases"])
    colours = _colours(plt, phases)
    bad = np.array([p.get("diagnostics", {}).get("mixing_ok") is False for p in points])
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    events = _mark_events(ax, results, colours)
    series = [(n, colours[n], "-", [p["phases"][n] for p in points]) for n in phases]
    series.append(("other (in no phase)", OTHER_COLOUR, "--", [p["other"] for p in points]))
    handles = []
    for name, colour, ls, rows in series:
        m = np.array([_num(r["mass"]) for r in rows])
        se = np.nan_to_num(np.array([_num(r.get("se")) for r in rows]))
        handles.append(ax.errorbar(x, m, yerr=se, color=colour, ls=ls, marker="o", ms=4,
                                   capsize=2, lw=1.5, label=name))
        _hollow(ax, x, m, bad, colour)
    ax.set_ylim(-0.03, 1.03)
    return _finish(plt, fig, ax, results, handles + events, bad, "posterior mass of each phase",
                   "posterior mass  (bars: \u00b1 1 se)", folder / "masses.png")


def _free_energy(plt, folder: Path, results: dict) -> Path:
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    x, points = _points(results)
    phases = list(results.get("phases") or points[0]["phases"])
    colours = _colours(plt, phases)
    absolute = bool(points[0].get("absolute"))
    bad = np.array([p.get("diagnostics", {}).get("mixing_ok") is False for p in points])
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    events = _mark_events(ax, results, colours)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    handles, empty = [], False
    for name in phases:
        rows = [p["phases"][name] for p in points]
        f = np.array([_num(r.get("free_energy")) for r in rows])
        m = np.array([_num(r.get("mass")) for r in rows])
        se = np.nan_to_num(np.array([_num(r.get("se")) for r in rows]))
        err = None if absolute else np.where(m > 0, se / np.where(m > 0, m, 1.0), 0.0)
        handles.append(ax.errorbar(x, f, yerr=err, color=colours[name], marker="o", ms=4,
                                   capsize=2, lw=1.5, label=name))
        _hollow(ax, x, f, bad & np.isfinite(f), colours[name])
        gone = ~np.isfinite(f)
        if gone.any():
            empty = True
            ax.plot(x[gone], np.full(gone.sum(), 0.985), "^", color=colours[name], ms=7,
                    transform=top, clip_on=False)
    log_z = np.array([_num(p.get("log_z")) for p in points])
    if absolute and np.isfinite(log_z).any():
        handles += ax.plot(x, -log_z, color="k", lw=1, ls="--",
                           label="whole posterior (\u2212log Z)")
    if empty:
        handles.append(Line2D([], [], ls="", marker="^", color="k",
                              label="no mass: F = +\u221e (at the top)"))
    ylabel = (r"absolute $F = -\log \int_{\mathrm{phase}} \varphi(w)\, e^{-n\beta K(w)}\, dw$"
              if absolute else "relative  F = \u2212log(mass)  (bars: \u00b1 se/mass)")
    return _finish(plt, fig, ax, results, handles + events, bad,
                   "free energy of each phase (lower is preferred)", ylabel,
                   folder / "free_energy.png")


# ---------------------------------------------------------------- phase geometry


def regions(pred) -> list:
    """The ``Region`` predicates inside a phase (through ``Symmetric``/``AllOf``/``AnyOf``;
    a negated region is not a region to draw)."""
    from .symbolic import AllOf, AnyOf, Region, Symmetric

    if isinstance(pred, Region):
        return [pred]
    if isinstance(pred, Symmetric):
        return regions(pred.item)
    if isinstance(pred, (AllOf, AnyOf)):
        return [r for item in pred.items for r in regions(item)]
    return []


def _float(expr, symbol, value) -> float | None:
    """``expr`` at sweep value ``value`` as a float; None when it depends on parameters."""
    import sympy as sp

    expr = sp.sympify(expr).subs(symbol, value)
    return float(expr) if not expr.free_symbols else None


def plane_regions(checked, name: str, value: float, nodes=None) -> list[tuple]:
    """Circles of each phase on the plane of the per-node let ``name`` at one sweep value:
    ``(phase, (cx, cy), inner, outer)`` for every region whose point is that let at some node
    (``inner`` 0 for discs and balls), duplicates removed, in phase order."""
    from .symbolic import Vec

    nodes = checked.node_lets.get(name) if nodes is None else nodes
    out = []
    for phase, pred in checked.phases:
        for r in regions(pred):
            if not isinstance(r.centre, Vec) or not any(r.point == v for v in nodes):
                continue
            c = tuple(_float(x, checked.sweep_symbol, value) for x in r.centre.items)
            inner = 0.0 if r.inner is None else _float(r.inner, checked.sweep_symbol, value)
            outer = _float(r.outer, checked.sweep_symbol, value)
            if None in c or inner is None or outer is None:
                continue
            item = (phase, c, max(inner, 0.0), outer)
            if item not in out:
                out.append(item)
    return out


def line_regions(checked, value: float) -> list[tuple]:
    """Intervals of each phase of a one-parameter energy: ``(phase, lo, hi)``."""
    symbol = checked.symbols[0]
    out = []
    for phase, pred in checked.phases:
        for r in regions(pred):
            if r.point != symbol:
                continue
            c = _float(r.centre, checked.sweep_symbol, value)
            outer = _float(r.outer, checked.sweep_symbol, value)
            inner = 0.0 if r.inner is None else _float(r.inner, checked.sweep_symbol, value)
            if None in (c, outer, inner):
                continue
            spans = [(c - outer, c + outer)] if inner <= 0 else [(c - outer, c - inner),
                                                                 (c + inner, c + outer)]
            out += [(phase, lo, hi) for lo, hi in spans if (phase, lo, hi) not in out]
    return out


# ---------------------------------------------------------------- networks


def _plane_let(checked):
    """``(name, per-node values)``: the first per-node 2-vector let, else ``w`` (2 inputs)."""
    from .symbolic import Vec

    for name, nodes in checked.node_lets.items():
        if all(isinstance(v, Vec) and len(v.items) == 2 for v in nodes):
            return name, nodes
    net = checked.network
    if net.inputs != 2:
        return None
    s = checked.symbols
    return "w", tuple(Vec((s[2 * i], s[2 * i + 1])) for i in range(net.width))


def thin_indices(count: int, limit: int) -> list[int]:
    """At most ``limit`` indices of ``range(count)``, evenly spread, both ends kept."""
    if count <= limit:
        return list(range(count))
    return sorted(set(np.round(np.linspace(0, count - 1, limit)).astype(int).tolist()))


def _load_plane(folder: Path, index: int, compiled, name: str):
    """``(xy f[N, 2], weights f[N])``: every node's let from at most MAX_DRAWS draws."""
    path = folder / "draws" / f"point_{index:03d}.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        params = z["params"].reshape(-1, z["params"].shape[-1])
        weights = z["weights"].reshape(-1) if "weights" in z else np.ones(len(params))
    keep = np.asarray(thin_indices(len(params), MAX_DRAWS))
    params, weights = params[keep], weights[keep]
    values = compiled.unflatten(params)[name]  # f[N, d, 2]
    d = values.shape[1]
    return values.reshape(-1, 2), np.repeat(weights, d)


def smooth_density(xy, weights, xlim, ylim, bins: int = 140):
    """A Gaussian-smoothed 2-D histogram (Scott's bandwidth) on a ``bins x bins`` grid:
    ``(x centres, y centres, density f[bins, bins] indexed [y, x])``."""
    h, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[xlim, ylim],
                               weights=weights)
    n = max(len(xy), 2)
    for axis, edges, col in ((0, xe, 0), (1, ye, 1)):
        sd = np.std(xy[:, col]) if len(xy) > 1 else 1.0
        sigma = max(sd * n ** (-1 / 6) * 0.6, 1e-9) / (edges[1] - edges[0])
        half = int(min(max(3 * sigma, 1), bins))
        kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / max(sigma, 0.3)) ** 2)
        h = np.apply_along_axis(lambda r: np.convolve(r, kernel / kernel.sum(), "same"), axis, h)
    return 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), h.T


def _limits(clouds, extra) -> tuple[tuple, tuple]:
    pts = np.concatenate([c for c in clouds] + [np.asarray(extra, float).reshape(-1, 2)])
    lo = np.percentile(pts, 0.5, axis=0) if len(pts) else np.array([-1.0, -1.0])
    hi = np.percentile(pts, 99.5, axis=0) if len(pts) else np.array([1.0, 1.0])
    if len(extra):
        e = np.asarray(extra, float).reshape(-1, 2)
        lo, hi = np.minimum(lo, e.min(axis=0)), np.maximum(hi, e.max(axis=0))
    pad = 0.08 * np.maximum(hi - lo, 0.5)
    return (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])


def _facet_labels(axes, count: int, xlabel: str, ylabel: str) -> None:
    """Hide unused panels; label the lowest panel of each column and the first column."""
    nrows, ncols = axes.shape
    for k, ax in enumerate(axes.flat):
        ax.set_visible(k < count)
    for col in range(ncols):
        rows = [r for r in range(nrows) if r * ncols + col < count]
        if rows:
            ax = axes[rows[-1], col]
            ax.set_xlabel(xlabel)
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)


def _axis_name(name: str, j: int) -> str:
    return f"${name}_{{i,{j}}}$" if re.fullmatch(r"[A-Za-z]+", name) else f"{name}[i][{j}]"


def _posterior(plt, folder: Path, results: dict, checked) -> Path | None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Wedge

    from .lower import compile_spec

    plane = _plane_let(checked)
    if plane is None:
        return None
    name, nodes = plane
    compiled = compile_spec(checked)
    values = list(results["sweep"]["values"])
    done = {float(p["value"]) for p in results.get("points", [])}
    index = [i for i in range(len(values)) if float(values[i]) in done
             and (folder / "draws" / f"point_{i:03d}.npz").is_file()]
    index = [index[k] for k in thin_indices(len(index), MAX_PANELS)]
    panels = [(i, _load_plane(folder, i, compiled, name)) for i in index]
    panels = [(i, c) for i, c in panels if c is not None]
    if not panels:
        return None
    truths, circles, extra = {}, {}, []
    for i, _ in panels:
        t = compiled.truth(values[i]) or {}
        truths[i] = np.asarray(t[name]).reshape(-1, 2) if name in t else np.zeros((0, 2))
        circles[i] = plane_regions(checked, name, values[i], nodes)
        extra += list(truths[i])
        extra += [(cx + s * outer, cy + s * outer) for _, (cx, cy), inner, outer in circles[i]
                  if inner == 0 for s in (-1, 1)]
        extra += [c for _, c, inner, _ in circles[i] if inner > 0]
    xlim, ylim = _limits([c[0] for _, c in panels], extra)
    count = len(panels)
    ncols = min(count, int(np.ceil(np.sqrt(1.5 * count))))
    nrows = int(np.ceil(count / ncols))
    aspect = float(np.clip((ylim[1] - ylim[0]) / (xlim[1] - xlim[0]), 0.4, 2.5))
    width = 2.6
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols + 0.4, width * aspect * nrows + 1.3),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    colours = _colours(plt, checked.phase_names)
    levels = [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.01]
    label = sweep_label(results["sweep"].get("name"))
    for ax, (i, (xy, w)) in zip(axes.flat, panels):
        for phase, (cx, cy), inner, outer in circles[i]:
            ring = None if inner == 0 else outer - inner
            ax.add_patch(Wedge((cx, cy), outer, 0, 360, width=ring, facecolor=colours[phase],
                               alpha=0.18, lw=0, zorder=1))
            ax.add_patch(Wedge((cx, cy), outer, 0, 360, width=ring, fill=False,
                               edgecolor=colours[phase], lw=1.3, zorder=3))
        gx, gy, dens = smooth_density(xy, w, xlim, ylim)
        if dens.max() > 0:
            dens = dens / dens.max()
            ax.contourf(gx, gy, dens, levels=levels, cmap="Greys", alpha=0.6, zorder=2)
            ax.contour(gx, gy, dens, levels=levels[:-1], colors="0.15", linewidths=0.5, zorder=2)
        if len(truths[i]):
            ax.plot(truths[i][:, 0], truths[i][:, 1], "o", color="red", ms=5, mec="white",
                    mew=0.7, zorder=4)
        ax.set_title(f"{label} = {values[i]:.4g}")
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_aspect("equal", adjustable="box")
    _facet_labels(axes, count, _axis_name(name, 1), _axis_name(name, 2))
    handles = [Patch(facecolor=colours[p], edgecolor=colours[p], alpha=0.5, label=f"phase {p}")
               for p in checked.phase_names if any(c[0] == p for cs in circles.values() for c in cs)]
    handles += [Patch(color=plt.get_cmap("Greys")(0.6), label="posterior density\n(peak of "
                      "each panel = 1)"),
                Line2D([], [], ls="", marker="o", color="red", mec="white",
                       label=f"truth {name}[i]")]
    fig.legend(handles=handles, loc="outside lower center",
               ncols=max(1, min(len(handles), int(fig.get_figwidth() / 2.2))))
    fig.suptitle(f"{checked.experiment or 'run'}: posterior of {name}[i], all "
                 f"{len(nodes)} nodes on one plane", fontsize=11)
    path = folder / f"posterior_{name}.png"
    fig.savefig(path)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- energies


def _energy(plt, folder: Path, results: dict, checked) -> Path:
    import jax
    import jax.numpy as jnp
    from matplotlib.patches import Patch

    from .lower import compile_spec

    compiled = compile_spec(checked)
    slot = checked.slots[0]
    lo, hi = slot.lower, slot.upper
    if not (np.isfinite(lo) and np.isfinite(hi)):
        mean, sd = (checked.prior[1], checked.prior[2]) if checked.prior[0] == "normal" else (0, 1)
        lo, hi = float(mean) - 4 * float(sd), float(mean) + 4 * float(sd)
    grid = np.linspace(lo, hi, 2001)
    values = np.array(results["sweep"]["values"], float)
    fn = jax.jit(jax.vmap(lambda p, ctx: compiled.target.logdensity(p, ctx), in_axes=(0, None)))
    curves = []
    for v in values:
        ld = np.asarray(fn(jnp.asarray(grid[:, None], jnp.float32), compiled.context(v)), float)
        p = np.exp(ld - np.max(ld[np.isfinite(ld)]))
        p = np.where(np.isfinite(p), p, 0.0)
        curves.append(p / np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(grid)))
    colours = _colours(plt, checked.phase_names)
    spans = [line_regions(checked, v) for v in values]
    constant = all(s == spans[0] for s in spans)
    pname, label = str(checked.symbols[0]), sweep_label(results["sweep"].get("name"))
    title = _title(results, rf"posterior density $\varphi({pname})\,e^{{-n\beta K({pname})}}$, "
                   "normalised")
    handles = [Patch(color=colours[p], alpha=0.3, label=f"phase {p}") for p in checked.phase_names
               if any(s[0] == p for ss in spans for s in ss)]
    if constant:
        fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
        for phase, a, b in spans[0]:
            ax.axvspan(a, b, color=colours[phase], alpha=0.15, lw=0)
        cmap = plt.get_cmap("viridis")
        norm = plt.Normalize(values.min(), values.max() if values.max() > values.min() else values.min() + 1)
        for v, c in zip(values, curves):
            ax.plot(grid, c, color=cmap(norm(v)), lw=1.4)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label)
        ax.set_xlabel(pname)
        ax.set_ylabel("posterior density")
        ax.set_title(title)
        if handles:
            ax.legend(handles=handles, loc="upper left")
    else:
        idx = thin_indices(len(values), MAX_PANELS)
        ncols = min(len(idx), 4)
        nrows = int(np.ceil(len(idx) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.8 * ncols, 2.1 * nrows + 1.0),
                                 squeeze=False, sharex=True, layout="constrained")
        for ax, k in zip(axes.flat, idx):
            for phase, a, b in spans[k]:
                ax.axvspan(a, b, color=colours[phase], alpha=0.2, lw=0)
            ax.plot(grid, curves[k], color="k", lw=1.2)
            ax.set_title(f"{label} = {values[k]:.4g}")
            ax.set_ylim(0, None)
        _facet_labels(axes, len(idx), pname, "density")
        fig.suptitle(title, fontsize=11)
        fig.legend(handles=handles, loc="outside lower center", ncols=max(len(handles), 1))
    path = folder / "energy.png"
    fig.savefig(path)
    plt.close(fig)
    return path
