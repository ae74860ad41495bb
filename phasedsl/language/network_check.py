"""Checking the network statements: ``data``, ``model network(...)``, ``truth network(...)``.

The model's parameters are laid out flat as ``layout.NetworkLayout`` says.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import NamedTuple

import sympy as sp

from . import ast
from . import symbolic as sy
from .checked import Network
from . import catalogue as err
from .datafile import DataTable, data_format, read_data
from .limits import MAX_DATA, MAX_DATA_SETS, MAX_INPUTS, MAX_N, MAX_SEED, MAX_WIDTH
from .errors import did_you_mean
from .layout import NetworkLayout, Slot

DATA_KEYS = ("n", "x", "noise", "seed", "seeds", "file", "inputs")
FILE_ONLY = ("inputs",)  # keys that go with `file`
TRUTH_ONLY = ("x", "seed", "seeds")  # keys that need a truth (data drawn from it)
ACTIVATIONS = ("relu", "tanh", "swish")


def _kwargs(c, base, st, what: str, allowed: dict) -> dict:
    """``network(width = 2, activation = tanh)`` -> {"width": 2, "activation": "tanh"}."""
    if st.kind.id != "network":
        raise err.unknown(f"{what} kind", st.kind.id, st.kind.span,
                          expected="`network(width = d)`" + did_you_mean(st.kind.id, ["network"]))
    if st.args:
        raise err.wrong_arity("`network` takes named arguments", st.args[0].span,
                    expected="`network(width = d)`", found="a positional argument")
    out = dict(allowed)
    for key, value in st.kwargs:
        if key not in allowed:
            raise err.unknown("argument", key, value.span, where="of `network`",
                              expected="`width` or `activation`" + did_you_mean(key, allowed))
        if key == "activation":
            if not (isinstance(value, ast.Name) and value.id in ACTIVATIONS):
                found = f"`{value.id}`" if isinstance(value, ast.Name) else "an expression"
                raise err.invalid("unknown activation", value.span,
                            expected=" | ".join(ACTIVATIONS), found=found)
            out[key] = value.id
        else:
            width = c._const(value, base, c.ctx, "the width")
            if not (width >= 1 and float(width).is_integer()):
                raise err.not_whole("the width", value.span, rest=" of 1 or more",
                                    expected="width >= 1", found=f"{width:g}")
            if width > MAX_WIDTH:
                raise err.too_large("the width", value.span, f"{MAX_WIDTH} nodes",
                                    f"{width:g}")
            out[key] = int(width)
    return out


def _data(c, st: ast.Data):
    items = {}
    for item in st.items:
        key = item.target.id if isinstance(item.target, ast.Name) else None
        if key not in DATA_KEYS:
            shown = key or "an indexed name"
            raise err.unknown("key", shown, item.target.span, where="in `data`",
                              expected=", ".join(DATA_KEYS)
                              + (did_you_mean(key, DATA_KEYS) if key else ""))
        if key in items:
            raise err.key_twice(f"`{key}`", item.span, where="in `data`")
        want = "~" if key == "x" else "="
        if item.op != want:
            raise err.invalid(f"write `{key} {want} ...` in `data`", item.span,
                        expected=f"`{key} {want}`", found=f"`{key} {item.op}`")
        items[key] = item
    if "file" in items:
        for key in TRUTH_ONLY:
            if key in items:
                raise err.misplaced(f"`{key}` cannot go with a data file", items[key].span,
                                    expected=_FILE_KEYS, found=f"`{key}` and `file`",
                                    notes=(_WITHOUT_TRUTH[key],))
    else:
        for key in FILE_ONLY:
            if key in items:
                raise err.misplaced(f"`{key}` goes with a data file", items[key].span,
                                    expected="`file = \"train.csv\"` beside it",
                                    found=f"`{key}` without `file`",
                                    notes=("with a truth, `x ~ uniform(-1, 1)^k` gives the "
                                           "input dimension k",))
    if "x" not in items and "file" not in items:
        raise err.missing("`data` needs an input distribution", st.span,
                    expected="`x ~ uniform(-1, 1)^2`", found="no `x`")
    return items


_FILE_KEYS = "`file`, `n`, `noise` and `inputs` in a `data` block with a file"
_WITHOUT_TRUTH = {
    "x": "the file holds the inputs; `x ~ ...` draws them for a truth",
    "seed": "the file is the data; `seed` draws data from a truth",
    "seeds": "the file is one data set; `seeds = K` draws K data sets from a truth",
}


def _read_file(c, items, several: bool = False) -> DataTable:
    """The rows of ``data { file = "..." }`` (path relative to the spec file's folder),
    checked against ``inputs = k`` where given; ``several``: the file may hold several
    output columns (tensor specs)."""
    item = items["file"]
    if not isinstance(item.expr, ast.String):
        raise err.wrong_kind("the data file is a path in double quotes", item.expr.span,
                             expected='`file = "train.csv"`', found=sy_describe(item.expr))
    name = item.expr.value
    kind = data_format(name)
    if kind is None:
        raise err.invalid("unknown kind of data file", item.expr.span,
                          expected="a file ending in .csv, .npy or .npz",
                          found=f'"{name}"')
    inputs = None
    if "inputs" in items:
        e = items["inputs"].expr
        inputs = c._const(e, c.base, c.ctx, "the input dimension")
        if not (1 <= inputs <= MAX_INPUTS and float(inputs).is_integer()):
            raise err.not_whole("the input dimension", e.span, rest=f" from 1 to {MAX_INPUTS}",
                                expected="`inputs = 2`", found=f"{inputs:g}")
        inputs = int(inputs)
    spec_file = c.spec.filename
    folder = Path(spec_file).parent if not spec_file.startswith("<") else Path(".")
    path = folder / name
    shown = os.path.normpath(str(path)) if not Path(name).is_absolute() else name
    if not path.is_file():
        raise err.missing("the data file is not found", item.expr.span,
                          expected="a file, relative to the spec's folder",
                          found=f"no file {shown}")
    return read_data(path, shown, inputs, several)


def _enough_rows(c, n, span, table: DataTable, file_span) -> None:
    """``n`` (its largest value over the sweep, or the grid's cells) at most the file's rows."""
    values = [v for _, v in sy.at_sweep(n, c.ctx) or [(None, n)]]
    biggest = max(sy.real_value(v) for v in values)
    if biggest > table.rows:
        raise err.invalid("the data file has fewer rows than `n`", span,
                                expected=f"n at most {table.rows:,} (the rows of {table.path})",
                                found=f"n = {biggest:g}",
                                notes=(f"the file is named at line {file_span.line}",))


def sy_describe(e: ast.Expr) -> str:
    """A value's kind in words, for a path that is not a string."""
    return {ast.Number: "a number", ast.Name: f"the name `{getattr(e, 'id', '')}`",
            ast.Vector: "a vector"}.get(type(e), "an expression")


def _input_dist(c, base, e: ast.Expr):
    k, dist = 1, e
    if isinstance(e, ast.Binary) and e.op == "^":
        k = c._const(e.right, base, c.ctx, "the input dimension")
        if not (k >= 1 and float(k).is_integer()):
            raise err.not_whole("the input dimension", e.right.span,
                                expected="`uniform(a, b)^k` with k >= 1", found=f"{k:g}")
        if k > MAX_INPUTS:
            raise err.too_large("the input dimension", e.right.span, f"{MAX_INPUTS}", f"{k:g}")
        k, dist = int(k), e.left
    if isinstance(dist, ast.Call) and dist.func.id == "sparse":
        raise err.misplaced("sparse inputs need a tensor spec", dist.span,
                            expected="`model y = EXPR` with `param`s (or `uniform(a, b)^k`, "
                            "`normal(mean, sd)^k` for a network)", found="`sparse(...)` with "
                            "`model network(...)`")
    if not (isinstance(dist, ast.Call) and dist.func.id in ("uniform", "normal") and len(dist.args) == 2):
        raise err.invalid("unknown input distribution", dist.span,
                    expected="`uniform(a, b)^k` or `normal(mean, sd)^k`", found="something else")
    a, b = (c._const(x, base, c.ctx, "a parameter of the input distribution") for x in dist.args)
    if dist.func.id == "uniform" and not b > a:
        raise err.out_of_bounds("`uniform(a, b)` needs a < b", dist.span, expected="a < b",
                    found=f"uniform({a:g}, {b:g})")
    if dist.func.id == "normal" and not b > 0:
        raise err.out_of_bounds("`normal(mean, sd)` needs sd > 0", dist.args[1].span, expected="sd > 0",
                    found=f"{b:g}")
    return (dist.func.id, a, b), k


class NetworkCheck(NamedTuple):
    """What ``check_network`` found; the checker takes it over."""

    network: Network
    layout: NetworkLayout
    slots: tuple[Slot, ...]
    symbols: tuple[sp.Symbol, ...]  # one per flat parameter, in the layout's order
    n: sp.Expr
    base: sy.Scope  # constants (lets, the sweep variable); the model's names unavailable
    scope: sy.Scope  # the model's: its parameters, `n`, `truth` and the per-node lets
    prior: tuple
    node_let_values: dict  # name -> tuple of per-node values (model parameters)


def _statements(c) -> tuple:
    """The network spec's ``model``, ``truth`` and ``data`` statements, and whether the data
    come from a file (then there is no truth); a missing one, or a truth beside a data file,
    is an error."""
    model, truth, data = c.one.get(ast.Model), c.one.get(ast.Truth), c.one.get(ast.Data)
    present = [st for st in (model, truth, data) if st is not None]
    from_file = data is not None and any(
        isinstance(i.target, ast.Name) and i.target.id == "file" for i in data.items)
    if from_file and truth is not None:
        raise err.misplaced("a spec with a data file has no `truth`", truth.span,
                            expected="the data from a file or from a truth, not both",
                            found="`truth` and `data { file = ... }`",
                            notes=("the truth generates data; a data file replaces it",))
    for st, what, hint in ((model, "`model`", "`model network(width = 2)`"),
                           (truth, "`truth` block", "`truth network(width = 2) { w[1] = ... }`"),
                           (data, "`data` block", "`data { n = 10000; x ~ uniform(-1, 1)^2 }`")):
        if st is None and not (from_file and st is truth):
            first = min(present, key=lambda s: (s.span.line, s.span.column))
            raise err.missing(f"a network spec needs a {what}", first.span, expected=hint,
                        found=f"no {what} in this spec",
                        notes=("a network spec has `data`, `model` and `truth`",))
    return model, truth, data, from_file


def _widths(c, base, model, truth, from_file: bool) -> tuple[dict, dict]:
    """The model's and the truth's ``width`` and ``activation``: the truth's are the model's
    unless it says otherwise (width 0 where the data come from a file)."""
    m_args = _kwargs(c, base, model, "model", {"width": None, "activation": "relu"})
    if m_args["width"] is None:
        raise err.missing("the model's width is missing", model.span,
                    expected="`model network(width = d)`", found="no width")
    d = m_args["width"]
    t_args = ({"width": 0, "activation": m_args["activation"]} if from_file else
              _kwargs(c, base, truth, "truth", {"width": d, "activation": m_args["activation"]}))
    return m_args, t_args


def _sample_size(c, base, data, items: dict, k: int, table) -> sp.Expr:
    """The sample size: ``data { n = ... }``, the swept ``n`` or (a data file without ``n``)
    the file's rows (``checked_size``)."""
    n_item = items.get("n")
    swept_n = "n" in (c.sweep_name, c.sweep2_name)
    if n_item is None and table is not None and not swept_n:
        return sp.Integer(table.rows)  # every row of the file
    if n_item is None:
        if not swept_n:
            raise err.missing("`data` needs the sample size", data.span, expected="`n = 10000`",
                        found="no `n`")
        n, st = ((c.sweep_symbol, c.one[ast.Sweep]) if c.sweep_name == "n"
                 else (c.sweep2_symbol, c.sweep2))
        checked_size(c, n, st.span, k, table, items.get("file"))
        return n
    n = sy.scalar(n_item.expr, base, c.ctx, "a number (the sample size)")
    _sweep_only(c, n, n_item.expr.span, "`n`")
    checked_size(c, n, n_item.expr.span, k, table, items.get("file"))
    return n


def noise_and_seed(c, items: dict, scope, fixed=None) -> tuple[sp.Expr, int]:
    """The data's ``noise`` (evaluated in ``scope``: positive, of the sweep variables only;
    1 where not given) and ``seed`` (a fixed whole number, evaluated in ``fixed``, default the
    spec's base scope; 0 where not given)."""
    noise = sp.Integer(1)
    if "noise" in items:
        e = items["noise"].expr
        noise = sy.scalar(e, scope, c.ctx, "a number (the noise level)")
        _sweep_only(c, noise, e.span, "`noise`")
        sy.ensure_positive(noise, e.span, "noise", c.ctx)
    seed = 0
    if "seed" in items:
        e = items["seed"].expr
        seed = c._const(e, c.base if fixed is None else fixed, c.ctx, "the data seed")
        if not (0 <= seed <= MAX_SEED and float(seed).is_integer()):
            raise err.not_whole("the data seed", e.span, rest=" >= 0",
                                expected=f"`seed = 0` (0 to {MAX_SEED})", found=f"{seed:g}")
    return noise, int(seed)


def _barred(scope, names, unavailable):
    """``scope`` with each of ``names`` bound to ``unavailable(name)`` (a
    ``sy.Unavailable``: the message a use of the name gets)."""
    return scope.child({name: (lambda name=name: unavailable(name)) for name in names})


def _model_families(layout: NetworkLayout, symbols: tuple, d: int, k: int) -> dict:
    """The model's ``w`` (``d`` nodes, each a vector of ``k``), ``b``, ``q`` and ``c`` as
    the parameters' sympy ``symbols`` (in ``layout``'s order)."""
    return {
        "w": sy.Nodes("w", d, lambda i: sy.Vec(tuple(symbols[layout.w(i, j)]
                                                      for j in range(1, k + 1)))),
        "b": sy.Nodes("b", d, lambda i: symbols[layout.b(i)]),
        "q": sy.Nodes("q", d, lambda i: symbols[layout.q(i)]),
        "c": lambda: symbols[layout.c],
    }


def _truth_families(truth_values: tuple, m: int) -> dict:
    """The truth's ``w``, ``b``, ``q`` (``m`` nodes) and ``c`` as its given values."""
    tw, tb, tq, tc = truth_values
    return {
        "w": sy.Nodes("w", m, lambda i: sy.Vec(tw[i - 1]), owner="truth"),
        "b": sy.Nodes("b", m, lambda i: tb[i - 1], owner="truth"),
        "q": sy.Nodes("q", m, lambda i: tq[i - 1], owner="truth"),
        "c": lambda: tc,
    }


def _node_scope(c, parent, fams: dict, count: int, owner: str):
    """A child of ``parent`` binding the network's families ``fams`` and every per-node let
    over its ``count`` nodes (``owner``: model or truth); empty where there are no nodes (a
    data file: no truth, nor its per-node lets)."""
    scope = parent.child({})
    if count == 0:
        return scope
    for name, fam in fams.items():
        scope.bindings[name] = fam if name == "c" else (lambda fam=fam: fam)
    for name, st in c.lets.items():
        if isinstance(st, ast.NodeLet):
            fam = _node_let(c, st, scope, count, owner)
            scope.bindings[name] = (lambda fam=fam: fam)
    return scope


def _node_let_values(c, scope, count: int) -> dict:
    """Each per-node let's value at nodes 1 to ``count``, as ``scope`` binds it."""
    return {name: tuple(scope.bindings[name]().get(i) for i in range(1, count + 1))
            for name, st in c.lets.items() if isinstance(st, ast.NodeLet)}


def check_network(c) -> NetworkCheck:
    """Check the network statements of checker ``c`` (read only: its statements, lets, sweep
    and context; lets first used here are evaluated in the scopes built here)."""
    model, truth, data, from_file = _statements(c)
    # Until the model's parameters exist, lets and the truth may not use them.
    base = _barred(c.base, ("w", "b", "q", "c", "truth"), lambda name: sy.Unavailable(
        f"`{name}` belongs to the model, and this value must be a fixed number",
        "numbers, lets, `n` and the sweep variable",
        f"`{name}` (the data, the widths, the truth and the lets they use are fixed numbers)"))
    with c.lets_in(base):
        items = _data(c, data)
        table = _read_file(c, items) if from_file else None
        x_dist, k = (None, table.inputs) if from_file else _input_dist(c, base, items["x"].expr)
        m_args, t_args = _widths(c, base, model, truth, from_file)
        d, m = m_args["width"], t_args["width"]
        layout = NetworkLayout(d, k)
        symbols = tuple(sp.Symbol(name, real=True) for name in layout.names)
        n = _sample_size(c, base, data, items, k, table)
    with_n = base.child({"n": lambda: n})
    with c.lets_in(with_n):
        noise, seed = noise_and_seed(c, items, with_n, base)
        seeds = _seeds(c, items.get("seeds"), seed)
        truth_values = ((), (), (), sp.Integer(0)) if from_file else _truth_items(
            c, truth, _barred(with_n, ("w", "b", "q", "c"), lambda name: sy.Unavailable(
                "the truth cannot depend on the model's parameters",
                "numbers, lets, `n` and the sweep variable",
                f"`{name}`, a parameter of the model")), m, k)
        model_scope = _node_scope(c, with_n, _model_families(layout, symbols, d, k), d, "model")
        truth_scope = _node_scope(c, with_n, _truth_families(truth_values, m), m, "truth")
        namespace = sy.Namespace("truth", dict(truth_scope.bindings))
        model_scope.bindings["truth"] = (lambda: namespace) if not from_file else (
            lambda: sy.Unavailable("a spec with a data file has no truth",
                                   "the model's parameters, lets, `n` and the sweep variable",
                                   "`truth` (the data come from a file)"))
    with c.lets_in(model_scope):
        prior = c.prior_value(base, layout.slots, dataclasses.replace(c.ctx, width=d))
        node_let_values = _node_let_values(c, model_scope, d)
        truth_lets = _node_let_values(c, truth_scope, m) if m > 0 else {}

    tw, tb, tq, tc = truth_values
    network = Network(truth_lets=truth_lets, width=d, inputs=k, activation=m_args["activation"],
                      truth_width=m, truth_activation=t_args["activation"], truth_w=tw,
                      truth_b=tb, truth_q=tq, truth_c=tc, n=n, x_dist=x_dist, noise=noise,
                      seed=seed, data=table, seeds=seeds)
    return NetworkCheck(network=network, layout=layout, slots=layout.slots, symbols=symbols, n=n,
                        base=base, scope=model_scope, prior=prior,
                        node_let_values=node_let_values)


def _seeds(c, item, seed: int) -> int:
    """``seeds = K``: the number of data sets (1 where not given); their seeds ``seed + k``
    stay within ``MAX_SEED``."""
    if item is None:
        return 1
    e = item.expr
    seeds = c._const(e, c.base, c.ctx, "the number of data sets")
    if not (1 <= seeds <= MAX_DATA_SETS and float(seeds).is_integer()):
        raise err.not_whole("the number of data sets", e.span, rest=f" from 1 to {MAX_DATA_SETS}",
                            expected="`seeds = 8`", found=f"{seeds:g}")
    if seed + seeds - 1 > MAX_SEED:
        raise err.out_of_bounds("the data seeds run past the largest seed", e.span,
                                expected=f"seed + seeds - 1 at most {MAX_SEED}",
                                found=f"{seed} + {seeds:g} - 1")
    return int(seeds)


def _sweep_only(c, value, span, what):
    extra = value.free_symbols - c.sweep_symbols
    if extra:
        raise err.depends_on_parameters(what, span, whose="the model's parameters",
                                        found=sy.names_text(extra))



def checked_size(c, n, span, k: int, table, file_item) -> None:
    """A sample size ``n`` (written at ``span``): positive, whole, within the data limit for
    ``k`` inputs and, with a data file (``table``, its ``file_item``), within its rows."""
    sy.ensure_positive(n, span, "n", c.ctx)
    _whole(c, n, span, "`n`")
    _data_size(c, n, span, k)
    if table is not None:
        _enough_rows(c, n, span, table, file_item.span)

def _data_size(c, n, span, k):
    """``n`` (at every sweep value) within ``MAX_N``, and ``n * k`` within ``MAX_DATA``."""
    values = [v for _, v in sy.at_sweep(n, c.ctx) or [(None, n)]]
    biggest = max(sy.real_value(v) for v in values)
    if biggest > MAX_N or biggest * k > MAX_DATA:
        raise err.too_large("the sample size `n`", span,
                            f"{MAX_N:,} (and n times the input dimension at most {MAX_DATA:,})",
                            f"n = {biggest:g} with {k} input{'s' if k != 1 else ''}")


def _whole(c, value, span, what):
    if not value.free_symbols and not float(value).is_integer():
        raise err.not_whole(what, span, expected="a whole number", found=f"{float(value):g}")


def _node_let(c, st: ast.NodeLet, scope, count, owner):
    ctx = dataclasses.replace(c.ctx, where=f"`let {st.name.id}[{st.var.id}]`", width=count)

    @functools.lru_cache(maxsize=None)
    def get(i):
        value = sy.evaluate(st.expr, scope.child({st.var.id: lambda: sy.NodeIndex(i)}), ctx)
        if not isinstance(value, (sp.Expr, sy.Vec, sy.Pred)):
            raise err.wrong_kind(f"`{st.name.id}[{st.var.id}]` must be a number or a vector", st.expr.span,
                        expected="a number or a vector per node", found=sy.describe(value))
        return value

    get(1)  # check the definition once, on the model
    return sy.Nodes(st.name.id, count, get, owner)


def _truth_items(c, truth: ast.Truth, scope, m, k):
    """The truth's w, b, q, c as sympy values of the sweep variable."""
    w: list = [None] * m
    b: list = [None] * m
    q: list = [None] * m
    cval = None
    seen = {}
    ctx = dataclasses.replace(c.ctx, where="the truth")
    for item in truth.items:
        target = item.target
        idx = None
        if isinstance(target, ast.Index):
            name_node, idx_expr = target.target, target.index
            idx = sy._literal_index(idx_expr, scope, ctx)
            if not isinstance(idx, int) or not 1 <= idx <= m:
                raise err.index_out_of_range("node index", idx, idx_expr.span,
                                             expected=f"1 to {m} (the truth has {m} nodes)")
        else:
            name_node = target
        name = name_node.id
        if name not in ("w", "b", "q", "c") or item.op != "=":
            raise err.unknown("truth parameter", name, name_node.span,
                              expected="`w[i]`, `b`, `q` or `c`" + did_you_mean(name, "wbqc"))
        key = (name, idx)
        earlier = [line for (n, i), line in seen.items()
                   if n == name and (i == idx or i is None or idx is None)]
        if earlier:
            raise err.key_twice(f"the truth's `{name}`", item.span, earlier[0], verb="set")
        seen[key] = item.span.line
        value = sy.evaluate(item.expr, scope, ctx)
        if sy.free_symbols(value) - c.sweep_symbols:
            raise err.depends_on_parameters(
                "the truth", item.expr.span, whose="the model's parameters",
                found=sy.names_text(sy.free_symbols(value) - c.sweep_symbols))
        sy.ensure_real(value, item.expr.span, f"the truth's `{name}`", c.ctx)
        nodes = range(m) if idx is None else [idx - 1]
        if name == "w":
            if not (isinstance(value, sy.Vec) and len(value.items) == k):
                raise err.wrong_kind(f"each `w[i]` is a {k}-vector (the input has {k} dimensions)",
                            item.expr.span, expected=f"a {k}-vector", found=sy.describe(value))
            for i in nodes:
                w[i] = value.items
        elif name == "c":
            if idx is not None or not isinstance(value, sp.Expr):
                raise err.wrong_kind("`c` is one number", item.span, expected="`c = NUMBER`",
                            found=sy.describe(value) if idx is None else "an index")
            cval = value
        else:
            table = b if name == "b" else q
            if isinstance(value, sy.Vec):
                if idx is not None or len(value.items) != m:
                    raise err.wrong_kind(f"`{name}` as a vector needs one entry per node", item.expr.span,
                                expected=f"a {m}-vector (the truth has {m} nodes)",
                                found=sy.describe(value))
                for i in range(m):
                    table[i] = value.items[i]
            elif isinstance(value, sp.Expr):
                for i in nodes:
                    table[i] = value
            else:
                raise err.wrong_kind(f"`{name}` must be a number or a vector", item.expr.span,
                            expected="a number", found=sy.describe(value))
    missing = [i + 1 for i in range(m) if w[i] is None]
    if missing:
        raise err.missing(f"the truth's `w[{missing[0]}]` is not set", truth.span,
                    expected=f"`w[{missing[0]}] = [...]` inside `truth`", found="nothing")
    b = [sp.Integer(0) if x is None else x for x in b]
    q = [sp.Integer(1) if x is None else x for x in q]
    return tuple(tuple(x) for x in w), tuple(b), tuple(q), (sp.Integer(0) if cval is None else cval)
