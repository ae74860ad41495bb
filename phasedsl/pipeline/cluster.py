"""A sweep's points as tasks on a Dask distributed cluster (``phasedsl run --cluster ADDRESS``).

The driver (the process that runs ``phasedsl run``) keeps the run folder as a local run
does: it opens and locks it, submits one task per unfinished sweep point (``--batch K``: K
points per task), and saves each point the moment its task finishes
(``sweep.run_spec(..., execution=Execution(sampler=...))``), so a killed driver resumes
from the folder and submits only the points it does not hold.

A worker receives the spec's text and ``--set`` values (``ClusterJob``: plain data, not the
checked spec), checks and prepares it itself (``session.prepare``, as the driver does), and
keeps the session for the next task of the same run (``_prepared``: one per worker process,
keyed by the job), so a task does not compile again; each point is measured
(``Session.measure``: learning coefficients, local minima) on the worker that sampled it.
It refuses a job whose run key or package versions differ from the driver's (the draws
would not be the driver's).

- Same seeds, same draws: a task of one point samples it with the key ``point_key(seed,
  index)`` in one ``engine.run`` call (``points.sample_point``), which is what a local
  ``--batch 0`` run does for smc and quadrature, and for nuts on one device (``--cpu-devices
  1``: on several devices a lone nuts point splits its chains across them, ``engines.many``).
  A task of K points (``--batch K``) runs ``points.sample_points`` on the worker's devices:
  the same distribution, draws as a local ``--batch K`` run on a machine like the worker.
- Failures: a task that raises is retried (``RETRIES`` times); a task whose worker dies (a
  killed process, a lost machine) is given to another worker by the scheduler (up to its
  ``distributed.scheduler.allowed-failures``, 3 by default). A mistake a retry would repeat
  (a posterior that is not a density, a spec a worker cannot check) comes back as a value
  (``TaskError``) and is raised on the driver as it would be locally.
- Engines that follow the sweep (``smc_path``: the whole sweep as one tempering path in one
  call) cannot be split into tasks: ``--cluster`` refuses them (``check_engine``).

Dask is an optional extra (``pip install 'phasedsl[cluster]'``); without it ``--cluster`` is a
usage error that says how to install it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
from dataclasses import dataclass

from ..language.errors import PhaseDSLError, SpecError, UsageError
from ..language.limits import MAX_CPU_DEVICES
from ..language.traits import traits

__all__ = ["ClusterError", "ClusterJob", "ClusterSampler", "TaskError", "RETRIES",
           "INSTALL", "check_engine", "check_option", "parse_address", "require_distributed",
           "sample_task", "worker_env"]

RETRIES = 3  # a task that raises is submitted again this many times
INSTALL = "pip install 'phasedsl[cluster]'"
CONNECT_TIMEOUT = "30s"  # to reach a scheduler
CACHE = 4  # compiled runs kept per worker process
DRAW_VERSIONS = ("phasedsl", "jax", "jaxlib", "blackjax")  # packages that decide the draws
FORCED_DEVICES = "--xla_force_host_platform_device_count"


class ClusterError(UsageError):
    """The cluster could not be used or a point's task failed for good (exit code 2; the
    finished points are in the run folder, and the same command resumes)."""


def require_distributed():
    """The ``distributed`` module, or a ``ClusterError`` that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ClusterError(f"--cluster needs Dask distributed, which is not installed: "
                           f"{INSTALL}") from None
    return distributed


def parse_address(address: str) -> tuple[str, int | None]:
    """``("local", K)`` for ``local:K`` (a ``LocalCluster`` of K worker processes), else
    ``(address, None)``: a scheduler's address as Dask takes it (``tcp://host:8786``)."""
    text = str(address).strip()
    if text.startswith("local"):
        count = text.removeprefix("local").removeprefix(":")
        if not count.isdigit() or not 1 <= int(count) <= MAX_CPU_DEVICES:
            raise ClusterError(f"--cluster {text}: expected local:K with K worker processes "
                               f"from 1 to {MAX_CPU_DEVICES}, or a scheduler address "
                               "such as tcp://host:8786")
        return "local", int(count)
    if not text:
        raise ClusterError("--cluster needs a scheduler address (tcp://host:8786) or local:K")
    return text, None


def check_engine(checked) -> None:
    """Refuse an engine that walks the whole sweep in one call (``follows_sweep``)."""
    if traits(checked.engine).follows_sweep:
        raise ClusterError(
            f"--cluster sends each sweep point to a worker as its own task, but the "
            f"{checked.engine} engine walks the whole sweep as one tempering path in one call; "
            "run it without --cluster, or use --engine smc (each point on its own)")
    network = checked.data_source
    if network is not None and network.seeds > 1:
        raise ClusterError(
            f"--cluster sends one sweep point on one data set per task; this spec asks for "
            f"{network.seeds} data sets (`data {{ seeds = ... }}`), which run on this "
            "machine only for now: run it without --cluster, or one run per data seed "
            "(`data { seed = k }`) on the cluster")


