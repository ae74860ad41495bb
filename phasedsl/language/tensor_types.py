"""The shapes of a tensor spec's values, inferred from the syntax tree (no numbers computed).

Every expression of a tensor spec has a type: a tensor of ``dims`` (``()`` a number, ``(k,)``
a k-vector, ``(m, k)`` an m x k matrix) or a condition, and the set of things it depends on
(``"params"``, ``"x"``, ``"sweep"``). ``Typer.type_of(expr)`` returns it or raises a located
``SpecError``: a shape mistake names both shapes (``W1 @ x: W1 is 3x2, x has 4 entries``).
Lowering (``phasedsl.lower.tensor``) evaluates the same trees with arrays and relies on the
shapes checked here.
"""

from __future__ import annotations

from typing import Callable

from . import ast
from . import catalogue as err
from .tensor_funcs import call_type
from .tensor_shapes import TENSOR_FUNCS, Cond, T, binary_affine, broadcast_dims, matmul_dims, \
    shape_text, shapes_differ, source_text

class Typer:
    """Infers types in a tensor spec. ``names(name) -> T | Cond | None`` gives the type of
    a name (params, lets, ``x``, ``n``, the sweep variables); ``constant(expr, what) ->
    float`` evaluates a constant (dims, indices) or raises a located error."""

    def __init__(self, source: str, names: Callable, constant: Callable, candidates):
        self.source = source
        self.names = names
        self.constant = constant
        self.candidates = candidates
        self.index_vars: dict[str, list] = {}  # index variable -> its uses: (size, span)
        self.ranges: dict = {}  # each `count`/`all`/`any` tree -> how many values its index takes
        self.where = "the model"  # the statement typed now (``symmetric`` only in "a phase")
        self.hidden = None  # the model's ``HiddenUnits``, set once the model is typed
        self.model_text = "the model"  # its source text, for messages
        self.param_dims: dict = {}  # each parameter's dims, for messages

    def text(self, e: ast.Expr, fallback: str) -> str:
        return source_text(self.source, e.span) or fallback

    def tensor(self, e: ast.Expr, what: str = "a number, vector or matrix") -> T:
        t = self.type_of(e)
        if not isinstance(t, T):
            raise err.value_where_needed("a condition", what, e.span)
        return t

    def number(self, e: ast.Expr, what: str = "a number") -> T:
        t = self.tensor(e, what)
        if t.dims:
            raise err.value_where_needed(shape_text(t.dims), what, e.span)
        return t

    def condition(self, e: ast.Expr) -> Cond:
        t = self.type_of(e)
        if not isinstance(t, Cond):
            raise err.value_where_needed(shape_text(t.dims), "a condition (such as "
                                         "`rank(W2 @ W1, 0.1) == 2`)", e.span)
        return t

    def whole(self, e: ast.Expr, what: str, low: int, high: int) -> int:
        """A constant whole number in ``low..high``."""
        v = self.constant(e, what)
        if not (float(v).is_integer() and low <= v <= high):
            raise err.not_whole(what, e.span, rest=f" from {low} to {high}",
                                expected=f"{what} from {low} to {high}", found=f"{v:g}")
        return int(v)

    def type_of(self, e: ast.Expr):
        method = getattr(self, "_" + type(e).__name__.lower(), None)
        if method is None:
            raise err.invalid(f"this cannot be used in a tensor spec ({type(e).__name__})",
                              e.span)
        return method(e)

    # ------------------------------------------------------------ leaves
    def _number(self, e: ast.Number):
        return T(())

    def _string(self, e: ast.String):
        raise err.misplaced("a string can only be the experiment's title", e.span,
                            expected="a number, a name or a vector", found=f'"{e.value}"')

    def _name(self, e: ast.Name):
        if e.id in self.index_vars:
            return T(())
        t = self.names(e.id, e.span)
        if t is None:
            if e.id in TENSOR_FUNCS:
                raise err.wrong_kind(f"`{e.id}` is a function; call it with arguments", e.span,
                                     expected=f"`{e.id}(...)`", found=f"`{e.id}`")
            raise err.unknown_name(e.id, e.span, self.candidates())
        return t

    def _vector(self, e: ast.Vector):
        if not e.items:
            raise err.invalid("an empty vector", e.span, expected="at least one entry",
                              found="`[]`")
        items = [self.tensor(x) for x in e.items]
        first = items[0].dims
        deps = frozenset().union(*(t.deps for t in items))
        for x, t in zip(e.items, items):
            if len(t.dims) > 1 or t.dims != first:
                raise err.wrong_kind("the rows of a matrix have one length", x.span,
                                     expected=f"{shape_text(first)}, like the first entry",
                                     found=shape_text(t.dims))
        return T((len(items),) + first, deps, all(t.affine for t in items))

    # ------------------------------------------------------------ operators
    def _neg(self, e: ast.Neg):
        return self.tensor(e.operand)

    def _binary(self, e: ast.Binary):
        a, b = self.tensor(e.left), self.tensor(e.right)
        deps, affine = a.deps | b.deps, binary_affine(e.op, a, b)
        if e.op == "@":
            dims = matmul_dims(a.dims, b.dims)
            if dims is None:
                raise self._mismatch(e, a, b, "`A @ B` with as many columns in A as rows (or "
                                     "entries) in B; vectors or matrices, not numbers")
            return T(dims, deps, affine)
        if e.op == "^" and b.dims:
            raise err.wrong_kind("a power's exponent is a number", e.right.span,
                                 expected="a number", found=shape_text(b.dims))
        dims = broadcast_dims(a.dims, b.dims)
        if dims is None:
            raise self._mismatch(e, a, b, f"two values of one shape for `{e.op}` (elementwise), "
                                 "or a number and a tensor; `@` is the matrix product")
        return T(dims, deps, affine)

    def _mismatch(self, e: ast.Binary, a: T, b: T, expected: str):
        ln, rn = self.text(e.left, "the left side"), self.text(e.right, "the right side")
        return shapes_differ(self.text(e, f"`{e.op}`"), (ln, a.dims), (rn, b.dims), e.span,
                             expected)

    def _compare(self, e: ast.Compare):
        a = self.number(e.left, "a number (only numbers can be compared)")
        b = self.number(e.right, "a number (only numbers can be compared)")
        return Cond(a.deps | b.deps)

    def _boolop(self, e: ast.BoolOp):
        return Cond(self.condition(e.left).deps | self.condition(e.right).deps)

    def _not(self, e: ast.Not):
        return self.condition(e.operand)

    def _quantified(self, e: ast.Quantified):
        """``count i: P`` (a number), ``all i: P``, ``any i: P`` (conditions): the index runs
        over the entries it subscripts (``W[:, i]``: the columns of W), which must agree."""
        example = f"`{e.kind} i: norm(W[:, i]) > 0.5`"
        if e.var in self.index_vars or self.names(e.var, e.span) is not None:
            raise err.invalid(f"the index `{e.var}` is already a name", e.span,
                              expected=f"a new name for the index, as in {example}",
                              found=f"`{e.var}`, defined elsewhere")
        self.index_vars[e.var] = []
        try:
            body = self.condition(e.body)
        finally:
            uses = self.index_vars.pop(e.var)
        if not uses:
            raise err.invalid(f"the index `{e.var}` picks no entries", e.body.span,
                              expected=f"`{e.var}` as a subscript, as in {example}",
                              found=f"`{e.var}` never used as a subscript")
        size, first = uses[0]
        for other, span in uses[1:]:
            if other != size:
                raise err.invalid(f"the index `{e.var}` runs over {size} entries at line "
                                  f"{first.line}, column {first.column}, and over {other} "
                                  "here", span, expected=f"subscripts of {size} entries",
                                  found=f"{other} entries")
        self.ranges[e] = size
        if e.kind == "count":
            return T((), body.deps, "x" not in body.deps)
        return Cond(body.deps)

    def _attr(self, e: ast.Attr):
        t = self.tensor(e.target)
        if e.name != "T":
            raise err.invalid(f"a tensor has no `.{e.name}`", e.span,
                              expected="`.T` (the transpose)", found=f"`.{e.name}`")
        return T(tuple(reversed(t.dims)), t.deps, t.affine)

    # ------------------------------------------------------------ indexing
    def _index(self, e: ast.Index):
        t = self.tensor(e.target, "a vector or a matrix")
        if len(t.dims) != 1:
            raise err.wrong_kind("one index picks an entry of a vector", e.span,
                                 expected="`v[j]`, or `W[i, :]`, `W[:, j]`, `W[i, j]` for a "
                                 "matrix", found=f"`[...]` on {shape_text(t.dims)}")
        self._subscript(e.index, t.dims[0], "index")
        return T((), t.deps, t.affine)

    def _slice(self, e: ast.Slice):
        t = self.tensor(e.target, "a vector or a matrix")
        if len(e.indices) != len(t.dims):
            raise err.wrong_kind(f"{shape_text(t.dims)} takes {len(t.dims)} subscripts",
                                 e.span, expected=f"{len(t.dims)} subscripts (`:` for all)",
                                 found=f"{len(e.indices)}")
        kept = []
        for sub, size in zip(e.indices, t.dims):
            if sub is None:
                kept.append(size)
            else:
                self._subscript(sub, size, "index")
        return T(tuple(kept), t.deps, t.affine)

    def _subscript(self, sub: ast.Expr, size: int, what: str) -> None:
        if isinstance(sub, ast.Name) and sub.id in self.index_vars:
            self.index_vars[sub.id].append((size, sub.span))
            return
        used = [v for v in self.index_vars if _mentions(sub, v)]
        if used:
            raise err.invalid(f"the index `{used[0]}` is a subscript on its own", sub.span,
                              expected=f"`W[:, {used[0]}]`, `v[{used[0]}]`",
                              found="an expression of it")
        v = self.constant(sub, what)
        if not (float(v).is_integer() and 1 <= v <= size):
            raise err.index_out_of_range(what, f"{v:g}", sub.span,
                                         expected=f"1 to {size} (indices start at 1)")

    # ------------------------------------------------------------ functions
    def _call(self, e: ast.Call):
        return call_type(self, e)


def _mentions(e, name: str) -> bool:
    """Whether the tree ``e`` uses the name ``name`` anywhere."""
    if isinstance(e, ast.Name):
        return e.id == name
    if isinstance(e, ast.Expr):
        return any(_mentions(getattr(e, f), name) for f in e.__dataclass_fields__
                   if f != "span")
    if isinstance(e, tuple):
        return any(_mentions(x, name) for x in e)
    return False
