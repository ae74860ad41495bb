"""Text -> ``ast.Spec``. Lark's errors become ``SpecError`` with a line, a column and a caret."""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .errors import Diagnostic, SpecError, did_you_mean

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
    text = resources.files("phasedsl").joinpath("grammar.lark").read_text(encoding="utf-8")
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
        return ast.Experiment(_span(meta), ast.String(_span(c[0]), c[0].value[1:-1]))

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
        return ast.Sample(_span(meta), self._name(c[0]), c[1])

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
        size = next((x for x in c[1:] if not isinstance(x, ast.Vector)), None)
        box = next((x for x in c[1:] if isinstance(x, ast.Vector)), None)
        return ast.Param(_span(meta), self._name(c[0]), size, box)

    def energy(self, meta, c):
        return ast.Energy(_span(meta), self._name(c[0]), c[1])


_STATEMENTS = ("experiment", "let", "sweep", "beta", "prior", "phase", "sample", "report",
               "data", "model", "truth", "param", "energy")
_STATEMENT_TOKENS = {w.upper() for w in _STATEMENTS}
_OPERATORS = {"ADD_OP", "MUL_OP", "POW_OP", "COMP_OP", "AND", "OR"}
_STARTERS = {"NUMBER", "NAME", "LPAR", "LSQB", "MINUS", "PLUS", "NOT", "QUANT"}
_ENDS = {"_NL", "$END", "SEMICOLON"}
_WORDS = {
    "RPAR": "`)`", "RSQB": "`]`", "RBRACE": "`}`", "COMMA": "`,`", "EQUAL": "`=`",
    "ITEM_OP": "`=`", "COLON": "`:`", "LBRACE": "`{`", "OVER": "`over`", "IN": "`in`",
    "STRING": "a string in double quotes", "NAME": "a name", "NUMBER": "a number",
    "LPAR": "`(`", "LSQB": "`[`",
}
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_VALID_NUMBER = re.compile(r"(\d[\d_]*(\.[\d_]*)?|\.\d[\d_]*)([eE][+-]?\d+)?")
_NUMBER_HINT = "a number such as `1`, `0.3`, `1e4` or `1_000`"


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    return f"`{tok.value}`"


def _describe_expected(names) -> str:
    """The parser's acceptable next tokens, in a user's words (grouped, not listed)."""
    names = set(names)
    words = []
    if names & _STATEMENT_TOKENS and not names & _STARTERS:
        words.append("a statement (`let`, `phase`, `sweep`, ...)")
        names -= _STATEMENT_TOKENS | {"NAME"}
    if names & _OPERATORS:
        words.append("an operator")
        names -= _OPERATORS | {"DOT", "LPAR", "LSQB"}  # `.`, calls and indexing after a value
    if {"NUMBER", "NAME"} <= names or {"NUMBER", "LPAR"} <= names:
        words.append("a value (a number, a name, `(` or `[`)")
        names -= _STARTERS
    for name in ("RPAR", "RSQB", "RBRACE", "COMMA", "EQUAL", "ITEM_OP", "COLON", "LBRACE", "OVER",
                 "IN", "STRING", "NAME", "NUMBER", "LPAR", "LSQB"):
        if name in names and _WORDS[name] not in words:
            words.append(_WORDS[name])
    if names & _ENDS:
        words.append("the end of the statement (a new line or `;`)")
    if not words:
        return "something else"
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _position(source: str, pos: int) -> tuple[int, int]:
    line = source.count("\n", 0, pos) + 1
    return line, pos - (source.rfind("\n", 0, pos) + 1) + 1


def _open_brackets(source: str, stop: int) -> list[tuple[str, int]]:
    """Brackets still open at offset ``stop`` (outside comments and strings), innermost last."""
    stack: list[tuple[str, int]] = []
    i = 0
    while i < stop:
        ch = source[i]
        if ch == "#":
            end = source.find("\n", i)
            i = stop if end < 0 else end
            continue
        if ch == '"':
            end = source.find('"', i + 1)
            newline = source.find("\n", i + 1)
            i = stop if end < 0 or (0 <= newline < end) else end + 1
            continue
        if ch in _CLOSE:
            stack.append((ch, i))
        elif ch in ")]}" and stack and _CLOSE[stack[-1][0]] == ch:
            stack.pop()
        i += 1
    return stack


