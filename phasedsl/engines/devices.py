"""The machine: XLA settings made before JAX starts, and the defaults that depend on the backend.

XLA settings (``configure``) cannot change once JAX has started:

- On GPUs, XLA captures while loops and conditionals in CUDA graphs (command buffers), so a
  NUTS trajectory's many small steps are not each launched from the host (its time on an
  H200: ``benchmarks/README.md``, "GPU"). Ignored by other backends.
- ``cpu_devices``: XLA's CPU backend shows that many devices, so ``phasedsl run`` spreads
  its sweep points (NUTS: their chains) over that many cores (``phasedsl.engines.many``; the CLI's
  default is one device per usable core; PT1 ``--quick`` on 2 cores against one point at a
  time: ``benchmarks/README.md``).

A setting already present in ``XLA_FLAGS`` is left as the user wrote it.

Defaults by backend, as pure functions of its name (``"cpu"``, ``"gpu"``, ``"tpu"``) with thin
wrappers that ask JAX (``default_method``, ``default_chain_method``,
``default_particle_block``). The rule behind all three: on a CPU a batched gradient costs
about the sum of the single ones, so running work in lockstep only wastes it; on an
accelerator a step of many chains or particles costs about what one does.
"""

from __future__ import annotations

import os
import sys

__all__ = ["COMMAND_BUFFERS", "backend", "chain_method_for", "configure", "default_chain_method",
           "default_method", "default_particle_block", "method_for", "particle_block_for",
           "usable_cores", "xla_flags"]

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


_CONFIGURED: list[int] = []  # the cpu_devices of the call that set XLA_FLAGS


def configure(cpu_devices: int = 0) -> bool:
    """Set ``XLA_FLAGS`` for this process, once: the first call decides (``phasedsl run
    --cpu-devices 1``, then the Python API's default of one device per core, keeps 1);
    ``False`` (nothing done) after that or once JAX is imported."""
    if "jax" in sys.modules or _CONFIGURED:
        return False
    os.environ["XLA_FLAGS"] = xla_flags(os.environ.get("XLA_FLAGS", ""), cpu_devices)
    _CONFIGURED.append(cpu_devices)
    return True


def method_for(backend: str) -> str:
    """How ``run_many`` batches sweep points (``phasedsl.engines.many``): ``"sequential"`` on
    CPU (a batched gradient costs there what the single ones do, so lockstep only wastes
    work), ``"vectorized"`` on an accelerator."""
    return "sequential" if backend == "cpu" else "vectorized"


def chain_method_for(backend: str) -> str:
    """How NUTS runs its chains (``phasedsl.engines.nuts``): ``"sequential"`` on CPU,
    ``"flat"`` on an accelerator.

    Why flat on a GPU: a batched step of a few hundred chains is bound by kernel launches, so
    the wall time follows the loop iterations times the kernels per iteration. A flat batch of
    PT1's 88 chains runs 1.6x fewer iterations than lockstep (``benchmarks/bench_flat.py``),
    and compiled for an H200 a flat iteration launches 17 kernels against 22 per lockstep
    leapfrog step (``benchmarks/gpu_kernels.py``). Lockstep is the one timed on an
    H200 so far (``benchmarks/README.md``); ``benchmarks/device_session.sh`` times both."""
    return "sequential" if method_for(backend) == "sequential" else "flat"


def particle_block_for(backend: str) -> int:
    """SMC particles per block of HMC moves (``phasedsl.engines.smc``): 4 on a CPU, all at
    once (0) on an accelerator.

    One ``vmap`` over every particle of every run makes each intermediate of a network's
    gradient ``[runs x particles, n]`` floats (PT1 with 1,000 particles x 4 runs: 160 MB), far
    out of a CPU's caches; blocks of 4 particles keep them in cache. Measured on PT1 at theta =
    1.26, 1,000 particles x 4 runs, 2-core CPU: 107.0 s sampling all at once, 44.7 / 37.2 /
    36.1 / 36.7 s in blocks of 1 / 2 / 4 / 8: 3.0x. A GPU wants the widest batch."""
    return 4 if method_for(backend) == "sequential" else 0


def backend() -> str:
    """JAX's default backend (starts JAX)."""
    import jax  # here, not at the top: importing this module must leave XLA_FLAGS settable

    return jax.default_backend()


def default_method() -> str:
    """``method_for`` this machine."""
    return method_for(backend())


def default_chain_method() -> str:
    """``chain_method_for`` this machine."""
    return chain_method_for(backend())


def default_particle_block() -> int:
    """``particle_block_for`` this machine."""
    return particle_block_for(backend())
