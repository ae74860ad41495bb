"""Checking a tensor spec: ``param W[m, k]``, ``model y = EXPR``, ``truth y = EXPR``, phases.

The shapes of every expression are inferred by ``tensor_types.Typer``; numbers that must be
constants (dims, indices, the prior, ``n``, ``noise``) are evaluated with the symbolic
evaluator, as in network specs. The result is a ``TensorModel``: the syntax trees of the
model, the truth, the lets and the phases, with the shapes they were checked against, which
lowering (``phasedsl.lower.tensor``) evaluates with arrays. Parameters are laid out flat in
the order written, each row-major. The likelihood (Gaussian, ``bernoulli``, ``categorical``)
is read by ``tensor_likelihood``; data come from the truth (``seeds = K`` data sets) or from a
file (``datafile``, several output columns or one column of labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import sympy as sp

from . import ast
from . import catalogue as err
from . import symbolic as sy
from .datafile import DataTable
from .hidden_units import HiddenUnits, hidden_units
from .layout import Slot
from .limits import MAX_INPUTS, MAX_PARAMETERS
from .network_check import _data, _input_dist, _read_file, _seeds
from .sparse_inputs import check_sparse, is_sparse
from .tensor_data import data_size, file_outputs, noise_and_seed
from .tensor_likelihood import check_likelihood, likelihood_of
from .tensor_shapes import Cond, T, shape_text
from .tensor_types import Typer

__all__ = ["TensorModel", "TensorPred", "TensorCheck", "check_tensor", "TENSOR_NAMES"]

TENSOR_NAMES = {"x": "the model's input (`x ~ ...` in `data`)",
                "n": "the sample size, set in `data`"}


@dataclass(frozen=True)
class TensorPred:
    """A phase condition of a tensor spec: its tree (lowering evaluates it with arrays)."""

    expr: ast.Expr = field(compare=False)
    text: str = ""  # its source text (what ``repr`` and re-analysis compare)

    def __repr__(self) -> str:
        return f"TensorPred({self.text!r})"


@dataclass(frozen=True)
class TensorModel:
    """A tensor spec's model, truth and data, checked.

    - ``params``: ``(name, dims)`` in the flat layout's order (each block row-major);
    - ``model``, ``truth``: the forward expressions (trees) of ``x: f[inputs]``, each a number
      or an ``outputs`` vector; ``lets``: every let's tree, by name (lowering evaluates those
      the expressions use); ``shapes``: the dims of every let; ``ranges``: how many values
      the index of each ``count``/``all``/``any`` tree takes;
    - ``prior_mean``, ``prior_sd``: per flat coordinate (``normal``; empty for ``uniform``);
    - ``n``, ``noise``: sympy in the sweep variables; ``x_dist``: ``("normal", mean, sd)``,
      ``("uniform", a, b)``, ``("sparse", "k", k)`` or ``("sparse", "p", p)``
      (``sparse_inputs``), ``None`` with a data file; ``seed``: the data seed;
    - ``affine``: the model's output is affine in ``x`` (a linear network, reduced-rank
      regression), so its Gaussian likelihood depends on the data through their first and
      second moments alone (``lower.tensor``);
    - ``likelihood``: ``gaussian``, ``bernoulli`` or ``categorical``; for the last two
      ``model`` and ``truth`` are the logits (``outputs``: their shape, ``()`` or ``(K,)``);
    - ``data``: the rows of ``data { file = ... }`` (then ``truth`` is ``None``); ``seeds``:
      data sets drawn from the truth, seeds ``seed + k``;
    - ``hidden``: the model's hidden units (``hidden_units``), what ``symmetric`` permutes.
    """

    params: tuple[tuple[str, tuple[int, ...]], ...]
    model: ast.Expr = field(compare=False, repr=False)
    truth: ast.Expr = field(compare=False, repr=False)
    lets: dict = field(compare=False, repr=False)
    shapes: dict = field(compare=False, repr=False)
    ranges: dict = field(default_factory=dict, compare=False, repr=False)
    inputs: int = 1
    outputs: tuple[int, ...] = ()
    n: sp.Expr = sp.Integer(1)
    x_dist: tuple = ("normal", 0.0, 1.0)
    noise: sp.Expr = sp.Integer(1)
    seed: int = 0
    prior_mean: tuple[float, ...] = ()
    prior_sd: tuple[float, ...] = ()
    text: str = ""  # the model, truth and let lines (the posterior's identity)
    sweep_names: tuple[str, ...] = ()
    affine: bool = False  # the model is ``A(w) x + b(w)``: the likelihood needs only moments
    likelihood: str = "gaussian"
    # not in the repr (the posterior's identity); ``rundir.data_identity`` adds them where set
    data: DataTable | None = field(default=None, compare=False, repr=False)
    seeds: int = 1
    hidden: HiddenUnits = field(default=HiddenUnits(), compare=False, repr=False)

    @property
    def data_seeds(self) -> tuple[int, ...]:
        """The data seed of each data set: ``seed + k``, ``k = 0 .. seeds - 1``."""
        return tuple(self.seed + k for k in range(self.seeds))

    def __repr__(self) -> str:
        family = "" if self.likelihood == "gaussian" else f", likelihood={self.likelihood}"
        return (f"TensorModel(params={self.params!r}, {self.text!r}, inputs={self.inputs}, "
                f"n={self.n}, x={self.x_dist!r}, noise={self.noise}, seed={self.seed}, "
                f"prior={self.prior_mean!r}, {self.prior_sd!r}{family})")


class TensorCheck(NamedTuple):
    tensor: TensorModel
    slots: tuple[Slot, ...]
    symbols: tuple[sp.Symbol, ...]
    n: sp.Expr
    prior: tuple
    scope: sy.Scope  # constants and `n` (beta's scope)
    phases: tuple[tuple[str, TensorPred], ...]


def check_tensor(c) -> TensorCheck:
    """Check the tensor statements of checker ``c`` (its statements, lets, sweep, context)."""
    model, truth, data = c.tensors.get("model"), c.tensors.get("truth"), c.one.get(ast.Data)
    from_file = data is not None and any(
        isinstance(i.target, ast.Name) and i.target.id == "file" for i in data.items)
    _present(c, model, truth, data, from_file)
    family = likelihood_of(model).family
    if truth is not None:
        check_likelihood(model, truth, None)  # the families first; the shapes below
    items = _data(c, data)
    if family != "gaussian" and "noise" in items:
        raise err.misplaced("`noise` belongs to Gaussian regression", items["noise"].span,
                            expected="no `noise`: labels are drawn from the truth's "
                                     "probabilities", found=f"`noise` with `model "
                                     f"{model.output.id} ~ {family}(...)`")
    table = _read_file(c, items, several=True) if from_file else None
    if table is None:
        x_expr = items["x"].expr
        x_dist, k = (check_sparse(x_expr, lambda e, what: c._const(e, c.base, c.ctx, what))
                     if is_sparse(x_expr) else _input_dist(c, c.base, x_expr))
    else:
        x_dist, k = None, table.inputs
    slots, symbols = _slots(c)
    n = data_size(c, items, data, k, table)
    scope = c.base.child({"n": lambda: n})
    with c.lets_in(scope):
        noise, seed = noise_and_seed(c, items, scope)
        seeds = _seeds(c, items.get("seeds"), seed)
        mean, sd, prior = _priors(c, slots)
    typer = _typer(c, slots, k, n)
    out = _forward(c, typer, model, truth)
    c.lets_before(None, _let_typer(c, typer))  # those after the model and the truth
    if table is not None:
        file_outputs(c, model, out.dims, family, table, items["file"], n)
    m_expr, dims = likelihood_of(model).expr, {s.name: s.shape for s in slots}
    hidden = hidden_units(m_expr, dims, {name: st.expr for name, st in c.lets.items()}, k)
    typer.hidden, typer.param_dims = hidden, dims
    typer.model_text = typer.text(m_expr, "the model")
    phases = _phases(c, typer)
    lets = [st for st in c.lets.values()]  # with the model: they make the posterior too
    text = "\n".join(sy_text(c, st) for st in [model, truth] + lets if st is not None)
    tensor = TensorModel(
        params=tuple((s.name, s.shape) for s in slots), model=likelihood_of(model).expr,
        truth=None if truth is None else likelihood_of(truth).expr,
        lets={name: st.expr for name, st in c.lets.items()}, shapes=typer.let_shapes,
        ranges=dict(typer.ranges),
        inputs=k, outputs=out.dims, affine=out.affine and family == "gaussian", n=n,
        x_dist=x_dist, noise=noise, seed=seed, prior_mean=mean, prior_sd=sd, text=text,
        sweep_names=tuple(x for x in (c.sweep_name, c.sweep2_name) if x),
        likelihood=family, data=table, seeds=seeds, hidden=hidden)
    return TensorCheck(tensor, slots, symbols, n, prior, scope, phases)


def sy_text(c, st: ast.Stmt) -> str:
    """A statement's source text, exactly its span (no comment, no neighbour after `;`)."""
    sp_ = st.span
    lines = c.spec.source.split("\n")[sp_.line - 1: sp_.end_line]
    if len(lines) == 1:
        return lines[0][sp_.column - 1: sp_.end_column - 1]
    return "\n".join([lines[0][sp_.column - 1:]] + lines[1:-1] + [lines[-1][:sp_.end_column - 1]])


