"""``sample`` and ``report`` settings: keys, defaults, ranges; and ``--set`` overrides."""

from __future__ import annotations

import dataclasses

import sympy as sp

from . import ast
from . import symbolic as sy
from .errors import Diagnostic, UsageError, did_you_mean, error

# key -> (default, kind, lower); kind "int" (>= lower), "prob" (0, 1), "frac" [0, 1), "pos" > 0
ENGINES = {
    "nuts": {"chains": (4, "int", 1), "draws": (2000, "int", 1), "warmup": (1000, "int", 0),
             "target_accept": (0.8, "prob", None), "max_depth": (10, "int", 1),
             "seed": (0, "int", 0)},
    "smc": {"particles": (2000, "int", 2), "runs": (4, "int", 1), "mutations": (10, "int", 1),
            "integration_steps": (10, "int", 1), "target_ess": (0.5, "prob", None),
            "generations": (8, "int", 1), "prior_draws": (32, "int", 1),
            "step_min": (0.1, "pos", None), "step_max": (2.0, "pos", None),
            "seed": (0, "int", 0)},
    "quadrature": {"points": (None, "int", 3)},
}
REPORT = {"floor": (0.005, "frac", None), "merge": (0.9, "prob", None)}


def _value_text(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


class SettingsChecker:
    """Check the ``sample`` and ``report`` blocks of a spec."""

    def __init__(self, sample: ast.Sample | None, report: ast.Report | None, kind: str,
                 slots, prior, warnings: list):
        self.sample_st, self.report_st = sample, report
        self.kind, self.slots, self.prior, self.warnings = kind, slots, prior, warnings

    def run(self):
        engine = "nuts"
        items: tuple = ()
        if self.sample_st is not None:
            engine = self.sample_st.engine.id
            items = self.sample_st.items
            if engine not in ENGINES:
                raise error(f"unknown sampler `{engine}`", self.sample_st.engine.span,
                            expected=" | ".join(ENGINES) + did_you_mean(engine, ENGINES),
                            found=f"`{engine}`")
        sample = self._block(items, ENGINES[engine], f"`sample {engine}`")
        if engine == "smc" and sample["step_min"] > sample["step_max"]:
            raise error("`step_min` must not exceed `step_max`", self._item_span("step_min"),
                        expected=f"step_min <= step_max = {_value_text(sample['step_max'])}",
                        found=f"step_min = {_value_text(sample['step_min'])}")
        if engine == "quadrature":
            self._quadrature_ok()
        report = self._block(self.report_st.items if self.report_st else (), REPORT, "`report`")
        return engine, sample, report

    def _item_span(self, key: str):
        """The span of ``key = ...`` in the sample block (or of the block, if not written)."""
        for item in self.sample_st.items if self.sample_st else ():
            if isinstance(item.target, ast.Name) and item.target.id == key:
                return item.span
        return self.sample_st.span if self.sample_st else None

    def _quadrature_ok(self):
        span = self.sample_st.span if self.sample_st else None
        if self.kind != "energy":
            raise error("`quadrature` integrates energy models only", span,
                        expected="`sample nuts { ... }` for a network", found="`sample quadrature`")
        dim = sum(s.size for s in self.slots)
        if dim > 2:
            raise error("`quadrature` needs 1 or 2 parameters", span,
                        expected="at most 2 numbers in all `param`s", found=f"{dim} numbers",
                        notes=("use `sample nuts { ... }` for more parameters",))
        unbounded = [s.name for s in self.slots if s.lower == float("-inf")]
        if unbounded:
            raise error("`quadrature` needs a box on every parameter", span,
                        expected=f"`param {unbounded[0]} in [a, b]`",
                        found=f"`{unbounded[0]}` without a box")

    def _block(self, items, table: dict, where: str) -> dict:
        out = {k: v[0] for k, v in table.items()}
        seen = {}
        for item in items:
            if not isinstance(item.target, ast.Name) or item.op != "=":
                raise error(f"write `KEY = VALUE` in {where}", item.span,
                            expected="`KEY = VALUE`", found="something else")
            key = item.target.id
            if key not in table:
                raise error(f"unknown key `{key}` in {where}", item.target.span,
                            expected=", ".join(table) + did_you_mean(key, table),
                            found=f"`{key}`")
            if key in seen:
                raise error(f"`{key}` is given twice in {where}", item.span, expected="once",
                            found="twice", notes=(f"first at line {seen[key]}",))
            seen[key] = item.span.line
            out[key] = self._value(item.expr, key, table[key], where)
        return out

    def _value(self, e: ast.Expr, key: str, rule, where):
        _, kind, low = rule
        scope = sy.Scope({"pi": lambda: sp.pi, "e": lambda: sp.E})
        v = sy.scalar(e, scope, sy.Context(None, where), f"a number for `{key}`")
        if v.free_symbols:
            raise error(f"`{key}` must be a constant", e.span, expected="a constant",
                        found=f"an expression of {sy.names_text(v.free_symbols)}")
        x = float(v)
        if kind == "int":
            if not x.is_integer() or x < low:
                raise error(f"`{key}` must be a whole number >= {low}", e.span,
                            expected=f"a whole number >= {low}", found=_value_text(x))
            return int(x)
        if kind == "prob" and not 0 < x < 1 and not (key == "merge" and x == 1):
            raise error(f"`{key}` must lie between 0 and 1", e.span, expected=f"0 < {key} < 1",
                        found=_value_text(x))
        if kind == "pos" and not x > 0:
            raise error(f"`{key}` must be positive", e.span, expected=f"{key} > 0",
                        found=_value_text(x))
        if kind == "frac" and not 0 <= x < 1:
            raise error(f"`{key}` must lie in [0, 1)", e.span, expected=f"0 <= {key} < 1",
                        found=_value_text(x))
        return x


def _override_span(index: int) -> ast.Span:
    """Where the value of the ``index``-th ``--set`` sits: not in the file (line < 0)."""
    return ast.Span(-(index + 1), 0, -(index + 1), 0)


def _respan(node, span: ast.Span):
    """``node`` with every span replaced (the value's own spans point into the --set text)."""
    if isinstance(node, tuple):
        return tuple(_respan(x, span) for x in node)
    if isinstance(node, ast.Expr):
        changes = {f.name: _respan(getattr(node, f.name), span)
                   for f in dataclasses.fields(node) if f.name != "span"}
        return dataclasses.replace(node, span=span, **changes)
    return node


def _parse_value(key: str, text: str, span: ast.Span) -> ast.Expr:
    from .errors import SpecError
    from .syntax import parse

    try:
        spec = parse(f"let __value = {text}\n", f"--set {key}")
    except SpecError:
        raise UsageError(f"--set {key}={text}: the value is not an expression") from None
    (stmt,) = spec.statements
    return _respan(stmt.expr, span)


def override_error(exc, overrides: dict[str, str]):
    """A ``SpecError`` raised by a ``--set`` value, as the ``UsageError`` it is; else None."""
    d = exc.diagnostic
    if d.span is None or d.span.line >= 0:
        return None
    keys = list(overrides)
    key = keys[-d.span.line - 1] if -d.span.line - 1 < len(keys) else "?"
    text = f"--set {key}={overrides.get(key, '')}: {d.message}"
    if d.expected:
        text += f" (expected {d.expected}; found {d.found})"
    return UsageError(text)


def apply_overrides(spec: ast.Spec, overrides: dict[str, str],
                    warnings: list | None = None) -> ast.Spec:
    """A new spec with ``--set`` values in place: ``engine``, sample and report keys, lets.

    Keys may be bare (``draws``) or qualified (``sample.draws``, ``report.floor``,
    ``let.eps``). A bare key is looked up in the sample block, then report, then lets.
    A setting of another engine than the one in use (``draws`` with ``engine=quadrature``)
    is ignored, with a warning appended to ``warnings``.
    """
    if not overrides:
        return spec
    stmts = list(spec.statements)
    sample_i = next((i for i, s in enumerate(stmts) if isinstance(s, ast.Sample)), None)
    report_i = next((i for i, s in enumerate(stmts) if isinstance(s, ast.Report)), None)
    lets = {s.name.id: i for i, s in enumerate(stmts) if isinstance(s, ast.Let)}
    engine_now = stmts[sample_i].engine.id if sample_i is not None else "nuts"
    engine = overrides.get("engine", engine_now)
    if engine not in ENGINES:
        raise UsageError(f"unknown engine `{engine}` (expected {' | '.join(ENGINES)})")
    sample_items = list(stmts[sample_i].items) if sample_i is not None else []
    if engine != engine_now:  # settings of the spec's own engine no longer apply
        sample_items = [it for it in sample_items
                        if isinstance(it.target, ast.Name) and it.target.id in ENGINES[engine]]
    report_items = list(stmts[report_i].items) if report_i is not None else []
    sample_span = stmts[sample_i].span if sample_i is not None else ast.NOWHERE
    for index, (raw_key, text) in enumerate(overrides.items()):
        if raw_key == "engine":
            if engine != engine_now:  # errors about the engine are errors of this --set
                sample_span = _override_span(index)
            continue
        section, _, key = raw_key.rpartition(".")
        if section not in ("", "sample", "report", "let"):
            raise UsageError(f"--set {raw_key}: unknown section `{section}` "
                             "(expected sample, report or let)")
        span = _override_span(index)
        expr = _parse_value(raw_key, text, span)
        item = ast.Item(span, ast.Name(span, key), "=", expr)
        if section in ("", "sample") and key in ENGINES[engine]:
            sample_items = [it for it in sample_items if getattr(it.target, "id", None) != key]
            sample_items.append(item)
        elif section in ("", "report") and key in REPORT:
            report_items = [it for it in report_items if getattr(it.target, "id", None) != key]
            report_items.append(item)
        elif section in ("", "let") and key in lets:
            old = stmts[lets[key]]
            stmts[lets[key]] = dataclasses.replace(old, expr=expr)
        elif section in ("", "sample") and any(key in table for table in ENGINES.values()):
            if warnings is not None:
                owners = [name for name, table in ENGINES.items() if key in table]
                warnings.append(Diagnostic(
                    f"--set {raw_key}: `{engine}` has no setting `{key}`; ignored", None,
                    severity="warning",
                    notes=(f"`{key}` is a setting of {' and '.join(f'`{o}`' for o in owners)}",)))
        else:
            known = sorted(set(ENGINES[engine]) | set(REPORT) | set(lets))
            raise UsageError(f"--set {raw_key}: no such setting or let{did_you_mean(key, known)}"
                             f" (settings of `{engine}`: {', '.join(ENGINES[engine])}; "
                             f"report: {', '.join(REPORT)}; lets: {', '.join(lets) or 'none'})")
    engine_span = (stmts[sample_i].engine.span if sample_i is not None and engine == engine_now
                   else sample_span)
    new_sample = ast.Sample(sample_span, ast.Name(engine_span, engine), tuple(sample_items))
    if sample_i is not None:
        stmts[sample_i] = new_sample
    else:
        stmts.append(new_sample)
    if report_i is not None:
        stmts[report_i] = ast.Report(stmts[report_i].span, tuple(report_items))
    elif report_items:
        stmts.append(ast.Report(ast.NOWHERE, tuple(report_items)))
    return ast.Spec(tuple(stmts), spec.source, spec.filename)


QUICK = {"nuts": {"draws": 200, "warmup": 300}, "smc": {"particles": 400, "runs": 2},
         "quadrature": {}}


def quick_overrides(engine: str) -> dict[str, str]:
    """``--quick``'s settings of ``engine``, as ``--set`` texts."""
    return {k: str(v) for k, v in QUICK.get(engine, {}).items()}
