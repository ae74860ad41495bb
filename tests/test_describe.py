"""`phasedsl check` prints expressions in the language's own syntax, not sympy's."""

from __future__ import annotations

import sympy as sp
from rich.console import Console

from phasedsl.output.describe import language_text, summary, truth_text
from phasedsl.pipeline import load, load_text

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
W, T = sp.symbols("w t")


def test_language_text_uses_the_languages_syntax():
    assert language_text((W + 1) ** 2 * W) == "w*(w + 1)^2"
    assert language_text(sp.Max(0, W)) == "relu(w)"
    assert language_text(sp.Min(0, W)) == "-relu(-w)"
    assert language_text(sp.Abs(W)) == "abs(w)"
    assert language_text(sp.sqrt(W)) == "sqrt(w)"
    assert language_text(W + sp.Float(6.123e-17)) == "w"
    text = language_text(sp.Min(T + (W + 1) ** 2, (W - 1) ** 2))
    assert "Min" not in text and "**" not in text


def test_printed_energies_are_specs_again():
    """What check prints for an energy parses and checks as the same function."""
    for energy in ("relu(w - 1/2)^2 + abs(w)", "-relu(-(w - t)) + (w + 1)^2 * t",
                   "sqrt(abs(w)) / (1 + w^2) - t * relu(w)"):
        spec = f"sweep t over 1, 2\nparam w in [-2, 2]\nenergy K = {energy}\nlet n = 3\n"
        checked = load_text(spec, "e.phase").checked
        again = load_text(spec.replace(energy, language_text(checked.energy)), "e.phase").checked
        for w in (-1.5, -0.2, 0.3, 1.7):
            for t in (1, 2):
                subs = {checked.symbols[0]: w, checked.sweep_symbol: t}
                assert float(checked.energy.subs(subs)) == float(again.energy.subs(
                    {again.symbols[0]: w, again.sweep_symbol: t}))


def test_check_shows_no_sympy_syntax():
    console = Console(record=True, width=200, file=open("/dev/null", "w"))
    for path in ("example_4_1_first_order.phase", "pt1_degeneracy.phase"):
        console.print(summary(load(str(ROOT / "specs" / path)).checked))
    text = console.export_text()
    assert "**" not in text and "e-17" not in text and "Min(" not in text
    checked = load(str(ROOT / "specs" / "pt1_degeneracy.phase")).checked
    assert "w=(0, 1)" in truth_text(checked, checked.sweep_values[-1])


def test_a_condition_over_several_lines_is_shown_whole():
    text = ("sweep a over 0\nparam w in [-2, 2]\nprior uniform\nenergy K = w^2 + a\n"
            "let n = 5\nphase p = (w > 0\n           and w < 1)\n")
    console = Console(width=200, record=True)
    console.print(summary(load_text(text).checked))
    (line,) = [t for t in console.export_text().splitlines() if t.startswith("phase p")]
    assert line.split(None, 2)[2].strip() == "w > 0 and w < 1"  # not the name `p`
