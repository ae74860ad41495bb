"""The built-in functions of tensor specs: the type of each call (``call_type``).

| function | arguments | result |
|---|---|---|
| ``identity relu tanh gelu sigmoid swish exp log sqrt abs sin cos step`` | any tensor | same shape, elementwise |
| ``norm(A)``, ``sum(A)`` | any tensor | a number (Euclidean / Frobenius norm; sum of entries) |
| ``dot(u, v)`` | two k-vectors | a number |
| ``diag(v)`` | a k-vector | k x k |
| ``eye(k)`` | a constant whole k | k x k |
| ``transpose(A)`` | a matrix | its transpose |
| ``sv(M, j)`` | a matrix, a constant whole j | the j-th largest singular value |
| ``rank(M, tol)`` | a matrix, a number | how many singular values exceed ``tol`` |
| ``min(a, b, ...)``, ``max(a, b, ...)`` | numbers | a number |
| ``symmetric(P)`` | a condition, in a phase | P after some permutation of the hidden units |
"""

from __future__ import annotations

from . import ast
from . import catalogue as err
from .errors import did_you_mean
from .limits import MAX_INPUTS, MAX_SYMMETRIC_GROUP, MAX_SYMMETRIC_WIDTH
from .tensor_shapes import ELEMENTWISE, REDUCTIONS, TENSOR_FUNCS, Cond, T, product_affine, \
    shape_text

KEEPS_AFFINE = ("identity", "sum", "diag", "transpose")  # linear maps of their argument

ARITY = {**{f: 1 for f in ELEMENTWISE + REDUCTIONS}, "dot": 2, "diag": 1, "eye": 1,
         "transpose": 1, "sv": 2, "rank": 2, "symmetric": 1}
USAGE = {"dot": "`dot(u, v)`", "diag": "`diag(v)`", "eye": "`eye(k)`",
         "transpose": "`transpose(A)`", "sv": "`sv(M, j)`", "rank": "`rank(M, tol)`",
         "symmetric": "`symmetric(CONDITION)`"}


def _arity(e: ast.Call, name: str) -> None:
    if e.kwargs:
        raise err.wrong_arity(f"`{name}` takes no named arguments", e.kwargs[0][1].span,
                              expected=USAGE.get(name, f"`{name}(A)`"), found="a named argument")
    if name in ("min", "max"):
        if len(e.args) < 2:
            raise err.wrong_arity(f"`{name}` takes two or more arguments", e.span,
                                  expected=f"`{name}(a, b, ...)`",
                                  found=err.arguments(len(e.args)))
        return
    want = ARITY[name]
    if len(e.args) != want:
        raise err.wrong_arity(f"`{name}` takes {err.arguments(want)}", e.span,
                              expected=USAGE.get(name, f"`{name}(A)`"),
                              found=err.arguments(len(e.args)))


def _matrix(typer, e: ast.Expr, name: str) -> T:
    t = typer.tensor(e, "a matrix")
    if len(t.dims) != 2:
        raise err.wrong_kind(f"`{name}` takes a matrix", e.span, expected="a matrix",
                             found=shape_text(t.dims))
    return t


def call_type(typer, e: ast.Call) -> T | Cond:
    """The type of a call of a tensor spec's function, or a located error."""
    name = e.func.id
    if name == "symmetric":
        _arity(e, name)
        return _symmetric(typer, e)
    t = _call_type(typer, e)
    if name in KEEPS_AFFINE or not t.uses_x:
        return t
    if name == "dot":
        return t  # `_special` set it
    return T(t.dims, t.deps, False)


def _call_type(typer, e: ast.Call) -> T:
    name = e.func.id
    if name not in TENSOR_FUNCS:
        raise err.unknown("function", name, e.func.span,
                          expected="one of " + ", ".join(TENSOR_FUNCS)
                          + did_you_mean(name, TENSOR_FUNCS))
    _arity(e, name)
    args = e.args
    if name in ELEMENTWISE:
        return typer.tensor(args[0])
    if name in REDUCTIONS:
        a = typer.tensor(args[0])
        return T((), a.deps, a.affine)
    if name in ("min", "max"):
        return T((), frozenset().union(*(typer.number(a).deps for a in args)))
    return _special(typer, e, name, args)


def _special(typer, e: ast.Call, name: str, args) -> T:
    if name == "dot":
        a, b = typer.tensor(args[0]), typer.tensor(args[1])
        if len(a.dims) != 1 or a.dims != b.dims:
            raise err.wrong_kind("`dot` takes two vectors of one length", e.span,
                                 expected="two k-vectors",
                                 found=f"{shape_text(a.dims)} and {shape_text(b.dims)}")
        return T((), a.deps | b.deps, product_affine(a, b))
    if name == "diag":
        a = typer.tensor(args[0])
        if len(a.dims) != 1:
            raise err.wrong_kind("`diag` takes a vector (its diagonal)", args[0].span,
                                 expected="a k-vector", found=shape_text(a.dims))
        return T((a.dims[0], a.dims[0]), a.deps, a.affine)
    if name == "eye":
        k = typer.whole(args[0], "the size of `eye`", 1, MAX_INPUTS)
        return T((k, k))
    if name == "transpose":
        a = _matrix(typer, args[0], name)
        return T(tuple(reversed(a.dims)), a.deps, a.affine)
    a = _matrix(typer, args[0], name)
    if name == "sv":
        typer.whole(args[1], "the index of a singular value", 1, min(a.dims))
        return T((), a.deps)
    tol = typer.number(args[1], "a number (the tolerance)")
    return T((), a.deps | tol.deps)


def _symmetric(typer, e: ast.Call) -> Cond:
    """``symmetric(P)``: only in a phase (``typer.where``), and only where the model has
    hidden units (``typer.hidden``, set with ``typer.param_dims`` before the phases are
    typed) whose permutations are at most ``MAX_SYMMETRIC_GROUP``."""
    if typer.where != "a phase":
        raise err.symmetric_outside_phase(e.span, typer.where)
    hidden = typer.hidden
    if not hidden.layers:
        raise err.no_hidden_units(e.span, typer.model_text, hidden.single)
    if hidden.group_size > MAX_SYMMETRIC_GROUP:
        raise err.symmetric_group_too_large(
            e.span, tuple(x.size for x in hidden.layers),
            tuple(x.text(typer.param_dims) for x in hidden.layers), MAX_SYMMETRIC_GROUP,
            MAX_SYMMETRIC_WIDTH)
    return typer.condition(e.args[0])
