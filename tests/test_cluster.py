"""`phasedsl run --cluster`: a sweep's points as tasks on a Dask cluster of real worker
processes, one of them killed mid-sweep, against a local run of the same spec and seed;
a driver stopped part way resumes with only the missing points; without Dask, one line
that says how to install it.

The local reference runs in a subprocess (one CPU device, one point per ``engine.run``: the
run a task reproduces) and shares a persistent JAX compilation cache with the workers, so
the executables are compiled once, not once per process (the draws do not depend on it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import phasedsl
from phasedsl.cli import main
from phasedsl.pipeline.cluster import worker_env

ROOT = Path(__file__).resolve().parents[1]
VALUES = 6
SPEC = f"""experiment "cluster check"
sweep theta over linspace(0, 1, {VALUES})
param w in [-2, 2]
prior uniform
energy K = (w + 1 - theta)^2 * (w - 1 + theta)^4
let n = 10
phase left  = ball(w, theta - 1, 1/2)
phase right = ball(w, 1 - theta, 1/2)
sample nuts {{ chains = 2; draws = 100; warmup = 100; seed = 7 }}
"""
# resolution 0: no sweep values added to locate events, the points are the sweep's own
SETTINGS = {"report.lcoef_steps": "20", "report.resolution": "0"}
TIMINGS = ("worker",)  # besides every *_s field: where and how long, not what


def comparable(point: dict) -> dict:
    """A point's record without its timings and the worker that sampled it."""
    diagnostics = {k: v for k, v in point["diagnostics"].items()
                   if not k.endswith("_s") and k not in TIMINGS}
    return {**point, "diagnostics": diagnostics}


def assert_same_run(folder: Path, reference: Path) -> None:
    """Same points (apart from timings) and bit-for-bit the same draws files' arrays."""
    got = json.loads((folder / "results.json").read_text())
    want = json.loads((reference / "results.json").read_text())
    assert got["status"] == want["status"] == "complete"
    assert len(got["points"]) == VALUES
    assert [comparable(p) for p in got["points"]] == [comparable(p) for p in want["points"]]
    assert got["events"] == want["events"]
    for i in range(VALUES):
        name = f"draws/point_{i:03d}.npz"
        with np.load(folder / name) as a, np.load(reference / name) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key}")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A JAX compilation cache for the reference run and the workers (they inherit it; this
    process read its JAX settings when it imported JAX, before)."""
    import jax  # noqa: F401 - imported before the variables are set

    folder = tmp_path_factory.mktemp("jax-cache")
    env = {"JAX_COMPILATION_CACHE_DIR": str(folder),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
           "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "cluster_check.phase"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, spec_file, cache):
    """The local run: `phasedsl run --batch 0 --cpu-devices 1` in its own process."""
    pytest.importorskip("distributed")
    out = tmp_path_factory.mktemp("local") / "run"
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]
    env = {**os.environ, "PYTHONPATH": str(ROOT), **worker_env()}  # one CPU device
    done = subprocess.run([sys.executable, "-m", "phasedsl.cli", "run", str(spec_file),
                           "--batch", "0", "--cpu-devices", "1", "--no-plots", "--out",
                           str(out), *sets], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    # --cpu-devices 1 holds (the API's default of one device per core does not override it)
    assert json.loads((out / "results.json").read_text())["machine"]["device_count"] == 1
    return out


@pytest.fixture(scope="module")
def workers(cache, reference):
    """A `local:2` cluster (two worker processes, one thread each), kept for the module."""
    from phasedsl.pipeline.cluster import ClusterSampler

    with ClusterSampler("local:2") as sampler:
        yield sampler


def test_a_killed_worker_loses_nothing_and_the_draws_are_the_local_ones(
        tmp_path, spec_file, reference, workers):
    """Point 2's first worker is killed (SIGKILL) after sampling it, before handing it back;
    point 4's first attempt raises. Every point is in the folder, bit for bit the local
    run's, and point 2 was sampled again on another worker process."""
    from phasedsl.pipeline.cluster import sample_task

    marks = tmp_path / "marks"
    marks.mkdir()

    def faulty(job, chunk, seed):
        import signal

        from distributed import get_worker

        index = chunk[0][0]
        first = not (marks / str(index)).exists()
        if first:
            (marks / str(index)).write_text(get_worker().address)
        if index == 4 and first:
            raise RuntimeError("a task that fails once")
        out = sample_task(job, chunk, seed)
        if index == 2 and first:  # the work is done and lost with its process
            os.kill(os.getpid(), signal.SIGKILL)
        return out

    workers.task = faulty
    seen = []
    try:
        spec = phasedsl.load(spec_file, SETTINGS)
        done = phasedsl.run(spec, tmp_path / "run", plots=False, cluster=workers,
                            on_point=seen.append)
    finally:
        workers.task = sample_task
    assert_same_run(tmp_path / "run", reference)
    assert sorted(p["value"] for p in seen) == sorted(p["value"] for p in done.results["points"])
    killed = (marks / "2").read_text()
    point = done.results["points"][2]
    assert point["diagnostics"]["worker"].startswith("tcp://")
    assert point["diagnostics"]["worker"] != killed  # sampled again by another process
    assert sorted(workers.submitted) == list(range(VALUES))  # each point submitted once
    assert done.results["cluster"] == {"address": "local:2", "points_per_task": 1, "retries": 3}
    from phasedsl.output.report import provenance

    workers_seen = len({p["diagnostics"]["worker"] for p in done.results["points"]})
    assert (f"cluster: local:2, 1 point(s) per task, 3 retries; points sampled by "
            f"{workers_seen} worker processes") in provenance(done.results).plain


