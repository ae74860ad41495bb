"""Text -> ``ast.Spec``. Lark's errors become ``SpecError`` with a line, a column and a caret."""

from __future__ import annotations

import functools
from importlib import resources

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from . import ast
from . import catalogue as err
from .errors import Diagnostic, SpecError, printable
from .limits import MAX_NESTING, MAX_TOKENS, token_overflow
from .syntax_errors import syntax_error

GREEK = {"θ": "theta", "ϑ": "vartheta", "β": "beta", "ε": "epsilon"}
RESERVED = ("all", "any", "and", "or", "not", "in", "over")


def _ident(tok: Token) -> str:
    """A name's meaning (Greek letters spelled out); reserved words are refused."""
    if tok.value in RESERVED:
        raise SpecError(Diagnostic(
            f"`{tok.value}` is a reserved word", _span(tok), expected="another name",
            found=f"`{tok.value}`",
            notes=(f"reserved words: {', '.join(RESERVED)}",)))
    return GREEK.get(tok.value, tok.value)

_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSERS = {"RPAR", "RSQB"}


class _BracketNewlines:
    """Post-lexer: drop newlines inside (...) and [...]; keep them inside {...}."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for tok in stream:
            if tok.type in _OPENERS:
                depth += 1
            elif tok.type in _CLOSERS:
                depth = max(0, depth - 1)
            if tok.type == "_NL" and depth > 0:
                continue
            yield tok


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process."""
    text = resources.files("phasedsl.language").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", strict=True, propagate_positions=True,
                postlex=_BracketNewlines(), maybe_placeholders=False)


def _span(meta_or_token) -> ast.Span:
    m = meta_or_token
    if getattr(m, "empty", False):
        return ast.NOWHERE
    return ast.Span(m.line, m.column, m.end_line, m.end_column)


def _number(text: str) -> float:
    return float(text.replace("_", ""))


@v_args(meta=True)
class _ToAst(Transformer):
    """Lark tree -> AST. No validation here (the checker does that)."""

    def start(self, meta, children):
        return tuple(children)

    # expressions
    def number(self, meta, c):
        return ast.Number(_span(c[0]), _number(c[0].value), c[0].value)

    def string(self, meta, c):
        # a path (`data { file = "train.csv" }`); the checker refuses strings elsewhere
        return ast.String(_span(c[0]), c[0].value[1:-1])

    def name_ref(self, meta, c):
        return ast.Name(_span(c[0]), _ident(c[0]))

    def vector(self, meta, c):
        return ast.Vector(_span(meta), tuple(c))

    def call_args(self, meta, c):
        args = tuple(x for x in c if not isinstance(x, tuple))
        kwargs = tuple(x for x in c if isinstance(x, tuple))
        return args, kwargs

    def kwarg(self, meta, c):
        return (_ident(c[0]), c[1])

    def call(self, meta, c):
        args, kwargs = c[1]
        return ast.Call(_span(meta), c[0], args, kwargs)

    def index(self, meta, c):
        return ast.Index(_span(meta), c[0], c[1])

    def slice(self, meta, c):
        subs = tuple(None if isinstance(x, Token) and x.type == "COLON" else x for x in c[1:])
        return ast.Slice(_span(meta), c[0], subs)

    def attr(self, meta, c):
        return ast.Attr(_span(meta), c[0], _ident(c[1]))

    def neg(self, meta, c):
        return ast.Neg(_span(meta), c[0])

    def binary(self, meta, c):
        op = "^" if c[1].value == "**" else c[1].value
        return ast.Binary(_span(meta), op, c[0], c[2])

    def compare(self, meta, c):
        return ast.Compare(_span(meta), c[1].value, c[0], c[2])

    def or_op(self, meta, c):
        return ast.BoolOp(_span(meta), "or", c[0], c[1])

    def and_op(self, meta, c):
        return ast.BoolOp(_span(meta), "and", c[0], c[1])

    def not_op(self, meta, c):
        return ast.Not(_span(meta), c[0])

    def quantified(self, meta, c):
        return ast.Quantified(_span(meta), c[0].value, _ident(c[1]), c[2])

    def counted(self, meta, c):
        if c[0].value != "count":
            raise SpecError(Diagnostic(
                f"unknown quantifier `{c[0].value}`", _span(c[0]),
                expected="`count i: P`, `all i: P` or `any i: P`", found=f"`{c[0].value}`"))
        return ast.Quantified(_span(meta), "count", _ident(c[1]), c[2])

    # blocks
    def block(self, meta, c):
        return tuple(c)

    def item(self, meta, c):
        return ast.Item(_span(meta), c[0], c[1].value, c[2])

    def lindex(self, meta, c):
        return ast.Index(_span(meta), c[0], c[1])

    # statements
    def _name(self, tok):
        return ast.Name(_span(tok), _ident(tok))

    def experiment(self, meta, c):
        # the title reaches terminals, figures and results.json: control characters
        # (terminal escape sequences) are kept visible, not sent raw
        title = printable(c[0].value[1:-1])
        return ast.Experiment(_span(meta), ast.String(_span(c[0]), title))

    def let(self, meta, c):
        return ast.Let(_span(meta), self._name(c[0]), c[1])

    def node_let(self, meta, c):
        return ast.NodeLet(_span(meta), self._name(c[0]), self._name(c[1]), c[2])

    def sweep(self, meta, c):
        return ast.Sweep(_span(meta), self._name(c[0]), tuple(c[1:]))

    def assign(self, meta, c):
        return ast.Assign(_span(meta), self._name(c[0]), c[1])

    def prior(self, meta, c):
        return ast.Prior(_span(meta), c[0])

    def phase(self, meta, c):
        return ast.Phase(_span(meta), self._name(c[0]), c[1])

    def sample(self, meta, c):
        engine = self._name(c[0]) if len(c) > 1 else None  # `sample { ... }`: the default
        return ast.Sample(_span(meta), engine, c[-1])

    def report(self, meta, c):
        return ast.Report(_span(meta), c[0])

    def data(self, meta, c):
        return ast.Data(_span(meta), c[0])

    def model(self, meta, c):
        args, kwargs = c[1] if len(c) > 1 else ((), ())
        return ast.Model(_span(meta), self._name(c[0]), args, kwargs)

    def truth(self, meta, c):
        args, kwargs = c[1] if len(c) > 2 else ((), ())
        return ast.Truth(_span(meta), self._name(c[0]), args, kwargs, c[-1])

    def param(self, meta, c):
        dims = next((x[1] for x in c[1:] if isinstance(x, tuple) and x[0] == "dims"), ())
        prior = next((x[1] for x in c[1:] if isinstance(x, tuple) and x[0] == "prior"), None)
        box = next((x for x in c[1:] if isinstance(x, ast.Vector)), None)
        size = dims[0] if dims else None
        return ast.Param(_span(meta), self._name(c[0]), size, box, tuple(dims[1:]), prior)

    def param_dims(self, meta, c):
        return ("dims", tuple(c))

    def param_prior(self, meta, c):
        if c[0].value != "~":  # `param W[2] = ...`: a parameter is not a value
            raise SpecError(Diagnostic(
                "a parameter's prior is written with `~`", _span(c[0]),
                expected="`param W[3, 3] ~ normal(0, 1)`", found="`=`",
                notes=("a parameter has no value; `let NAME = ...` names a value",)))
        return ("prior", c[1])

    def tensor_model(self, meta, c):
        return ast.TensorModel(_span(meta), "model", self._name(c[0]), c[1].value, c[2])

    def tensor_truth(self, meta, c):
        return ast.TensorModel(_span(meta), "truth", self._name(c[0]), c[1].value, c[2])

    def energy(self, meta, c):
        return ast.Energy(_span(meta), self._name(c[0]), c[1])


