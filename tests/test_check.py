"""The checker: specs that must pass, what it resolves them to, and warnings as values."""

from __future__ import annotations

import math
import re

import pytest
import sympy as sp

from phasedsl.language import symbolic as sy
from phasedsl.language.check import check
from phasedsl.language.errors import SpecError, UsageError
from phasedsl.language.syntax import parse
from specfiles import DOCS_MD, LANGUAGE_MD, ROOT, SPECS, fenced_blocks

def checked(text: str, overrides=None, name: str = "t.phase"):
    return check(parse(text, name), overrides)


def spec_file(stem: str):
    path = ROOT / "specs" / f"{stem}.phase"
    return check(parse(path.read_text(encoding="utf-8"), str(path)))


def values(expr, symbol, at):
    return float(sp.sympify(expr).subs(symbol, at))


ENERGY = """sweep theta over linspace(0, 1, 11)
param w in [-2, 2]
prior uniform
energy K = (w + 1 - theta)^2 * (w - 1 + theta)^4
let n = 10
let eps = 0.5
phase left  = ball(w, theta - 1, eps)
phase right = ball(w, 1 - theta, eps)
"""


# ---------------------------------------------------------------- everything shipped checks


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_check_without_warnings(path):
    c = check(parse(path.read_text(encoding="utf-8"), str(path)))
    assert c.warnings == ()
    assert c.phases


@pytest.mark.skipif(not LANGUAGE_MD.exists(), reason="LANGUAGE.md not available")
def test_language_md_examples_check():
    blocks = [b for b in fenced_blocks(LANGUAGE_MD)
              if re.search(r'^experiment "', b, re.M) and "EXPR" not in b]
    assert len(blocks) == 4
    titles = set()
    for block in blocks:
        c = check(parse(block, "LANGUAGE.md"))
        assert c.warnings == ()
        titles.add(c.experiment)
    assert titles == {"second-order merge", "first-order in n", "PT1: deforming to degeneracy",
                      "PT2: weight cancellation"}


@pytest.mark.skipif(not LANGUAGE_MD.exists(), reason="LANGUAGE.md not available")
def test_language_md_snippets_complete_to_specs():
    blocks = fenced_blocks(LANGUAGE_MD)
    network = next(b for b in blocks if b.startswith("data {"))
    energy = next(b for b in blocks if b.startswith("param w in"))
    c = checked("sweep theta over 1, 1.5\n" + network
                + "let u[i] = q[i] * w[i]\nphase a = ball(u[1], truth.u[1], 0.3)\n")
    assert c.kind == "network" and c.dim == 9 and c.network.seed == 0
    assert c.network.truth_b == (-0.3, -0.3)
    c = checked("sweep theta over 0, 0.5\n" + energy + "phase a = ball(w, theta - 1, 1/2)\n")
    assert c.kind == "energy" and c.dim == 3 and c.prior == ("uniform",)


def test_docs_examples_check():
    blocks = [b for b in fenced_blocks(DOCS_MD) if b.startswith("# spec")]
    assert len(blocks) >= 4
    for block in blocks:
        check(parse(block, "docs/language.md"))


# ---------------------------------------------------------------- networks


def test_pt1_resolves():
    c = spec_file("pt1_degeneracy")
    assert c.kind == "network" and c.experiment == "PT1: deforming to degeneracy"
    assert c.dim == 9  # d(k+2)+1 with d = 2, k = 2
    assert [(s.name, s.shape, s.start) for s in c.slots] == [
        ("w", (2, 2), 0), ("b", (2,), 4), ("q", (2,), 6), ("c", (), 8)]
    assert [str(s) for s in c.symbols] == [
        "w[1][1]", "w[1][2]", "w[2][1]", "w[2][2]", "b[1]", "b[2]", "q[1]", "q[2]", "c"]
    net = c.network
    assert (net.width, net.inputs, net.activation, net.truth_width) == (2, 2, "relu", 2)
    assert net.x_dist == ("uniform", -1.0, 1.0) and net.noise == 1 and net.n == 10000
    assert c.sweep_name == "theta" and len(c.sweep_values) == 22
    assert c.sweep_values[:2] == pytest.approx([1.0, 1.02])
    assert c.sweep_values[-1] == pytest.approx(math.pi / 2)
    assert values(c.beta, c.sweep_symbol, 1.0) == pytest.approx(1 / math.log(10000))
    assert c.prior == ("normal", 0.0, 1.0)
    assert c.engine == "smc"  # masses that do not depend on where chains start
    assert (c.sample["particles"], c.sample["runs"], c.sample["mutations"],
            c.sample["final_stages"]) == (100, 4, 10, 6)
    assert c.report == {"floor": 0.005, "merge": 0.9, "resolution": 0.005, "pool": 5}
    assert c.phase_names == ("nondegenerate", "degenerate")
    assert isinstance(c.phases[1][1], sy.Symmetric)
    # the truth at theta = pi/3
    w1 = [values(x, c.sweep_symbol, math.pi / 3) for x in net.truth_w[0]]
    assert w1 == pytest.approx([0.5, math.sqrt(3) / 2])
    assert net.truth_b == (-0.3, -0.3) and net.truth_q == (1, 1) and net.truth_c == 0
    # u[i] = q[i] * w[i] on the model's symbols
    q1, w11 = c.symbols[6], c.symbols[0]
    assert sp.simplify(c.node_lets["u"][0].items[0] - q1 * w11) == 0


