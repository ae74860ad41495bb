"""Basins of the posterior: which local minimum of the potential each draw flows to, merged
up to the model's symmetries, with masses, descriptions and ``phase`` conditions.

Plain numpy; the flows themselves are run by ``pipeline.discover``. The pieces:

- ``flow_starts(weights, m)``: a deterministic start set, ``m`` draws per group by
  systematic resampling (offset 1/2), so each start carries ``1/m`` of its group's mass;
- ``canonical(params, symmetry)``: each end point written in the model's canonical form
  (network nodes sign-flipped for odd activations, ReLU nodes balanced, nodes sorted), so
  that the copies of one critical set under node permutations, sign flips and positive
  rescalings land on one point;
- ``components(n, pairs)``: connected components of end points joined by ``pairs``
  (``pipeline.discover`` joins two ends when the straight path between them rises by at
  most a tolerance in the potential: one critical set, however flat or curved);
- ``basin_masses(labels, ...)``: each basin's mass per group, their mean and the standard
  error from the spread between groups (0 for exact draws);
- ``describe(...)`` and ``condition(...)``: words for a basin's critical point and a
  ``phase`` condition in the language that selects it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Symmetry", "flow_starts", "canonical", "components", "basin_masses", "Basin",
           "node_invariants", "describe", "condition", "condition_distance", "fit_radius",
           "continue_minimum", "Track", "best_ball", "inactive", "NodeBalls", "node_gaps",
           "nodes_hold", "fit_nodes", "node_condition"]

ACTIVE = 0.05  # a network node whose effective weight |q_i| |(w_i, b_i)| is below is inactive


@dataclass(frozen=True)
class Symmetry:
    """The symmetries of a model's parameters: none for an energy; for a network of
    ``width`` nodes on ``inputs`` inputs with ``activation``, node permutations, plus sign
    flips of ``(w_i, b_i, q_i)`` for odd activations (tanh) and positive rescalings
    ``(a w_i, a b_i, q_i / a)`` for ReLU."""

    kind: str  # "energy" | "network"
    width: int = 0
    inputs: int = 0
    activation: str = "relu"
    names: tuple[str, ...] = field(default=())  # the flat parameters' names in the language
    box: tuple[float, float] | None = None  # uniform inputs on [lo, hi]^k, where known

    def split(self, params):
        """``(w f[..., d, k], b f[..., d], q f[..., d], c f[...])`` of ``params f[..., D]``."""
        d, k = self.width, self.inputs
        w = params[..., : d * k].reshape(params.shape[:-1] + (d, k))
        b = params[..., d * k: d * k + d]
        q = params[..., d * k + d: d * k + 2 * d]
        return w, b, q, params[..., -1]

    def join(self, w, b, q, c):
        lead = w.shape[:-2]
        return np.concatenate([w.reshape(lead + (-1,)), b, q, c[..., None]], axis=-1)


def flow_starts(weights, m: int) -> np.ndarray:
    """``int[G, m]``: indices of ``m`` draws of each group by systematic resampling of the
    group's normalised ``weights f[G, S]`` (``None``-like equal weights: pass ones) with
    offset 1/2: deterministic, and each start stands for ``1/m`` of its group's mass."""
    w = np.asarray(weights, float)
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    out = np.zeros((w.shape[0], m), dtype=np.int64)
    u = (np.arange(m) + 0.5) / m
    for g in range(w.shape[0]):
        cdf = np.cumsum(w[g])
        if cdf[-1] <= 0:
            continue
        out[g] = np.minimum(np.searchsorted(cdf / cdf[-1], u), w.shape[1] - 1)
    return out


