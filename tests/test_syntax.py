"""The parser: what it accepts, the trees it builds, and where it points when it refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phasedsl.language import ast
from phasedsl.language.errors import SpecError
from phasedsl.language.syntax import parse
from specfiles import DOCS_MD, LANGUAGE_MD, SPECS, fenced_blocks

def experiment_blocks(path: Path) -> list[str]:
    """The blocks that are whole specs (they name an experiment and use no placeholders)."""
    return [b for b in fenced_blocks(path)
            if re.search(r'^experiment "', b, re.M) and "EXPR" not in b]


def expr(text: str) -> ast.Expr:
    """The expression of ``let x = TEXT``."""
    (st,) = parse(f"let x = {text}\n").statements
    return st.expr


def same(a: str, b: str) -> bool:
    return parse(a).statements == parse(b).statements


# ---------------------------------------------------------------- shipped and documented specs


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_parse(path):
    spec = parse(path.read_text(encoding="utf-8"), str(path))
    assert spec.statements
    assert spec.filename == str(path)


@pytest.mark.skipif(not LANGUAGE_MD.exists(), reason="LANGUAGE.md not available")
def test_language_md_examples_parse():
    blocks = experiment_blocks(LANGUAGE_MD)
    assert len(blocks) == 4
    for block in blocks:
        parse(block, "LANGUAGE.md")


def test_docs_examples_parse():
    blocks = [b for b in fenced_blocks(DOCS_MD) if b.startswith("# spec")]
    assert len(blocks) >= 4
    for block in blocks:
        parse(block, "docs/language.md")


# ---------------------------------------------------------------- lexical rules


def test_comments_and_blank_lines():
    assert same("# a comment\n\nlet a = 1  # trailing\n\n# end\n", "let a = 1\n")
    assert parse("# only a comment\n").statements == ()
    assert parse("").statements == ()


def test_semicolon_is_a_newline():
    assert same("let a = 1; let b = 2\n", "let a = 1\nlet b = 2\n")
    assert same("data { n = 10; x ~ uniform(-1, 1)^2 }\n",
                "data {\n  n = 10\n  x ~ uniform(-1, 1)^2\n}\n")
    assert same("let a = 1;;\n;let b = 2;\n", "let a = 1\nlet b = 2\n")


def test_newlines_inside_brackets_are_free():
    assert same("let v = [1,\n  2,\n  3]\n", "let v = [1, 2, 3]\n")
    assert same("let a = max(1,\n  2)\n", "let a = max(1, 2)\n")
    assert same("let a = (1 +\n  2)\n", "let a = (1 + 2)\n")
    assert same("truth network(\n  width = 2\n) { w[1] = [1, 0] }\n",
                "truth network(width = 2) { w[1] = [1, 0] }\n")


def test_crlf_and_missing_final_newline():
    assert same("let a = 1\r\nlet b = 2\r\n", "let a = 1\nlet b = 2\n")
    assert same("let a = 1\nlet b = 2", "let a = 1\nlet b = 2\n")


def test_greek_letters_are_names():
    assert expr("θ") == ast.Name(None, "theta")
    assert expr("ϑ + β * ε") == expr("vartheta + beta * epsilon")
    assert same("sweep θ over 1, 2\n", "sweep theta over 1, 2\n")


@pytest.mark.parametrize("text, value", [
    ("1", 1.0), ("0.3", 0.3), ("1e4", 1e4), ("1E-2", 0.01), ("2.5e+3", 2500.0),
    ("1_000", 1000.0), ("10_000.5", 10000.5), (".5", 0.5), ("3.", 3.0),
])
def test_numbers(text, value):
    e = expr(text)
    assert isinstance(e, ast.Number) and e.value == value and e.text == text


def test_negative_number_is_unary_minus():
    assert expr("-0.3") == ast.Neg(None, ast.Number(None, 0.3, "0.3"))


def test_strings_only_for_the_title():
    (st,) = parse('experiment "PT1: deforming to degeneracy"\n').statements
    assert isinstance(st, ast.Experiment) and st.title.value == "PT1: deforming to degeneracy"


# ---------------------------------------------------------------- expressions


def test_double_star_is_caret():
    assert expr("x ** 2") == expr("x ^ 2")
    assert expr("x**2") == ast.Binary(None, "^", ast.Name(None, "x"), ast.Number(None, 2.0, "2"))


def test_precedence():
    x, two = ast.Name(None, "x"), ast.Number(None, 2.0, "2")
    assert expr("-x^2") == ast.Neg(None, ast.Binary(None, "^", x, two))  # -(x^2)
    assert expr("a + b * c") == expr("a + (b * c)")
    assert expr("a - b - c") == expr("(a - b) - c")
    assert expr("a / b * c") == expr("(a / b) * c")
    assert expr("a ^ b ^ c") == expr("a ^ (b ^ c)")  # right-associative, as in maths
    assert expr("a ^ -b") == expr("a ^ (-b)")
    assert expr("2 * x ^ 2") == expr("2 * (x ^ 2)")
    assert expr("a + 1 < b * 2") == expr("(a + 1) < (b * 2)")
    assert expr("p or q and r") == expr("p or (q and r)")
    assert expr("not p and q") == expr("(not p) and q")
    assert expr("-a[1]") == expr("-(a[1])")
    assert expr("truth.u[1]") == ast.Index(None, ast.Attr(None, ast.Name(None, "truth"), "u"),
                                           ast.Number(None, 1.0, "1"))


def test_comparisons_do_not_chain():
    with pytest.raises(SpecError):
        parse("phase a = 0 < x < 1\n")


def test_calls_vectors_and_trailing_commas():
    e = expr("ball(v, [0.5, 0,], 0.3,)")
    assert isinstance(e, ast.Call) and e.func.id == "ball" and len(e.args) == 3
    assert isinstance(e.args[1], ast.Vector) and len(e.args[1].items) == 2
    assert expr("[]") == ast.Vector(None, ())


def test_quantifiers():
    e = expr("all i: ball(u[i], truth.u[i], eps)")
    assert isinstance(e, ast.Quantified) and e.kind == "all" and e.var == "i"
    assert expr("any j: q[j] > 0").kind == "any"


# ---------------------------------------------------------------- statements


def test_statement_kinds():
    text = """experiment "t"
