"""The engines' draws, bit for bit: every engine on one tiny spec with fixed keys, against the
arrays the code gave before its engines were restructured (``tests/golden/draws.npz``).

A refactoring of an engine (SMC as an ``init`` and a one-step kernel, a shared ``run()``
wrapper, ...) must not change a single draw. The recorded arrays are those of the versions of
JAX and jaxlib and of the CPU's instruction sets named in the file: XLA compiles for the
host's instructions (AVX-512, AMX, ...), and another CPU rounds the last bits otherwise
(every engine's draws, quadrature's too), as another JAX may. Then the test is skipped, and
the file is written again with the code as it stands before a change:

    python tests/test_draws_golden.py    # writes tests/golden/draws.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from phasedsl.lower.run_info import NutsInfo

from specfiles import tilted_well

GOLDEN = Path(__file__).parent / "golden" / "draws.npz"

TEXT = tilted_well("linspace(0, 1, 3)")

SMC = {"particles": 64, "runs": 2, "mutations": 2, "integration_steps": 3, "generations": 2,
       "prior_draws": 8, "final_stages": 2, "particle_block": 0, "devices": 1}
NUTS = {"chains": 2, "draws": 30, "warmup": 30, "devices": 1}
# label -> (engine, settings); flat NUTS is the nuts engine with chain_method "flat"
ENGINES = {
    "smc": ("smc", SMC),
    "smc_path": ("smc_path", SMC),
    "nuts": ("nuts", {**NUTS, "chain_method": "sequential"}),
    "nuts_flat": ("nuts", {**NUTS, "chain_method": "flat"}),
    "quadrature": ("quadrature", {"points": 201}),
}
MANY = ("smc", "nuts_flat")  # also run_many over the values
FIELDS = ("params", "indicators", "logdensity", "weights", "log_z")
# a NUTS chain's bookkeeping (per chain where a list), which the draws alone do not pin
NUTS_INFO = ("step_size", "grad_evals_per_chain", "divergences_per_chain", "acceptance",
             "steps_per_draw")


def _versions() -> str:
    """JAX's and jaxlib's versions and the CPU's instruction sets that XLA compiles for."""
    import platform

    import jax
    import jaxlib

    flags = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            line = next((ln for ln in f if ln.startswith("flags")), "")
        flags = {x for x in line.split(":", 1)[-1].split()
                 if x.startswith(("avx", "amx", "fma", "sse4", "f16c"))}
    except OSError:  # not Linux: the processor's name stands in
        flags = {platform.processor()}
    return (f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, {platform.machine()} "
            + " ".join(sorted(flags)))


def _arrays(prefix: str, draws) -> dict[str, np.ndarray]:
    out = {f"{prefix}/{f}": np.asarray(getattr(draws, f)) for f in FIELDS
           if getattr(draws, f) is not None}
    if isinstance(draws.info, NutsInfo):
        out[f"{prefix}/info"] = np.hstack([getattr(draws.info, k) for k in NUTS_INFO]).astype(
            np.float64)
    return out


def record() -> dict[str, np.ndarray]:
    """``{"ENGINE/CALL/FIELD": array}``: each engine's draws at the spec's sweep values with
    the keys ``point_key(0, index)``: ``run`` at each value, ``run_many`` over the values
    (smc, flat NUTS), ``run_sweep`` over them (smc_path)."""
    from phasedsl.engines.registry import make_engine
    from phasedsl.language.check import check
    from phasedsl.language.syntax import parse
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.points import point_key

    compiled = compile_spec(check(parse(TEXT, "golden.phase")))
    values = [0.0, 0.5, 1.0]
    ctxs = [compiled.context(v) for v in values]
    keys = [point_key(0, i) for i in range(len(values))]
    out = {}
    for name, (engine_name, settings) in ENGINES.items():
        engine = make_engine(engine_name, compiled.target, settings)
        if name == "smc_path":
            for i, draws in enumerate(engine.run_sweep(point_key(0, len(values)), ctxs)):
                out.update(_arrays(f"{name}/sweep{i}", draws))
            continue
        for i in (0, 2):
            out.update(_arrays(f"{name}/run{i}", engine.run(keys[i], ctxs[i])))
        if name in MANY:
            for i, draws in enumerate(engine.run_many(keys, ctxs)):
                out.update(_arrays(f"{name}/many{i}", draws))
    return out


def test_draws_are_the_recorded_ones_bit_for_bit():
    golden = np.load(GOLDEN)
    if str(golden["versions"]) != _versions():
        pytest.skip(f"recorded with {golden['versions']}, this is {_versions()}")
    got = record()
    want = {k: golden[k] for k in golden.files if k != "versions"}
    assert sorted(got) == sorted(want)
    differ = [k for k in want if got[k].dtype != want[k].dtype
              or not np.array_equal(got[k], want[k], equal_nan=True)]
    assert differ == []


if __name__ == "__main__":
    arrays = record()
    np.savez(GOLDEN, versions=np.array(_versions()), **arrays)
    print(f"{GOLDEN}: {len(arrays)} arrays ({_versions()})", file=sys.stderr)
