"""Engine capabilities declared once (``language.traits``) and settings as records of the one
table (``language.setting_records``): what a new engine or a new setting must add, and where."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from phasedsl.language.setting_records import record_type, report_settings, settings_record
from phasedsl.language.settings import ENGINE_NAMES, TABLE
from phasedsl.language.traits import TRAITS, EngineTraits, traits

ROOT = Path(__file__).resolve().parents[1] / "phasedsl"


def test_every_engine_has_one_row_of_traits_and_its_class_carries_it():
    from phasedsl.engines.registry import ENGINES

    assert tuple(ENGINES) == ENGINE_NAMES == tuple(TRAITS)
    for name, cls in ENGINES.items():
        assert cls.traits is TRAITS[name]
    assert [n for n in TRAITS if traits(n).exact] == ["quadrature"]
    assert [n for n in TRAITS if traits(n).chains] == ["nuts"]
    assert [n for n in TRAITS if traits(n).follows_sweep] == ["smc_path"]
    assert traits("no such engine") == EngineTraits()


def _engine_name_comparisons(path: Path) -> list[str]:
    """``x == "nuts"``, ``x in ("smc", "smc_path")`` ...: comparisons with engine names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Compare):
            continue
        for right in node.comparators:
            names = [right] if isinstance(right, ast.Constant) else \
                list(right.elts) if isinstance(right, (ast.Tuple, ast.List, ast.Set)) else []
            if any(isinstance(c, ast.Constant) and c.value in TRAITS for c in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_stages_ask_an_engine_what_it_can_do_not_what_it_is_called():
    """No engine name compared in the pipeline (but the pooling step, being changed apart),
    the report, the analysis or the settings checker."""
    files = [f for d in ("pipeline", "analysis", "output") for f in (ROOT / d).glob("*.py")]
    files += [ROOT / "language" / "settings.py"]
    found = [hit for f in files if f.name != "progress.py"  # tick kinds, not engines
             for hit in _engine_name_comparisons(f)]
    assert [hit for hit in found if not hit.startswith("pipeline/pooling.py")] == []


@pytest.mark.parametrize("section", sorted(TABLE))
def test_a_settings_record_has_every_key_of_the_table_with_its_default(section):
    record = settings_record(section)
    assert [f for f in record.__dataclass_fields__] == list(TABLE[section])
    assert all(getattr(record, k) == rule.default for k, rule in TABLE[section].items())
    with pytest.raises(Exception):
        setattr(record, next(iter(TABLE[section])), 1)  # frozen
    assert type(record) is record_type(section)


def test_a_record_takes_the_given_values_and_refuses_unknown_keys():
    report = report_settings({"pool": 2, "lcoef": 0, "gone_in_this_version": 1})
    assert (report.pool, report.lcoef, report.floor) == (2, 0, TABLE["report"]["floor"].default)
    with pytest.raises(KeyError, match="particle"):
        settings_record("smc", {"particle": 10})
    assert settings_record("smc", {"particles": 10}).particles == 10