def _nesting(tree, source: str, filename: str) -> None:
    """Refuse a parse tree deeper than ``MAX_NESTING`` (plus a statement's few levels)
    before anything walks it recursively: an iterative walk, located at the first node
    past the limit."""
    limit = MAX_NESTING + 4
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            meta = node.meta if isinstance(node, Tree) else node
            raise err.too_deep(_span(meta), MAX_NESTING).located(source, filename)
        if isinstance(node, Tree):
            stack.extend((c, depth + 1) for c in node.children if isinstance(c, Tree))
    return None


def _token_budget(source: str, filename: str) -> None:
    """Refuse a file past ``MAX_TOKENS`` before parsing it (900,000 semicolons, a vector
    of 200,000 literals: a minute of parsing), at the first token past the limit."""
    at = token_overflow(source)
    if at is None:
        return
    line = source.count("\n", 0, at) + 1
    column = at - (source.rfind("\n", 0, at) + 1) + 1
    raise err.too_large("this spec", ast.Span(line, column, line, column + 1),
                        f"{MAX_TOKENS:,} words, numbers and signs (comments not counted)",
                        f"more: this is number {MAX_TOKENS + 1:,}").located(source, filename)


def parse(source: str, filename: str = "<spec>") -> ast.Spec:
    """Parse the text of a .phase file. Raises ``SpecError`` on a syntax error."""
    if not source.endswith("\n"):
        source_for_parser = source + "\n"
    else:
        source_for_parser = source
    _token_budget(source, filename)
    try:
        tree = parser().parse(source_for_parser)
    except UnexpectedInput as exc:
        raise syntax_error(exc, source, filename) from None
    _nesting(tree, source, filename)
    try:
        statements = _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SpecError):  # a reserved word as a name, a quantifier
            raise exc.orig_exc.located(source, filename) from None
        raise exc.orig_exc  # pragma: no cover - a bug in the transformer, not the user's
    return ast.Spec(statements, source, filename)
