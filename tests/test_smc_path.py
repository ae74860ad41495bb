"""The sweep as one tempering path (``smc_path``): particles carried from value to value give
the masses and log Z of exact quadrature, and a phase created mid-sweep, which particles
carried from the first value cannot see, is found (the two directions disagree there and the
point is tempered again from the prior)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import phasedsl
from phasedsl.engines.registry import make_engine
from phasedsl.engines.smc_path_kernel import stratified_resample

CREATED = """
experiment "a well created mid-sweep"
sweep theta over 0, 0.2, 0.4, 0.55, 0.6, 0.65, 0.8, 1
param w in [-2, 2]
prior uniform
energy K = (w + 1)^2 * ((w - 1)^2 + 0.6 - theta)
let n = 20
phase left  = ball(w, -1, 1/2)
phase right = ball(w, 1, 1/2)
sample smc_path { particles = 300; runs = 4 }
"""


def test_stratified_resampling_keeps_each_phase_to_one_particle():
    w = jax.random.uniform(jax.random.PRNGKey(0), (997,))
    w = w / w.sum()
    codes = (jax.random.uniform(jax.random.PRNGKey(1), (997,)) * 3).astype(int)
    for seed in range(5):
        idx = np.asarray(stratified_resample(jax.random.PRNGKey(seed), w, codes, 400))
        for c in range(3):
            share = float(np.asarray(w)[np.asarray(codes) == c].sum())
            assert abs(np.sum(np.asarray(codes)[idx] == c) - 400 * share) < 1.0 + 1e-9


@pytest.fixture(scope="module")
def created(tmp_path_factory):
    from specfiles import sampled_and_exact

    folder = tmp_path_factory.mktemp("created")
    spec_file = folder / "created.phase"
    spec_file.write_text(CREATED)
    return sampled_and_exact(folder, spec_file)


@pytest.mark.slow  # minutes on 2 cores (a sampled path against quadrature; two devices)
def test_a_phase_created_mid_sweep_is_found(created):
    path, exact = created
    # each run adds its own values to locate its events: compare at the spec's eight
    path_at, exact_at = ({p.value: p for p in run.points} for run in (path, exact))
    for v in (0, 0.2, 0.4, 0.55, 0.6, 0.65, 0.8, 1):
        p, q = path_at[v], exact_at[v]
        for name in ("left", "right"):
            m, se = p.phases[name].mass, p.phases[name].se
            assert se is not None
            assert abs(m - q.phases[name].mass) <= 4 * se + 0.02, (p.value, name)
        assert abs(p.log_z - q.log_z) < 0.1, p.value
    # the right well does not exist at theta = 0 (K has one minimum there), holds half the
    # mass at 0.6 and all of it at 1: particles walked from either end cannot see the other
    # well, so those points disagree between directions and were tempered from the prior
    again = {p.value for p in path.points if p.diagnostics.get("retempered")}
    assert {0.55, 0.6, 0.65} <= again
    kinds = {(e.kind, e.phase) for e in path.events if not e.extra.get("secondary")}
    assert ("creation", "right") in kinds
    # left's mass falls below the floor, but its well at w = -1 (K = 0) persists at every
    # theta: a floor crossing kept as a secondary line, not a destruction
    (left,) = [e for e in path.events if (e.kind, e.phase) == ("destruction", "left")]
    assert left.extra["secondary"] and left.extra["minimum"]["holds"] == "throughout"


def test_both_directions_share_one_compiled_path():
    """4 runs walk 2 forwards and 2 backwards: one program for both, counted in traces."""
    from phasedsl.lower.compile import compile_spec

    spec = phasedsl.load_text(CREATED, "created.phase", {"particles": "50", "mutations": "2"})
    compiled = compile_spec(spec.checked)
    engine = make_engine("smc_path", compiled.target, spec.checked.sample)
    engine.run_sweep(0, [compiled.context(v) for v in (0.0, 0.2)])
    assert engine.traces == 1


@pytest.mark.slow  # the created-mid-sweep run: about a minute on 2 cores, alone in the suite
def test_the_report_says_where_points_were_tempered_again(created):
    path, _ = created
    assert "tempered again from the prior at" in " ".join(path.text().split())


SIDE_BY_SIDE = r"""
import jax, jax.numpy as jnp, numpy as np
from test_nuts_fast_paths import gaussian_target
from phasedsl.engines.registry import make_engine
assert jax.device_count() == 2
ctxs = [{"mu": jnp.float32(m), "sigma": jnp.float32(0.5)} for m in (1.0, 0.8, 0.5)]
settings = {"particles": 100, "runs": 2, "prior_draws": 4, "mutations": 2}
both = make_engine("smc_path", gaussian_target(), settings)
alone = make_engine("smc_path", gaussian_target(), {**settings, "devices": 1})
for d, e in zip(both.run_sweep(0, ctxs), alone.run_sweep(0, ctxs)):
    np.testing.assert_array_equal(d.params, e.params)
    np.testing.assert_array_equal(d.log_z, e.log_z)
assert ("both", 1) in both._paths and 1 in alone._paths and both.traces == alone.traces == 1
print("ok")
"""


@pytest.mark.slow  # minutes on 2 cores (a sampled path against quadrature; two devices)
def test_two_devices_walk_both_directions_at_once_with_the_same_draws():
    """On two devices (a subprocess: XLA's device count is set before JAX starts) the two
    directions run side by side in one call, one per device, with the draws and log Z of
    the two directions walked one after the other on one device, bit for bit."""
    from specfiles import run_on_two_devices

    run_on_two_devices(SIDE_BY_SIDE)


@pytest.mark.slow  # minutes on 2 cores (a sampled path against quadrature; two devices)
def test_a_path_run_is_reanalysed_on_its_saved_draws(created, tmp_path):
    """Other phase definitions over the same posterior: the masses are evaluated again on the
    path's saved draws, which stay as they were."""
    import shutil

    from phasedsl.pipeline.reanalyse import reanalyse

    path, _ = created
    copy = tmp_path / "path"
    shutil.copytree(path.folder, copy)
    draws = {p.name: p.read_bytes() for p in sorted((copy / "draws").iterdir())}
    narrower = CREATED.replace("ball(w, 1, 1/2)", "ball(w, 1, 1/4)")
    results = reanalyse(copy, phasedsl.load_text(narrower, "created.phase"))
    assert {p.name: p.read_bytes() for p in sorted((copy / "draws").iterdir())} == draws
    for old, new in zip(path.points, results["points"]):
        assert new["phases"]["left"]["mass"] == pytest.approx(old.phases["left"].mass)
        assert new["phases"]["right"]["mass"] <= old.phases["right"].mass + 1e-12
    assert any(new["phases"]["right"]["mass"] < old.phases["right"].mass - 0.01
               for old, new in zip(path.points, results["points"]))