def test_pt2_resolves():
    c = spec_file("pt2_cancellation")
    assert c.dim == 13  # d = 3, k = 2
    assert [(s.name, s.shape, s.start) for s in c.slots] == [
        ("w", (3, 2), 0), ("b", (3,), 6), ("q", (3,), 9), ("c", (), 12)]
    assert c.network.truth_q[1] == c.sweep_symbol
    assert len(c.network.truth_lets["u"]) == 3
    assert c.sweep_values[-5:] == pytest.approx([2.0, 2.25, 2.5, 2.75, 3.0])
    outward = c.phases[0][1]
    assert isinstance(outward, sy.Symmetric) and isinstance(outward.item, sy.AllOf)
    assert len(outward.item.items) == 3  # one ball per node


def test_new_tanh_network_with_narrower_truth():
    c = checked("""experiment "tanh, width 3 against a truth of width 2"
sweep a over linspace(0.5, 1.5, 5)
data {
  n = 2_000
  x ~ uniform(-1, 1)^2
  noise = 0.5
  seed = 7
}
beta = 1 / log(n)
model network(width = 3, activation = tanh)
truth network(width = 2) {
  w[1] = [a, 0]
  w[2] = [0, 1]
  q[2] = -1
}
let u[i] = q[i] * w[i]
phase aligned = symmetric(ball(u[1], truth.u[1], 0.25) and ball(u[2], truth.u[2], 0.25))
phase spare   = any i: norm(u[i]) < 0.1
sample nuts { chains = 2; draws = 500 }
""")
    net = c.network
    assert (net.width, net.inputs, net.activation) == (3, 2, "tanh")
    assert (net.truth_width, net.truth_activation) == (2, "tanh")  # the model's unless it says otherwise
    assert c.dim == 3 * (2 + 2) + 1 == 13
    assert net.truth_q == (1, -1) and net.truth_b == (0, 0) and net.truth_c == 0
    assert net.n == 2000 and net.noise == 0.5 and net.seed == 7
    assert len(c.node_lets["u"]) == 3 and len(net.truth_lets["u"]) == 2
    assert isinstance(c.phases[1][1], sy.AnyOf) and len(c.phases[1][1].items) == 3
    assert c.sample["chains"] == 2 and c.sample["draws"] == 500 and c.sample["warmup"] == 1000


def test_truth_defaults_and_per_node_settings():
    c = checked("""sweep t over 1, 2
data { n = 100; x ~ normal(0, 1)^3 }
model network(width = 2)
truth network(width = 3) { w = [1, 0, t]; b[2] = 0.5; q = [1, 2, 3] }
phase p = q[1] > 0
""")
    net = c.network
    assert net.inputs == 3 and net.x_dist == ("normal", 0.0, 1.0)
    assert net.truth_w[0] == net.truth_w[2] == (1, 0, c.sweep_symbol)  # `w = ...` sets every node
    assert net.truth_b == (0, 0.5, 0) and net.truth_q == (1, 2, 3) and net.truth_c == 0


def test_sweeping_n_in_a_network():
    c = checked("""sweep n over 100, 1000
data { x ~ uniform(-1, 1)^2 }
model network(width = 2)
truth network(width = 2) { w[1] = [1, 0]; w[2] = [0, 1] }
phase p = q[1] > 0
""")
    assert c.n == c.sweep_symbol and c.warnings == ()


