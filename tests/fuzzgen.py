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


# ---------------------------------------------------------------- issue 25: new kinds
# Each generator below stands for a class an audit found: sizes just under the file
# limit (work, not bytes), every limit at -1/0/+1, numbers past float64 anywhere,
# encodings, and NumPy data files whose headers lie or whose streams are damaged.

HEAD = ("sweep theta over 1, 2\nparam w in [-2, 2]\nlet n = 10\nenergy K = (w - theta)^2\n"
        "sample quadrature { points = 11 }\n")
UNDER_LIMIT = 990_000  # bytes: under limits.MAX_FILE_BYTES


def _fill(unit: str, head: str = HEAD) -> bytes:
    """``head`` then ``unit`` repeated to just under the file limit."""
    return (head + unit * ((UNDER_LIMIT - len(head)) // len(unit))).encode()


def size_attacks() -> list[tuple[str, bytes]]:
    """Files just under the size limit whose cost is in the work they ask for."""
    vec = ", ".join(["1"] * 300_000)
    return [
        ("semicolons", _fill(";")),
        ("newlines", _fill("\n")),
        ("comment_lines", _fill("# a comment\n")),
        ("phases", _fill("phase p = w > 0\n").replace(b"phase p =", b"phase p%d =" % 0, 1)),
        ("many_phases", (HEAD + "".join(f"phase p{i} = w > {i % 9}/10\n"
                                        for i in range(40_000)))[:UNDER_LIMIT].encode()),
        ("many_lets", (HEAD + "".join(f"let z{i} = {i} * theta\n"
                                      for i in range(60_000)))[:UNDER_LIMIT].encode()),
        ("vector_literal", HEAD.replace("(w - theta)^2", f"norm([w, {vec}])")
         .encode()[:UNDER_LIMIT]),
        ("norm_of_big_vector", ("sweep theta over 1, 2\nparam v[10000] in [-1, 1]\nlet n = 10\n"
                                "energy K = norm(v)^2\n" + "".join(
                                    f"phase p{i} = norm(v) > {i}/100\n" for i in range(100))
                                ).encode()),
        ("long_sum_line", HEAD.replace("(w - theta)^2", " + ".join(["w"] * 160_000))
         .encode()[:UNDER_LIMIT]),
        ("sweep_list", HEAD.replace("1, 2", ", ".join(str(i) for i in range(1, 150_000)))
         .encode()[:UNDER_LIMIT]),
        ("brackets", HEAD.replace("(w - theta)^2", "(" * 400_000 + "w" + ")" * 400_000)
         .encode()[:UNDER_LIMIT]),
    ]


def _energy(extra: str = "", params: str = "param w in [-2, 2]\n",
            energy: str = "(w - theta)^2", sample: str = "quadrature { points = 11 }") -> str:
    return (f"sweep theta over 1, 2\n{params}let n = 10\nenergy K = {energy}\n{extra}"
            f"sample {sample}\n")


def _network(width: int = 2, inputs: int = 2, n: str = "100", truth_width: int = 1,
             extra: str = "") -> str:
    return (f"sweep eps over 0.2, 0.3\ndata {{ n = {n}; x ~ uniform(-1, 1)^{inputs} }}\n"
            f"model network(width = {width})\n"
            f"truth network(width = {truth_width}) {{ w[1] = [{', '.join(['1'] * inputs)}] }}\n"
            f"let u[i] = q[i] * w[i]\nphase pos = u[1][1] > eps\n{extra}")


def limit_edges() -> list[tuple[str, bytes]]:
    """Every limit of ``language/limits.py`` at -1, 0 and +1 (and the numbers past
    float64 in each place a number goes)."""
    from phasedsl.language import limits as L

    out = []
    for d in (-1, 0, 1):
        k = L.MAX_VECTOR + d
        out.append((f"vector{d}", _energy(params=f"param v[{k}] in [-1, 1]\n",
                                          energy="v[1]^2 - theta",
                                          sample="nuts { chains = 1; draws = 10; warmup = 10 }")))
        per = L.MAX_PARAMETERS // 10
        params = "".join(f"param v{i}[{per}] in [-1, 1]\n" for i in range(10))
        params += "param extra in [-1, 1]\n" if d > 0 else ""
        params = params if d >= 0 else params.replace(f"v9[{per}]", f"v9[{per - 1}]")
        out.append((f"parameters{d}", _energy(params=params, energy="v0[1]^2 - theta",
                                              sample="nuts { chains = 1; draws = 10; warmup = 10 }")))
        out.append((f"phases{d}", _energy("".join(f"phase p{i} = w > {i}/1000\n"
                                                  for i in range(L.MAX_PHASES + d)))))
        out.append((f"lets{d}", _energy("".join(f"let z{i} = {i}\n"
                                                for i in range(L.MAX_LETS + d - 1)))))
        out.append((f"width{d}", _network(width=L.MAX_WIDTH + d)))
        out.append((f"symmetric{d}", _network(width=L.MAX_SYMMETRIC_WIDTH + d).replace(
            "phase pos = u[1][1] > eps", "phase pos = symmetric(u[i][1] > eps)")))
        out.append((f"inputs{d}", _network(inputs=L.MAX_INPUTS + d)))
        out.append((f"n{d}", _network(n=str(L.MAX_N + d))))
        out.append((f"sweep{d}", _energy().replace(
            "sweep theta over 1, 2", f"sweep theta over linspace(1, 2, {10_000 + d})")))
        out.append((f"nesting{d}", _energy(energy="(" * (L.MAX_NESTING + d - 3) + "w"
                                           + ")" * (L.MAX_NESTING + d - 3) + " - theta")))
        out.append((f"magnitude{d}", _energy(energy=f"w^2 + 1e{L.MAX_MAGNITUDE_DIGITS + d}")))
        out.append((f"exponent{d}", _energy(energy=f"w^{L.MAX_EXPONENT + d} - theta")))
        out.append((f"seed{d}", _energy(sample=f"quadrature {{ points = 11; seed = {L.MAX_SEED + d} }}")))
        out.append((f"sample_size{d}", _energy().replace("let n = 10", f"let n = {d}")))
        out.append((f"swept_n{d}", _energy().replace("sweep theta over 1, 2", f"sweep n over {d}, 2")
                    .replace("let n = 10\n", "").replace("theta", "n / 10")))
        out.append((f"exp{d}", _energy(energy=f"exp({709 + d * 300}) * w^2")))
    for where, text in (("sweep", _energy().replace("1, 2", "1, exp(1e20)")),
                        ("range", _energy().replace("1, 2", "range(0, 1e300, 1e-300)")),
                        ("let", _energy("let big = exp(1000)\nphase p = w > big\n")),
                        ("box", _energy(params="param w in [-exp(1e20), 2]\n")),
                        ("phase", _energy("phase p = w > exp(1e20)\n")),
                        ("power", _energy(energy="10^10^10 * w")),
                        ("beta", _energy("beta = exp(1e20)\n")),
                        ("vector_length", _energy(params="param v[exp(690)] in [-1, 1]\n",
                                                  energy="v[1]^2"))):
        out.append((f"huge_{where}", text))
    return [(name, text.encode()) for name, text in out]


def encodings() -> list[tuple[str, bytes]]:
    """The small spec in every encoding and line ending an editor might write, and
    byte sequences that are not UTF-8 at all."""
    text = SMALL
    out = [("utf16", text.encode("utf-16")), ("utf16le", text.encode("utf-16-le")),
           ("utf32", text.encode("utf-32")), ("bom", b"\xef\xbb\xbf" + text.encode()),
           ("double_bom", b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode()),
           ("crlf", text.replace("\n", "\r\n").encode()),
           ("cr", text.replace("\n", "\r").encode()),
           ("latin1", text.replace("theta", "thé").encode("latin-1")),
           ("overlong_slash", text.encode().replace(b"/", b"\xc0\xaf")),
           ("surrogate", text.encode() + b"\xed\xa0\x80\n"),
           ("nul", text.encode().replace(b"\n", b"\x00\n", 1)),
           ("ucs_tag", text.replace("w > 0", "w\U000e0041 > 0").encode()),
           ("bidi", text.replace("pos", "p\u202eos").encode()),
           ("nbsp", text.replace(" ", "\u00a0").encode()),
           ("fullwidth_digits", text.replace("11", "１１").encode()),
           ("arabic_digits", text.replace("11", "١١").encode()),
           ("line_separator", text.replace("\n", "\u2028").encode()),
           ("ascii_control", text.replace(" ", "\x1f").encode())]
    return out


def npy_header(shape, descr: str = "<f8", fortran: bool = False, data: bytes = b"") -> bytes:
    """An ``.npy`` whose header claims ``shape`` (its data may be shorter)."""
    import io

    import numpy as np

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": fortran,
                                               "shape": tuple(shape)})
    return buf.getvalue() + data


