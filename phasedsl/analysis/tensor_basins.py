"""Basins of tensor specs (``param W[2, 6]``, ``model y = ...``): ends merged in function
space, words from matrix invariants, and ``phase`` conditions written from those invariants.

Plain numpy; ``pipeline.tensor_discovery`` evaluates the compiled model. The pieces:

- ``same_function(outputs)``: pairs of flow ends whose predictions on a fixed probe set of
  inputs agree to ``FUNCTION_TOL`` of the outputs' scale. Every exact parameter symmetry of
  a tensor model (hidden-unit permutations, rotations ``W -> R W`` that keep ``W.T @ W``,
  the gauge ``W2 A^-1, A W1`` of a linear network, ReLU rescalings) keeps the function, so
  its copies of one critical set are one basin without writing the symmetry down;
- ``matrix_summary(m)``: a matrix's singular values and numerical rank, its column norms,
  which columns are active and (two rows) the angles between the active columns;
- ``describe_tensor(blocks, jacobian)``: words for a critical point from those summaries,
  with the end-to-end map's (the output's Jacobian in ``x``) rank where the model is linear;
- ``Feature`` and ``fit_condition``: a ``phase`` condition as a conjunction of invariant
  tests (``(count i: norm(W[:, i]) > t) == k``, ``rank(M, t) == r``), each threshold fitted
  on the draws as ``basins.fit_radius`` fits a radius, a test kept only where it separates
  the basin's mass from the others' better than the tests before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["FUNCTION_TOL", "ACTIVE_COLUMN", "RANK_TOL", "SILENT", "same_function",
           "matrix_summary", "column_used",
           "describe_tensor", "Feature", "features", "fit_threshold", "fit_condition",
           "signature"]

# Two ends are one function when the rms difference of their predictions on the probes is
# at most this share of the rms prediction over all ends. Distinct critical points of the
# shipped specs differ by 0.1 (reduced rank: the truth's second singular value) to 1 (TMS:
# a feature on or off) of that scale; float32 rounding and the flows' unconverged remainder
# (STEPS of gradient flow) leave copies of one critical set 1e-4 to 1e-3 apart.
FUNCTION_TOL = 1e-2
ACTIVE_COLUMN = 0.25  # a column is active when its norm exceeds this share of the largest
RANK_TOL = 1e-2  # a singular value counts in the described rank above this share of the largest
REGULAR = 0.5  # k active columns of a 2-row matrix, none nearer its neighbour than this share of 360/k, are a k-gon
SILENT = 0.05  # a column whose removal changes the predictions by less than this share is silent
CANDIDATES = 256  # thresholds tried per test (quantiles of the draws' values)


def same_function(outputs, tol: float = FUNCTION_TOL) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of ends whose predictions ``outputs f[R, M]`` (each end's
    predictions on the probes, flattened) agree: ``rms(f_i - f_j) <= tol * scale`` with
    ``scale`` the rms of all of them. A spanning forest of the agreement graph's components
    (each component's first end paired with each other member), so ``basins.components``
    of these pairs is that graph's components."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    f = np.asarray(outputs, float)
    r = len(f)
    if r < 2:
        return []
    f = f.reshape(r, -1)
    scale = max(math.sqrt(float(np.mean(f ** 2))), 1e-12)
    limit = (tol * scale) ** 2 * f.shape[1]  # on the sum of squares
    sq = (f ** 2).sum(1)
    rows, cols = [], []
    for s in range(0, r, 512):
        d = sq[s:s + 512, None] + sq[None, :] - 2 * f[s:s + 512] @ f.T
        i, j = np.nonzero(d <= limit)
        rows.append(i + s)
        cols.append(j)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(r, r))
    _, comp = connected_components(graph, directed=False)
    first = {}
    pairs = []
    for i, c in enumerate(comp):
        if c in first:
            pairs.append((first[c], i))
        else:
            first[c] = i
    return pairs


def matrix_summary(m, used=None) -> dict:
    """Invariants of a matrix ``m f[r, c]``: ``sv f[min(r, c)]`` (largest first), ``rank``
    (singular values above ``RANK_TOL`` of the largest), ``norms f[c]`` (columns),
    ``active int[a]`` (columns whose norm exceeds ``ACTIVE_COLUMN`` of the largest and, where
    ``used bool[c]`` is given, that the function uses: ``pipeline.tensor_discovery``) and,
    for two rows, ``gaps f[a]``: the angles in degrees between the active columns taken in
    order around the circle (each to the next; they sum to 360)."""
    m = np.asarray(m, float)
    sv = np.linalg.svd(m, compute_uv=False)
    top = float(sv[0]) if len(sv) else 0.0
    norms = np.linalg.norm(m, axis=0)
    big = float(norms.max()) if len(norms) else 0.0
    large = norms > ACTIVE_COLUMN * big if big > 0 else np.zeros(len(norms), bool)
    active = np.flatnonzero(large if used is None else large & np.asarray(used, bool))
    out = {"sv": sv, "rank": int(np.sum(sv > RANK_TOL * top)) if top > 0 else 0,
           "norms": norms, "active": active, "gaps": None}
    if m.shape[0] == 2 and len(active) >= 2:
        ang = np.sort(np.degrees(np.arctan2(m[1, active], m[0, active])) % 360)
        out["gaps"] = np.diff(np.concatenate([ang, ang[:1] + 360]))
    return out


def column_used(base, dropped, tol: float = SILENT) -> np.ndarray:
    """``bool[c]``: which of a matrix's ``c`` columns the function uses: ``base f[M]`` the
    predictions on the probes, ``dropped f[c, M]`` the same with each column set to 0 in
    turn; a column is used when dropping it moves the predictions by more than ``tol`` of
    their largest size. A TMS 5-gon's dead column (norm 0.4-0.8, its output off, no
    interference) is large by norm and not used."""
    base = np.asarray(base, float).ravel()
    dropped = np.asarray(dropped, float).reshape(-1, base.size)
    scale = max(float(np.max(np.abs(base))), 1e-12)
    return np.max(np.abs(dropped - base[None]), axis=1) > tol * scale


def _nums(v, fmt: str = ".3g") -> str:
    return "[" + ", ".join(format(float(x), fmt) for x in v) + "]"


def _matrix_words(name: str, m, used=None) -> str:
    s = matrix_summary(m, used)
    c = m.shape[1]
    words = (f"{name}: {len(s['active'])} of {c} column{'s' if c != 1 else ''} active, norms "
             f"{_nums(s['norms'])}")
    gaps = s["gaps"]
    if gaps is not None:
        if np.ptp(gaps) <= 5.0:
            words += f", {float(np.mean(gaps)):.0f} deg apart"
        else:
            words += f", angles between neighbours {_nums(gaps, '.0f')} deg"
    return words + f"; rank {s['rank']}, sv {_nums(s['sv'])}"


def describe_tensor(blocks: dict, jacobian=None, used: dict | None = None) -> str:
    """Words for a tensor spec's critical point: ``blocks`` (name -> the parameter's array
    at the point; matrices are described, vectors by their norm) and, where the model is
    linear in ``x``, ``jacobian f[o, k]`` (the end-to-end map): its rank and singular
    values; ``used``: name -> ``bool[c]``, the columns the function uses (``matrix_summary``).
    ``W: 5 of 6 columns active, norms [...], 72 deg apart; rank 2, sv [...]``."""
    parts = []
    if jacobian is not None:
        j = np.atleast_2d(np.asarray(jacobian, float))
        s = matrix_summary(j)
        parts.append(f"map x -> y: rank {s['rank']}, sv {_nums(s['sv'])}")
    for name, a in blocks.items():
        a = np.asarray(a, float)
        if a.ndim == 2:
            parts.append(_matrix_words(name, a, (used or {}).get(name)))
        elif a.ndim == 1:
            parts.append(f"|{name}| = {np.linalg.norm(a):.3g}")
        else:
            parts.append(f"{name} = {float(a):.4g}")
    return "; ".join(parts)


def signature(blocks: dict, jacobian=None, used: dict | None = None) -> tuple:
    """A critical point's kind, for grouping basins: per matrix its active column count
    (``used`` as in ``describe_tensor``), rank and (two rows) whether its active columns
    spread as a k-gon's (no neighbour angle below ``REGULAR`` of ``360 / k``: a noisy
    hexagon's 55-64 degrees or a noisy square's 70-110 are, two columns 3 degrees apart are
    not); the end-to-end map's rank. Basins with
    one signature are copies of one kind of critical point that no exact symmetry maps onto
    each other (TMS: which feature is dead, the order of the columns around the circle)."""
    key = []
    if jacobian is not None:
        key.append(("map", matrix_summary(np.atleast_2d(np.asarray(jacobian, float)))["rank"]))
    for name, a in blocks.items():
        a = np.asarray(a, float)
        if a.ndim != 2:
            continue
        s = matrix_summary(a, (used or {}).get(name))
        gaps = s["gaps"]
        regular = None if gaps is None else bool(np.min(gaps) >= REGULAR * 360 / len(gaps))
        key.append((name, len(s["active"]), s["rank"], regular))
    return tuple(key)


@dataclass(frozen=True)
class Feature:
    """One invariant test of a draw: ``values f[K, m]`` (per draw, the numbers compared with
    the threshold) and ``want`` (how many of them exceed it at the basin's point); the test
    holds where exactly ``want`` exceed ``t``. ``text`` is the test in the language with
    ``{t}`` for the threshold."""

    text: str
    values: np.ndarray
    want: int

    def holds(self, t) -> np.ndarray:
        """``bool[K]`` at threshold ``t`` (or ``bool[T, K]`` for thresholds ``f[T]``)."""
        t = np.asarray(t, float)
        over = (self.values[None] > t.reshape(-1, 1, 1)).sum(-1) == self.want
        return over[0] if t.ndim == 0 else over


def features(blocks: dict, point_blocks: dict, index: str = "i", jacobian=None,
             point_jacobian=None, map_text: str | None = None,
             used: dict | None = None) -> list[Feature]:
    """The tests a condition is built from: for the end-to-end map (``jacobian f[K, o, k]``
    of the draws, ``point_jacobian f[o, k]`` of the basin's point, ``map_text`` its
    expression in the language) its rank; for each matrix parameter (``blocks``: name ->
    ``f[K, r, c]`` over the draws; ``point_blocks``: name -> ``f[r, c]``) how many columns
    are active (over ``index``), then its rank."""
    out = []
    if jacobian is not None and map_text is not None:
        jac = np.asarray(jacobian, float)
        jac = jac.reshape(len(jac), -1, jac.shape[-1]) if jac.ndim > 2 else jac[:, None]
        pj = np.atleast_2d(np.asarray(point_jacobian, float))
        out.append(Feature(f"rank({map_text}, {{t}}) == {matrix_summary(pj)['rank']}",
                           np.linalg.svd(jac, compute_uv=False), matrix_summary(pj)["rank"]))
    mats = [(n, np.asarray(a, float)) for n, a in blocks.items() if np.ndim(point_blocks[n]) == 2]
    for name, a in mats:
        k = len(matrix_summary(point_blocks[name], (used or {}).get(name))["active"])
        out.append(Feature(f"(count {index}: norm({name}[:, {index}]) > {{t}}) == {k}",
                           np.linalg.norm(a, axis=1), k))
    for name, a in mats:
        r = matrix_summary(point_blocks[name])["rank"]
        out.append(Feature(f"rank({name}, {{t}}) == {r}", np.linalg.svd(a, compute_uv=False), r))
    return out


def fit_threshold(feature: Feature, mine, weight, point_values) -> tuple[float, float]:
    """``(t, gain)``: the threshold of ``feature`` that takes in the most of the basin's mass
    less the most of the others' (``mine bool[K]``, ``weight f[K]``, as in
    ``basins.fit_radius``), among thresholds at which the basin's point (``point_values
    f[m]``, the feature's numbers there) passes. Candidates lie halfway between consecutive
    values the draws take (and below the least); of a run of equally good ones, the middle."""
    mine, weight = np.asarray(mine, bool), np.asarray(weight, float)
    pv = np.sort(np.asarray(point_values, float))[::-1]
    lo = pv[feature.want] if feature.want < len(pv) else -np.inf  # the point passes for
    hi = pv[feature.want - 1] if feature.want > 0 else np.inf  # lo <= t < hi
    vals = np.unique(feature.values)
    if len(vals) > CANDIDATES:
        vals = np.unique(np.quantile(vals, np.linspace(0, 1, CANDIDATES)))
    below = vals[:1] - 0.5 * np.abs(vals[:1]) - 1e-6
    cand = np.concatenate([below, 0.5 * (vals[:-1] + vals[1:]), [lo] if np.isfinite(lo) else []])
    cand = np.unique(cand[(cand >= lo) & (cand < hi)])
    if not len(cand):
        return (float(0.5 * (lo + hi)) if np.isfinite(lo + hi) else 0.0), -np.inf
    h = feature.holds(cand)
    gain = h[:, mine] @ weight[mine] - h[:, ~mine] @ weight[~mine]
    top = np.flatnonzero(gain >= gain.max() - 1e-12)
    run = top[: int(np.argmax(np.diff(np.append(top, top[-1] + 2)) > 1)) + 1]
    return float(cand[run[len(run) // 2]]), float(gain.max())


def fit_condition(feats: list[Feature], mine, weight, point_values: list) -> str:
    """A ``phase`` condition for a basin: the conjunction of the tests of ``feats`` (in
    order) that each raise the basin's mass less the others' inside the condition by more
    than 1e-9, each fitted (``fit_threshold``) on the draws the tests before it leave in;
    the first test alone where none does (one basin: any test its draws pass)."""
    mine, weight = np.asarray(mine, bool), np.asarray(weight, float)
    inside = np.ones(len(mine), bool)
    best = weight[mine].sum() - weight[~mine].sum()
    terms = []
    for f, pv in zip(feats, point_values):
        w = np.where(inside, weight, 0.0)
        t, gain = fit_threshold(f, mine, w, pv)
        if gain > best + 1e-9:
            terms.append(f.text.format(t=f"{t:.4g}"))
            inside &= f.holds(float(f"{t:.4g}"))
            best = gain
    if not terms and feats:
        t, _ = fit_threshold(feats[0], mine, weight, point_values[0])
        terms.append(feats[0].text.format(t=f"{t:.4g}"))
    return " and ".join(terms)