sweep theta over linspace(0, 1, 3), 2
beta = 1 / log(n)
prior normal(0, 1)
param v[2] in [-1, 1]
energy K = norm(v)^2
let n = 10
let u[i] = q[i] * w[i]
phase a = ball(v, [0.5, 0], 0.3)
sample nuts { draws = 100 }
report { floor = 0.01 }
data { n = 10; x ~ uniform(-1, 1)^2 }
model network(width = 2, activation = tanh)
truth network(width = 2) { w[1] = [1, 0]; b[2] = 1 }
"""
    kinds = [type(st).__name__ for st in parse(text).statements]
    assert kinds == ["Experiment", "Sweep", "Assign", "Prior", "Param", "Energy", "Let", "NodeLet",
                     "Phase", "Sample", "Report", "Data", "Model", "Truth"]


def test_statement_details():
    sweep, model, truth, param = parse(
        "sweep n over 1, 2, 5\nmodel network(width = 3)\n"
        "truth network(width = 2) { w[1] = [1, 0]; b = -0.3 }\nparam w\n").statements
    assert sweep.name.id == "n" and len(sweep.items) == 3
    assert model.kind.id == "network" and model.kwargs[0][0] == "width"
    assert [it.target for it in truth.items][1] == ast.Name(None, "b")
    assert isinstance(truth.items[0].target, ast.Index)
    assert param.size is None and param.box is None


def test_keywords_are_names_elsewhere_but_reserved_words_are_not():
    # statement keywords are keywords only where a statement starts
    (st,) = parse("let model = 2\n").statements
    assert st.name.id == "model"
    for word in ("all", "any", "and", "or", "not", "in", "over"):
        with pytest.raises(SpecError, match="reserved word|syntax error"):
            parse(f"let {word} = 2\n")


def test_spans_are_one_based():
    (st,) = parse("\n  let abc = 1\n").statements
    assert (st.span.line, st.span.column) == (2, 3)
    assert (st.name.span.line, st.name.span.column, st.name.span.end_column) == (2, 7, 10)


# ---------------------------------------------------------------- errors (details in bad_specs/)


@pytest.mark.parametrize("text, line, column, words", [
    ("let a = (1 + 2\nlet b = 3\n", 1, 9, "`(` is never closed"),
    ("let a = [1, 2\n", 1, 9, "`[` is never closed"),
    ("let a = 1 $ 2\n", 1, 11, "unexpected character `$`"),
    ("phase a = x = 1\n", 1, 13, "write `==` to compare"),
    ("let a =\n", 1, 8, "a value is missing"),
    ("let a = 1.2.3\n", 1, 9, "malformed number `1.2.3`"),
    ("phse a = x > 1\n", 1, 1, "unknown statement `phse`"),
    ("let a = 1)\n", 1, 10, "unmatched `)`"),
    ('experiment "x\n', 1, 12, "a string is never closed"),
])
def test_syntax_errors_are_located(text, line, column, words):
    with pytest.raises(SpecError) as info:
        parse(text, "t.phase")
    d = info.value.diagnostic
    assert words in d.message
    assert (d.span.line, d.span.column) == (line, column)
    assert d.expected and d.found
    rendered = info.value.render()
    assert rendered.startswith(f"t.phase:{line}:{column}: error: ")
    assert "Traceback" not in rendered
