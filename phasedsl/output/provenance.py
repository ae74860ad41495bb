"""What a run was made from (``phasedsl report DIR --provenance``)."""

from __future__ import annotations

from rich.text import Text

from .format import fmt

__all__ = ["provenance"]


def _short(value) -> str:
    if isinstance(value, list):
        if len(value) > 6:
            return f"{fmt(value[0], 4)} ... {fmt(value[-1], 4)} ({len(value)} values, one per sweep value)"
        return ", ".join(fmt(v, 4) if isinstance(v, (int, float)) else str(v) for v in value)
    if isinstance(value, float):
        return fmt(value, 6)
    return "-" if value is None else str(value)


def provenance(results: dict) -> Text:
    """What the run was made from (``phasedsl report DIR --provenance``): the spec, the
    effective settings, n, beta, seeds, versions, machine and timings recorded in
    ``results.json``; fields an older run did not record are said to be missing."""
    t = Text()
    t.append("provenance\n", style="bold")
    sha = (results.get("spec_sha256") or "")[:12]
    t.append(f"  spec: {results.get('spec_file') or '-'} (sha256 {sha or '-'}; "
             f"text {'recorded' if results.get('spec_text') is not None else 'not recorded'})\n")
    given = results.get("set") or {}
    t.append("  --set: " + (", ".join(f"{k}={v}" for k, v in given.items()) or "none")
             + f"; --quick: {'yes' if results.get('quick') else 'no'}\n")
    settings = results.get("settings")
    if settings:
        t.append(f"  engine {settings['engine']}: "
                 + ", ".join(f"{k} {_short(v) if v is not None else 'auto'}"
                             for k, v in settings["sample"].items()) + "\n")
        t.append("  report: " + ", ".join(f"{k} {_short(v)}" for k, v in settings["report"].items())
                 + "\n")
    else:
        t.append("  settings: not recorded (a run made before provenance was recorded)\n",
                 style="yellow")
    eff = results.get("effective")
    if eff:
        t.append(f"  n: {_short(eff.get('n'))}\n  beta: {_short(eff.get('beta'))}\n")
        for name, value in (eff.get("lets") or {}).items():
            if name not in ("n", "beta"):
                t.append(f"  let {name}: {_short(value)}\n")
    seeds = results.get("seeds")
    if seeds:
        t.append(f"  seeds: sampler {seeds.get('sampler')}, data {_short(seeds.get('data'))}"
                 f" (each point: {seeds.get('point_key')})\n")
        if seeds.get("data_sets"):
            t.append(f"  data sets: seeds {_short(seeds['data_sets'])} "
                     f"({seeds.get('dataset_key')})\n")
    data = results.get("data_file")
    if data:
        t.append(f"  data file: {data.get('path')} (sha256 {data.get('sha256')}; "
                 f"{data.get('rows')} rows, {data.get('inputs')} inputs)\n")
    versions = results.get("versions") or {}
    if versions:
        t.append("  versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + "\n")
    m = results.get("machine")
    if m:
        t.append(f"  machine: {m.get('platform')}, {m.get('cpu_count')} cpus "
                 f"({m.get('usable_cores')} usable), {m.get('backend')} backend, "
                 f"{m.get('device_count')} x {m.get('device_kind')}\n")
        if m.get("argv"):
            t.append("  command: " + " ".join(m["argv"]) + "\n")
    elif results.get("device"):
        t.append(f"  device: {results['device']}\n")
    cluster = results.get("cluster")
    if cluster:  # a --cluster run: the driver's machine above, the workers here
        workers = {p.get("diagnostics", {}).get("worker") for p in results.get("points", [])}
        t.append(f"  cluster: {cluster.get('address')}, {cluster.get('points_per_task')} "
                 f"point(s) per task, {cluster.get('retries')} retries; points sampled by "
                 f"{len(workers - {None})} worker processes\n")
    tm = results.get("timings")
    if tm:
        wall = tm.get("wall_s")
        t.append(f"  started {tm.get('started')}, ended {tm.get('ended') or '-'}, wall "
                 f"{'-' if wall is None else f'{wall:.1f} s'}"
                 + (f", {tm['points_resumed']} points resumed from an earlier run"
                    if tm.get("points_resumed") else "") + "\n")
    for r in results.get("reanalyses") or []:
        t.append(f"  re-analysed {r.get('at')}: " + ", ".join(f"{k}={v}" for k, v in
                                                              (r.get("set") or {}).items())
                 + (f" spec {r['spec_file']}" if r.get("spec_file") else "") + "\n")
    return t
