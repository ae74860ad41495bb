"""XLA settings made before JAX starts."""

from phasedsl.accelerator import COMMAND_BUFFERS, xla_flags


def test_command_buffers_added_unless_the_user_chose():
    assert xla_flags("") == COMMAND_BUFFERS
    mine = "--xla_gpu_enable_command_buffer=FUSION"
    assert xla_flags(f"--foo {mine}") == f"--foo {mine}"


def test_cpu_devices_added_unless_the_user_chose():
    assert xla_flags("", 4).split() == [COMMAND_BUFFERS, "--xla_force_host_platform_device_count=4"]
    assert "device_count" not in xla_flags("", 1)
    mine = "--xla_force_host_platform_device_count=2"
    assert xla_flags(mine, 8).split() == [mine, COMMAND_BUFFERS]
