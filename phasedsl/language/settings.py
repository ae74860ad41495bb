"""``sample`` and ``report`` settings: ONE table of every key of every engine and of
``report`` (default, kind, bounds, ``--quick`` value, meaning, role), and the checker of the
``sample`` and ``report`` blocks. ``--set`` overrides are in ``overrides.py``.

Roles: a *result* setting changes the posterior's draws (it is part of a run's identity); an
*execution* setting changes how the work runs, not the distribution drawn from; an
*analysis* setting changes only what is computed from finished draws (``report``).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from . import symbolic as sy
from . import catalogue as err
from .errors import did_you_mean
from .limits import MAX_NUMBERS_PER_POINT, MAX_SEED
from .traits import TRAITS, traits

RESULT, EXECUTION, ANALYSIS = "result", "execution", "analysis"
KINDS = ("int", "prob", "frac", "pos", "choice", "width")
ABSOLUTE = "absolute"  # `resolution = absolute(0.01)`: a width in the sweep's own units


@dataclass(frozen=True)
class Setting:
    """One key of a ``sample ENGINE { ... }`` or ``report { ... }`` block.

    ``kind``: ``int`` (whole, ``lower <= x``, and ``x <= upper`` when given), ``prob``
    (``0 < x < 1``; ``x = 1`` too when ``closed_upper``), ``frac`` (``0 <= x < 1``), ``pos``
    (``x > 0``), ``choice`` (a bare name of ``choices``, or ``auto``) or ``width`` (a
    fraction of the sweep's span, ``0 <= x < 1``, or ``absolute(x)``, ``x > 0``, in the sweep
    variable's own units: checked as ``{"absolute": x}``; ``resolution_width`` reads both).
    ``default`` is what the engine uses when the key is absent; with ``auto`` set it is
    decided at run time (``auto`` says how) and the checked settings hold None for it.
    ``listed``: always in the checked settings and in the key lists of messages; False for
    tuning keys, which are in the checked settings only when given. ``internal``: set by
    the driver only, never by a spec or ``--set``. ``argument``: a keyword argument of the
    engine's build function (False for ``seed``, which the driver reads, and for the
    execution keys, which the engine reads itself).
    """

    default: object
    kind: str
    doc: str
    lower: float | None = None
    upper: float | None = None
    closed_upper: bool = False
    choices: tuple[str, ...] = ()
    quick: object = None  # the value under --quick; None: unchanged
    role: str = RESULT
    auto: str = ""
    listed: bool = True
    internal: bool = False
    argument: bool = True


def _int(default, lower, doc, **kw) -> Setting:
    return Setting(default, "int", doc, lower=lower, **kw)


def _prob(default, doc, **kw) -> Setting:
    return Setting(default, "prob", doc, lower=0, upper=1, **kw)


def _pos(default, doc, **kw) -> Setting:
    return Setting(default, "pos", doc, lower=0, **kw)


_SEED = _int(0, 0, "the sampler's seed (`--seed` overrides it)", argument=False,
             upper=MAX_SEED)
_DEVICES = _int(0, 0, "run_many's work is split across this many devices (0: all there are)",
                role=EXECUTION, internal=True, argument=False)

TABLE: dict[str, dict[str, Setting]] = {
    "nuts": {
        "chains": _int(4, 1, "independent chains per sweep point", upper=1024),
        "draws": _int(2000, 1, "draws kept per chain", quick=200, upper=10**7),
        "warmup": _int(1000, 0, "window-adaptation steps per chain", quick=300, upper=10**7),
        "target_accept": _prob(0.8, "the acceptance rate step-size adaptation aims at"),
        "max_depth": _int(10, 1, "the largest tree depth: at most 2^max_depth - 1 steps",
                          upper=20),
        "seed": _SEED,
        "chain_method": Setting(
            None, "choice", "how chains run: one after another, vmapped in lockstep, or "
            "flattened into one loop", choices=("sequential", "vectorized", "flat"),
            role=EXECUTION, auto="by machine: sequential on a CPU, flat on an accelerator",
            listed=False, argument=False),
        "devices": _DEVICES,
    },
    "smc": {
        "particles": _int(2000, 2, "particles per generation", quick=200, upper=10**7),
        "runs": _int(4, 1, "independent runs per sweep point (their spread is the standard "
                           "error: 4 or more)", quick=4, upper=1024),
        "mutations": _int(10, 1, "HMC steps per particle per stage", upper=10**4),
        "integration_steps": _int(10, 1, "leapfrog steps per HMC step", upper=10**4),
        "target_ess": _prob(0.5, "the newest generation's incremental ESS, a fraction of "
                                 "the particles"),
        "generations": _int(8, 1, "HMC generations held and reweighted", upper=1000),
        "prior_draws": _int(32, 1, "prior draws held, in units of `particles`", upper=10**4),
        "final_stages": _int(0, 0, "stages at the posterior once tempering reaches it, each "
                                   "adding a generation of HMC-moved particles", upper=10**4),
        "step_min": _pos(0.1, "each HMC step's step-size factor is log-uniform in "
                              "[step_min, step_max]"),
        "step_max": _pos(2.0, "the upper end of the step-size factor"),
        "seed": _SEED,
        "target_accept": _prob(0.7, "the mean HMC acceptance the step-size scale is steered to",
                               listed=False),
        "initial_scale": _pos(1.0, "the first step size, in units of the ensemble's std, "
                                   "times D^(-1/4)", listed=False),
        "max_stages": _int(1000, 1, "a safety cap on the number of tempering stages",
                           listed=False, upper=10**6),
        "particle_block": _int(
            None, 0, "particles per block of HMC moves (0: all at once)", role=EXECUTION, upper=10**7,
            auto="by machine: 4 on a CPU, 0 on an accelerator", listed=False, argument=False),
        "devices": _DEVICES,
    },
    "quadrature": {
        "points": _int(0, 3, "grid points (per axis for 2 parameters)",
                       auto="by dimension: 4001 for 1 parameter, 801 per axis for 2", upper=10**6),
        "order": _int(5, 1, "Gauss-Legendre nodes per cell (1 parameter)", listed=False,
                      upper=100),
        "bisect": _int(48, 0, "bisection halvings for a phase boundary inside a cell "
                              "(1 parameter)", listed=False, upper=200),
        "subdivisions": _int(8, 1, "midpoint sub-cells per cell and axis (2 parameters)",
                             listed=False, upper=100),
    },
    "report": {
        "floor": Setting(0.005, "frac", "masses below this count as absent", lower=0, upper=1,
                         role=ANALYSIS),
        "merge": _prob(0.9, "two phases whose draws overlap (Jaccard) above this count as "
                            "merged", closed_upper=True,
                       role=ANALYSIS),
        "resolution": Setting(
            0.005, "width", "events are located by added sweep values until their bracket is "
            "narrower than this: a fraction of the sweep's span, or absolute(x) in the sweep's "
            "units (0: no added values)", quick=0.02, role=ANALYSIS),
        "refine_points": _int(40, 0, "at most this many sweep values added to locate events "
                                     "(the cost of refinement is bounded by it)", upper=10**4,
                              quick=4, role=ANALYSIS, listed=False),
        "pool": _int(5, 0, "each sweep value's masses also use the draws of up to this many "
                           "neighbouring values on each side, reweighted to it (smc, smc_path; "
                           "0: its own draws only)", upper=1000, role=ANALYSIS),
        "pool_overlap": _prob(0.1, "a neighbour's draws join a value's pool only while they "
                                   "keep at least this share of their effective sample size "
                                   "reweighted to it (the window stops at the first that "
                                   "does not, on each side)", role=ANALYSIS, listed=False),
        "minimum_steps": _int(1000, 0, "Adam steps of each gradient flow of the local-minimum "
                                       "criterion (0: not computed)", upper=10**6,
                              role=ANALYSIS, listed=False),
        "lcoef": _int(1, 0, "estimate each phase's learning coefficient (1) or not (0)",
                      upper=1, role=ANALYSIS, listed=False),
        "lcoef_steps": _int(200, 0, "optimiser steps for each phase's minimiser w* (the "
                                    "learning coefficient)", role=ANALYSIS, listed=False),
    },
}
# the sweep as one tempering path: smc's settings, particles carried along the sweep
TABLE["smc_path"] = {
    **TABLE["smc"],
    "bridge_mutations": _int(
        0, 0, "HMC steps per particle at each stage of a bridge between neighbouring sweep "
              "values (0: `mutations`)", upper=10**4, argument=False),
}
ENGINE_NAMES = tuple(TRAITS)  # ("nuts", "smc", "smc_path", "quadrature")


def settable(section: str) -> dict[str, Setting]:
    """The keys a spec or ``--set`` may give in ``section`` (an engine or ``report``)."""
    return {k: s for k, s in TABLE[section].items() if not s.internal}


def listed(section: str) -> tuple[str, ...]:
    """The keys always in the checked settings, in table order."""
    return tuple(k for k, s in TABLE[section].items() if s.listed and not s.internal)


# the settable keys, per engine and of `report` (existing callers index these)
ENGINES: dict[str, dict[str, Setting]] = {e: settable(e) for e in ENGINE_NAMES}

# The engine of a spec that names none (no `sample` block, or `sample { ... }`). Each makes
# phase masses that do not depend on where chains start, unlike NUTS, whose chains stay in the
# mode they reach (`sample nuts { ... }` asks for it).
NETWORK_ENGINE = "smc"
QUADRATURE_MAX_DIM = 2

# Defaults that depend on the model's kind, over the table's (a key the spec or --set gives
# wins). A network's `smc`: the shipped PT1 setting, 100 particles x 4 runs with 6 final
# stages (masses pooled, `report.pool`): every PT1 mass at se <= 0.005 in 152 s of sampling
# for 22 values, where 2,000 particles and no final stages took over 11 minutes for 5
# (`benchmarks/README.md`, "Final stages"); 100 particles x 4 runs, pooled, cover the exact
# masses of the energies at 94-99% within 2 se (`docs/coverage.md`).
KIND_DEFAULTS: dict[tuple[str, str], dict] = {
    ("network", "smc"): {"particles": 100, "final_stages": 6},
}


def default_engine(statements) -> str:
    """The engine of a spec whose ``sample`` block names none, from its statements alone (so
    that ``--set`` and ``--quick`` know it before checking): exact quadrature for an energy
    whose parameters are at most ``QUADRATURE_MAX_DIM`` numbers, each in a box
    (``param w in [a, b]``); tempered SMC for the other energies; ``NETWORK_ENGINE`` for a
    network."""
    if any(isinstance(s, (ast.Model, ast.TensorModel)) for s in statements):
        return NETWORK_ENGINE
    size = 0
    for s in statements:
        if not isinstance(s, ast.Param):
            continue
        if s.box is None:
            return "smc"
        if s.size is None:
            size += 1
        elif isinstance(s.size, ast.Number) and float(s.size.value).is_integer():
            size += int(s.size.value)
        else:  # a size the syntax alone does not settle
            return "smc"
    return "quadrature" if size <= QUADRATURE_MAX_DIM else "smc"


def engine_of(statements) -> str:
    """The engine a spec's statements ask for: the ``sample`` block's, or the default."""
    sample = next((s for s in statements if isinstance(s, ast.Sample)), None)
    if sample is None or sample.engine is None:
        return default_engine(statements)
    return sample.engine.id
REPORT: dict[str, Setting] = settable("report")


def defaults(engine: str, *, arguments_only: bool = False) -> dict:
    """What ``engine`` uses when a key is absent (auto keys: their run-time marker, None or
    0). ``arguments_only``: only the keyword arguments of the engine's build function (the
    engines' ``DEFAULTS``)."""
    return {k: s.default for k, s in TABLE[engine].items()
            if s.argument or not arguments_only}