def check_option(address: str, checked) -> None:
    """``--cluster ADDRESS`` for a checked spec, before anything starts: the address's
    form, Dask installed, an engine that samples points one by one (``ClusterError``)."""
    parse_address(address)
    require_distributed()
    check_engine(checked)


def worker_env(flags: str | None = None) -> dict[str, str]:
    """The environment of a ``local:K`` worker process: this process's ``XLA_FLAGS`` without
    a forced count of CPU devices, so that each of the K workers is one CPU device (one
    core), and a point's work is not split again inside a worker."""
    flags = os.environ.get("XLA_FLAGS", "") if flags is None else flags
    return {"XLA_FLAGS": " ".join(f for f in flags.split() if not f.startswith(FORCED_DEVICES))}


def _versions() -> tuple[tuple[str, str | None], ...]:
    from .provenance import versions

    found = versions()
    return tuple((name, found.get(name)) for name in DRAW_VERSIONS)


@dataclass(frozen=True)
class ClusterJob:
    """What a worker needs to sample points of one run, as plain data: the spec's text and
    how it was loaded (``spec.load_text``'s arguments), the chain method, and the driver's
    run key and package versions, which the worker must reproduce."""

    source: str
    filename: str
    path: str | None
    overrides: tuple[tuple[str, str], ...]
    quick: bool
    chain_method: str | None
    run_key: str
    versions: tuple[tuple[str, str | None], ...]

    @classmethod
    def of(cls, spec, chain_method: str | None = None) -> "ClusterJob":
        """The job of a loaded ``spec.Spec``."""
        from ..rundir import run_key

        checked = spec.checked
        return cls(checked.spec.source, checked.spec.filename, spec.path,
                   tuple(sorted((str(k), str(v)) for k, v in spec.overrides.items())),
                   bool(spec.quick), chain_method, run_key(checked), _versions())


@dataclass(frozen=True)
class TaskError:
    """A mistake raised on a worker that a retry would repeat, sent back as a value:
    the error's class and its constructor's arguments."""

    kind: type
    args: tuple

    @classmethod
    def of(cls, exc: PhaseDSLError, worker: str) -> "TaskError":
        if isinstance(exc, SpecError):
            return cls(type(exc), (exc.diagnostic, exc.source, exc.filename))
        return cls(type(exc), (f"on worker {worker}: {exc.args[0] if exc.args else exc}",))

    def error(self) -> PhaseDSLError:
        return self.kind(*self.args)


_PREPARED: dict = {}  # on a worker: ClusterJob -> session.Session


def _prepared(job: ClusterJob):
    """The ``session.Session`` of a job (``session.prepare``, as the driver builds its own),
    prepared once per worker process."""
    hit = _PREPARED.get(job)
    if hit is not None:
        return hit
    from ..rundir import run_key
    from .session import prepare
    from .spec import load_text

    here = _versions()
    if here != job.versions:
        differ = ", ".join(f"{name} {mine} (driver {theirs})" for (name, mine), (_, theirs)
                           in zip(here, job.versions) if mine != theirs)
        raise ClusterError(f"this worker has {differ}; install the driver's versions on every "
                           "worker (they decide the draws)")
    checked = load_text(job.source, job.filename, dict(job.overrides), job.quick,
                        path=job.path).checked
    if run_key(checked) != job.run_key:
        raise ClusterError("this worker checks the spec into another run than the driver "
                           "(a different phasedsl?); install the same phasedsl on every worker")
    session = prepare(checked, chain_method=job.chain_method)
    if len(_PREPARED) >= CACHE:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[job] = session
    return session