def test_a_stopped_driver_resumes_with_only_the_missing_points(tmp_path, spec_file, reference,
                                                               workers):
    spec = phasedsl.load(spec_file, SETTINGS)
    folder = tmp_path / "run"
    finished = []

    def stop_after_two(point):
        finished.append(point["value"])
        if len(finished) == 2:
            raise KeyboardInterrupt  # the driver is stopped (Ctrl-C)

    with pytest.raises(KeyboardInterrupt):
        phasedsl.run(spec, folder, plots=False, cluster=workers, on_point=stop_after_two)
    kept = json.loads((folder / "results.json").read_text())
    assert kept["status"] == "interrupted"
    held = [p["value"] for p in kept["points"]]
    assert sorted(held) == sorted(finished)
    values = list(spec.checked.sweep_values)
    phasedsl.run(spec, folder, plots=False, cluster=workers)
    assert sorted(workers.submitted) == [i for i, v in enumerate(values) if v not in held]
    assert_same_run(folder, reference)


def test_without_dask_cluster_is_one_line_saying_how_to_install_it(tmp_path, spec_file,
                                                                   monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    out = tmp_path / "run"
    assert main(["run", str(spec_file), "--cluster", "local:2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["phasedsl: error: --cluster needs Dask distributed, which is not "
                   "installed: pip install 'phasedsl[cluster]'"]
    assert not out.exists()


@pytest.mark.parametrize("address, words", [
    ("local:0", "expected local:K with K worker processes from 1 to 256"),
    ("local:two", "expected local:K"),
    ("", "needs a scheduler address"),
])
def test_a_bad_address_is_a_usage_error(tmp_path, spec_file, capsys, address, words):
    pytest.importorskip("distributed")
    assert main(["run", str(spec_file), "--cluster", address, "--out",
                 str(tmp_path / "run")]) == 2
    assert words in capsys.readouterr().err


def test_an_engine_that_walks_the_sweep_is_refused(tmp_path, spec_file, capsys):
    pytest.importorskip("distributed")
    assert main(["run", str(spec_file), "--engine", "smc_path", "--cluster", "local:2",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "smc_path engine walks the whole sweep" in err and "--engine smc" in err
    assert not (tmp_path / "run").exists()


def test_several_data_sets_are_refused_not_run_here(tmp_path, capsys):
    """`data { seeds = K }` runs its data sets on the driver's machine: --cluster says so
    instead of quietly running there."""
    pytest.importorskip("distributed")
    from test_datasets import SPEC as DATASETS

    spec = tmp_path / "sets.phase"
    spec.write_text(DATASETS)
    assert main(["run", str(spec), "--cluster", "local:2", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "asks for 3 data sets" in err and "without --cluster" in err
    assert not (tmp_path / "run").exists()


NAN_SPEC = """sweep theta over 1, 2
param w in [-2, 2]
let n = 10
energy K = (log(w) - theta)^2
phase pos = w > 0
sample quadrature { points = 101 }
"""


def test_a_posterior_that_is_not_a_density_comes_back_as_the_local_error(tmp_path):
    """A task does not raise (a retry would repeat it): it returns the error, which the
    driver raises as a local run would, at the same place in the spec."""
    from phasedsl.language.errors import PosteriorError
    from phasedsl.pipeline.cluster import ClusterJob, TaskError, sample_task

    path = tmp_path / "nan.phase"
    path.write_text(NAN_SPEC)
    job = ClusterJob.of(phasedsl.load(path))
    got = sample_task(job, [(0, 1.0)], 0)
    assert isinstance(got, TaskError)
    error = got.error()
    assert isinstance(error, PosteriorError)
    assert f"{path}:4:12: error: the log density is NaN" in error.render()
    assert "at theta = 1" in error.render()


def test_a_worker_with_other_versions_or_another_run_refuses_the_task(tmp_path):
    import dataclasses

    from phasedsl.pipeline.cluster import ClusterError, ClusterJob, sample_task

    path = tmp_path / "s.phase"
    path.write_text(NAN_SPEC.replace("log(w)", "w"))
    job = ClusterJob.of(phasedsl.load(path))
    old = dataclasses.replace(job, versions=(("phasedsl", "0.0.1"),) + job.versions[1:])
    error = sample_task(old, [(0, 1.0)], 0).error()
    assert isinstance(error, ClusterError)
    assert "phasedsl 0.1.0 (driver 0.0.1)" in str(error) and "install the driver's versions" \
        in str(error)
    other = dataclasses.replace(job, run_key="0" * 64)
    assert "checks the spec into another run" in str(sample_task(other, [(0, 1.0)], 0).error())


KILLED_DRIVER = """
import os, signal, sys
import phasedsl

def stop(point, seen=[]):
    seen.append(point)
    if len(seen) == 2:
        os.kill(os.getpid(), signal.SIGKILL)  # the driver dies mid-sweep, nothing cleaned up

if __name__ == "__main__":
    spec = phasedsl.load(sys.argv[1], {settings!r})
    phasedsl.run(spec, sys.argv[2], plots=False, cluster="local:2", on_point=stop)
"""


@pytest.mark.slow
def test_a_killed_driver_resumes_from_the_folder(tmp_path, spec_file, reference, cache):
    """The driver process is killed (SIGKILL) after its second point; `phasedsl run --cluster
    local:2` again samples only the other points, and the run is the local one."""
    script = tmp_path / "driver.py"
    script.write_text(KILLED_DRIVER.format(settings=SETTINGS))
    folder = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), **worker_env()}
    done = subprocess.run([sys.executable, str(script), str(spec_file), str(folder)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == -9, done.stderr
    kept = json.loads((folder / "results.json").read_text())
    assert kept["status"] == "running" and len(kept["points"]) == 2
    sets = [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]
    again = subprocess.run([sys.executable, "-m", "phasedsl.cli", "run", str(spec_file),
                            "--cluster", "local:2", "--no-plots", "--out", str(folder), *sets],
                           env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert again.returncode == 0, again.stderr
    results = json.loads((folder / "results.json").read_text())
    assert results["timings"]["points_resumed"] == 2
    assert "(point 1 of 4)" in again.stderr  # only the four missing points were sampled
    assert_same_run(folder, reference)