def _present(c, model, truth, data, from_file: bool) -> None:
    present = [s for s in (model, truth, data) if s is not None]
    first = min(present, key=lambda s: (s.span.line, s.span.column))
    if from_file and truth is not None:
        raise err.misplaced("a spec with a data file has no `truth`", truth.span,
                            expected="the data from a file or from a truth, not both",
                            found="`truth` and `data { file = ... }`",
                            notes=("the truth generates data; a data file replaces it",))
    for st, what, hint in ((model, "`model y = ...`", "`model y = W2 @ W1 @ x`"),
                           (truth, "`truth y = ...`", "`truth y = T @ x`"),
                           (data, "`data` block", "`data { n = 10000; x ~ normal(0, 1)^3 }`")):
        if st is None and not (from_file and what.startswith("`truth")):
            raise err.missing(f"a tensor spec needs a {what}", first.span, expected=hint,
                              found=f"no {what} in this spec",
                              notes=("a tensor spec has `data`, `param`s, `model y = ...` "
                                     "and `truth y = ...`",))
    for st in c.one.get(ast.Model), c.one.get(ast.Truth), c.one.get(ast.Energy):
        if st is not None:
            raise err.invalid("a tensor spec (`model y = ...`) cannot also have this", st.span,
                              expected="`param`s, `model y = ...`, `truth y = ...`, `data`",
                              found="a `network` or an `energy` statement")


