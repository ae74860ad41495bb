"""XLA settings made before JAX starts."""

from phasedsl.engines.devices import COMMAND_BUFFERS, xla_flags


def test_command_buffers_added_unless_the_user_chose():
    assert xla_flags("") == COMMAND_BUFFERS
    mine = "--xla_gpu_enable_command_buffer=FUSION"
    assert xla_flags(f"--foo {mine}") == f"--foo {mine}"


def test_cpu_devices_added_unless_the_user_chose():
    assert xla_flags("", 4).split() == [COMMAND_BUFFERS, "--xla_force_host_platform_device_count=4"]
    assert "device_count" not in xla_flags("", 1)
    mine = "--xla_force_host_platform_device_count=2"
    assert xla_flags(mine, 8).split() == [mine, COMMAND_BUFFERS]


def test_items_are_dealt_round_robin():
    from phasedsl.engines.many import dealt

    order = dealt(8, 2)  # device 0's block: items 0, 2, 4, 6; device 1's: 1, 3, 5, 7
    assert order.tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert dealt(6, 1).tolist() == list(range(6))
    assert sorted(dealt(12, 3).tolist()) == list(range(12))


def test_default_batch_by_machine(monkeypatch):
    import jax
    import pytest

    from phasedsl.language.errors import UsageError
    from phasedsl.pipeline import ACCELERATOR_BATCH, default_batch

    assert default_batch(5) == 5
    with pytest.raises(UsageError):
        default_batch(-1)
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    monkeypatch.setattr(jax, "device_count", lambda: 1)
    assert default_batch(None) == 0  # one point at a time
    monkeypatch.setattr(jax, "device_count", lambda: 4)
    assert default_batch(None) == 4  # one point per core
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    monkeypatch.setattr(jax, "device_count", lambda: 2)
    assert default_batch(None) == 2 * ACCELERATOR_BATCH


def test_default_chain_method_by_machine(monkeypatch):
    """NUTS chains one after another on a CPU, flat on an accelerator; SMC and the batching
    of other engines keep vmap there."""
    import jax

    from phasedsl.engines.devices import default_chain_method, default_method

    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert (default_chain_method(), default_method()) == ("sequential", "sequential")
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert (default_chain_method(), default_method()) == ("flat", "vectorized")


def test_device_policy_is_a_function_of_the_backend():
    from phasedsl.engines.devices import chain_method_for, method_for, particle_block_for

    assert (method_for("cpu"), chain_method_for("cpu"), particle_block_for("cpu")) == (
        "sequential", "sequential", 4)
    for backend in ("gpu", "tpu"):
        assert (method_for(backend), chain_method_for(backend), particle_block_for(backend)) == (
            "vectorized", "flat", 0)
