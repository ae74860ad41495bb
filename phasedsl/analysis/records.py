"""What analysis hands on: typed records of one sweep point and of the events of a sweep.

Each record has ``to_json()``, the shape of the results contract (``docs/language.md``, "The
results document"), and ``from_json()``, its inverse. Values are JSON-ready when the record is
built (``plain``): floats that are not finite become ``None``, so a record rendered on the
screen and the same record read back from ``results.json`` are equal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..language.grid import Cell
from .mixing import Finding

__all__ = ["PhaseMass", "Mass", "PointSummary", "Event", "plain"]


def plain(x):
    """Plain JSON values: numpy scalars/arrays to Python, tuples to lists, non-finite floats
    to ``None``, dict keys to strings."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return plain(x.tolist())
    if isinstance(x, np.generic):
        return plain(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _dof(dof) -> dict:
    """``{"se_dof": dof}``, or nothing where the se has no dof (results of exact and NUTS
    runs keep their shape)."""
    return {} if dof is None else {"se_dof": int(dof)}


@dataclass(frozen=True)
class Mass:
    """The posterior mass of a region (``other``: in no phase), its standard error
    (``None``: unknown) and the se's degrees of freedom (``se_dof``: ``runs - 1`` where it is
    the spread of independent runs, whose verdicts then use a t quantile,
    ``analysis.intervals``; ``None``: an se that is not such a spread, or exact)."""

    mass: float
    se: float | None
    se_dof: int | None = field(default=None, kw_only=True)

    def to_json(self) -> dict:
        return {"mass": self.mass, "se": self.se, **_dof(self.se_dof)}


@dataclass(frozen=True)
class PhaseMass(Mass):
    """A phase's mass, its free energy (``-log`` of its mass, or absolute where the engine
    gives ``log Z``; ``None`` for no mass) and its mass in each group (chain or repeat)."""

    free_energy: float | None = None
    chain_masses: tuple[float, ...] = ()

    def to_json(self) -> dict:
        return {"mass": self.mass, "se": self.se, **_dof(self.se_dof),
                "free_energy": self.free_energy, "chain_masses": list(self.chain_masses)}


@dataclass(frozen=True)
class PointSummary:
    """One sweep point: phase masses, ``other``, the preferred phase, pairwise Jaccard
    overlaps (``"A|B"``), ``log_z`` (absolute engines), the sampler's diagnostics (an open
    mapping: R-hat, ESS, divergences, timings ...) and, for networks, the sign modes of ``q``.
    ``value``: the sweep value, or a grid's ``Cell`` (JSON: ``value`` and ``value2``)."""

    value: float | Cell
    phases: dict[str, PhaseMass]
    other: Mass
    preferred: str | None
    overlap: dict[str, float]
    absolute: bool
    log_z: float | None
    diagnostics: dict
    modes: dict | None = None
    findings: tuple = ()  # mixing.Finding: why the groups disagree (mixing_ok False)
    notes: tuple[str, ...] = ()  # the findings in words (``phasedsl.output.notes``)
    lcoef: dict | None = None  # phase -> its learning coefficient (``LearningCoefficient.to_json``)
    # several data sets (``data { seeds = K }``): each data set's masses and se, each phase's
    # spread between data sets and its se (``analysis.datasets``); the masses above are means
    datasets: dict | None = None
    minima: dict | None = None  # phase -> whether it holds a local minimum (``measure.minima``)
    lcoef_posterior: dict | None = None  # the whole posterior's learning coefficient

    @property
    def mixing_ok(self) -> bool:
        return bool(self.diagnostics.get("mixing_ok", True))

    def to_json(self) -> dict:
        out = {"value": self.value[0] if isinstance(self.value, tuple) else self.value}
        if isinstance(self.value, tuple):
            out["value2"] = self.value[1]
        out.update({
               "phases": {name: m.to_json() for name, m in self.phases.items()},
               "other": self.other.to_json(), "preferred": self.preferred,
               "overlap": dict(self.overlap), "absolute": self.absolute, "log_z": self.log_z,
               "diagnostics": {**self.diagnostics, "mixing_notes": list(self.notes),
                               "findings": [asdict(f) for f in self.findings]}})
        if self.modes is not None:
            out["modes"] = self.modes
        if self.lcoef is not None:
            out["lcoef"] = self.lcoef
        if self.datasets is not None:
            out["datasets"] = self.datasets
        if self.minima is not None:
            out["minima"] = self.minima
        if self.lcoef_posterior is not None:
            out["lcoef_posterior"] = self.lcoef_posterior
        return plain(out)

    @classmethod
    def from_json(cls, d: dict) -> "PointSummary":
        return cls(
            value=d["value"] if "value2" not in d else Cell(d["value"], d["value2"]),
            phases={name: PhaseMass(m["mass"], m.get("se"), m.get("free_energy"),
                                    tuple(m.get("chain_masses") or ()), se_dof=m.get("se_dof"))
                    for name, m in d["phases"].items()},
            other=Mass(d["other"]["mass"], d["other"].get("se"),
                       se_dof=d["other"].get("se_dof")),
            preferred=d.get("preferred"), overlap=dict(d.get("overlap") or {}),
            absolute=bool(d.get("absolute")), log_z=d.get("log_z"),
            diagnostics={k: v for k, v in (d.get("diagnostics") or {}).items()
                         if k not in ("mixing_notes", "findings")},
            modes=d.get("modes"),
            findings=tuple(Finding(**{k: tuple(v) if isinstance(v, list) else v
                                      for k, v in f.items()})
                           for f in (d.get("diagnostics") or {}).get("findings", [])),
            notes=tuple((d.get("diagnostics") or {}).get("mixing_notes", [])),
            lcoef=d.get("lcoef"), datasets=d.get("datasets"), minima=d.get("minima"),
            lcoef_posterior=d.get("lcoef_posterior"))


@dataclass(frozen=True)
class Event:
    """A transition along the sweep.

    ``kind``: ``"crossover"`` (order 1: the preferred phase changes from ``source`` to
    ``target``; ``at`` where the log mass ratio crosses 0, ``interval`` its +- 2 se range),
    ``"destruction"``/``"creation"`` (order 2: ``phase``'s mass falls below / rises above the
    floor; with ``extra["criterion"] == "minimum"``: ``phase`` stops / starts holding a local
    minimum of the potential at ``at``, within ``interval``, ``analysis.minima``), ``"merge"``/``"split"`` (order 2: two ``phases``' overlap rises above / falls below
    the merge threshold). ``between``: the two sweep values around it. ``trusted``: ``False``
    when the sampler's groups disagree at an end (``None``: not judged); ``refined``: how
    ``at`` was located more finely than the sweep (``"bisection"``); ``resolved`` (crossovers):
    whether the log mass ratio is beyond 2 se of 0 at both ends (``False``: the change lies
    somewhere in ``between``, inside the noise)."""

    order: int
    kind: str
    between: tuple[float, float]
    source: str | None = None
    target: str | None = None
    at: float | None = None
    interval: tuple[float, float] | None = None
    phase: str | None = None
    phases: tuple[str, str] | None = None
    trusted: bool | None = None
    refined: str | None = None
    resolved: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"order": self.order, "kind": self.kind}
        if self.kind == "crossover":
            out.update({"from": self.source, "to": self.target, "at": self.at,
                        "interval": list(self.interval)})
            if self.resolved is not None:
                out["resolved"] = self.resolved
        elif self.phase is not None:
            out["phase"] = self.phase
            if self.at is not None:  # located without points (the local-minimum criterion)
                out["at"] = self.at
                out["interval"] = None if self.interval is None else list(self.interval)
        else:
            out["phases"] = list(self.phases)
        out["between"] = list(self.between)
        if self.refined is not None:
            out["refined"] = self.refined
        if self.trusted is not None:
            out["trusted"] = self.trusted
        out.update(self.extra)
        return plain(out)

    @classmethod
    def from_json(cls, d: dict) -> "Event":
        known = {"order", "kind", "from", "to", "at", "interval", "phase", "phases", "between",
                 "trusted", "refined", "resolved"}
        return cls(order=d["order"], kind=d["kind"], between=tuple(d["between"]),
                   source=d.get("from"), target=d.get("to"), at=d.get("at"),
                   interval=None if d.get("interval") is None else tuple(d["interval"]),
                   phase=d.get("phase"),
                   phases=None if d.get("phases") is None else tuple(d["phases"]),
                   trusted=d.get("trusted"), refined=d.get("refined"),
                   resolved=d.get("resolved"),
                   extra={k: v for k, v in d.items() if k not in known})

    def replaced(self, **changes) -> "Event":
        return replace(self, **changes)
