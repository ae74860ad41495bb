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
from .points import checked_point, dataset_key, point_key, sample_point
from .session import Sampled

__all__ = ["dataset_key", "sample_datasets", "run_datasets"]


def _seeds(compiled):
    return compiled.checked.data_source.data_seeds


def _combined(session, index: int, value, done: list) -> Sampled:
    """The ``Sampled`` point of the data sets' ``(PointSummary, Draws)`` pairs ``done``."""
    point = combine_datasets([p for p, _ in done], _seeds(session.compiled))
    return Sampled(index, value, point, done[0][1], tuple(d for _, d in done[1:]))


def sample_datasets(session, index: int, value: float) -> Sampled:
    """The ``Sampled`` point at one sweep value on the K data sets, in one ``run_many``
    call (batched and split across devices like sweep points); not yet measured."""
    compiled, k = session.compiled, session.compiled.datasets
    keys = [dataset_key(session.seed, index, j) for j in range(k)]
    t0 = time.perf_counter()
    many = session.engine.run_many(keys, [compiled.context(value, j) for j in range(k)])
    wall = (time.perf_counter() - t0) / k
    return _combined(session, index, value,
                     [checked_point(compiled, value, draws, wall) for draws in many])


def _walked(session, values, todo) -> dict[int, Sampled]:
    """``{index: Sampled}`` of the unfinished points by the tempering path (``run_sweep``),
    one walk per data set; a point where a data set's walk disagrees with itself is tempered
    again from the prior for that data set (as ``sweep.walk_sweep``)."""
    import jax

    compiled, engine, k = session.compiled, session.engine, session.compiled.datasets
    walks = []
    t0 = time.perf_counter()
    for j in range(k):
        key = point_key(session.seed, len(values))
        key = key if j == 0 else jax.random.fold_in(key, j)
        walks.append(engine.run_sweep(key, [compiled.context(v, j) for v in values]))
    wall = (time.perf_counter() - t0) / (len(values) * k)
    out = {}
    for i, v in todo:
        done = []
        for j in range(k):
            point, d = checked_point(compiled, v, walks[j][i], wall)
            if not point.mixing_ok:
                point, d = sample_point(engine, compiled, i, v, session.seed, dataset=j)
                point = dataclasses.replace(point, diagnostics={**point.diagnostics,
                                                                "retempered": True})
            done.append((point, d))
        out[i] = _combined(session, i, v, done)
    return out


def run_datasets(session, run, values, todo) -> None:
    """Sample, combine, measure and save every unfinished point ``todo: [(index, value)]``
    on all of the spec's data sets (``run``: the open ``RunFolder``)."""
    walked = None
    if session.engine.traits.follows_sweep and len(todo) > 1:
        if session.progress is not None:
            session.progress(0, len(todo), todo[0][1])
        walked = _walked(session, values, todo)
    for count, (i, v) in enumerate(todo):
        if walked is None and session.progress is not None:
            session.progress(count, len(todo), v)
        sampled = walked[i] if walked is not None else sample_datasets(session, i, v)
        session.finish_point(run, session.measure(sampled))