def _worker_name() -> str:
    """The Dask address of the worker running this task (host:pid outside a worker)."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


def sample_task(job: ClusterJob, chunk: list[tuple[int, float]], seed: int):
    """A task, run on a worker: the measured ``session.Sampled`` point of each ``(index,
    value)`` of ``chunk`` (one point: one ``engine.run`` call with the key ``point_key(seed,
    index)``, exactly as a local ``--batch 0`` run; every per-point step of
    ``Session.measure``), ``diagnostics["worker"]`` naming the worker; or a
    ``TaskError``."""
    from ..engines.devices import configure

    configure()  # phasedsl's XLA settings, where JAX has not started in this worker yet
    from .points import sample_point, sample_points
    from .session import Sampled

    worker = _worker_name()
    try:
        session = _prepared(job).with_seed(seed)
        engine, compiled = session.engine, session.compiled
        if len(chunk) == 1:
            done = [sample_point(engine, compiled, chunk[0][0], chunk[0][1], seed)]
        else:
            done = sample_points(engine, compiled, chunk, seed)
        out = []
        for (i, v), (point, draws) in zip(chunk, done):
            sampled = session.measure(Sampled(i, v, point, draws))
            point = dataclasses.replace(sampled.point, diagnostics={
                **sampled.point.diagnostics, "worker": worker})
            out.append(sampled._replace(point=point))
        return out
    except PhaseDSLError as exc:
        return TaskError.of(exc, worker)


class ClusterSampler:
    """``sweep.run_spec``'s sampler on a Dask cluster: each chunk's points go out as tasks
    (``per_task`` points each) and come back, in the order they finish, as
    ``(index, value, PointSummary, Draws)``.

    ``address``: ``local:K``, a scheduler's address, or a ``distributed.Client`` to use (not
    closed here). The cluster is reached on the first chunk (a run whose points are all
    finished starts none) and let go by ``close``; in between, several runs may use it
    (``bind`` each). ``task``: the function a worker runs
    (``sample_task``; tests wrap it). ``submitted``: the indices sent, in order."""

    def __init__(self, address, *, per_task: int = 1, retries: int = RETRIES,
                 task=sample_task):
        self._given = None
        if isinstance(address, str):
            self.address = parse_address(address)
            require_distributed()
        else:
            self._given, self.address = address, (str(address.scheduler.address), None)
        if per_task < 1:
            raise ClusterError("--batch with --cluster: points per task must be >= 1")
        self.per_task, self.retries, self.task = int(per_task), int(retries), task
        self.job: ClusterJob | None = None
        self.submitted: list[int] = []
        self._client = self._cluster = None

    def bind(self, spec, chain_method: str | None = None) -> "ClusterSampler":
        """Ready to sample ``spec`` (a ``spec.Spec``) in a new run (``submitted`` emptied);
        refuses engines that follow the sweep."""
        check_engine(spec.checked)
        self.job = ClusterJob.of(spec, chain_method)
        self.submitted = []
        return self

    def describe(self) -> dict:
        """The cluster as the results document records it (``cluster``)."""
        kind, count = self.address
        where = f"local:{count}" if kind == "local" else kind
        return {"address": where, "points_per_task": self.per_task, "retries": self.retries}

    # -- the driver's side
    def _connect(self):
        if self._client is not None:
            return self._client
        if self._given is not None:
            self._client = self._given
            return self._client
        distributed = require_distributed()
        kind, count = self.address
        try:
            if kind == "local":
                self._cluster = distributed.LocalCluster(
                    n_workers=count, processes=True, threads_per_worker=1,
                    dashboard_address=None, silence_logs=logging.ERROR, env=worker_env())
                self._client = distributed.Client(self._cluster, set_as_default=False)
            else:
                self._client = distributed.Client(kind, timeout=CONNECT_TIMEOUT,
                                                  set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError, RuntimeError) as exc:
            self.close()
            what = f"start a local cluster of {count} workers" if kind == "local" else \
                f"reach the Dask scheduler at {kind}"
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise ClusterError(f"--cluster: cannot {what}: {reason}") from None
        return self._client

    def __call__(self, session, chunk):
        """The measured points (``session.Sampled``) of ``chunk`` as their tasks finish
        (``session`` is the driver's; only its seed and sweep name are used: workers prepare
        their own)."""
        import asyncio

        from distributed import as_completed
        from distributed.scheduler import KilledWorker

        if self.job is None:
            raise RuntimeError("ClusterSampler.bind(spec) was not called")
        client = self._connect()
        futures = {}
        for k in range(0, len(chunk), self.per_task):
            part = list(chunk[k: k + self.per_task])
            key = f"phasedsl-point-{part[0][0]}-{os.urandom(4).hex()}"
            future = client.submit(self.task, self.job, part, session.seed, retries=self.retries,
                                   pure=False, key=key)
            futures[future] = part
            self.submitted.extend(i for i, _ in part)
        name = session.checked.sweep_name
        try:
            for future in as_completed(futures, loop=client.loop):
                part = futures[future]
                where = ", ".join(f"{name} = {v:g}" if isinstance(v, float) else f"{name} = {v}"
                                  for _, v in part)
                try:
                    result = future.result()
                except KilledWorker:
                    raise ClusterError(
                        f"the task of {where} ended every worker it ran on (killed, or out "
                        "of memory?); the finished points are in the run folder: run the same "
                        "command again to resume") from None
                except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - remote
                    reason = (str(exc).splitlines() or [""])[0]
                    raise ClusterError(
                        f"the task of {where} failed {self.retries + 1} times on the cluster "
                        f"({type(exc).__name__}: {reason}); the finished points are in the "
                        "run folder: run the same command again to resume") from None
                if isinstance(result, TaskError):
                    raise result.error()
                yield from result
        finally:  # the driver stopped early (an error, an interrupt): drop what is left
            pending = [f for f in futures if not f.done()]
            if pending:
                try:
                    client.cancel(pending)
                except Exception:  # noqa: BLE001 - a lost scheduler cannot cancel
                    pass

    def close(self) -> None:
        """Let the cluster go (a ``local:K`` cluster is shut down; a given client is kept)."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None and client is not self._given:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - closing a lost connection
                pass
        if cluster is not None:
            try:
                cluster.close()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> "ClusterSampler":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False