def _word_at(source: str, pos: int) -> tuple[int, str]:
    """The run of letters, digits, `_` and `.` that contains or ends at ``pos``."""
    start = pos
    while start > 0 and (source[start - 1].isalnum() or source[start - 1] in "_."
                         or (source[start - 1] in "+-" and start > 1 and source[start - 2] in "eE"
                             and start > 2 and source[start - 3].isdigit())):
        start -= 1
    end = pos
    while end < len(source) and (source[end].isalnum() or source[end] in "_."
                                 or (source[end] in "+-" and end > 0 and source[end - 1] in "eE")):
        end += 1
    return start, source[start:end]


def _bad_number(source: str, pos: int):
    """A malformed number (``1.2.3``, ``1e``) or a number run into a name (``2w``) at ``pos``."""
    start, word = _word_at(source, pos)
    if not word or not (word[0].isdigit() or (word[0] == "." and word[1:2].isdigit())):
        return None
    if _VALID_NUMBER.fullmatch(word):
        return None
    line, col = _position(source, start)
    span = ast.Span(line, col, line, col + len(word))
    lead = _VALID_NUMBER.match(word)
    rest = word[lead.end():] if lead else word
    if lead and rest in _STATEMENTS:
        return Diagnostic(f"syntax error: the statement `{rest}` runs into the number before it",
                          span, expected=f"a new line or `;` before `{rest}`", found=f"`{word}`")
    if lead and re.fullmatch(r"[A-Za-z_]\w*", rest) and not re.fullmatch(r"[eE]\d*", rest):
        return Diagnostic(f"syntax error: a number runs into a name in `{word}`", span,
                          expected=f"`{lead.group()} * {rest}` for a product", found=f"`{word}`")
    return Diagnostic(f"syntax error: malformed number `{word}`", span, expected=_NUMBER_HINT,
                      found=f"`{word}`")


def _statement_start(source: str, pos: int):
    """``(offset, word)`` when the text before ``pos`` on its statement is a single name."""
    i = pos
    while i > 0 and source[i - 1] in " \t":
        i -= 1
    end = i
    while i > 0 and (source[i - 1].isalnum() or source[i - 1] == "_"):
        i -= 1
    word = source[i:end]
    j = i
    while j > 0 and source[j - 1] in " \t":
        j -= 1
    if word and not word[0].isdigit() and (j == 0 or source[j - 1] in "\n;"):
        return i, word
    return None


def _unexpected_character(exc: UnexpectedCharacters, source: str) -> Diagnostic:
    pos = exc.pos_in_stream
    char = source[pos] if pos < len(source) else "?"
    line, col = exc.line, exc.column
    span = ast.Span(line, col, line, col + 1)
    if char == '"':
        end = source.find("\n", pos)
        end = len(source) if end < 0 else end
        return Diagnostic("syntax error: a string is never closed",
                          ast.Span(line, col, line, col + end - pos),
                          expected='a closing `"` on the same line', found="the end of the line")
    bad = _bad_number(source, pos)
    if bad is not None:
        return bad
    expected = "a name, a number, an operator or a bracket"
    try:
        name = unicodedata.name(char)
    except ValueError:
        name = ""
    if name.startswith("GREEK"):
        letter = name.split()[-1].lower()
        expected = (f"the name `{letter}` "
                    "(of the Greek letters only θ ϑ β ε may be written as such)")
    return Diagnostic(f"syntax error: unexpected character `{char}`", span, expected=expected,
                      found=f"`{char}`" + (f" ({name.lower()})" if name and not char.isascii()
                                           else ""))