def _slots(c) -> tuple[tuple[Slot, ...], tuple[sp.Symbol, ...]]:
    """Each ``param``'s block of the flat vector, row-major, in the order written."""
    if not c.params:
        st = c.tensors["model"]
        raise err.missing("a tensor spec needs parameters", st.span,
                          expected="`param W[3, 3]` before the model", found="no `param`")
    slots, symbols, start = [], [], 0
    for name, p in c.params.items():
        dims = tuple(_dim(c, e) for e in ((p.size,) if p.size is not None else ()) + p.more)
        if len(dims) > 2:
            raise err.invalid("a parameter is a number, a vector or a matrix", p.span,
                              expected="`param W[m, k]` at most", found=f"{len(dims)} dimensions")
        lo, hi = _box(c, p)
        slot = Slot(name, dims, start, lo, hi)
        start += slot.size
        if start > MAX_PARAMETERS:
            raise err.too_large("the parameters", p.span, f"{MAX_PARAMETERS:,} numbers in all",
                                f"{start:,}")
        slots.append(slot)
        symbols.extend(sp.Symbol(f"{name}[{','.join(map(str, ix))}]" if dims else name,
                                 real=True) for ix in _indices(dims))
    return tuple(slots), tuple(symbols)


def _indices(dims: tuple[int, ...]):
    """1-based indices of a block, row-major (``[()]`` for a number)."""
    if not dims:
        return [()]
    if len(dims) == 1:
        return [(i,) for i in range(1, dims[0] + 1)]
    return [(i, j) for i in range(1, dims[0] + 1) for j in range(1, dims[1] + 1)]