def canonical(params, symmetry: Symmetry, reference=None) -> np.ndarray:
    """``f[K, D]``: the end points ``params f[K, D]`` in canonical form: each network node
    sign-flipped (odd activations) or balanced (ReLU), then the nodes ordered to match
    ``reference`` (``f[D]`` or one row per point ``f[K, D]``, itself canonical) as closely
    as any order can, or without one by strength (strongest first, ties by angle). Matching
    a reference keeps two copies of one configuration in one node order even where two
    nodes are about equally strong, as a fixed sort cannot."""
    p = np.array(params, float, copy=True)
    if symmetry.kind != "network":
        return p
    w, b, q, c = symmetry.split(p)
    if symmetry.activation == "tanh":  # odd: (w, b, q) ~ (-w, -b, -q); q >= 0
        s = np.where(q < 0, -1.0, 1.0)
        w, b, q = w * s[..., None], b * s, q * s
    if symmetry.activation == "relu":  # (a w, a b, q / a), a > 0: |(w, b)| = |q|
        r = np.sqrt((w ** 2).sum(-1) + b ** 2)
        a = np.where(r > 0, np.sqrt(np.abs(q) / np.where(r > 0, r, 1.0)), 1.0)
        a = np.where(a > 0, a, 1.0)
        w, b, q = w * a[..., None], b * a, q / a
    if reference is None:
        key = _node_order(w, b, q)
    else:
        rw, rb, rq, _ = symmetry.split(np.broadcast_to(np.asarray(reference, float), p.shape))
        key = _matching(np.concatenate([w, b[..., None], q[..., None]], -1),
                        np.concatenate([rw, rb[..., None], rq[..., None]], -1))
    w = np.take_along_axis(w, key[..., None], axis=-2)
    b, q = np.take_along_axis(b, key, -1), np.take_along_axis(q, key, -1)
    return symmetry.join(w, b, q, c)


def _matching(nodes, ref, exhaustive: int = 6) -> np.ndarray:
    """``int[K, d]``: for each row, the order of its nodes ``nodes f[K, d, m]`` closest to
    ``ref f[K, d, m]`` (the sum of squared node distances): every order for ``d <=
    exhaustive``, else greedily, each reference node taking its nearest free node."""
    k, d, _ = nodes.shape
    if d <= exhaustive:
        perms = np.array(list(itertools.permutations(range(d))))
        cost = np.stack([((nodes[:, perm] - ref) ** 2).sum((-1, -2)) for perm in perms], 1)
        return perms[np.argmin(cost, axis=1)]
    out = np.zeros((k, d), np.int64)
    free = np.ones((k, d), bool)
    rows = np.arange(k)
    for i in range(d):
        dist = ((nodes - ref[:, i:i + 1]) ** 2).sum(-1)
        j = np.argmin(np.where(free, dist, np.inf), axis=1)
        out[:, i], free[rows, j] = j, False
    return out


def node_invariants(params, symmetry: Symmetry):
    """Per node of ``params f[K, D]``: ``u = q w f[K, d, k]``, ``v = q b f[K, d]`` and the
    node's strength ``|q| |(w, b)| f[K, d]`` (unchanged by every symmetry above)."""
    w, b, q, _ = symmetry.split(np.asarray(params, float))
    u, v = q[..., None] * w, q * b
    return u, v, np.abs(q) * np.sqrt((w ** 2).sum(-1) + b ** 2)


def inactive(params, symmetry: Symmetry) -> np.ndarray:
    """``bool[K, d]``: which nodes of ``params f[K, D]`` do nothing: an effective weight
    ``|q_i| |(w_i, b_i)|`` below ``ACTIVE``, or (ReLU on inputs uniform on a box) a
    pre-activation ``w_i . x + b_i`` below 0 all over the box."""
    w, b, q, _ = symmetry.split(np.asarray(params, float))
    off = np.abs(q) * np.sqrt((w ** 2).sum(-1) + b ** 2) < ACTIVE
    if symmetry.activation == "relu" and symmetry.box is not None:
        off |= _box_top(w, b, symmetry.box) < 0
    return off


def _box_top(w, b, box):
    """The largest pre-activation ``w . x + b`` over ``x`` in ``[lo, hi]^k``."""
    lo, hi = box
    return b + ((lo + hi) / 2 * w + (hi - lo) / 2 * np.abs(w)).sum(-1)


def _node_order(w, b, q):
    """``int[K, d]``: the nodes sorted by strength, strongest first (ties by angle)."""
    strength = np.abs(q) * np.sqrt((w ** 2).sum(-1) + b ** 2)
    u = q[..., None] * w
    angle = np.arctan2(u[..., -1], u[..., 0]) if w.shape[-1] > 1 else np.sign(u[..., 0])
    return np.lexsort((angle, -np.round(strength, 3)), axis=-1)


def components(n: int, pairs) -> np.ndarray:
    """``int[n]``: the connected component of each of ``n`` items joined by ``pairs``
    (``(i, j)`` tuples), numbered 0, 1, ... in order of each component's first item."""
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        a, b = root(int(i)), root(int(j))
        if a != b:
            parent[max(a, b)] = min(a, b)
    roots = [root(i) for i in range(n)]
    number = {}
    return np.array([number.setdefault(r, len(number)) for r in roots], dtype=np.int64)