def quick_overrides(engine: str) -> dict[str, str]:
    """The ``--set`` values that ``--quick`` applies for ``engine`` (``{"draws": "200"}``);
    ``quick_overrides("report")``: those of the report block (unqualified keys)."""
    return {k: str(s.quick) for k, s in TABLE.get(engine, {}).items() if s.quick is not None}


def result_keys(engine: str) -> tuple[str, ...]:
    """The keys of ``engine`` that change the posterior's draws (a run's identity)."""
    return tuple(k for k, s in TABLE[engine].items() if s.role == RESULT and not s.internal)


def checked_defaults(section: str) -> dict:
    """The checked settings of a block that gives no key: listed keys, auto ones as None."""
    return {k: None if s.auto else s.default for k, s in TABLE[section].items()
            if s.listed and not s.internal}


def resolution_width(report: dict, values) -> float:
    """The width in sweep units below which an event's bracket needs no added values:
    ``report["resolution"]`` times the span of ``values`` (the sweep values, ``f[V]``), or its
    absolute value (``{"absolute": x}``); 0 turns refinement off."""
    r = report.get("resolution", TABLE["report"]["resolution"].default)
    if isinstance(r, dict):
        return float(r[ABSOLUTE])
    values = [float(v) for v in values]
    return float(r) * (max(values) - min(values)) if values else 0.0