def _dim(c, e: ast.Expr) -> int:
    k = c._const(e, c.base, c.ctx, "a parameter's dimension")
    if not (float(k).is_integer() and 1 <= k <= MAX_INPUTS):
        raise err.not_whole("a parameter's dimension", e.span, rest=f" from 1 to {MAX_INPUTS}",
                            expected="`param W[3, 2]`", found=f"{k:g}")
    return int(k)


def _box(c, p: ast.Param) -> tuple[float, float]:
    if p.box is None:
        return float("-inf"), float("inf")
    if len(p.box.items) != 2:
        raise err.wrong_kind("a box is `[lower, upper]`", p.box.span, expected="two numbers",
                             found=f"{len(p.box.items)}")
    lo, hi = (c._const(x, c.base, c.ctx, "a bound") for x in p.box.items)
    if not hi > lo:
        raise err.out_of_bounds("a box needs lower < upper", p.box.span,
                                expected="`[lower, upper]` with lower < upper",
                                found=f"[{lo:g}, {hi:g}]")
    return lo, hi


def _priors(c, slots) -> tuple[tuple, tuple, tuple]:
    """Per-coordinate prior means and sds (empty for ``prior uniform``) and the spec's prior."""
    prior = c.prior_value(c.base, slots, c.ctx)
    own = {name: p.prior for name, p in c.params.items() if p.prior is not None}
    if prior[0] == "uniform":
        if own:
            first = next(iter(own.values()))
            raise err.invalid("a parameter's own prior needs the spec's prior to be normal",
                              first.span, expected="`prior normal(0, 1)` (or no `prior`)",
                              found="`prior uniform`")
        return (), (), prior
    mean, sd = [], []
    for s in slots:
        m, d = prior[1], prior[2]
        if s.name in own:
            _, m, d = _own_prior(c, own[s.name])
        mean.extend([float(m)] * s.size)
        sd.extend([float(d)] * s.size)
    return tuple(mean), tuple(sd), prior


def _own_prior(c, e: ast.Expr) -> tuple:
    if not (isinstance(e, ast.Call) and e.func.id == "normal"):
        raise err.invalid("a parameter's own prior is `normal(MEAN, SD)`", e.span,
                          expected="`~ normal(0, 1)`", found="something else")
    if len(e.args) != 2 or e.kwargs:
        raise err.wrong_arity("`normal` takes 2 arguments", e.span,
                              expected="`normal(MEAN, SD)`", found=err.arguments(len(e.args)))
    mean = c._const(e.args[0], c.base, c.ctx, "the prior mean")
    sd = c._const(e.args[1], c.base, c.ctx, "the prior standard deviation")
    if not sd > 0:
        raise err.must_be_positive("the prior standard deviation", e.args[1].span,
                                   expected="SD > 0", found=f"{sd:g}")
    return ("normal", mean, sd)