def basin_masses(labels, group, share, groups: int, exact: bool):
    """Each basin's mass: ``labels int[K]`` of the ``K`` flowed starts, ``group int[K]``
    their group, ``share f[K]`` the part of its group's mass each start carries (each
    group's shares sum to 1). Returns ``(mass f[B], se f[B], per_group f[G, B])``: the
    mean over groups and, for sampled draws, the standard error of that mean from the
    groups' spread (``nan`` with one group; 0 for exact draws)."""
    labels = np.asarray(labels)
    nb = int(labels.max()) + 1 if len(labels) else 0
    per = np.zeros((groups, nb))
    np.add.at(per, (np.asarray(group), labels), np.asarray(share, float))
    mass = per.mean(axis=0)
    if exact:
        se = np.zeros(nb)
    elif groups >= 2:
        se = per.std(axis=0, ddof=1) / math.sqrt(groups)
    else:
        se = np.full(nb, np.nan)
    return mass, se, per


@dataclass(frozen=True)
class Basin:
    """One discovered basin at one sweep value (``at f[D]``: its critical point, the
    lowest end point, canonical form)."""

    name: str
    at: tuple[float, ...]
    mass: float
    se: float
    loss: float | None
    converged: bool
    description: str
    condition: str
    starts: int
    lam: float | None = None
    lam_se: float | None = None
    captured: float | None = None
    leak: float | None = None
    # bounds on the mass where a second flow checked the first (``analysis.reach``): the
    # mass every flow sends here, and the mass some flow sends here
    pure: float | None = None
    pure_se: float | None = None
    reach: float | None = None
    reach_se: float | None = None

    def to_json(self) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        return {"name": self.name, "at": [float(x) for x in self.at], "mass": num(self.mass),
                "se": num(self.se), "loss": num(self.loss), "lambda": num(self.lam),
                "lambda_se": num(self.lam_se), "description": self.description,
                "condition": self.condition, "captured": num(self.captured),
                "leak": num(self.leak), "converged": self.converged, "starts": self.starts,
                "pure": num(self.pure), "pure_se": num(self.pure_se),
                "reach": num(self.reach), "reach_se": num(self.reach_se)}


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-4 else "0"


def _vec(v) -> str:
    return "[" + ", ".join(_fmt(float(x)) for x in v) + "]"


def describe(point, symmetry: Symmetry) -> str:
    """Words for a critical point ``point f[D]`` (canonical): an energy's coordinates; a
    network's active nodes with their effective weight ``u_i = q_i w_i`` (radius, angle in
    degrees) and bias ``q_i b_i``, and how many nodes are inactive."""
    p = np.asarray(point, float)
    if symmetry.kind != "network":
        return ", ".join(f"{n} = {_fmt(x)}" for n, x in zip(symmetry.names, p))
    u, v, _ = (a[0] for a in node_invariants(p[None], symmetry))
    active = np.flatnonzero(~inactive(p[None], symmetry)[0])
    parts = []
    for i in active:
        r = float(np.linalg.norm(u[i]))
        ang = math.degrees(math.atan2(u[i][-1], u[i][0])) if u.shape[-1] > 1 else None
        where = f"|u| = {r:.2f}" + (f" at {ang:.0f} deg" if ang is not None else "")
        parts.append(f"u = {_vec(u[i])} ({where}), q b = {_fmt(float(v[i]))}")
    dead = symmetry.width - len(active)
    head = f"{len(active)} active node{'s' if len(active) != 1 else ''}"
    tail = f"; {dead} inactive (no output on the data)" if dead else ""
    return head + (": " + "; ".join(parts) if parts else "") + tail


def condition_distance(params, point, symmetry: Symmetry) -> np.ndarray:
    """``f[K]``: how far each draw ``params f[K, D]`` is from a basin's critical point
    ``point f[D]`` in the terms of its ``condition``: the Euclidean distance for an energy;
    for a network, the largest distance between a node's effective weight ``q_i w_i`` and
    the point's, under the node order that makes it least (``symmetric``). A draw is inside
    the condition of radius ``r`` exactly when this is at most ``r``."""
    p = np.asarray(params, float)
    if symmetry.kind != "network":
        return np.linalg.norm(p - np.asarray(point, float)[None], axis=1)
    gap, _ = node_gaps(p, point, symmetry)
    off = inactive(np.asarray(point, float)[None], symmetry)[0]  # the point's inactive nodes
    dead = inactive(p, symmetry)  # ... take any draw node that does nothing
    dead = np.stack([dead[:, perm] for perm in _node_orders(symmetry.width)], 1)
    return np.where(off & dead, 0.0, gap).max(-1).min(-1)


