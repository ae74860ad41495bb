"""What ``phasedsl check`` prints: a short summary of a checked spec (no JAX needed).

Numbers are evaluated with sympy, so ``check`` stays fast.
"""

from __future__ import annotations

import sympy as sp
from rich.console import Group
from sympy.printing.str import StrPrinter
from rich.table import Table
from rich.text import Text

from ..language.check import CheckedSpec


def _num(expr, symbol, value) -> float:
    """``expr`` at ``symbol = value``, or at the substitution ``symbol`` (a dict)."""
    sub = symbol if isinstance(symbol, dict) else {symbol: value}
    return float(sp.sympify(expr).subs(sub))


def _fmt(x: float) -> str:
    """``0.5403``; rounding noise such as cos(pi/2) = 6.1e-17 shown as ``0``."""
    return "0" if abs(x) < 1e-12 else f"{x:.4g}"


class _LanguagePrinter(StrPrinter):
    """sympy -> the ``.phase`` language's own syntax: ``^`` for powers, ``abs``, ``relu``
    (the language has no min/max: ``Max(0, x)`` is ``relu(x)``, ``Min(a, b)`` is
    ``a - relu(a - b)``), numbers to 6 significant digits."""

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.as_base_exp()
        if exp == sp.Rational(1, 2):
            return f"sqrt({self._print(base)})"
        if exp == -1:
            return f"1/{self.parenthesize(base, sp.printing.precedence.PRECEDENCE['Pow'])}"
        prec = sp.printing.precedence.PRECEDENCE["Pow"]
        return f"{self.parenthesize(base, prec, strict=True)}^{self.parenthesize(exp, prec)}"

    def _print_Float(self, expr):
        x = float(expr)
        return "0" if abs(x) < 1e-12 else f"{x:.6g}"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _pair(self, expr, fold):
        args = list(expr.args)
        numbers = [a for a in args if a.is_number]
        args = numbers + [a for a in args if not a.is_number]  # constants first
        out = args[0]
        text = self._print(out)
        for b in args[1:]:
            text = fold(text, out, b)
            out = None
        return text

    def _print_Max(self, expr):
        def fold(text, a, b):
            if a is not None and a == 0:
                return f"relu({self._print(b)})"
            return f"{text} + relu({self._print(b)} - ({text}))"
        return self._pair(expr, fold)

    def _print_Min(self, expr):
        def fold(text, a, b):
            if a is not None and a == 0:
                return f"-relu({self._print(-b)})"
            return f"{text} - relu({text} - ({self._print(b)}))"
        return self._pair(expr, fold)


LONG = 500  # nodes past which an expression is printed unsorted and cut (``language_text``)
SHOWN = 400  # characters of such an expression shown


def language_text(expr) -> str:
    """An expression in the language's syntax (``(w + 1)^2*relu(w)``), not sympy's. A long
    one (past ``LONG`` nodes) is printed in the order of its terms, not sympy's canonical
    order (quadratic: minutes for a sum of 10,000 squares), and cut to ``SHOWN``
    characters."""
    from ..language.symbolic import tree_size

    expr = sp.sympify(expr)
    expr = expr.xreplace({f: sp.Integer(0) for f in expr.atoms(sp.Float) if abs(float(f)) < 1e-12})
    if tree_size(expr, LONG) <= LONG:
        return _LanguagePrinter().doprint(expr)
    text = _LanguagePrinter({"order": "none"}).doprint(expr)
    return text if len(text) <= SHOWN else text[:SHOWN] + f" ... ({len(text):,} characters)"


def sweep_text(values, limit: int = 8) -> str:
    """``1, 1.02, ..., 1.571 (22 values)``."""
    shown = [_fmt(v) for v in values]
    if len(shown) > limit:
        shown = shown[:4] + ["..."] + shown[-2:]
    return f"{', '.join(shown)} ({len(values)} value{'s' if len(values) != 1 else ''})"


def layout_text(checked: CheckedSpec) -> str:
    """``w[2,2] b[2] q[2] c`` = the flat parameter vector's blocks."""
    parts = []
    for s in checked.slots:
        shape = ",".join(str(x) for x in s.shape)
        box = f" in [{_fmt(s.lower)}, {_fmt(s.upper)}]" if s.lower > float("-inf") else ""
        parts.append(f"{s.name}[{shape}]{box}" if shape else f"{s.name}{box}")
    return " ".join(parts)


def truth_text(checked: CheckedSpec, value: float) -> str:
    """The truth's effective weights ``q_i w_i``, biases and ``c`` at a sweep value (or a
    grid's cell)."""
    net, sym = checked.network, checked.substitution(value)
    value = None
    nodes = []
    for w, b, q in zip(net.truth_w, net.truth_b, net.truth_q):
        qv = _num(q, sym, value)
        wv = [_num(x, sym, value) for x in w]
        nodes.append(f"q={_fmt(qv)} w=({', '.join(_fmt(x) for x in wv)}) b={_fmt(_num(b, sym, value))}")
    return "; ".join(nodes) + f"; c={_fmt(_num(net.truth_c, sym, value))}"