def _typer(c, slots, k: int, n: sp.Expr) -> Typer:
    """The typer of this spec: params, ``x``, ``n``, the sweep variables, lets, constants."""
    fixed = {s.name: T(s.shape, frozenset({"params"})) for s in slots}
    fixed["x"] = T((k,), frozenset({"x"}))
    fixed["n"] = T((), frozenset({"sweep"}) if n.free_symbols else frozenset())
    fixed.update({"pi": T(()), "e": T(())})
    for name in (c.sweep_name, c.sweep2_name):
        if name:
            fixed[name] = T((), frozenset({"sweep"}))
    lets = {name: st for name, st in c.lets.items() if isinstance(st, ast.Let)}
    busy: list[str] = []

    def names(name: str, span):
        if name in fixed:
            return fixed[name]
        if name not in lets:
            return None
        if name in busy:
            cycle = busy[busy.index(name):] + [name]
            raise err.invalid(f"`{name}` is defined in terms of itself", lets[name].name.span,
                              expected="a definition that does not refer back to it",
                              found="the cycle " + " -> ".join(f"`{x}`" for x in cycle))
        busy.append(name)
        outer, typer.index_vars = typer.index_vars, {}  # a let cannot see an enclosing index
        where, typer.where = typer.where, "a `let`"
        try:
            t = typer.type_of(lets[name].expr)
        finally:
            busy.remove(name)
            typer.index_vars, typer.where = outer, where
        fixed[name] = t
        typer.let_shapes[name] = t.dims if isinstance(t, T) else None
        return t

    def constant(e, what):
        return c._const(e, c.base, c.ctx, what)

    typer = Typer(c.spec.source, names, constant, lambda: set(fixed) | set(lets))
    typer.let_shapes = {}
    for name, st in c.lets.items():
        if isinstance(st, ast.NodeLet):
            raise err.misplaced("per-node quantities need a network", st.span,
                                expected="`let NAME = ...` (rows and columns: `W[i, :]`)",
                                found=f"`let {name}[...]`")
    return typer


def _let_typer(c, typer: Typer):
    """Types the let it is given by name; ``typer.names`` remembers each let's type, so a
    let is typed once and its uses add no error of their own."""
    return lambda name: typer.names(name, c.lets[name].name.span)


def _forward(c, typer: Typer, model, truth) -> T:
    """The model's type (its output, or a classification's logits); the truth's has its
    shape (a number or a vector). ``truth`` is ``None`` with a data file."""
    m_expr = likelihood_of(model).expr
    c.lets_before(model, _let_typer(c, typer))
    typer.where = "the model"
    m = typer.tensor(m_expr, "a number or a vector (the model's output)")
    if len(m.dims) > 1:
        raise err.wrong_kind("the model's output is a number or a vector", m_expr.span,
                             expected="a number or a vector", found=shape_text(m.dims))
    if truth is None:
        check_likelihood(model, model, m.dims)
        return m
    check_likelihood(model, truth, m.dims)
    t_expr = likelihood_of(truth).expr
    c.lets_before(truth, _let_typer(c, typer))
    typer.where = "the truth"
    t = typer.tensor(t_expr, "a number or a vector (the truth's output)")
    if "params" in t.deps:
        raise err.depends_on_parameters("the truth", t_expr.span,
                                        whose="the model's parameters",
                                        found="the model's parameters",
                                        expected="`x`, numbers, lets, `n` and the sweep "
                                        "variable")
    if t.dims != m.dims:
        raise err.wrong_kind("the truth's output has another shape than the model's",
                             t_expr.span, expected=f"{shape_text(m.dims)} (the model's "
                             f"output, line {model.span.line})", found=shape_text(t.dims))
    if truth.output.id != model.output.id:
        raise err.invalid("the truth names another output than the model", truth.output.span,
                          expected=f"`truth {model.output.id} = ...`",
                          found=f"`{truth.output.id}`")
    return m


def _phases(c, typer: Typer) -> tuple[tuple[str, TensorPred], ...]:
    out = []
    typer.where = "a phase"
    for name, st in c.phases.items():
        t = typer.type_of(st.pred)
        if not isinstance(t, Cond):
            raise err.value_where_needed(shape_text(t.dims), "a condition (such as "
                                         "`rank(W2 @ W1, 0.1) == 2`)", st.pred.span)
        if "x" in t.deps:
            raise err.invalid("a phase cannot use the input `x`", st.pred.span,
                              expected="a condition on the parameters, lets and the sweep "
                              "variable", found="an expression of `x`")
        out.append((name, TensorPred(st.pred, sy_text(c, st))))
    return tuple(out)

