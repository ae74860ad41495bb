"""Lark's parse failures -> friendly ``SpecError``s: what was expected and found, in words.

Unclosed and mismatched brackets, ``=`` for ``==``, malformed numbers, misspelled statement
words and the like are recognised and explained; anything else lists the expected tokens.
"""

from __future__ import annotations

import re
import unicodedata

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import ast
from .errors import Diagnostic, SpecError, did_you_mean

_STATEMENTS = ("experiment", "let", "sweep", "beta", "prior", "phase", "sample", "report",
               "data", "model", "truth", "param", "energy")
_STATEMENT_TOKENS = {w.upper() for w in _STATEMENTS}
_OPERATORS = {"ADD_OP", "MUL_OP", "POW_OP", "COMP_OP", "AND", "OR"}
_STARTERS = {"NUMBER", "NAME", "LPAR", "LSQB", "MINUS", "PLUS", "NOT", "QUANT", "STRING"}
_ENDS = {"_NL", "$END", "SEMICOLON"}
_WORDS = {
    "RPAR": "`)`", "RSQB": "`]`", "RBRACE": "`}`", "COMMA": "`,`", "EQUAL": "`=`",
    "ITEM_OP": "`=`", "COLON": "`:`", "LBRACE": "`{`", "OVER": "`over`", "IN": "`in`",
    "STRING": "a string in double quotes", "NAME": "a name", "NUMBER": "a number",
    "LPAR": "`(`", "LSQB": "`[`",
}
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_VALID_NUMBER = re.compile(r"([0-9][0-9_]*(\.[0-9_]*)?|\.[0-9][0-9_]*)([eE][+-]?[0-9]+)?")
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


_COMPARISON = re.compile(r"^(.*?)\s*(<=|>=|==|!=|<|>)\s*(.*?)\s*$")
_OPERAND_START = re.compile(r".*(?:\band\b|\bor\b|\bnot\b|\(|:|(?<![=<>!])=(?!=))")


def _chained_comparison(source: str, line_start: int, tok: Token) -> str | None:
    """``a < b and b < c`` where ``tok`` is the second operator of ``a < b < c``; None when the
    text before ``tok`` holds no comparison of its own."""
    before = source[line_start:tok.start_pos]
    cut = _OPERAND_START.match(before)
    before = before[cut.end():] if cut else before
    m = _COMPARISON.match(before.strip())
    if m is None or not m.group(1) or not m.group(3):
        return None
    after = re.split(r"\band\b|\bor\b|[);\n#]", source[tok.end_pos:], maxsplit=1)[0].strip()
    a, op1, b = m.groups()
    return f"{a} {op1} {b} and {b} {tok.value} {after}" if after else None


def syntax_error(exc: UnexpectedInput, source: str, filename: str) -> SpecError:
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
    if tok.type == "COMP_OP" and (chained := _chained_comparison(source, line_start, tok)):
        return done("comparisons do not chain", f"two comparisons joined by `and`: `{chained}`",
                    notes=("`a < b < c` is not a range test here; write each side of the range "
                           "as its own comparison",))
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


