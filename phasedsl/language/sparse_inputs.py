"""Checking sparse inputs: ``x ~ sparse(c = 6, k = 1)`` and ``x ~ sparse(c = 6, p = 0.2)``.

A sparse input is a c-vector whose features are off (0) or on, an on feature's value uniform
on [0, 1]: exactly ``k`` of the ``c`` features on (chosen uniformly), or each feature on with
probability ``p``, independently. The toy model of superposition's inputs. The arguments are
named (``c`` and one of ``k``, ``p``) and constant; the dimension is ``c``, so ``^`` is an
error. Returns the input distribution as ``("sparse", "k", k)`` or ``("sparse", "p", p)``
(how ``lower.sparse_data`` draws it) and the dimension ``c``.
"""

from __future__ import annotations

from . import ast
from . import catalogue as err
from .errors import did_you_mean
from .limits import MAX_INPUTS

__all__ = ["is_sparse", "check_sparse", "USAGE"]

USAGE = "`sparse(c = 6, k = 1)` (exactly k of c features on) or `sparse(c = 6, p = 0.2)`"
KEYS = ("c", "k", "p")


def is_sparse(e: ast.Expr) -> bool:
    """Whether ``e`` is a ``sparse(...)`` input, possibly (wrongly) raised to a power."""
    if isinstance(e, ast.Binary) and e.op == "^":
        e = e.left
    return isinstance(e, ast.Call) and e.func.id == "sparse"


def check_sparse(e: ast.Expr, const) -> tuple[tuple, int]:
    """``(("sparse", "k" | "p", value), c)`` of a ``sparse(...)`` input, or a located error;
    ``const(expr, what) -> float`` evaluates a constant."""
    if isinstance(e, ast.Binary):
        raise err.invalid("a sparse input's dimension is its `c`", e.span,
                          expected=USAGE, found="`sparse(...)^k`",
                          notes=("`^k` makes k independent coordinates; the features of a "
                                 "sparse input are not independent when k of them are on",))
    if e.args:
        raise err.wrong_arity("`sparse` takes named arguments", e.args[0].span, expected=USAGE,
                              found=err.arguments(len(e.args)) + " without names")
    given: dict[str, ast.Expr] = {}
    for key, value in e.kwargs:
        if key not in KEYS:
            raise err.unknown("argument", key, value.span, where="of `sparse`",
                              expected="`c`, and `k` or `p`" + did_you_mean(key, KEYS))
        if key in given:
            raise err.key_twice(f"`{key}`", value.span, where="in `sparse(...)`")
        given[key] = value
    if "c" not in given:
        raise err.missing("`sparse` needs the number of features `c`", e.span, expected=USAGE,
                          found="no `c`")
    c = _whole(given["c"], const, "the number of features `c`", 1, MAX_INPUTS)
    if ("k" in given) == ("p" in given):
        found = "both `k` and `p`" if "k" in given else "neither `k` nor `p`"
        raise err.invalid("`sparse` needs exactly one of `k` (features on) and `p` (the "
                          "chance each is on)", e.span, expected=USAGE, found=found)
    if "k" in given:
        k = _whole(given["k"], const, "the number of features on `k`", 1, c)
        return ("sparse", "k", k), c
    p = const(given["p"], "the chance a feature is on `p`")
    if not 0 < p <= 1:
        raise err.out_of_bounds("a feature is on with a chance `p` in (0, 1]",
                                given["p"].span, expected="0 < p <= 1", found=f"{p:g}")
    return ("sparse", "p", float(p)), c


def _whole(e: ast.Expr, const, what: str, low: int, high: int) -> int:
    v = const(e, what)
    if not (float(v).is_integer() and low <= v <= high):
        raise err.not_whole(what, e.span, rest=f" from {low} to {high}",
                            expected=f"{what} from {low} to {high}", found=f"{v:g}")
    return int(v)