def _node_orders(width: int) -> list[list[int]]:
    """Every order of ``width`` nodes (``symmetric``'s permutations)."""
    return [list(x) for x in itertools.permutations(range(width))]


def _relu_box(symmetry: Symmetry) -> bool:
    """Whether a node can be silent on the whole input box (ReLU on uniform inputs)."""
    return symmetry.activation == "relu" and symmetry.box is not None


def _silent_nodes(point, symmetry: Symmetry) -> tuple[bool, ...]:
    """Which nodes of ``point f[D]`` a condition lets be silent on the box instead of near
    0: the point's inactive nodes, where a ReLU box makes silence testable."""
    off = inactive(np.asarray(point, float)[None], symmetry)[0] & _relu_box(symmetry)
    return tuple(bool(x) for x in off)


def _condition_nodes(point, symmetry: Symmetry) -> np.ndarray:
    """``f[d, k]``: the centre of each node's ball (``0`` for an inactive node)."""
    u, _, _ = (a[0] for a in node_invariants(point[None], symmetry))
    return np.where(inactive(point[None], symmetry)[0][:, None], 0.0, u)


def fit_radius(dist, mine, weight) -> float:
    """The radius whose condition takes in the most of its basin's mass less the most of
    other basins': ``dist f[K]`` (``condition_distance``), ``mine bool[K]`` the draws of the
    basin, ``weight f[K]`` their masses. Candidates are the basin's own draws' distances; the
    radius is set halfway to the next draw's distance beyond it (of either kind)."""
    dist, mine, weight = np.asarray(dist, float), np.asarray(mine, bool), np.asarray(weight)
    order = np.argsort(dist, kind="stable")
    gain = np.cumsum(np.where(mine[order], weight[order], -weight[order]))
    k = int(np.argmax(gain))
    r = dist[order[k]]
    beyond = dist[order[k + 1]] if k + 1 < len(order) else 2 * r + 1e-3
    return float(max(0.5 * (r + beyond), 1e-3))


def best_ball(params, point, mine, weight, symmetry: Symmetry) -> tuple[np.ndarray, float]:
    """``(centre f[D], radius)`` of the basin's condition: centred on its critical point
    ``point f[D]`` or, for an energy, on its draws' weighted mean when that takes in more of
    the basin less more of the others (a lopsided basin); ``fit_radius`` for the radius.
    ``params f[K, D]``, ``mine bool[K]``, ``weight f[K]`` as in ``fit_radius``."""
    params, mine, weight = np.asarray(params, float), np.asarray(mine, bool), np.asarray(weight)
    centres = [np.asarray(point, float)]
    if symmetry.kind != "network" and weight[mine].sum() > 0:
        w = weight[mine] / weight[mine].sum()
        centres.append((w[:, None] * params[mine]).sum(0))
    best = None
    for c in centres:
        dist = condition_distance(params, c, symmetry)
        r = fit_radius(dist, mine, weight)
        inside = dist <= r
        gain = weight[mine & inside].sum() - weight[~mine & inside].sum()
        if best is None or gain > best[0] + 1e-12:
            best = (gain, c, r)
    return best[1], best[2]


def _box_top_text(i: int, symmetry: Symmetry) -> str:
    """``_box_top`` of node ``i`` (1-based) in the language: ``b[i] + abs(w[i][1]) + ...``."""
    lo, hi = symmetry.box
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    terms = [f"b[{i}]"]
    for j in range(1, symmetry.inputs + 1):
        if mid:
            terms.append(f"{_fmt(mid)} * w[{i}][{j}]")
        terms.append(f"{_fmt(half)} * abs(w[{i}][{j}])" if half != 1 else f"abs(w[{i}][{j}])")
    return " + ".join(terms)


