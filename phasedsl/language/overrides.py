"""``--set KEY=VALUE`` overrides: a new spec with the values in place, and the errors of
those values as the usage errors they are."""

from __future__ import annotations

import dataclasses

from . import ast
from .errors import Diagnostic, SpecError, UsageError, did_you_mean
from .settings import ENGINES, REPORT, engine_of, listed
from .syntax import parse

ORIGIN = "--set "  # the origin of a span in the value of `--set KEY`: "--set KEY"


def _override_span(raw_key: str) -> ast.Span:
    """Where the value of ``--set RAW_KEY=...`` sits: not in the file (line 0), but in that
    ``--set``, which the span's origin names."""
    return ast.Span(0, 0, 0, 0, origin=f"{ORIGIN}{raw_key}")


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
    """The expression of one ``--set`` value: one expression on one line, nothing else
    (``eps=1; let y = 2`` would be a second statement)."""
    bad = next((ch for ch in text if ch in "\n\r;#" or not (ch.isprintable() or ch == "\t")),
               None)
    if bad is not None:
        raise UsageError(f"--set {key}={text!r}: the value is not one expression "
                         f"(it holds {bad!r})")
    try:
        spec = parse(f"let __value = {text}\n", f"--set {key}")
    except SpecError:
        raise UsageError(f"--set {key}={text}: the value is not an expression") from None
    if len(spec.statements) != 1 or not isinstance(spec.statements[0], ast.Let):
        raise UsageError(f"--set {key}={text}: the value is not one expression")
    return _respan(spec.statements[0].expr, span)


def override_error(exc, overrides: dict[str, str]):
    """A ``SpecError`` raised by a ``--set`` value, as the ``UsageError`` it is; else None."""
    d = exc.diagnostic
    if d.span is None or not d.span.origin.startswith(ORIGIN):
        return None
    key = d.span.origin.removeprefix(ORIGIN)
    text = f"--set {key}={overrides.get(key, '')}: {d.message}"
    if d.expected:
        text += f" (expected {d.expected}; found {d.found})"
    return UsageError(text)


SHARED = ("seed",)  # sample keys that mean the same for every engine


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
    engine_now = engine_of(stmts)
    engine = overrides.get("engine", engine_now)
    if engine not in ENGINES:
        raise UsageError(f"unknown engine `{engine}` (expected {' | '.join(ENGINES)})")
    sample_items = list(stmts[sample_i].items) if sample_i is not None else []
    if engine != engine_now:
        # settings of the spec's own engine no longer apply: a key two engines share may
        # mean different things (`target_accept` steers NUTS's step size and SMC's HMC
        # moves), so only the seed carries over
        sample_items = [it for it in sample_items
                        if isinstance(it.target, ast.Name) and it.target.id in SHARED
                        and it.target.id in ENGINES[engine]]
    report_items = list(stmts[report_i].items) if report_i is not None else []
    sample_span = stmts[sample_i].span if sample_i is not None else ast.NOWHERE
    for raw_key, text in overrides.items():
        if raw_key == "engine":
            if engine != engine_now:  # errors about the engine are errors of this --set
                sample_span = _override_span(raw_key)
            continue
        section, _, key = raw_key.rpartition(".")
        if section not in ("", "sample", "report", "let"):
            raise UsageError(f"--set {raw_key}: unknown section `{section}` "
                             "(expected sample, report or let)")
        span = _override_span(raw_key)
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
                             f" (settings of `{engine}`: {', '.join(listed(engine))}; "
                             f"report: {', '.join(listed('report'))}; "
                             f"lets: {', '.join(lets) or 'none'})")
    named = sample_i is not None and stmts[sample_i].engine is not None
    engine_span = (stmts[sample_i].engine.span if named and engine == engine_now
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
