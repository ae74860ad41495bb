"""One sweep session (``pipeline.session``): every way of sampling a run's points finishes each
point through the same per-point steps, and the engine is set up (``--chain-method``
refused where it does not apply) in one place, for the driver and a cluster's worker alike."""

from __future__ import annotations

import dataclasses

import pytest

from phasedsl.language.errors import UsageError
from phasedsl.pipeline.spec import load_text
from specfiles import tilted_well

TEXT = tilted_well("linspace(0, 2, 3)", "sample quadrature { points = 101 }\n"
                   "report { lcoef = 0; minimum_steps = 0 }\n")


class Folder:
    """The part of a ``rundir.RunFolder`` a session writes to: points kept in memory."""

    def __init__(self):
        self.folder = None
        self.results = {"points": [], "timings": {"points_resumed": 0}}
        self.added = []

    def add_point(self, index, point, draws, added=False):
        self.results["points"].append(point)
        self.added.append((index, added))


def test_a_per_point_step_added_to_the_session_finishes_every_point_in_order():
    from phasedsl.pipeline.session import prepare

    checked = load_text(TEXT, "t.phase").checked
    seen = []
    session = prepare(checked, batch=2, on_point=seen.append)
    assert session.steps == ()  # lcoef = 0, minimum_steps = 0: no step

    def step(name):
        def add(point, value, draws):
            assert draws.params.shape[-1] == 1
            order = point.diagnostics.get("order", ()) + (name,)
            return dataclasses.replace(point, diagnostics={**point.diagnostics, "order": order})
        return add

    session = dataclasses.replace(session, steps=(step("first"), step("second")))
    run = Folder()
    todo = list(enumerate(checked.sweep_values))
    assert session.sample_into(run, todo) == 3
    assert [p["diagnostics"]["order"] for p in run.results["points"]] == [["first", "second"]] * 3
    assert [p["value"] for p in seen] == [0.0, 1.0, 2.0]
    assert run.added == [(0, False), (1, False), (2, False)]
    assert session.sample_into(run, [(7, 0.5)], added=True) == 1
    assert run.results["points"][-1]["diagnostics"]["added"] is True
    assert run.added[-1] == (7, True)


def test_the_default_steps_are_the_learning_coefficient_then_the_local_minima():
    from phasedsl.pipeline.session import prepare

    checked = load_text(TEXT, "t.phase", {"report.lcoef": "1",
                                           "report.minimum_steps": "5",
                                           "report.lcoef_steps": "5"}).checked
    session = prepare(checked)
    assert len(session.steps) == 2 and session.lcoef is not None and session.minima is not None
    (done,) = session.sampler(session, [(0, 1.0)])
    assert done.point.lcoef and done.point.minima
    keys = list(done.point.diagnostics)
    assert keys.index("lcoef_s") < keys.index("minima_s")


def test_chain_method_is_refused_for_an_engine_without_chains_on_the_driver_and_a_worker():
    from phasedsl.pipeline.cluster import ClusterJob, sample_task
    from phasedsl.pipeline.session import prepare

    spec = load_text(TEXT, "t.phase")
    with pytest.raises(UsageError, match="--chain-method applies to the nuts engine"):
        prepare(spec.checked, chain_method="flat")
    error = sample_task(ClusterJob.of(spec, "flat"), [(0, 1.0)], 0).error()
    assert isinstance(error, UsageError) and "--chain-method" in str(error)
