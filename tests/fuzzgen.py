"""A generator of mutated and adversarial spec files, for ``tests/test_fuzz.py``.

``cases(count, seed)`` yields ``(name, bytes)``: token and line mutations of the shipped specs
and of ``tests/bad_specs``, huge and tiny numbers, deep nesting, long chains of lets, unicode
and control characters, invalid bytes, and a few large files. Deterministic for a seed.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "specs").glob("*.phase")) + sorted((ROOT / "tests" / "bad_specs").glob("*.phase"))

SMALL = """sweep theta over linspace(0, 1, 3)
param w in [-2, 2]
let n = 10
energy K = (w - theta)^2
phase pos = w > 0
phase neg = w < 0
sample quadrature { points = 11 }
"""

TOKEN = re.compile(r"\s+|[A-Za-z_][A-Za-z0-9_]*|\d[\d_.]*(?:[eE][+-]?\d+)?|\*\*|<=|>=|==|!=|.",
                   re.S)
NUMBERS = ["0", "1e400", "1e-400", "9^9^9", "10^10^10", "2^64", "18446744073709551616",
           "1e308", "-1e308", "0.0", "1_000_000_000", "10^6", "1/0", "0/0", "log(0)",
           "sqrt(-1)", "1e-45", "3.", ".5", "٣", "1__0", "1e", "0x10", "nan", "inf", "12" * 50]
WORDS = ["let", "phase", "sweep", "over", "param", "energy", "sample", "report", "data",
         "model", "truth", "network", "width", "symmetric", "all", "any", "i", "w", "q", "b",
         "c", "n", "theta", "θ", "β", "_sweep", "pi", "e", "eps", "uniform", "normal", "nuts",
         "smc", "quadrature", "chains", "draws", "points", "seed", "linspace", "range", "norm",
         "dot", "ball", "annulus", "disc", "min", "max", "log", "sqrt", "relu", "not", "and",
         "or", "in", "experiment", "prior", "beta", "u", "truth.w"]
PUNCT = list("()[]{},;:=~+-*/^<>.\"#") + ["**", "<=", ">=", "==", "!=", "\n", "\r\n", "\t"]
ODD = ["\x00", "\x0b", "\x0c", "\x1b[31m", "\x1c", "\x85", "\u2028", "\u2029", "\ufeff",
       "\u200b", "é", "ω", "𝑤", "\u202e", "[/]", "[bold]", "$x$", "\\", "'", "`", "\x7f"]
BYTES = [b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]


def _seed_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in SEEDS] + [SMALL]


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _random_token(rng: random.Random) -> str:
    pool = rng.choice([NUMBERS, WORDS, PUNCT, ODD])
    return rng.choice(pool)


def mutate_tokens(text: str, rng: random.Random) -> str:
    toks = _tokens(text)
    for _ in range(rng.randint(1, 4)):
        if not toks:
            break
        i = rng.randrange(len(toks))
        op = rng.random()
        if op < 0.3:
            del toks[i]
        elif op < 0.6:
            toks[i] = _random_token(rng)
        elif op < 0.8:
            toks.insert(i, _random_token(rng) + rng.choice(["", " "]))
        else:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
    return "".join(toks)


def mutate_lines(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.35:
            del lines[i]
            if not lines:
                lines = [""]
        elif op < 0.7:
            lines.insert(i, lines[rng.randrange(len(lines))])
        else:
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def deep(rng: random.Random) -> str:
    """Deep nesting and long chains, around the language's limits."""
    k = rng.choice([50, 99, 100, 101, 150, 300, 600])
    head = "sweep theta over 1, 2\nparam w in [-2, 2]\nlet n = 10\n"
    tail = "phase pos = w > 0\nsample quadrature { points = 11 }\n"
    kind = rng.choice(["paren", "neg", "sin", "not", "pow", "sum", "or", "lets", "vec", "lets2"])
    if kind == "paren":
        return head + f"energy K = {'(' * k}w{')' * k}^2\n" + tail
    if kind == "neg":
        return head + f"energy K = {'-' * k}w^2\n" + tail
    if kind == "sin":
        return head + f"energy K = {'sin(' * k}w{')' * k}^2\n" + tail
    if kind == "not":
        return head + "energy K = w^2\n" + f"phase p = {'not ' * k}w > 0\n" + tail
    if kind == "pow":
        return head + "energy K = " + "^".join(["w"] * k) + "\n" + tail
    if kind == "sum":
        return head + "energy K = " + " + ".join(["w^2"] * k) + "\n" + tail
    if kind == "or":
        return head + "energy K = w^2\nphase p = " + " or ".join(["w > 0"] * k) + "\n" + tail
    if kind == "vec":
        return head + f"energy K = norm({'[' * k}w{']' * k})\n" + tail
    if kind == "lets2":
        return (head + "let a0 = w\n" + "".join(f"let a{i} = a{i-1} * a{i-1} + 1\n"
                                                for i in range(1, k // 4 + 2))
                + f"energy K = a{k // 4 + 1}\n" + tail)
    return (head + "let a0 = w\n" + "".join(f"let a{i} = sin(a{i-1})\n" for i in range(1, k))
            + f"energy K = a{k - 1}^2\n" + tail)


def large(rng: random.Random) -> bytes:
    kind = rng.choice(["newlines", "comment", "lets"])
    if kind == "newlines":
        return SMALL.encode() + b"\n" * 1_200_000
    if kind == "comment":
        return SMALL.encode() + b"# " + b"x" * 1_100_000 + b"\n"
    return SMALL.encode() + "".join(f"let z{i} = {i}\n" for i in range(3000)).encode()


def case(rng: random.Random, index: int) -> tuple[str, bytes]:
    texts = _seed_texts()
    r = rng.random()
    if r < 0.40:
        return f"tok{index}", mutate_tokens(rng.choice(texts), rng).encode("utf-8")
    if r < 0.60:
        return f"line{index}", mutate_lines(rng.choice(texts), rng).encode("utf-8")
    if r < 0.72:
        return f"deep{index}", deep(rng).encode()
    if r < 0.80:
        text = rng.choice(texts)
        i = rng.randrange(len(text) + 1)
        return f"odd{index}", (text[:i] + rng.choice(ODD) + text[i:]).encode("utf-8")
    if r < 0.86:
        data = rng.choice(texts).encode("utf-8")
        i = rng.randrange(len(data) + 1)
        return f"bytes{index}", data[:i] + rng.choice(BYTES) + data[i:]
    if r < 0.95:
        text = SMALL
        numbers = re.findall(r"\d+(?:\.\d+)?", text)
        old = rng.choice(numbers)
        return f"num{index}", text.replace(old, rng.choice(NUMBERS), 1).encode()
    if r < 0.97:
        return f"empty{index}", rng.choice([b"", b"\n", b"\xef\xbb\xbf", b"   ", b"#", b";"])
    return f"large{index}", large(rng)


def cases(count: int, seed: int = 0):
    """``count`` fuzz inputs ``(name, bytes)``, the same for the same ``seed``."""
    rng = random.Random(seed)
    for index in range(count):
        yield case(rng, index)