def data_files(rng: random.Random, count: int) -> list[tuple[str, str, bytes]]:
    """``(name, extension, bytes)``: NumPy data files whose headers lie, whose members are
    damaged or bombs, and CSVs of odd digits: for ``data { file = ... }``."""
    import io
    import zipfile

    import numpy as np

    def npz(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as z:
            for name, data in members.items():
                z.writestr(name + ".npy", data)
        return buf.getvalue()

    good = io.BytesIO()
    np.savez_compressed(good, x=np.random.default_rng(0).normal(size=(50, 2)), y=np.ones(50))
    good = good.getvalue()
    shapes = [(10**12, 3), (2**62, 2), (0, 3), (50, 0), (50,), (), (50, 3, 1), (-1, 3),
              (10**8, 2)]
    descrs = ["<f8", "|O", "<U3", "|b1", "<c16", "<f2", ">i8", "|V8", "<M8[s]"]
    out = []
    for i in range(count):
        kind = rng.choice(["npy", "npz", "npz_damaged", "npz_bomb", "csv"])
        shape, descr = rng.choice(shapes), rng.choice(descrs)
        data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 16, 400])))
        if kind == "npy":
            out.append((f"npy{i}", ".npy", npy_header(shape, descr, rng.random() < 0.2, data)))
        elif kind == "npz":
            out.append((f"npz{i}", ".npz", npz({"x": npy_header(shape, descr, data=data),
                                                 "y": npy_header(shape[:1], "<f8", data=data)})))
        elif kind == "npz_damaged":
            b = bytearray(good)
            at, k = rng.randrange(30, len(b) - 30), rng.randint(1, 40)
            b[at: at + k] = bytes(rng.randrange(256) for _ in range(k))  # bytes overwritten
            out.append((f"npzd{i}", ".npz", bytes(b)))
        elif kind == "npz_bomb":
            rows = rng.choice([10**6, 2 * 10**8])
            zeros = npy_header((rows, 2)) + bytes(min(rows, 10**6) * 16)
            out.append((f"bomb{i}", ".npz", npz({"x": zeros, "y": npy_header((rows,))})))
        else:
            digits = rng.choice(["١٢", "１２", "1_2", "0x1", "1e999", "٫5", "²", "½", "1,5"])
            out.append((f"csv{i}", ".csv", f"x1,x2,y\n1,2,3\n{digits},2,3\n".encode()))
    return out
