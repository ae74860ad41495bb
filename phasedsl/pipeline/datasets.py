"""A sweep on several data sets (``data { seeds = K }``): every sweep point sampled once per
data set, the K summaries combined into one (``analysis.datasets.combine_datasets``: mean
masses, posterior se, spread between data sets), saved as one point of the run folder.

Data set ``k`` has data seed ``data.seed + k`` (``Compiled.context(value, k)``) and PRNG key
``dataset_key(seed, index, k)``: data set 0 is exactly what a spec without ``seeds`` samples
(same data, same key, same draws). The draws of every data set are kept:
``draws/point_NNN.npz`` (data set 0, where a one-data-set run keeps its draws) and
``draws/point_NNN.dK.npz`` for ``k >= 1``. The learning coefficient, the modes and the
figures' draws are those of data set 0.
"""

from __future__ import annotations

import dataclasses
import time

from ..analysis.datasets import combine_datasets
from .lcoef import with_lcoef

__all__ = ["dataset_key", "sample_datasets", "run_datasets"]

# ``sweep`` calls this module and hands it its per-point functions (``check``: the health
# check and summary of one data set's draws, ``sweep._checked``; ``point_key``: the key of a
# sweep point, ``sweep.point_key``), so that the two modules do not import each other.


def dataset_key(point_key, seed: int, index: int, dataset: int):
    """The PRNG key of data set ``dataset`` at sweep point ``index``: the point's key
    (``point_key(seed, index)``) for data set 0, ``fold_in(that key, dataset)`` for the
    others."""
    import jax

    key = point_key(seed, index)
    return key if dataset == 0 else jax.random.fold_in(key, dataset)


def _seeds(compiled):
    return compiled.checked.network.data_seeds


def sample_datasets(engine, compiled, index: int, value: float, seed: int, check, point_key):
    """``(PointSummary, [Draws of each data set])`` at one sweep value: the K data sets in one
    ``run_many`` call (batched and split across devices like sweep points)."""
    k = compiled.datasets
    keys = [dataset_key(point_key, seed, index, j) for j in range(k)]
    t0 = time.perf_counter()
    many = engine.run_many(keys, [compiled.context(value, j) for j in range(k)])
    wall = (time.perf_counter() - t0) / k
    checked = [check(compiled, value, draws, wall) for draws in many]
    point = combine_datasets([p for p, _ in checked], _seeds(compiled))
    return point, [d for _, d in checked]


def _walked(engine, compiled, values, todo, seed, check, point_key):
    """``{index: (PointSummary, [Draws])}`` of the unfinished points by the tempering path
    (``run_sweep``), one walk per data set; a point where a data set's walk disagrees with
    itself is tempered again from the prior for that data set (as ``sweep._walk_sweep``)."""
    import jax

    k = compiled.datasets
    walks = []
    t0 = time.perf_counter()
    for j in range(k):
        key = point_key(seed, len(values))
        key = key if j == 0 else jax.random.fold_in(key, j)
        walks.append(engine.run_sweep(key, [compiled.context(v, j) for v in values]))
    wall = (time.perf_counter() - t0) / (len(values) * k)
    out = {}
    for i, v in todo:
        points, draws = [], []
        for j in range(k):
            point, d = check(compiled, v, walks[j][i], wall)
            if not point.mixing_ok:
                t1 = time.perf_counter()
                d = engine.run(dataset_key(point_key, seed, i, j), compiled.context(v, j))
                point, d = check(compiled, v, d, time.perf_counter() - t1)
                point = dataclasses.replace(point, diagnostics={**point.diagnostics,
                                                                "retempered": True})
            points.append(point)
            draws.append(d)
        out[i] = (combine_datasets(points, _seeds(compiled)), draws)
    return out


def run_datasets(engine, compiled, values, todo, seed, run, progress, on_point, lcoef, *,
                 check, point_key) -> None:
    """Sample, combine and save every unfinished point ``todo: [(index, value)]`` on all of
    the spec's data sets (``run``: the open ``RunFolder``; ``check``, ``point_key``: see the
    comment above)."""
    walked = None
    if engine.follows_sweep and len(todo) > 1:
        if progress is not None:
            progress(0, len(todo), todo[0][1])
        walked = _walked(engine, compiled, values, todo, seed, check, point_key)
    for count, (i, v) in enumerate(todo):
        if walked is None and progress is not None:
            progress(count, len(todo), v)
        point, draws = (walked[i] if walked is not None
                        else sample_datasets(engine, compiled, i, v, seed, check, point_key))
        if lcoef is not None:
            point = with_lcoef(point, lcoef, v, draws[0])
        for j, d in enumerate(draws[1:], start=1):
            run.save_draws(i, d, point.to_json(), dataset=j)
        run.add_point(i, point.to_json(), draws[0])
        if on_point is not None:
            on_point(point.to_json())