def condition(point, radius: float, symmetry: Symmetry) -> str:
    """A ``phase`` condition in the language selecting the basin of ``point f[D]``
    (canonical): ``ball`` of the parameters for an energy; for a network, every node's
    effective weight ``q[i] * w[i]`` in a ball of ``radius`` around the point's (inactive
    nodes: a disc around 0), under ``symmetric`` so any node order counts."""
    p = np.asarray(point, float)
    r = f"{radius:.4g}"
    if symmetry.kind != "network":
        if len(p) == 1:
            return f"ball({symmetry.names[0]}, {_fmt(p[0])}, {r})"
        return f"ball([{', '.join(symmetry.names)}], {_vec(p)}, {r})"
    return node_condition(p, NodeBalls((radius,) * symmetry.width, _silent_nodes(p, symmetry)),
                          symmetry)


NODE_CANDIDATES = 64  # radii tried per node (quantiles of the draws' distances)
NODE_ROUNDS = 4  # rounds of fitting each node's radius in turn


@dataclass(frozen=True)
class NodeBalls:
    """A network basin's condition, node by node (in the order of its critical point's
    nodes): node ``i``'s effective weight ``q_i w_i`` within ``radii[i]`` of the point's
    (of 0 for a node the point leaves inactive) or, where ``silent[i]`` (ReLU on a box),
    the node silent on the whole box; under ``symmetric``, in some order of the nodes."""

    radii: tuple[float, ...]
    silent: tuple[bool, ...]


def node_gaps(params, point, symmetry: Symmetry) -> tuple[np.ndarray, np.ndarray]:
    """``(gap f[K, P, d], quiet bool[K, P, d])`` over the ``P = d!`` node orders: the
    distance of each draw's node (``params f[K, D]``) from the point's node it is matched
    with (``condition_distance``'s terms), and whether that draw node is silent on the box
    (``b_i + max over the box of w_i . x < 0``, what the condition's text tests; all
    False without a ReLU box)."""
    p = np.asarray(params, float)
    u, _, _ = node_invariants(p, symmetry)
    target = _condition_nodes(np.asarray(point, float), symmetry)
    if _relu_box(symmetry):
        w, b, _, _ = symmetry.split(p)
        dead = _box_top(w, b, symmetry.box) < 0
    else:
        dead = np.zeros(u.shape[:2], bool)
    perms = _node_orders(symmetry.width)
    gap = np.stack([np.linalg.norm(u[:, perm] - target[None], axis=-1) for perm in perms], 1)
    quiet = np.stack([dead[:, perm] for perm in perms], 1)
    return gap, quiet


def nodes_hold(gap, quiet, balls: NodeBalls) -> np.ndarray:
    """``bool[K]``: where the condition ``balls`` holds (``node_gaps``' arrays)."""
    r = np.asarray(balls.radii, float)
    ok = (gap <= r) | (quiet & np.asarray(balls.silent, bool))
    return ok.all(-1).any(-1)


def _rounded(x: float) -> float:
    return float(f"{x:.4g}")  # as the condition's text writes it