NO_SAMPLE = """sweep t over 1, 2
data { n = 100; x ~ uniform(-1, 1)^2 }
model network(width = 2)
truth network(width = 2) { w[1] = [1, 0]; w[2] = [0, t] }
phase p = q[1] > 0
"""


def test_a_network_without_sample_block_gets_the_shipped_pt1_setting():
    """A network's smc defaults: 100 particles x 4 runs, 6 final stages (``docs/coverage.md``,
    "Defaults"); what the spec or --set gives wins; an energy's smc keeps the table's."""
    c = checked(NO_SAMPLE)
    assert c.engine == "smc"
    assert (c.sample["particles"], c.sample["runs"], c.sample["final_stages"]) == (100, 4, 6)
    c = checked(NO_SAMPLE + "sample { particles = 300; final_stages = 0 }\n")
    assert (c.sample["particles"], c.sample["final_stages"]) == (300, 0)
    c = checked(NO_SAMPLE, {"particles": "50"})
    assert (c.sample["particles"], c.sample["final_stages"]) == (50, 6)
    energy = checked("param w\nenergy K = w^2\nlet n = 3\nphase p = w > 0\n")
    assert (energy.sample["particles"], energy.sample["final_stages"]) == (2000, 0)


# ---------------------------------------------------------------- energies


def test_two_dimensional_energy():
    c = checked("""experiment "a ring and a point"
sweep r over 0.2, 0.4, 0.6
param v[2] in [-1, 1]
energy K = (norm(v)^2 - r^2)^2 * norm(v - [0.5, 0])^2
let n = 50
phase point = ball(v, [0.5, 0], 0.3)
phase ring  = annulus(v, r, 0.1)
phase core  = disc(v, 0.1)
sample quadrature { points = 201 }
""")
    assert c.kind == "energy" and c.dim == 2
    assert [(s.name, s.shape, s.lower, s.upper) for s in c.slots] == [("v", (2,), -1.0, 1.0)]
    assert [str(s) for s in c.symbols] == ["v[1]", "v[2]"]
    assert c.prior == ("uniform",) and c.engine == "quadrature" and c.sample == {"points": 201}
    assert c.phase_names == ("point", "ring", "core")
    assert c.warnings == ()


def test_energy_defaults():
    c = checked("param w\nenergy K = w^2\nlet n = 3\nphase p = w > 0\n")
    assert c.prior == ("normal", 0.0, 1.0)  # no box: a normal prior by default
    # no box, so no quadrature: tempered SMC, whose masses do not depend on starting points
    assert c.beta == 1 and c.n == 3 and c.engine == "smc"
    assert c.sample["particles"] == 2000 and c.sample["runs"] == 4
    assert c.experiment == "t"  # the file name when there is no `experiment`
    nuts = checked("param w\nenergy K = w^2\nlet n = 3\nphase p = w > 0\nsample nuts { chains = 2 }\n")
    assert nuts.engine == "nuts" and nuts.sample["draws"] == 2000


@pytest.mark.parametrize("params, engine", [
    ("param w in [-2, 2]", "quadrature"),                       # one number in a box
    ("param w[2] in [-2, 2]", "quadrature"),                    # two
    ("param a in [-1, 1]\nparam b in [0, 1]", "quadrature"),
    ("param w[3] in [-2, 2]", "smc"),                           # three: no grid
    ("param w", "smc"),                                         # no box
    ("param a in [-1, 1]\nparam b", "smc"),
])
def test_default_engine_of_energies(params, engine):
    name = params.split()[1].split("[")[0]
    text = f"{params}\nlet n = 3\nenergy K = {name}[1]^2\nphase p = {name}[1] > 0\n"
    if "[" not in params.split("in")[0]:
        text = f"{params}\nlet n = 3\nenergy K = {name}^2\nphase p = {name} > 0\n"
    assert checked(text).engine == engine
    assert checked(text + "sample {}\n").engine == engine  # a block naming none


def test_default_engine_of_networks():
    from phasedsl.language.settings import NETWORK_ENGINE

    text = (ROOT / "specs" / "pt1_degeneracy.phase").read_text()
    line = next(x for x in text.splitlines() if x.startswith("sample "))
    unnamed = text.replace(line, "sample { seed = 1 }")
    c = checked(unnamed)
    assert c.engine == NETWORK_ENGINE != "nuts" and c.sample["seed"] == 1