def _syntax_error(exc: UnexpectedInput, source: str, filename: str) -> SpecError:
    if isinstance(exc, UnexpectedCharacters):
        return SpecError(_unexpected_character(exc, source), source, filename)
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = set(exc.accepts or exc.expected)
    found = _describe_token(tok)
    if tok.type == "$END":
        pos = len(source.rstrip("\n"))
        line, col = _position(source, pos)
        span = ast.Span(line, col, line, col + 1)
    else:
        pos = tok.start_pos
        span = ast.Span(tok.line, tok.column, tok.end_line or tok.line,
                        tok.end_column or tok.column + len(tok.value))
        if tok.type == "_NL":
            span = ast.Span(tok.line, tok.column, tok.line, tok.column + 1)

    def done(message, expected_words, span=span, found=found, notes=()):
        return SpecError(Diagnostic("syntax error: " + message, span, expected=expected_words,
                                    found=found, notes=tuple(notes)), source, filename)

    bad = _bad_number(source, min(pos, len(source)))
    if bad is not None:
        return SpecError(bad, source, filename)
    stack = _open_brackets(source, min(pos, len(source)))
    line_start = source.rfind("\n", 0, pos) + 1
    first_on_line = not source[line_start:pos].strip()
    if stack:
        opener, opos = stack[-1]
        oline, ocol = _position(source, opos)
        ospan = ast.Span(oline, ocol, oline, ocol + 1)
        closer = _CLOSE[opener]
        later = tok.type == "$END" or (first_on_line and tok.line > oline)
        keyword = tok.value in _STATEMENTS and tok.value != "beta"
        if later and (opener != "{" or tok.type == "$END" or keyword):
            where = found if tok.type == "$END" else f"{found} on line {tok.line}"
            return done(f"`{opener}` is never closed", f"`{closer}` to close it", span=ospan,
                        found=where)
        if tok.type in ("RPAR", "RSQB", "RBRACE") and tok.value != closer:
            return done(f"`{tok.value}` does not match the `{opener}` at line {oline}, "
                        f"column {ocol}", f"`{closer}`")
    elif tok.type in ("RPAR", "RSQB", "RBRACE"):
        opener = {")": "(", "]": "[", "}": "{"}[tok.value]
        return done(f"unmatched `{tok.value}`", _describe_expected(expected),
                    notes=(f"there is no `{opener}` for it to close",))
    if tok.value == "=" and "COMP_OP" in expected:
        return done("`=` assigns; write `==` to compare", "`==` to compare, or another operator")
    if tok.type in ("ITEM_OP", "EQUAL") and tok.value == "~" and not stack:
        return done("`~` is only for the input distribution", "`=`", notes=(
            "write `x ~ uniform(-1, 1)^2` inside `data { ... }`",))
    if expected <= {"EQUAL", "LSQB"} and not stack:
        start = _statement_start(source, pos)
        if start is not None and start[1] not in _STATEMENTS:
            spos, word = start
            sline, scol = _position(source, spos)
            hint = did_you_mean(word, _STATEMENTS)
            return done(f"unknown statement `{word}`",
                        "a statement: " + ", ".join(f"`{w}`" for w in _STATEMENTS[:-1])
                        + f" or `{_STATEMENTS[-1]}`" + hint,
                        span=ast.Span(sline, scol, sline, scol + len(word)), found=f"`{word}`")
    if (tok.type in _ENDS | {"RPAR", "RSQB", "RBRACE", "COMMA"} and "NUMBER" in expected
            and not expected & _OPERATORS):
        return done("a value is missing", "a value (a number, a name, `-`, `(` or `[`)")
    notes = []
    if tok.type in _STATEMENT_TOKENS and not first_on_line:
        notes.append("two statements on one line need a `;` between them")
    if stack and stack[-1][0] == "{":
        notes.append(f"inside the `{{` opened at line {_position(source, stack[-1][1])[0]}")
    return done(f"unexpected {found}", _describe_expected(expected), notes=notes)


def parse(source: str, filename: str = "<spec>") -> ast.Spec:
    """Parse the text of a .phase file. Raises ``SpecError`` on a syntax error."""
    if not source.endswith("\n"):
        source_for_parser = source + "\n"
    else:
        source_for_parser = source
    try:
        tree = parser().parse(source_for_parser)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, source, filename) from None
    try:
        statements = _ToAst().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SpecError):  # a reserved word used as a name
            raise exc.orig_exc.located(source, filename) from None
        raise exc.orig_exc  # pragma: no cover - a bug in the transformer, not the user's
    return ast.Spec(statements, source, filename)
