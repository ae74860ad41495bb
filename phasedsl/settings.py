"""``sample`` and ``report`` settings: keys, defaults, ranges; and ``--set`` overrides."""

from __future__ import annotations

import dataclasses

import sympy as sp

from . import ast
from . import symbolic as sy
from .errors import UsageError, did_you_mean, error

# key -> (default, kind, lower, upper, inclusive lower); kind "int" or "float"
ENGINES = {
    "nuts": {"chains": (4, "int", 1), "draws": (2000, "int", 1), "warmup": (1000, "int", 0),
             "target_accept": (0.8, "prob", None), "max_depth": (10, "int", 1),
             "seed": (0, "int", 0)},
    "smc": {"particles": (2000, "int", 2), "runs": (4, "int", 1), "mutations": (10, "int", 1),
            "integration_steps": (10, "int", 1), "target_ess": (0.5, "prob", None),
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
        if engine == "quadrature":
            self._quadrature_ok()
        report = self._block(self.report_st.items if self.report_st else (), REPORT, "`report`")
        return engine, sample, report

    def _quadrature_ok(self):
        span = self.sample_st.span if self.sample_st else None
        if self.kind != "energy":
            raise error("`quadrature` integrates energy models only", span,
                        expected="`sample nuts { ... }` for a network", found="`sample quadrature`")
        dim = sum(s.size for s in self.slots)
        if dim > 2:
            raise error("`quadrature` needs 1 or 2 parameters", span,
                        expected="at most 2 numbers in all `param`s", found=f"{dim}")
        if any(s.lower == float("-inf") for s in self.slots):
            raise error("`quadrature` needs a box on every parameter", span,
                        expected="`param NAME in [a, b]`", found="an unbounded parameter")

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
                        found=f"an expression of {', '.join(sorted(map(str, v.free_symbols)))}")
        x = float(v)
        if kind == "int":
            if not x.is_integer() or x < low:
                raise error(f"`{key}` must be a whole number >= {low}", e.span,
                            expected=f"{key} >= {low}", found=_value_text(x))
            return int(x)
        if kind == "prob" and not 0 < x < 1 and not (key == "merge" and x == 1):
            raise error(f"`{key}` must lie between 0 and 1", e.span, expected=f"0 < {key} < 1",
                        found=_value_text(x))
        if kind == "frac" and not 0 <= x < 1:
            raise error(f"`{key}` must lie in [0, 1)", e.span, expected=f"0 <= {key} < 1",
                        found=_value_text(x))
        return x


def _parse_value(key: str, text: str) -> ast.Expr:
    from .errors import SpecError
    from .syntax import parse

    try:
        spec = parse(f"let __value = {text}\n", f"--set {key}")
    except SpecError:
        raise UsageError(f"--set {key}={text}: the value is not an expression") from None
    (stmt,) = spec.statements
    return stmt.expr


def apply_overrides(spec: ast.Spec, overrides: dict[str, str]) -> ast.Spec:
    """A new spec with ``--set`` values in place: ``engine``, sample and report keys, lets.

    Keys may be bare (``draws``) or qualified (``sample.draws``, ``report.floor``,
    ``let.eps``). A bare key is looked up in the sample block, then report, then lets.
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
    for raw_key, text in overrides.items():
        if raw_key == "engine":
            continue
        section, _, key = raw_key.rpartition(".")
        if section not in ("", "sample", "report", "let"):
            raise UsageError(f"--set {raw_key}: unknown section `{section}` "
                             "(expected sample, report or let)")
        expr = _parse_value(raw_key, text)
        item = ast.Item(ast.NOWHERE, ast.Name(ast.NOWHERE, key), "=", expr)
        if section in ("", "sample") and key in ENGINES[engine]:
            sample_items = [it for it in sample_items if getattr(it.target, "id", None) != key]
            sample_items.append(item)
        elif section in ("", "report") and key in REPORT:
            report_items = [it for it in report_items if getattr(it.target, "id", None) != key]
            report_items.append(item)
        elif section in ("", "let") and key in lets:
            old = stmts[lets[key]]
            stmts[lets[key]] = dataclasses.replace(old, expr=expr)
        else:
            known = sorted(set(ENGINES[engine]) | set(REPORT) | set(lets))
            raise UsageError(f"--set {raw_key}: no such setting or let{did_you_mean(key, known)}"
                             f" (settings of `{engine}`: {', '.join(ENGINES[engine])}; "
                             f"report: {', '.join(REPORT)}; lets: {', '.join(lets) or 'none'})")
    new_sample = ast.Sample(stmts[sample_i].span if sample_i is not None else ast.NOWHERE,
                            ast.Name(stmts[sample_i].engine.span if sample_i is not None else ast.NOWHERE, engine),
                            tuple(sample_items))
    if sample_i is not None:
        stmts[sample_i] = new_sample
    else:
        stmts.append(new_sample)
    if report_i is not None:
        stmts[report_i] = ast.Report(stmts[report_i].span, tuple(report_items))
    elif report_items:
        stmts.append(ast.Report(ast.NOWHERE, tuple(report_items)))
    return ast.Spec(tuple(stmts), spec.source, spec.filename)