def test_lets_may_use_the_sweep_and_feed_boxes_and_sizes():
    c = checked("""sweep theta over 1, 2
let L = 2
let k = 2
let half = theta / 2
param v[k] in [-L, L]
energy K = norm(v - [half, 0])^2
let n = 10 * theta
phase p = ball(v, [half, 0], 0.5)
""")
    assert c.slots[0].shape == (2,) and c.slots[0].lower == -2.0
    assert c.lets["half"] == c.sweep_symbol / 2
    assert c.n == 10 * c.sweep_symbol


def test_greek_and_ascii_are_the_same_names():
    a = checked("sweep θ over 1, 2\nparam w in [-1, 1]\nenergy K = (w - theta)^2\n"
                "let n = 5\nphase p = ball(w, θ, 0.5)\n")
    b = checked("sweep theta over 1, 2\nparam w in [-1, 1]\nenergy K = (w - θ)^2\n"
                "let n = 5\nphase p = ball(w, theta, 0.5)\n")
    assert a.sweep_name == b.sweep_name == "theta"
    assert a.energy == b.energy and a.phases == b.phases


def test_arithmetic_values():
    c = checked("""param w in [-1, 1]
energy K = w^2
let n = 1_000
let a = -2^2
let b = 2**3
let big = 1e4
let r = 2^3^2
let s = min(3, 1, 2) + max(1, 2) + abs(-1) + sqrt(4) + norm([3, 4]) + dot([1, 2], [3, 4])
let v = 2 * [1, 2] - [1, 1] / 2
let third = [4, 5, 6][3]
phase p = w > 0
""")
    lets = c.lets
    assert lets["a"] == -4 and lets["b"] == 8 and lets["big"] == 10000 and lets["r"] == 512
    assert c.n == 1000
    assert lets["s"] == 1 + 2 + 1 + 2 + 5 + 11
    assert lets["v"] == sy.Vec((sp.Rational(3, 2), sp.Rational(7, 2)))
    assert lets["third"] == 6
    t = checked("param w\nenergy K = w\nlet n = 1\nlet t = pi + e\n").lets["t"]
    assert float(t) == pytest.approx(math.pi + math.e)


def test_conditions():
    c = checked(ENERGY + "phase both = not (w > 0) and (w < -1 or w == -0.5) and w != 0\n")
    both = dict(c.phases)["both"]
    assert isinstance(both, sy.AllOf) and isinstance(both.items[0], sy.NotP)
    assert isinstance(both.items[1], sy.AnyOf)


# ---------------------------------------------------------------- sweeps


@pytest.mark.parametrize("items, expected", [
    ("linspace(0, 1, 5)", [0, 0.25, 0.5, 0.75, 1]),
    ("linspace(2, 3, 1)", [2]),
    ("range(0, 1, 0.25)", [0, 0.25, 0.5, 0.75]),  # the end is excluded, as in Python
    ("range(1, 4, 1)", [1, 2, 3]),
    ("range(0, 1, 0.3)", [0, 0.3, 0.6, 0.9]),
    ("1, 2, 5, 10", [1, 2, 5, 10]),
    ("linspace(0, 1, 3), 1.5, range(2, 3, 0.5), pi", [0, 0.5, 1, 1.5, 2, 2.5, math.pi]),
])
def test_sweep_values(items, expected):
    c = checked(f"sweep t over {items}\nparam w in [-1, 1]\nenergy K = (w - t)^2\nlet n = 3\n"
                "phase p = w > 0\n")
    assert list(c.sweep_values) == pytest.approx(expected)


def test_sweep_items_may_use_lets_that_do_not_depend_on_the_sweep():
    c = checked("let top = 2 * half\nlet half = 1\nsweep t over linspace(0, top, 5), top + 1\n"
                "param w in [-1, 1]\nenergy K = (w^2 - t)^2\nlet eps = 1 - t / 4\n"
                "let n = 50\nphase p = ball(w, 0, eps)\n")
    assert list(c.sweep_values) == pytest.approx([0, 0.5, 1, 1.5, 2, 3])
    # lets used by the sweep are checked again against its values: eps = 1 - 3/4 > 0 holds,
    # and 1 - t / 2 would not
    with pytest.raises(SpecError, match="must be positive at every sweep value"):
        checked("let top = 2\nsweep t over linspace(0, top, 5), top + 1\n"
                "param w in [-1, 1]\nenergy K = (w^2 - t)^2\nlet eps = 1 - t / 2\n"
                "let n = 50\nphase p = ball(w, 0, eps)\n")


