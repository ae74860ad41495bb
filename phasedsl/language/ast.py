"""The syntax tree of a .phase file: frozen dataclasses, one per grammar rule, each with a span.

Nodes are values: the checker never mutates them, it builds a ``CheckedSpec`` beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    """A region of the source: 1-based line and column of the first character, and the end.

    ``origin`` names text outside the file (``"--set KEY"`` for the value of a ``--set``;
    its lines are 0); "" for the file itself. Not compared."""

    line: int
    column: int
    end_line: int
    end_column: int
    origin: str = field(default="", compare=False)


NOWHERE = Span(0, 0, 0, 0)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Expr:
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Number(Expr):
    value: float
    text: str


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Name(Expr):
    id: str


@dataclass(frozen=True)
class Vector(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Call(Expr):
    func: Name
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Index(Expr):
    target: Expr
    index: Expr


@dataclass(frozen=True)
class Slice(Expr):
    """``W[i, :]``, ``W[:, j]``, ``W[i, j]``: several subscripts, ``None`` for ``:``."""

    target: Expr
    indices: tuple[Expr | None, ...]


@dataclass(frozen=True)
class Attr(Expr):
    target: Expr
    name: str


@dataclass(frozen=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # + - * / ^
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Expr):
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr


@dataclass(frozen=True)
class BoolOp(Expr):
    op: str  # and | or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True)
class Quantified(Expr):
    kind: str  # all | any | count (a number: how many indices satisfy the body)
    var: str
    body: Expr


# ---------------------------------------------------------------- statements


@dataclass(frozen=True)
class Stmt:
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Item:
    """``target = expr`` or ``target ~ expr`` inside a ``{ ... }`` block."""

    span: Span = field(compare=False)
    target: Expr = None  # Name or Index(Name, expr)
    op: str = "="
    expr: Expr = None


@dataclass(frozen=True)
class Experiment(Stmt):
    title: String


@dataclass(frozen=True)
class Let(Stmt):
    name: Name
    expr: Expr


@dataclass(frozen=True)
class NodeLet(Stmt):
    name: Name
    var: Name
    expr: Expr


@dataclass(frozen=True)
class Sweep(Stmt):
    name: Name
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Assign(Stmt):
    name: Name
    expr: Expr


@dataclass(frozen=True)
class Prior(Stmt):
    expr: Expr


@dataclass(frozen=True)
class Phase(Stmt):
    name: Name
    pred: Expr


@dataclass(frozen=True)
class Sample(Stmt):
    engine: Name | None  # None: `sample { ... }`, the spec's default engine
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Report(Stmt):
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Data(Stmt):
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Model(Stmt):
    kind: Name
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]


@dataclass(frozen=True)
class Truth(Stmt):
    kind: Name
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Param(Stmt):
    """``param NAME[size, *more] in box ~ prior``: ``more`` (matrix dimensions) and
    ``prior`` (its own prior) belong to tensor specs."""

    name: Name
    size: Expr | None
    box: Vector | None
    more: tuple[Expr, ...] = ()
    prior: Expr | None = None


@dataclass(frozen=True)
class TensorModel(Stmt):
    """``model y = EXPR`` / ``truth y = EXPR`` (``role``) of a tensor spec; ``op`` is ``=``
    (Gaussian regression) or ``~`` (reserved for classification)."""

    role: str  # model | truth
    output: Name
    op: str
    expr: Expr


@dataclass(frozen=True)
class Energy(Stmt):
    name: Name
    expr: Expr


@dataclass(frozen=True)
class Spec:
    """A parsed file: its statements in order, with the text and file name for messages."""

    statements: tuple[Stmt, ...]
    source: str = field(repr=False, compare=False)
    filename: str = "<spec>"
