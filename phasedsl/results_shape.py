"""The shape of every field of a results document that a reader uses (``report``, ``plot``,
``export``, re-analysis), as data: ``rundir.validate`` checks a document against it, so a
damaged or edited ``results.json`` is refused with the field named, never a traceback
in a reader.

A shape is a type (``NUM``: a finite number; ``TEXT``; ``FLAG``; ``INT``), ``Opt(shape)``
(``null`` allowed), ``ListOf(shape)``, ``MapOf(shape)`` (an object of any keys), or a
``dict`` of known keys (each optional; other keys are not read, so not checked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NUM", "TEXT", "FLAG", "INT", "ANY", "Opt", "ListOf", "MapOf", "problem",
           "DOCUMENT", "POINT"]


NUM, TEXT, FLAG, INT = "a finite number", "a string", "true or false", "a whole number"
ANY = "anything"  # a field no reader takes apart


@dataclass(frozen=True)
class Opt:
    shape: object


@dataclass(frozen=True)
class ListOf:
    shape: object


@dataclass(frozen=True)
class MapOf:
    shape: object


def _scalar(value, kind: str) -> bool:
    if kind == TEXT:
        return isinstance(value, str)
    if kind == FLAG:
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and (kind == NUM or float(value).is_integer())


def _describe(shape) -> str:
    if isinstance(shape, str):
        return shape
    if isinstance(shape, Opt):
        return f"{_describe(shape.shape)} or null"
    if isinstance(shape, ListOf):
        return f"a list (each entry {_describe(shape.shape)})"
    return "an object"


def problem(value, shape, where: str) -> str | None:
    """Why ``value`` does not have ``shape`` (naming the field ``where``), or ``None``."""
    if shape is ANY:
        return None
    if isinstance(shape, Opt):
        return None if value is None else problem(value, shape.shape, where)
    if isinstance(shape, str):
        return None if _scalar(value, shape) else f"`{where}` is not {shape}"
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return f"`{where}` is not {_describe(shape)}"
        return next((p for i, v in enumerate(value)
                     if (p := problem(v, shape.shape, f"{where}[{i}]"))), None)
    if not isinstance(value, dict):
        return f"`{where}` is not an object"
    if isinstance(shape, MapOf):
        return next((p for k, v in value.items()
                     if (p := problem(v, shape.shape, _join(where, k)))), None)
    return next((p for k, s in shape.items()
                 if k in value and (p := problem(value[k], s, _join(where, k)))), None)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else str(key)


_SE = Opt(NUM)  # checked >= 0 in rundir.validate
MASS = {"mass": NUM, "se": _SE, "free_energy": Opt(NUM), "chain_masses": ListOf(Opt(NUM))}
LCOEF_RECORD = {"lambda": Opt(NUM), "lambda_se": Opt(NUM), "lambda_method": Opt(TEXT),
                "lambda_var": Opt(NUM), "lambda_var_se": Opt(NUM), "lambda_sys": Opt(NUM),
                "loss_min": Opt(NUM), "minimiser": Opt(ListOf(Opt(NUM))),
                "minimiser_in_phase": Opt(FLAG), "n_beta": Opt(NUM), "draws": Opt(NUM),
                "lambda_draws": Opt(NUM), "lambda_at_beta": Opt(NUM),
                "lambda_at_beta_se": Opt(NUM), "path_loglog": Opt(NUM),
                "path_linear": Opt(NUM), "path_stages": Opt(ListOf(Opt(NUM))),
                "path_runs_se": Opt(NUM)}
LCOEF = MapOf(Opt(LCOEF_RECORD))
MINIMA = MapOf(Opt({"holds": Opt(FLAG), "w": Opt(ListOf(Opt(NUM))), "grad": Opt(NUM),
                    "sd": Opt(ListOf(Opt(NUM)))}))
DIAGNOSTICS = {"rhat_max": Opt(NUM), "ess_min": Opt(NUM), "mixing_ok": Opt(FLAG),
               "rhat": MapOf(Opt(NUM)), "ess": MapOf(Opt(NUM)), "wall_s": Opt(NUM),
               "compile_s": Opt(NUM), "sample_s": Opt(NUM), "mixing_notes": ListOf(TEXT),
               "findings": ListOf(MapOf(ANY))}
POINT = {"phases": MapOf(MASS), "other": MASS, "preferred": Opt(TEXT),
         "overlap": MapOf(Opt(NUM)), "absolute": Opt(FLAG), "log_z": Opt(NUM),
         "diagnostics": DIAGNOSTICS, "lcoef": Opt(LCOEF), "lcoef_posterior": Opt(LCOEF_RECORD),
         "minima": Opt(MINIMA)}
DOCUMENT = {"experiment": Opt(TEXT), "kind": Opt(TEXT), "spec_file": Opt(TEXT),
            "spec_sha256": Opt(TEXT), "spec_text": Opt(TEXT), "posterior_key": Opt(TEXT),
            "set": Opt(MapOf(TEXT)), "quick": Opt(FLAG), "status": Opt(TEXT),
            "device": Opt(TEXT), "error": Opt(TEXT), "warnings": ListOf(TEXT),
            "sampler": {"engine": TEXT}, "versions": MapOf(Opt(TEXT)),
            "sweep": {"name": Opt(TEXT)}, "sweep2": {"name": Opt(TEXT)},
            "report": MapOf(ANY), "settings": Opt(MapOf(ANY)),
            "effective": Opt(MapOf(ANY)), "machine": Opt(MapOf(ANY)),
            "seeds": Opt({"sampler": Opt(INT), "data": Opt(INT)}),
            "timings": Opt({"started": Opt(TEXT), "ended": Opt(TEXT), "wall_s": Opt(NUM),
                            "points_resumed": Opt(INT)}),
            "reanalyses": ListOf(MapOf(ANY)), "boundaries": ListOf(MapOf(ANY))}
