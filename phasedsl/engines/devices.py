"""XLA settings made before JAX starts (``configure``): they cannot change afterwards.

- On GPUs, XLA captures while loops and conditionals in CUDA graphs (command buffers), so a
  NUTS trajectory's many small steps are not each launched from the host. Measured on an H200
  (PT1, 8 sweep values x 4 chains batched, 500 iterations): 13.0 s instead of 23.4 s
  (``benchmarks/README.md``). Ignored by other backends.
- ``cpu_devices``: XLA's CPU backend shows that many devices, so ``phasedsl run`` spreads
  its sweep points (NUTS: their chains) over that many cores (``phasedsl.engines.many``; the CLI's
  default is one device per usable core). PT1 ``--quick`` on 2 cores: 12.3 s sampling instead of 23.0 s.

A setting already present in ``XLA_FLAGS`` is left as the user wrote it.
"""

from __future__ import annotations

import os
import sys

__all__ = ["COMMAND_BUFFERS", "configure", "usable_cores"]

COMMAND_BUFFERS = ("--xla_gpu_enable_command_buffer="
                   "FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL")


def xla_flags(current: str, cpu_devices: int = 0) -> str:
    """``current`` XLA_FLAGS with phasedsl's settings added where the user set none."""
    flags = current.split()
    if not any(f.startswith("--xla_gpu_enable_command_buffer") for f in flags):
        flags.append(COMMAND_BUFFERS)
    if cpu_devices > 1 and not any(
            f.startswith("--xla_force_host_platform_device_count") for f in flags):
        flags.append(f"--xla_force_host_platform_device_count={cpu_devices}")
    return " ".join(flags)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def configure(cpu_devices: int = 0) -> bool:
    """Set ``XLA_FLAGS`` for this process; ``False`` (nothing done) once JAX is imported."""
    if "jax" in sys.modules:
        return False
    os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), cpu_devices)
    return True
