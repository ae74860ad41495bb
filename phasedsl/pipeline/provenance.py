"""What a run was made from, for ``results.json``: every effective setting (after defaults,
``--quick`` and ``--set``), the effective ``n`` and ``beta`` at each sweep value, the seeds,
the package versions, the machine. Timings are the run folder's (``rundir.RunFolder``).

Everything here is computed from the checked spec and the environment; nothing samples.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from ..language.settings import TABLE

__all__ = ["effective_settings", "effective_numbers", "versions", "machine", "provenance"]

PACKAGES = ("phasedsl", "jax", "jaxlib", "blackjax", "numpy", "sympy", "lark", "rich",
            "matplotlib")


def effective_settings(checked, chain_method: str | None = None) -> dict:
    """``{"engine", "sample": {key: value}, "report": {key: value}, "roles": {key: role}}``:
    every settable key of the run's engine, given or not (a key left to the machine,
    ``auto``, is ``None`` unless the command line decided it)."""
    table = TABLE[checked.engine]
    sample = {k: s.default for k, s in table.items() if not s.internal}
    sample.update({k: None for k, s in table.items() if s.auto and not s.internal})
    sample.update(checked.sample)
    if chain_method is not None:
        sample["chain_method"] = chain_method
    roles = {k: s.role for k, s in table.items() if not s.internal}
    roles.update({f"report.{k}": s.role for k, s in TABLE["report"].items()})
    return {"engine": checked.engine, "sample": sample, "report": dict(checked.report),
            "roles": roles}


def _number(expr, sub: dict) -> float | None:
    try:
        return float(expr.subs(sub)) if expr is not None else None
    except (TypeError, ValueError):
        return None


def effective_numbers(checked) -> dict:
    """``n`` and ``beta`` as numbers: one number where it is the same at every sweep value,
    else a list with one number per sweep value (in sweep order; per cell of a grid, row by
    row); the data seed of a network spec."""
    out = {}
    subs = [checked.substitution(v) for v in checked.sweep_points()]
    for name in ("n", "beta"):
        expr = getattr(checked, name)
        per = [_number(expr, sub) for sub in subs]
        out[name] = per[0] if len(set(per)) <= 1 and per else per
    out["lets"] = {}
    for name, value in checked.lets.items():
        per = [_number(getattr(value, "subs", None) and value, sub) for sub in subs]
        if all(p is not None for p in per):
            out["lets"][str(name)] = per[0] if len(set(per)) <= 1 and per else per
    return out


def versions() -> dict:
    """Versions of the packages that decide a run's numbers, and of Python."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    from ..version import __version__

    out["phasedsl"] = __version__
    out["python"] = platform.python_version()
    return out


def machine() -> dict:
    """The machine: platform, cores, JAX's backend and devices."""
    import jax

    devices = jax.devices()
    out = {"platform": platform.platform(), "machine": platform.machine(),
           "python_implementation": platform.python_implementation(),
           "cpu_count": os.cpu_count(), "backend": jax.default_backend(),
           "device_count": len(devices),
           "device_kind": getattr(devices[0], "device_kind", None) if devices else None}
    try:
        out["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        out["usable_cores"] = os.cpu_count()
    out["argv"] = list(sys.argv)
    return out


def provenance(checked, seed: int, chain_method: str | None = None) -> dict:
    """The provenance fields of the results document's header."""
    numbers = effective_numbers(checked)
    network = checked.data_source  # a network's or a tensor model's data
    return {
        "settings": effective_settings(checked, chain_method),
        "effective": {"n": numbers["n"], "beta": numbers["beta"], "lets": numbers["lets"]},
        "seeds": {"sampler": seed,
                  "data": None if network is None or network.data is not None else network.seed,
                  "point_key": "fold_in(PRNGKey(sampler), index of the sweep value)",
                  **_data_sets(network)},
        **_data_file(network),
        "versions": versions(),
        "machine": machine(),
    }


def _data_file(network) -> dict:
    """``data_file``: the path and sha256 of a network's data file (none without one)."""
    if network is None or network.data is None:
        return {}
    d = network.data
    return {"data_file": {"path": d.path, "sha256": d.sha256, "format": d.format,
                          "rows": d.rows, "inputs": d.inputs}}


def _data_sets(network) -> dict:
    """The seeds of several data sets (``data { seeds = K }``) and their keys."""
    if network is None or network.seeds <= 1:
        return {}
    return {"data_sets": list(network.data_seeds),
            "dataset_key": "fold_in(point_key, k) for data set k >= 1; point_key for k = 0"}