def fit_nodes(params, point, mine, weight, symmetry: Symmetry) -> NodeBalls:
    """The node-by-node condition (``NodeBalls``) of the basin of ``point f[D]`` that takes
    in the most of its mass less the most of other basins' (``params f[K, D]``, ``mine
    bool[K]``, ``weight f[K]`` as in ``fit_radius``). It fits each node's radius and whether
    it may be silent in turn, keeping only changes that raise that difference, from two
    starts (silent allowed for the point's inactive nodes), and keeps the better end: one
    radius for every node (``fit_radius``, the single ball of ``condition``), and radii
    that hold every draw of the basin; from the small ball alone no node's radius can grow
    into a valley that another node's radius shuts out. Why node by node: a one-node basin's mass lies along a flat valley of its weak node (PT1,
    ``examples/discover.md``), so one radius that must also hold the strong node misses it."""
    mine, weight = np.asarray(mine, bool), np.asarray(weight, float)
    gap, quiet = node_gaps(params, point, symmetry)
    d = symmetry.width
    r0 = _rounded(fit_radius(condition_distance(params, point, symmetry), mine, weight))
    relu_box = _relu_box(symmetry)
    silent = _silent_nodes(point, symmetry)

    def gain(b: NodeBalls) -> float:
        inside = nodes_hold(gap, quiet, b)
        return float(weight[mine & inside].sum() - weight[~mine & inside].sum())

    # the second start: each node's largest distance over the basin's draws, each draw in
    # its nearest node order
    own = gap[mine]
    cover = (own[np.arange(len(own)), own.max(-1).argmin(-1)].max(0) if len(own)
             else np.full(d, r0))
    starts = [NodeBalls((r0,) * d, silent),
              NodeBalls(tuple(_rounded(float(r) * 1.01 + 1e-3) for r in cover), silent)]
    cands = []
    for i in range(d):
        vals = np.unique(gap[:, :, i])
        if len(vals) > NODE_CANDIDATES:
            vals = np.unique(np.quantile(vals, np.linspace(0, 1, NODE_CANDIDATES)))
        cands.append(np.unique([_rounded(max(x, 1e-3)) for x in np.concatenate(
            [0.5 * (vals[:-1] + vals[1:]), vals[-1:] * 1.01])]))

    def ascend(balls: NodeBalls) -> tuple[float, NodeBalls]:
        best = gain(balls)
        for _ in range(NODE_ROUNDS):
            before = best
            for i in range(d):
                for may in ((False, True) if relu_box else (False,)):
                    for r in cands[i]:
                        trial = NodeBalls(balls.radii[:i] + (float(r),) + balls.radii[i + 1:],
                                          balls.silent[:i] + (may,) + balls.silent[i + 1:])
                        g = gain(trial)
                        if g > best + 1e-12:
                            balls, best = trial, g
            if best <= before + 1e-12:
                break
        return best, balls

    return max((ascend(b) for b in starts), key=lambda gb: gb[0])[1]


def node_condition(point, balls: NodeBalls, symmetry: Symmetry) -> str:
    """``balls`` (``fit_nodes``) as a ``phase`` condition in the language: per node
    ``ball(q[i] * w[i], centre, r_i)`` (``disc`` around 0 for an inactive node), ``or`` the
    node silent on the box where allowed, under ``symmetric`` so any node order counts."""
    p = np.asarray(point, float)
    centres = _condition_nodes(p, symmetry)
    off = inactive(p[None], symmetry)[0]
    terms = []
    for i in range(symmetry.width):
        name, r = f"q[{i + 1}] * w[{i + 1}]", f"{balls.radii[i]:.4g}"
        term = f"disc({name}, {r})" if off[i] else f"ball({name}, {_vec(centres[i])}, {r})"
        if balls.silent[i]:
            term = f"({term} or {_box_top_text(i + 1, symmetry)} < 0)"
        terms.append(term)
    body = " and ".join(terms)
    return f"symmetric({body})" if symmetry.width > 1 else body


def continue_minimum(step, start, v0: float, values, width: float):
    """Carry a minimum ``start f[D]`` found at ``v0`` along the sweep values ``values``
    (ordered away from ``v0``), each step a flow from the minimum carried so far:
    ``step(v, w) -> (w_new, persists)``. Where a step loses the minimum (its flow runs off to
    another basin) the step is halved, down to ``width``: a loss over a step of at most
    ``width`` is where the minimum stops (a saddle-node). Deterministic for a given start.

    Returns ``(kept, lost)``: ``kept`` the ``(v, w)`` of each value the minimum reached;
    ``lost`` ``(a, b)``, the last value held and the first one lost (``|b - a| <= width``),
    or ``None`` where it held to the last value."""
    w, v, kept = np.asarray(start, float), float(v0), []
    for target in values:
        target = float(target)
        while v != target:
            h = target - v
            while True:
                w_new, ok = step(v + h, w)
                if ok:
                    break
                if abs(h) <= width:
                    return kept, (v, v + h)
                h /= 2
            v, w = (target if abs(target - v - h) < 1e-12 * max(1.0, abs(target)) else v + h,
                    np.asarray(w_new, float))
        kept.append((target, w))
    return kept, None


@dataclass(frozen=True)
class Track:
    """One basin's minimum carried along the sweep from the value ``found_at`` where it was
    found: ``held`` the sweep values it reached; ``ends`` where it stops, each
    ``{"kind": "destruction" | "creation", "between": [a, b]}`` (a destruction as the sweep
    value rises, a creation as it falls back to where the minimum first exists)."""

    basin: str
    found_at: float
    held: tuple[float, ...]
    ends: tuple[dict, ...]

    def to_json(self) -> dict:
        return {"basin": self.basin, "found_at": self.found_at, "held": list(self.held),
                "ends": [dict(e) for e in self.ends]}