def _value_text(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class SettingsChecker:
    """Check the ``sample`` and ``report`` blocks of a spec."""

    def __init__(self, sample: ast.Sample | None, report: ast.Report | None, kind: str,
                 slots, prior, warnings: list, default: str = "nuts"):
        self.sample_st, self.report_st = sample, report
        self.default = default  # the engine when the spec names none (`default_engine`)
        self.kind, self.slots, self.prior, self.warnings = kind, slots, prior, warnings

    def run(self):
        engine = self.default
        items: tuple = ()
        if self.sample_st is not None:
            items = self.sample_st.items
        if self.sample_st is not None and self.sample_st.engine is not None:
            engine = self.sample_st.engine.id
            if engine not in ENGINES:
                raise err.unknown("sampler", engine, self.sample_st.engine.span,
                                  expected=" | ".join(ENGINES) + did_you_mean(engine, ENGINES))
        named = self.sample_st is not None and self.sample_st.engine is not None
        sample = self._block(items, engine, f"`sample {engine}`" if named else
                             f"`sample` (it names no engine, so this spec gets its default, "
                             f"`{engine}`; name one to choose: `sample smc {{ ... }}`)")
        if traits(engine).repeats and sample["step_min"] > sample["step_max"]:
            raise err.out_of_bounds(
                "`step_min` must not exceed `step_max`", self._item_span("step_min"),
                expected=f"step_min <= step_max = {_value_text(sample['step_max'])}",
                found=f"step_min = {_value_text(sample['step_min'])}")
        if traits(engine).exact:
            self._quadrature_ok()
        self._work_ok(engine, sample)
        report = self._block(self.report_st.items if self.report_st else (), "report", "`report`")
        return engine, sample, report

    def _item_span(self, key: str):
        """The span of ``key = ...`` in the sample block (or of the block, if not written)."""
        for item in self.sample_st.items if self.sample_st else ():
            if isinstance(item.target, ast.Name) and item.target.id == key:
                return item.span
        return self.sample_st.span if self.sample_st else None

    def _work_ok(self, engine: str, sample: dict):
        """The numbers one sweep point keeps (draws x parameters, grid nodes ...) within
        ``MAX_NUMBERS_PER_POINT``: each setting may be within its bounds and their product
        still beyond any machine's memory."""
        dim = max(1, sum(s.size for s in self.slots))
        if traits(engine).chains:
            count, what = sample["chains"] * sample["draws"] * dim, "chains x draws x parameters"
        elif traits(engine).repeats:
            count = sample["runs"] * sample["particles"] * dim * max(
                sample["generations"], sample["prior_draws"])
            what = "runs x particles x parameters x max(generations, prior_draws)"
        else:
            points = sample["points"] or (4001 if dim == 1 else 801)
            count = points * sample.get("order", 5) if dim == 1 else (
                points * sample.get("subdivisions", 8)) ** 2
            what = ("points x order" if dim == 1 else "(points x subdivisions)^2")
        if count > MAX_NUMBERS_PER_POINT:
            raise err.too_large("the work of one sweep point", self._block_span(), 
                                f"{MAX_NUMBERS_PER_POINT:,} numbers ({what})", f"{count:,}")

    def _block_span(self):
        return self.sample_st.span if self.sample_st else None

    def _quadrature_ok(self):
        span = self.sample_st.span if self.sample_st else None
        if self.kind != "energy":
            raise err.misplaced("`quadrature` integrates energy models only", span,
                                expected="`sample nuts { ... }` for a network",
                                found="`sample quadrature`")
        dim = sum(s.size for s in self.slots)
        if dim > 2:
            raise err.misplaced("`quadrature` needs 1 or 2 parameters", span,
                                expected="at most 2 numbers in all `param`s",
                                found=f"{dim} numbers",
                                notes=("use `sample nuts { ... }` for more parameters",))
        unbounded = [s.name for s in self.slots if s.lower == float("-inf")]
        if unbounded:
            raise err.missing("`quadrature` needs a box on every parameter", span,
                              expected=f"`param {unbounded[0]} in [a, b]`",
                              found=f"`{unbounded[0]}` without a box")

    def _block(self, items, section: str, where: str) -> dict:
        table = settable(section)
        out = {**checked_defaults(section), **KIND_DEFAULTS.get((self.kind, section), {})}
        seen = {}
        for item in items:
            if not isinstance(item.target, ast.Name) or item.op != "=":
                raise err.invalid(f"write `KEY = VALUE` in {where}", item.span,
                                  expected="`KEY = VALUE`", found="something else")
            key = item.target.id
            if key not in table:
                raise err.unknown("key", key, item.target.span, where=f"in {where}",
                                  expected=", ".join(listed(section)) + did_you_mean(key, table))
            if key in seen:
                raise err.key_twice(f"`{key}`", item.span, seen[key], where=f"in {where}")
            seen[key] = item.span.line
            out[key] = self._value(item.expr, key, table[key], where)
        return out

    def _value(self, e: ast.Expr, key: str, rule: Setting, where):
        if rule.kind == "choice":
            return _choice(e, key, rule)
        if rule.kind == "width":
            return self._width(e, key, where)
        kind, low, high = rule.kind, rule.lower, rule.upper
        scope = sy.constants()
        v = sy.scalar(e, scope, sy.Context(None, where), f"a number for `{key}`")
        if v.free_symbols:
            raise err.not_constant(f"`{key}`", e.span,
                                   found=f"an expression of {sy.names_text(v.free_symbols)}")
        x = float(v)
        if kind == "int":
            if high is not None and x.is_integer() and x > high:
                raise err.not_whole(f"`{key}`", e.span, rest=f" <= {high}",
                                    expected=f"a whole number from {low} to {high}",
                                    found=_value_text(x))
            if not x.is_integer() or x < low:
                raise err.not_whole(f"`{key}`", e.span, rest=f" >= {low}",
                                    expected=f"a whole number >= {low}", found=_value_text(x))
            return int(x)
        if kind == "prob" and not 0 < x < 1 and not (rule.closed_upper and x == 1):
            raise err.out_of_bounds(f"`{key}` must lie between 0 and 1", e.span,
                                    expected=f"0 < {key} < 1", found=_value_text(x))
        if kind == "pos" and not x > 0:
            raise err.must_be_positive(f"`{key}`", e.span, found=_value_text(x))
        if kind == "frac" and not 0 <= x < 1:
            raise err.out_of_bounds(f"`{key}` must lie in [0, 1)", e.span,
                                    expected=f"0 <= {key} < 1", found=_value_text(x))
        return x


    def _width(self, e: ast.Expr, key: str, where):
        """A ``width`` setting: a fraction of the sweep's span (``0.005``) or an absolute
        width in the sweep's units (``absolute(0.01)``: ``{"absolute": 0.01}``)."""
        if isinstance(e, ast.Call) and e.func.id == ABSOLUTE:
            if len(e.args) != 1 or e.kwargs:
                raise err.invalid(f"write `{key} = {ABSOLUTE}(WIDTH)`", e.span,
                                  expected=f"`{ABSOLUTE}(WIDTH)` with one number",
                                  found=f"{len(e.args) + len(e.kwargs)} arguments")
            return {ABSOLUTE: self._value(e.args[0], key, Setting(None, "pos", ""), where)}
        x = self._value(e, key, Setting(None, "real", ""), where)
        if not 0 <= x < 1:
            raise err.out_of_bounds(
                f"`{key}` is a fraction of the sweep's span, in [0, 1)", e.span,
                expected=f"0 <= {key} < 1, or `{ABSOLUTE}(WIDTH)` for a width in the sweep's "
                         "own units", found=_value_text(x))
        return x


def _choice(e: ast.Expr, key: str, rule: Setting):
    """A bare name (``chain_method = flat``) or a string; ``auto`` is None (run-time rule)."""
    names = rule.choices + (("auto",) if rule.auto else ())
    word = e.id if isinstance(e, ast.Name) else e.value if isinstance(e, ast.String) else None
    if word not in names:
        found = f"`{word}`" if word is not None else "an expression"
        raise err.out_of_bounds(f"`{key}` must be one of {', '.join(names)}", e.span,
                                expected=" | ".join(names)
                                + (did_you_mean(word, names) if word else ""), found=found)
    return None if word == "auto" else word
