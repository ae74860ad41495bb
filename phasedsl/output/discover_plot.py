"""The figure of ``phasedsl discover --plot FILE``: one panel per sweep value asked for, the
flows' starting draws coloured by the basin they flowed into, the basins' critical points
marked, masses in the legend.

- one parameter (an energy): a weighted histogram of the draws per basin;
- two parameters (an energy): the draws in the plane;
- a network on two inputs: each node's effective weight ``u_i = q_i w_i`` in the plane (the
  seed's figure), every node of a draw in its basin's colour.
"""

from __future__ import annotations

import textwrap

import numpy as np

__all__ = ["discovery_figure"]

REST = "0.6"  # the colour of draws in basins too small to report


def _points(symmetry, starts):
    """``(x f[K, M], y f[K, M] | None, xlabel, ylabel)``: what each draw puts in the panel."""
    if symmetry.kind == "network":
        from ..analysis.basins import node_invariants

        u, _, _ = node_invariants(starts, symmetry)
        if u.shape[-1] != 2:
            return None
        return u[..., 0], u[..., 1], "u[i][1] = q[i] w[i][1]", "u[i][2] = q[i] w[i][2]"
    if starts.shape[1] == 1:
        return starts[:, :1], None, symmetry.names[0], "mass (per bin)"
    if starts.shape[1] == 2:
        return starts[:, :1], starts[:, 1:2], symmetry.names[0], symmetry.names[1]
    return None


def _panel(ax, point, symmetry, sweep: str, colours):
    drawn = _points(symmetry, point.starts)
    ax.set_title(f"{sweep} = {point.value:g}: {len(point.basins)} basins, "
                 f"{point.coverage:.3f} of the mass")
    if drawn is None:
        ax.text(0.5, 0.5, "no plane to draw for this model", ha="center", transform=ax.transAxes)
        return
    x, y, xlabel, ylabel = drawn
    for k in [-1] + list(range(len(point.basins))):
        mine = point.labels == k
        if not mine.any():
            continue
        colour = REST if k < 0 else colours[k % len(colours)]
        label = ("rest" if k < 0 else
                 f"{point.basins[k].name}: {point.basins[k].mass:.3f}")
        if y is None:
            ax.hist(x[mine, 0], bins=80, range=(x.min(), x.max()), weights=point.share[mine],
                    color=colour, alpha=0.75, label=label)
        else:
            ax.scatter(x[mine].ravel(), y[mine].ravel(), s=3, color=colour, alpha=0.35,
                       label=label, rasterized=True)
    for k, b in enumerate(point.basins):
        at = np.asarray(b.at, float)[None]
        got = _points(symmetry, at)
        cx, cy = got[0], got[1]
        if cy is None:
            ax.axvline(float(cx[0, 0]), color=colours[k % len(colours)], lw=1)
        else:
            ax.scatter(cx.ravel(), cy.ravel(), marker="x", s=60, color="black", zorder=5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", markerscale=4)


def discovery_figure(discovery, symmetry):
    """A matplotlib ``Figure`` of a ``Discovery`` (module); close it when done."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(discovery.points)
    cols = min(3, max(1, len(points)))
    rows = (len(points) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.0 * rows), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for ax, point in zip(axes.ravel(), points):
        _panel(ax, point, symmetry, discovery.sweep_name, colours)
    for ax in axes.ravel()[len(points):]:
        ax.set_visible(False)
    title = "phasedsl discover: draws coloured by the basin they flow into (x: critical points)"
    lines = textwrap.wrap(title, width=48 * cols)  # one narrow panel: two lines, not clipped
    fig.suptitle("\n".join(lines), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.035 * len(lines) / rows))
    return fig