def data_text(checked: CheckedSpec) -> str:
    """A network's data in words: the file (rows, inputs, sha256) or the truth's draw."""
    net = checked.network
    n = f"n = {language_text(checked.n)}"
    if net.data is not None:
        d = net.data
        return (f"{n}, the first rows of {d.path} ({d.rows:,} rows, {d.inputs} inputs, "
                f"{d.format}, sha256 {d.sha256[:12]}), noise = {language_text(net.noise)}")
    kind, a, b = net.x_dist
    seeds = (f"seeds {net.seed} to {net.seed + net.seeds - 1} ({net.seeds} data sets)"
             if net.seeds > 1 else f"seed {net.seed}")
    return (f"{n}, x ~ {kind}({_fmt(a)}, {_fmt(b)})^{net.inputs}, "
            f"noise = {language_text(net.noise)}, {seeds}")


def tensor_data_text(checked: CheckedSpec) -> str:
    """A tensor spec's data in words: the file, or the truth's draw (inputs, noise or
    labels, seeds)."""
    tm = checked.tensor
    n = f"n = {language_text(checked.n)}"
    noise = (f"noise = {language_text(tm.noise)}" if tm.likelihood == "gaussian"
             else f"{tm.likelihood} labels")
    if tm.data is not None:
        d = tm.data
        return (f"{n}, the first rows of {d.path} ({d.rows:,} rows, {d.inputs} inputs, "
                f"{d.outputs} output{'s' if d.outputs != 1 else ''}, {d.format}, sha256 "
                f"{d.sha256[:12]}), {noise}")
    kind, a, b = tm.x_dist
    seeds = (f"seeds {tm.seed} to {tm.seed + tm.seeds - 1} ({tm.seeds} data sets)"
             if tm.seeds > 1 else f"seed {tm.seed}")
    x = (f"sparse(c = {tm.inputs}, {a} = {_fmt(b)})" if kind == "sparse"
         else f"{kind}({_fmt(a)}, {_fmt(b)})^{tm.inputs}")
    return f"{n}, x ~ {x}, {noise}, {seeds}"


def _at(checked: CheckedSpec, value) -> str:
    """``theta=0.5`` (``theta=0.5, n=10`` for a grid's cell)."""
    if isinstance(value, tuple):
        return f"{checked.sweep_name}={_fmt(value[0])}, {checked.grid.name}={_fmt(value[1])}"
    return f"{checked.sweep_name or '(none)'}={_fmt(value)}"


def _prior_text(prior: tuple) -> str:
    return "uniform on the box" if prior[0] == "uniform" else f"normal({_fmt(prior[1])}, {_fmt(prior[2])}) on every parameter"


class _Rows:
    """A two-column grid whose cells are plain text (never rich markup: `u[i]` stays)."""

    def __init__(self):
        self.table = Table.grid(padding=(0, 2))
        self.table.add_column(style="bold")
        self.table.add_column()

    def add_row(self, key: str, value: str):
        self.table.add_row(Text(key), Text(value))


def summary(checked: CheckedSpec) -> Group:
    """A rich renderable of the checked spec."""
    t = _Rows()
    t.add_row("experiment", checked.experiment)
    if checked.kind == "network":
        net = checked.network
        t.add_row("model", f"network: width {net.width}, {net.inputs} inputs, {net.activation}"
                           + (f"; truth width {net.truth_width}" if net.data is None else ""))
        t.add_row("data", data_text(checked))
    elif checked.kind == "tensor":
        tm = checked.tensor
        t.add_row("model", tm.text.replace("\n", "; "))
        t.add_row("data", tensor_data_text(checked))
    else:
        t.add_row("model", f"energy K = {language_text(checked.energy)}")
        t.add_row("n", language_text(checked.n))
    t.add_row("parameters", f"{checked.dim}: {layout_text(checked)}")
    t.add_row("prior", _prior_text(checked.prior))
    t.add_row("beta", language_text(checked.beta))
    name = checked.sweep_name or "(none)"
    t.add_row("sweep", f"{name} over {sweep_text(checked.sweep_values)}")
    if checked.grid is not None:
        cells = len(checked.sweep_values) * len(checked.grid.values)
        t.add_row("sweep (rows)", f"{checked.grid.name} over {sweep_text(checked.grid.values)}"
                                  f": a grid of {cells} cells")
    if checked.kind == "network" and checked.network.data is None:
        points = checked.sweep_points()
        first, last = points[0], points[-1]
        t.add_row(f"truth at {_at(checked, first)}", truth_text(checked, first))
        if last != first:
            t.add_row(f"truth at {_at(checked, last)}", truth_text(checked, last))
    for phase, pred in checked.phases:
        t.add_row(f"phase {phase}", _phase_source(checked, phase))
    settings = ", ".join(f"{k} = {v}" for k, v in checked.sample.items() if v is not None)
    t.add_row("sampler", f"{checked.engine}" + (f" ({settings})" if settings else ""))
    t.add_row("report", ", ".join(f"{k} = {v}" for k, v in checked.report.items()))
    return Group(Text("ok", style="bold green"), t.table)


def _phase_source(checked: CheckedSpec, phase: str) -> str:
    """The phase's definition as the user wrote it."""
    from ..language import ast

    lines = checked.spec.source.splitlines()
    for st in checked.spec.statements:
        if isinstance(st, ast.Phase) and st.name.id == phase:
            p = st.pred.span
            if 0 < p.line <= p.end_line <= len(lines):
                if p.line == p.end_line:
                    return lines[p.line - 1][p.column - 1: p.end_column - 1]
                # a condition over several lines: its text, its line breaks as spaces
                text = [lines[p.line - 1][p.column - 1:], *lines[p.line: p.end_line - 1],
                        lines[p.end_line - 1][: p.end_column - 1]]
                return " ".join(part.strip() for part in text)
    return phase
