"""``ast.Spec`` -> ``CheckedSpec``: names, kinds, dimensions, settings; warnings as values.

The AST is never changed. Every expression is evaluated once to a typed symbolic value
(``symbolic.py``), which is what the compiler lowers to JAX.
"""

from __future__ import annotations

import contextlib
import dataclasses

import sympy as sp

from . import ast
from . import symbolic as sy
from .checked import Axis, CheckedSpec, Network, NetworkLayout, Slot  # noqa: F401 - re-exported
from . import catalogue as err
from .errors import Diagnostic, PhaseDSLError, SpecError, UsageError, did_you_mean
from .limits import (MAX_LETS, MAX_PHASES, MAX_TREE, Work, check_parameter_count,
                     check_statement_counts, check_vector_length)
from .network_check import check_network
from .overrides import apply_overrides, override_error
from .settings import SettingsChecker, default_engine
from .sweep_check import MAX_SWEEP, constant, sweep_values
from .tensor_check import TENSOR_NAMES, check_tensor

BUILTINS = ("pi", "e")
NETWORK_NAMES = {"w": "a parameter of the network model", "b": "a parameter of the network model",
                 "q": "a parameter of the network model", "c": "a parameter of the network model",
                 "truth": "the truth network (`truth.w[1]`, ...)",
                 "n": "the sample size, set in `data`"}


def check(spec: ast.Spec, overrides: dict[str, str] | None = None) -> CheckedSpec:
    """Check a parsed spec. Raises ``SpecError`` attached to the spec's text and file name,
    or ``UsageError`` for a mistake that a ``--set`` value brought in: in the value itself,
    or where the spec uses it (``--set eps=0`` where `eps` must be positive)."""
    overrides = overrides or {}
    try:
        return _check(spec, overrides)
    except SpecError as exc:
        usage = override_error(exc, overrides) or _blame(spec, overrides, exc)
        if usage is not None:
            raise usage from None
        raise


def _check(spec: ast.Spec, overrides: dict[str, str]) -> CheckedSpec:
    Work.done = 0  # the checker's budget of vector work (limits.MAX_WORK), per check
    try:
        notes: list[Diagnostic] = []
        checker = _Checker(apply_overrides(spec, overrides, notes))
        checker.warnings.extend(notes)
        return checker.run()
    except SpecError as exc:
        if exc.source is None and not override_error(exc, overrides):
            raise exc.located(spec.source, spec.filename) from None
        raise


def _same(a: Diagnostic, b: Diagnostic) -> bool:
    return (a.message, a.span, a.found) == (b.message, b.span, b.found)


def _blame(spec: ast.Spec, overrides: dict[str, str], exc: SpecError):
    """The ``UsageError`` of an error located in the file that a ``--set`` value caused
    (the spec without that ``--set`` does not make it), or None: the spec's own error."""
    keys = [k for k in overrides if k != "engine"]
    for key in keys:
        rest = {k: v for k, v in overrides.items() if k != key}
        try:
            _check(spec, rest)
        except SpecError as other:
            if _same(other.diagnostic, exc.diagnostic):
                continue
        except PhaseDSLError:
            pass
        d = exc.diagnostic
        where = (f"{spec.filename}:{d.span.line}:{d.span.column}"
                 if d.span is not None and d.span.line > 0 else spec.filename)
        text = f"--set {key}={overrides[key]}: {d.message} (at {where}, where the value is used"
        if d.expected:
            text += f"; expected {d.expected}; found {d.found}"
        return UsageError(text + ")")
    return None


def _dup(first: ast.Stmt, second: ast.Stmt, what: str) -> SpecError:
    return err.given_twice(what, first.span, second.span)


