"""Checked settings as frozen records derived from the one settings table
(``settings.TABLE``): ``settings_record("report", checked.report).refine_points``. Every key of
the section is a field, its default the table's, so no caller repeats
``.get(key, TABLE[section][key].default)``; a key the table does not know is an
``AttributeError``, not a silent default (and ``settings_record`` refuses one given).

The checked spec keeps its settings as plain dicts (``CheckedSpec.sample``/``.report``: they
are the run's identity and its JSON); ``CheckedSpec.sample_settings`` and
``.report_settings`` are these records of them.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from .settings import TABLE

__all__ = ["record_type", "settings_record", "report_settings"]


@lru_cache(maxsize=None)
def record_type(section: str) -> type:
    """The frozen dataclass of ``section`` (an engine's name or ``report``): one field per key
    of ``TABLE[section]``, in table order, defaulting to the table's default
    (``SmcSettings``, ``ReportSettings``, ...)."""
    name = "".join(part.title() for part in section.split("_")) + "Settings"
    fields = [(key, object, dataclasses.field(default=rule.default))
              for key, rule in TABLE[section].items()]
    return dataclasses.make_dataclass(name, fields, frozen=True)


def settings_record(section: str, values: dict | None = None):
    """The record of ``section`` with ``values`` (checked settings: keys of the table; an
    ``auto`` key given as None stays None, decided at run time) and the table's defaults for
    the keys not given. Keys the table does not know are refused (``KeyError``)."""
    kind = record_type(section)
    unknown = set(values or {}) - set(TABLE[section])
    if unknown:
        raise KeyError(f"not {section} settings: {sorted(unknown)}")
    return kind(**(values or {}))


def report_settings(report: dict | None = None):
    """``settings_record("report", report)``: a run's ``report`` settings, every key present;
    keys this version does not know (a results document written by another) are left out."""
    return settings_record("report", {k: v for k, v in (report or {}).items()
                                      if k in TABLE["report"]})