# ---------------------------------------------------------------- warnings are values


def test_missing_sweep_is_a_warning():
    c = checked("param w in [-1, 1]\nenergy K = w^2\nlet n = 3\nphase p = w > 0\n")
    assert c.sweep_name is None and c.sweep_values == (0.0,)
    (w,) = c.warnings
    assert w.severity == "warning" and "no `sweep`" in w.message
    assert w.render("", "t.phase").startswith("t.phase: warning: no `sweep`")


def test_unused_sweep_variable_is_a_warning():
    c = checked("sweep t over 1, 2\nparam w in [-1, 1]\nenergy K = w^2\nlet n = 3\n"
                "phase p = w > 0\n")
    (w,) = c.warnings
    assert w.severity == "warning" and "`t` is never used" in w.message
    assert (w.span.line, w.span.column) == (1, 7)


def test_missing_phase_is_a_warning():
    c = checked("sweep t over 1, 2\nparam w in [-1, 1]\nenergy K = (w - t)^2\nlet n = 3\n")
    (w,) = c.warnings
    assert "no `phase`" in w.message and c.phases == ()


# ---------------------------------------------------------------- --set


def test_overrides():
    c = checked(ENERGY, {"draws": "500", "eps": "0.2", "engine": "quadrature"})
    assert c.engine == "quadrature"
    assert c.sample == {"points": None}  # None: the engine's default for the dimension
    assert c.lets["eps"] == sp.Float(0.2)
    (w,) = c.warnings  # `draws` is a setting of nuts, not of quadrature: ignored, with a warning
    assert w.severity == "warning" and "`quadrature` has no setting `draws`" in w.message
    c = checked(ENERGY + "sample nuts { draws = 100 }\n", {"engine": "quadrature"})
    assert c.sample == {"points": None} and c.warnings == ()
    c = checked(ENERGY + "sample nuts { draws = 100; chains = 2 }\n",
                {"draws": "500", "report.floor": "0.01", "let.eps": "1/4", "seed": "3"})
    assert c.sample["draws"] == 500 and c.sample["chains"] == 2 and c.sample["seed"] == 3
    assert c.report["floor"] == 0.01 and c.lets["eps"] == sp.Rational(1, 4)


def test_override_mistakes():
    with pytest.raises(UsageError, match="no such setting"):
        checked(ENERGY, {"drawz": "5"})
    with pytest.raises(UsageError, match="unknown engine"):
        checked(ENERGY, {"engine": "hmc"})
    # a bad value given with --set is a usage error that names the --set, not a file location
    with pytest.raises(UsageError, match=r"--set draws=0.5: `draws` must be a whole number"):
        checked(ENERGY, {"engine": "nuts", "draws": "0.5"})
    with pytest.raises(UsageError, match=r"--set eps=thetta: unknown name `thetta`"):
        checked(ENERGY, {"eps": "thetta"})
    with pytest.raises(UsageError, match=r"--set engine=quadrature: `quadrature` needs a box"):
        checked(ENERGY.replace("param w in [-2, 2]", "param w").replace("prior uniform", ""),
                {"engine": "quadrature"})
    with pytest.raises(UsageError, match="not an expression"):
        checked(ENERGY, {"eps": "(1"})


def test_errors_are_attached_to_the_file():
    with pytest.raises(SpecError) as info:
        checked(ENERGY + "phase x = ball(w, thetta, 1)\n", name="my.phase")
    text = info.value.render()
    assert text.startswith("my.phase:9:")
    assert "did you mean `theta`?" in text


def test_a_key_of_another_engine_in_an_unnamed_block_says_which_engine_it_got():
    with pytest.raises(SpecError) as info:
        checked("param w in [-1, 1]\nlet n = 3\nenergy K = w^2\nphase p = w > 0\n"
                "sample { particles = 10 }\n")
    text = info.value.render()
    assert "unknown key `particles` in `sample` (it names no engine" in text
    assert "its default, `quadrature`" in text and "expected: points" in text