class _Checker:
    def __init__(self, spec: ast.Spec):
        self.spec = spec
        self.warnings: list[Diagnostic] = []
        self.one: dict[type, ast.Stmt] = {}
        self.lets: dict[str, ast.Stmt] = {}
        self.phases: dict[str, ast.Phase] = {}
        self.params: dict[str, ast.Param] = {}
        self.assigns: dict[str, ast.Assign] = {}
        self._let_values: dict[str, object] = {}
        self._let_busy: list[str] = []
        self._let_depths: dict[str, int] = {}  # levels of nesting of each let's value
        self.layout: NetworkLayout | None = None
        self.sweep2: ast.Sweep | None = None  # a second `sweep`: the rows of a grid
        self.tensors: dict[str, ast.TensorModel] = {}  # `model y = ...`, `truth y = ...`

    # ------------------------------------------------------------ grouping
    def group(self):
        single = (ast.Experiment, ast.Sweep, ast.Prior, ast.Sample, ast.Report, ast.Data,
                  ast.Model, ast.Truth, ast.Energy)
        words = {ast.Experiment: "`experiment`", ast.Sweep: "`sweep`", ast.Prior: "`prior`",
                 ast.Sample: "`sample` block", ast.Report: "`report` block",
                 ast.Data: "`data` block", ast.Model: "`model`", ast.Truth: "`truth` block",
                 ast.Energy: "`energy`"}
        check_statement_counts(self.spec.statements, {
            ast.Phase: (MAX_PHASES, "phases"), ast.Let: (MAX_LETS, "lets"),
            ast.NodeLet: (MAX_LETS, "per-node lets")})
        for st in self.spec.statements:
            if isinstance(st, ast.Sweep) and ast.Sweep in self.one and self.sweep2 is None:
                self.sweep2 = self._second_sweep(self.one[ast.Sweep], st)
            elif isinstance(st, single):
                if type(st) in self.one:
                    raise _dup(self.one[type(st)], st, words[type(st)])
                self.one[type(st)] = st
            elif isinstance(st, (ast.Let, ast.NodeLet)):
                self._unique(self.lets, st.name, st, "let")
            elif isinstance(st, ast.Phase):
                self._unique(self.phases, st.name, st, "phase")
            elif isinstance(st, ast.Param):
                self._unique(self.params, st.name, st, "param")
            elif isinstance(st, ast.TensorModel):
                if st.role in self.tensors:
                    raise _dup(self.tensors[st.role], st, f"`{st.role} ... = ...`")
                self.tensors[st.role] = st
            elif isinstance(st, ast.Assign):
                if st.name.id != "beta":
                    raise err.unknown("setting", st.name.id, st.name.span,
                                      expected="`beta = ...`, or `let NAME = ...` for a constant"
                                      + did_you_mean(st.name.id, ["beta"]),
                                      found=f"`{st.name.id} = ...`")
                if "beta" in self.assigns:
                    raise _dup(self.assigns["beta"], st, "`beta`")
                self.assigns["beta"] = st

    @staticmethod
    def _second_sweep(first: ast.Sweep, second: ast.Sweep) -> ast.Sweep:
        """A second `sweep` makes a grid; it must sweep another variable (a third `sweep`
        is `given twice` like any other repeated statement)."""
        if second.name.id == first.name.id:
            raise err.defined_twice("sweep", second.name.id, second.name.span, first.span.line)
        return second

    def _unique(self, table, name: ast.Name, st, what):
        if name.id in table:
            raise err.defined_twice(what, name.id, name.span, table[name.id].span.line)
        table[name.id] = st

    # ------------------------------------------------------------ driver
    def run(self) -> CheckedSpec:
        self.group()
        net_st = [self.one.get(t) for t in (ast.Model, ast.Truth, ast.Data)]
        en_st = [self.one.get(ast.Energy)] + list(self.params.values())
        has_net, has_en = any(net_st), any(en_st)
        if self.tensors:  # `model y = ...`: a tensor spec (its own check says what clashes)
            has_net, has_en = True, False
        if has_net and has_en:
            first_en = next(s for s in en_st if s)
            raise err.invalid("a spec has either a network model or an energy, not both",
                        first_en.span, expected="network statements only (model, truth, data)",
                        found="`param`/`energy` in a network spec")
        if not has_net and not has_en:
            raise err.missing("this spec has no model", ast.Span(1, 1, 1, 1),
                        expected="`model network(...)` with `truth` and `data`, "
                                 "or `param` and `energy`", found="neither")
        self.kind = "tensor" if self.tensors else "network" if has_net else "energy"
        sweep: ast.Sweep | None = self.one.get(ast.Sweep)
        self.sweep_name = sweep.name.id if sweep is not None else None
        # without a sweep, a symbol no spec name can spell (names are [A-Za-z_][A-Za-z0-9_]*),
        # so that `param _sweep` is a parameter, not the hidden sweep variable
        self.sweep_symbol = sp.Symbol(self.sweep_name or "<no sweep>", real=True)
        self.sweep2_name = self.sweep2.name.id if self.sweep2 is not None else None
        self.sweep2_symbol = (sp.Symbol(self.sweep2_name, real=True)
                              if self.sweep2 is not None else None)
        # what values of the data, n, beta and the truth may depend on besides constants
        self.sweep_symbols = {self.sweep_symbol} | ({self.sweep2_symbol} if self.sweep2 else set())
        self.check_names()
        self.base = sy.constants()
        self.scope = self.base  # where lets are evaluated; networks narrow it, then widen it
        if self.sweep_name:
            self.base.bindings[self.sweep_name] = lambda: self.sweep_symbol
        if self.sweep2_name:
            self.base.bindings[self.sweep2_name] = lambda: self.sweep2_symbol
        for name, st in self.lets.items():
            if isinstance(st, ast.Let):
                self.base.bindings[name] = (lambda name=name: self.let_value(name))
        # sweep items may use lets that do not depend on the sweep variable; those lets are
        # evaluated again below, checked against the sweep's values
        self.ctx = sy.Context(None, "a `let`", sweep_symbol=self.sweep_symbol, sweep_values=())
        self.sweep(sweep)
        self._let_values.clear()
        self.ctx = sy.Context(None, "a `let`", sweep_symbol=self.sweep_symbol,
                              sweep_values=self.sweep_values, grid_symbol=self.sweep2_symbol,
                              grid_values=self.grid.values if self.grid else ())
        network = self.network() if self.kind == "network" else None
        energy = self.energy() if self.kind == "energy" else None
        tensor = self.tensor() if self.kind == "tensor" else None  # it types every let
        if tensor is None and "beta" in self.assigns:
            self.lets_before(self.assigns["beta"], self.let_value)
        beta = self.beta()
        phases = self.phase_values() if tensor is None else self.tensor_phases
        if tensor is None:
            self.lets_before(None, self.let_value)  # those after beta and the phases
        settings = SettingsChecker(self.one.get(ast.Sample), self.one.get(ast.Report),
                                   self.kind, self.slots, self.prior, self.warnings,
                                   default_engine(self.spec.statements))
        engine, sample, report = self._settings(settings)
        self.unused_sweep(network, energy, beta, phases)
        exp = self.one.get(ast.Experiment)
        title = exp.title.value if exp else self.spec.filename.rsplit("/", 1)[-1].removesuffix(".phase")
        return CheckedSpec(
            spec=self.spec, experiment=title, kind=self.kind, sweep_name=self.sweep_name,
            sweep_symbol=self.sweep_symbol, sweep_values=self.sweep_values, beta=beta,
            n=self.n, prior=self.prior, slots=self.slots, symbols=self.symbols,
            network=network, energy=energy, phases=phases, node_lets=self.node_let_values,
            lets={k: self.let_value(k) for k, st in self.lets.items()
                  if isinstance(st, ast.Let) and tensor is None},
            engine=engine, sample=sample, report=report, warnings=tuple(self.warnings),
            layout=self.layout, grid=self.grid, tensor=tensor)

    def _settings(self, settings):
        """``settings.run()``; a mistake of the default settings (no `sample` block, so
        no place of its own: the work of a point too large) is located at the model."""
        try:
            return settings.run()
        except SpecError as exc:
            if exc.diagnostic.span is not None:
                raise
            model = self.one.get(ast.Model) or self.one.get(ast.Energy)
            if model is None:
                raise
            notes = (*exc.diagnostic.notes, "with the default sampler settings; set smaller "
                     "ones in a `sample` block")
            raise SpecError(dataclasses.replace(exc.diagnostic, span=model.span,
                                                notes=notes)) from None

    # ------------------------------------------------------------ names
    def check_names(self):
        """One meaning per name: lets, params and the sweep variable may not share names,
        nor take the built-in constants or (for networks) the model's own names."""
        taken: dict[str, tuple[str, int]] = {b: ("a built-in constant", 0) for b in BUILTINS}
        if self.kind == "network":
            taken.update({k: (v, 0) for k, v in NETWORK_NAMES.items()})
        if self.kind == "tensor":
            taken.update({k: (v, 0) for k, v in TENSOR_NAMES.items()})
        if self.sweep_name is not None:
            st = self.one[ast.Sweep]
            if self.sweep_name in taken and not (self.sweep_name == "n" and self.kind != "energy"):
                self._clash(st.name, taken[self.sweep_name], "sweep")
            taken[self.sweep_name] = ("the sweep variable", st.span.line)
        if self.sweep2 is not None:
            name = self.sweep2_name
            if name in taken and not (name == "n" and self.kind != "energy"):
                self._clash(self.sweep2.name, taken[name], "sweep")
            taken[name] = ("the second sweep variable", self.sweep2.span.line)
        for name, st in self.params.items():
            if name in taken:
                self._clash(st.name, taken[name], "param")
            taken[name] = ("a parameter", st.span.line)
        for name, st in self.lets.items():
            if name in taken:
                self._clash(st.name, taken[name], "let")

    @staticmethod
    def _clash(name: ast.Name, taken: tuple[str, int], what: str):
        meaning, line = taken
        raise err.name_taken(name.id, meaning, name.span, what, line)

    # ------------------------------------------------------------ sweep
    def sweep(self, st: ast.Sweep | None):
        if st is None:
            self.sweep_values, self.grid = (0.0,), None
            self.warnings.append(Diagnostic(
                "no `sweep`: one posterior is sampled", None, severity="warning",
                notes=("add `sweep NAME over a, b, ...` to study a transition",)))
            return
        self.sweep_values = sweep_values(st, self.base)
        self.grid = None
        if self.sweep2 is not None:
            self.grid = Axis(self.sweep2_name, self.sweep2_symbol,
                             sweep_values(self.sweep2, self.base))
            cells = len(self.sweep_values) * len(self.grid.values)
            if cells > MAX_SWEEP:
                raise err.sweep_too_long(MAX_SWEEP, cells, self.sweep2.span, "cells of the grid")

    def _const(self, e, scope, ctx, what) -> float:
        return constant(e, scope, ctx, what)

    # ------------------------------------------------------------ lets
    def let_value(self, name: str):
        if name in self._let_values:
            sy.reserve(self._let_depths.get(name, 0))
            return self._let_values[name]
        st = self.lets[name]
        if name in self._let_busy:
            cycle = self._let_busy[self._let_busy.index(name):] + [name]
            raise err.invalid(f"`{name}` is defined in terms of itself", st.name.span,
                        expected="a definition that does not refer back to it",
                        found="the cycle " + " -> ".join(f"`{x}`" for x in cycle))
        self._let_busy.append(name)
        start, outer_peak = sy.Depth.now, sy.Depth.peak
        sy.Depth.peak = start
        try:
            value = sy.evaluate(st.expr, self.scope, dataclasses.replace(self.ctx, where="a `let`"))
        finally:
            self._let_depths[name] = sy.Depth.peak - start
            sy.Depth.peak = max(outer_peak, sy.Depth.peak)
        self._let_busy.remove(name)
        size = sy.tree_size(value, MAX_TREE)
        if size > MAX_TREE:
            raise err.too_large(f"the value of `{name}`", st.expr.span,
                                f"{MAX_TREE:,} terms written out", f"more than {MAX_TREE:,}",
                                notes=("each use of a let copies its value: a let used twice "
                                       "in each of a chain of lets doubles at every step",))
        sy.ensure_real(value, st.expr.span, f"`{name}`", self.ctx)
        if isinstance(value, (sy.Nodes, sy.Namespace, sy.NodeIndex)):
            raise err.wrong_kind(f"`let {name}` must be a number, a vector or a condition", st.expr.span,
                        expected=f"`let {name}[i] = ...` for a per-node quantity", found=sy.describe(value))
        self._let_values[name] = value
        return value

    def lets_before(self, st: ast.Stmt | None, check) -> None:
        """``check(name)`` every let written before the statement ``st`` (every let, where
        ``st`` is None), in source order: each let is checked, used or not, and its mistake
        is reported at its own expression, ahead of those of the statements after it."""
        for name, let in self.lets.items():
            if isinstance(let, ast.Let) and (st is None or (let.span.line, let.span.column)
                                             < (st.span.line, st.span.column)):
                check(name)

    # ------------------------------------------------------------ energy models
    def energy(self) -> sp.Expr:
        st: ast.Energy | None = self.one.get(ast.Energy)
        if st is None:
            raise err.missing("this spec has parameters but no energy",
                              next(iter(self.params.values())).span,
                        expected="`energy K = ...`", found="none")
        if not self.params:
            raise err.missing("an energy needs parameters", st.span,
                        expected="`param w in [a, b]` before it", found="no `param`")
        for name, ls in self.lets.items():
            if isinstance(ls, ast.NodeLet):
                raise err.misplaced("per-node quantities need a network", ls.span,
                            expected="`let NAME = ...`", found=f"`let {name}[...]`")
        slots, symbols, start = [], [], 0
        for name, p in self.params.items():
            if p.more or p.prior is not None:
                raise err.misplaced("matrix parameters and a parameter's own prior need a "
                                    "tensor model", p.span, expected="`param v[k]` and "
                                    "`prior ...`, or `model y = EXPR`",
                                    found=f"`param {name}[..., ...]`" if p.more else "`~ ...`")
            k = 1
            if p.size is not None:
                k = self._const(p.size, self.base, self.ctx, "a parameter's length")
                if not (k >= 1 and float(k).is_integer()):
                    raise err.not_whole("a parameter's length", p.size.span, rest=" of 1 or more",
                                        expected="`param v[2] ...`", found=f"{k:g}")
                check_vector_length(k, p.size.span)
                k = int(k)
            check_parameter_count(start + k, p.span)
            lo, hi = float("-inf"), float("inf")
            if p.box is not None:
                if len(p.box.items) != 2:
                    raise err.wrong_kind("a box is `[lower, upper]`", p.box.span,
                                expected="two numbers", found=f"{len(p.box.items)}")
                lo, hi = (self._const(x, self.base, self.ctx, "a bound") for x in p.box.items)
                if not hi > lo:
                    raise err.out_of_bounds("a box needs lower < upper", p.box.span,
                                expected="`[lower, upper]` with lower < upper",
                                found=f"[{lo:g}, {hi:g}]")
            shape = () if p.size is None else (k,)
            slots.append(Slot(name, shape, start, lo, hi))
            syms = ([sp.Symbol(name, real=True)] if p.size is None
                    else [sp.Symbol(f"{name}[{j}]", real=True) for j in range(1, k + 1)])
            symbols.extend(syms)
            value = syms[0] if p.size is None else sy.Vec(tuple(syms))
            self.base.bindings[name] = (lambda value=value: value)
            start += len(syms)
        self.slots, self.symbols = tuple(slots), tuple(symbols)
        self.scope = self.base
        self.node_let_values = {}
        self.n = self._energy_n(st)
        self.prior = self.prior_value()
        self.lets_before(st, self.let_value)
        value = sy.scalar(st.expr, self.scope, dataclasses.replace(self.ctx, where="the energy"),
                          "a number (the energy K(w))")
        return value

    def _energy_n(self, st) -> sp.Expr:
        for sweep, symbol in ((self.one.get(ast.Sweep), self.sweep_symbol),
                              (self.sweep2, self.sweep2_symbol)):
            if sweep is not None and sweep.name.id == "n":  # positive at every sweep value
                sy.ensure_positive(symbol, sweep.span, "n", self.ctx)
                return symbol
        if "n" not in self.lets:
            raise err.missing("an energy model needs the sample size `n`", st.span,
                        expected="`let n = ...` or `sweep n over ...`", found="no `n`")
        n = sy.scalar(self.lets["n"].expr, self.scope, self.ctx, "a number (the sample size)")
        extra = n.free_symbols - self.sweep_symbols
        if extra:
            raise err.depends_on_parameters("`n`", self.lets["n"].expr.span,
                                            found=sy.names_text(extra))
        sy.ensure_positive(n, self.lets["n"].expr.span, "n", self.ctx)
        return n

    # ------------------------------------------------------------ networks
    def network(self) -> Network:
        r = check_network(self)
        self.base, self.scope = r.base, r.scope
        self.layout, self.slots, self.symbols, self.n = r.layout, r.slots, r.symbols, r.n
        self.ctx = dataclasses.replace(self.ctx, width=r.layout.width)
        self.prior, self.node_let_values = r.prior, r.node_let_values
        return r.network

    def tensor(self):
        """A tensor spec (``model y = EXPR``): ``tensor_check``."""
        r = check_tensor(self)
        self.slots, self.symbols, self.n, self.prior = r.slots, r.symbols, r.n, r.prior
        self.scope, self.tensor_phases, self.node_let_values = r.scope, r.phases, {}
        return r.tensor

    @contextlib.contextmanager
    def lets_in(self, scope: sy.Scope):
        """Evaluate lets first used inside this block in ``scope`` (the network check widens
        what lets may use step by step: constants, then ``n``, then the model)."""
        outer, self.scope = self.scope, scope
        try:
            yield
        finally:
            self.scope = outer

    # ------------------------------------------------------------ prior, beta, phases
    def prior_value(self, base: sy.Scope | None = None, slots=None, ctx=None) -> tuple:
        """The prior; its numbers are constants of ``base`` (default: the checker's)."""
        base = self.base if base is None else base
        slots = self.slots if slots is None else slots
        ctx = self.ctx if ctx is None else ctx
        st: ast.Prior | None = self.one.get(ast.Prior)
        boxed = all(s.lower > float("-inf") for s in slots)
        if st is None:
            return ("uniform",) if (self.kind == "energy" and boxed) else ("normal", 0.0, 1.0)
        e = st.expr
        if isinstance(e, ast.Name) and e.id == "uniform" or (
                isinstance(e, ast.Call) and e.func.id == "uniform" and not e.args):
            if not boxed:
                raise err.missing("a uniform prior needs a box on every parameter", e.span,
                            expected="`param NAME in [a, b]` for every parameter, or `prior normal(0, 1)`",
                            found="`prior uniform` on an unbounded parameter")
            return ("uniform",)
        if isinstance(e, ast.Call) and e.func.id == "normal":
            if len(e.args) != 2 or e.kwargs:
                raise err.wrong_arity("`normal` takes 2 arguments", e.span,
                                      expected="`normal(MEAN, SD)`", found=f"{len(e.args)} arguments")
            mean = self._const(e.args[0], base, ctx, "the prior mean")
            sd = self._const(e.args[1], base, ctx, "the prior standard deviation")
            if not sd > 0:
                raise err.must_be_positive("the prior standard deviation", e.args[1].span,
                                           expected="SD > 0", found=f"{sd:g}")
            return ("normal", mean, sd)
        name = e.func.id if isinstance(e, ast.Call) else getattr(e, "id", "this")
        raise err.unknown("prior", name, e.span, expected="`normal(MEAN, SD)` or `uniform`"
                          + did_you_mean(name, ["normal", "uniform"]))

    def beta(self) -> sp.Expr:
        st = self.assigns.get("beta")
        if st is None:  # `sweep beta over ...` sweeps the inverse temperature, like `sweep n`
            for sweep, symbol in ((self.one.get(ast.Sweep), self.sweep_symbol),
                                  (self.sweep2, self.sweep2_symbol)):
                if sweep is not None and sweep.name.id == "beta":
                    sy.ensure_positive(symbol, sweep.span, "beta", self.ctx)
                    return symbol
            return sp.Integer(1)
        value = sy.scalar(st.expr, self.base_with_n(), dataclasses.replace(self.ctx, where="`beta`"))
        if value.free_symbols - self.sweep_symbols:
            raise err.depends_on_parameters(
                "`beta`", st.expr.span, expected="constants, `n` and the sweep variable",
                found=sy.names_text(value.free_symbols - self.sweep_symbols))
        sy.ensure_positive(value, st.expr.span, "beta", self.ctx)
        return value

    def base_with_n(self) -> sy.Scope:
        """The scope of beta and phases (for networks it already holds `n` and the truth)."""
        return self.scope

    def _phase_in_phase(self, exc: SpecError, phase: str) -> SpecError:
        """``unknown name `two``` where `two` is a phase: say so, and how to share it."""
        d = exc.diagnostic
        other = d.message.removeprefix("unknown name `").removesuffix("`")
        if d.message.startswith("unknown name `") and other in self.phases and d.span:
            return err.phase_in_phase(other, d.span, phase)
        return exc

    def phase_values(self):
        out = []
        ctx = dataclasses.replace(self.ctx, where="a phase", symmetric=True)
        for name, st in self.phases.items():
            self.lets_before(st, self.let_value)
            try:
                pred = sy.condition(st.pred, self.base_with_n(), ctx)
            except SpecError as exc:
                raise self._phase_in_phase(exc, name) from None
            out.append((name, pred))
        if not out:
            self.warnings.append(Diagnostic(
                "no `phase`: every sample counts as `other`", None, severity="warning",
                notes=("add `phase NAME = ...` to measure a region's mass",)))
        return tuple(out)

    def unused_sweep(self, network, energy, beta, phases):
        if self.sweep_name is None or self.kind == "tensor":
            return  # a tensor spec's sweep is used by its truth (lowering evaluates it)
        used = set(beta.free_symbols) | set(self.n.free_symbols)
        if network is not None:
            used |= sy.free_symbols(sy.Vec(tuple(x for w in network.truth_w for x in w)))
            used |= sy.free_symbols(sy.Vec(network.truth_b + network.truth_q + (network.truth_c,)))
            used |= set(network.noise.free_symbols)
        if energy is not None:
            used |= set(energy.free_symbols)
        for _, p in phases:
            used |= sy.pred_symbols(p)
        for st, symbol in ((self.one[ast.Sweep], self.sweep_symbol),
                           (self.sweep2, self.sweep2_symbol)):
            if st is not None and symbol not in used:
                self.warnings.append(Diagnostic(
                    f"the sweep variable `{st.name.id}` is never used", st.name.span,
                    severity="warning",
                    notes=("every sweep point samples the same posterior",)))
