"""The types of a tensor spec's values: shapes and what they depend on (no JAX, no numbers).

``T(dims, deps)``: a tensor of ``dims`` (``()`` a number, ``(k,)`` a k-vector, ``(m, k)`` an
m x k matrix); ``Cond(deps)``: a condition. ``deps`` holds ``"params"``, ``"x"``, ``"sweep"``.
The rules of ``@`` and of elementwise operators, and the words of shape errors, live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ast
from .errors import error

ELEMENTWISE = ("identity", "relu", "tanh", "gelu", "sigmoid", "swish", "exp", "log", "sqrt",
               "abs", "sin", "cos", "step")
REDUCTIONS = ("norm", "sum")
TENSOR_FUNCS = ELEMENTWISE + REDUCTIONS + ("dot", "diag", "eye", "transpose", "sv", "rank",
                                           "min", "max", "symmetric")


@dataclass(frozen=True)
class T:
    """A tensor value's type: its ``dims``, what it ``deps`` on, and whether it is ``affine``
    in the input ``x`` (``A x + b``, with ``A`` and ``b`` free of ``x``; anything that does
    not use ``x`` is)."""

    dims: tuple[int, ...]
    deps: frozenset = frozenset()
    affine: bool = True

    @property
    def uses_x(self) -> bool:
        return "x" in self.deps


def product_affine(a: T, b: T) -> bool:
    """Whether ``a @ b`` or ``a * b`` is affine in ``x``: both are, and one is free of it."""
    return a.affine and b.affine and not (a.uses_x and b.uses_x)


def binary_affine(op: str, a: T, b: T) -> bool:
    """Whether ``a OP b`` is affine in ``x``."""
    if op in "+-":
        return a.affine and b.affine
    if op in ("@", "*"):
        return product_affine(a, b)
    if op == "/":
        return a.affine and not b.uses_x
    return not (a.uses_x or b.uses_x)  # ^


@dataclass(frozen=True)
class Cond:
    """A condition's type (comparisons, ``and or not``)."""

    deps: frozenset = frozenset()


def shape_text(dims: tuple[int, ...]) -> str:
    """``a number``, ``a 3-vector``, ``a 3x2 matrix``."""
    if not dims:
        return "a number"
    if len(dims) == 1:
        return f"a {dims[0]}-vector"
    return "a " + "x".join(map(str, dims)) + " matrix"


def _has(name: str, dims: tuple[int, ...]) -> str:
    """``W1 is 3x2``, ``x has 4 entries``, ``s is a number``."""
    if not dims:
        return f"{name} is a number"
    if len(dims) == 1:
        return f"{name} has {dims[0]} entr{'y' if dims[0] == 1 else 'ies'}"
    return f"{name} is " + "x".join(map(str, dims))


def source_text(source: str, span: ast.Span) -> str | None:
    """The text of ``span`` when it lies on one line, else None."""
    if span.line <= 0 or span.line != span.end_line:
        return None
    lines = source.split("\n")
    if span.line > len(lines):
        return None
    return lines[span.line - 1][span.column - 1: span.end_column - 1]


def shapes_differ(op_text: str, left: tuple[str, tuple], right: tuple[str, tuple],
                  span: ast.Span, expected: str):
    """The error of an operation whose operands' shapes do not fit."""
    (ln, ld), (rn, rd) = left, right
    return error(f"{op_text}: {_has(ln, ld)}, {_has(rn, rd)}", span, expected=expected,
                 found=f"{shape_text(ld)} and {shape_text(rd)}")


def matmul_dims(a: tuple, b: tuple) -> tuple | None:
    """The dims of ``a @ b``, or None where they do not fit (numbers cannot be multiplied
    with ``@``)."""
    if not a or not b or len(a) > 2 or len(b) > 2:
        return None
    if a[-1] != b[0]:
        return None
    return a[:-1] + b[1:]


def broadcast_dims(a: tuple, b: tuple) -> tuple | None:
    """Elementwise ``+ - * / ^``: equal dims, or one side a number."""
    if not a:
        return b
    if not b or a == b:
        return a
    return None
