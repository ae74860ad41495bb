"""Kernels per leapfrog step of PT1's batched NUTS, compiled for an H200 without a GPU.

    python -m venv /tmp/gpuvenv && v=$(python -c 'import jax; print(jax.__version__)')
    /tmp/gpuvenv/bin/pip install -e . "jax==$v" "jax-cuda13-plugin==$v" "jax-cuda13-pjrt==$v"
    /tmp/gpuvenv/bin/python benchmarks/gpu_kernels.py [--points 22 --chains 4]

A batched NUTS step over a few hundred chains does little arithmetic; on a GPU its time is
set by how many kernels it launches (and by the loop conditions between them). This script
compiles the two ways ``phasedsl`` batches a sweep's chains on a GPU, for an H200 described
by its target configuration (XLA's deviceless ahead-of-time compilation: the CUDA plugin
compiles, no device is needed), and counts what each while-loop body launches per iteration
in the optimised HLO: fusions, copies, custom calls, and the loop's condition.

- ``vectorized``: BlackJAX's NUTS under ``vmap`` (lockstep). Its draw phase is a scan over
  transitions > a loop over doublings > a loop over the leapfrog steps of a subtree > NumPyro's
  U-turn check over the step's checkpoints. One leapfrog step launches the step loop's body
  and condition, plus the U-turn loop (``t`` iterations, ``t`` = the number of trailing ones
  of the step's index in its subtree, 1 on average, so body once and condition twice).
- ``flat``: ``phasedsl.engines.flat_nuts``: one loop whose body is one leapfrog step of every chain.

Doubling and transition bookkeeping of lockstep NUTS (tens of kernels per doubling, a few
doublings per transition of hundreds of steps) is left out of its per-step figure: under one
kernel per step. Kernel counts are a model of GPU time, not a measurement of it: time them on
a GPU (``benchmarks/device_session.sh``).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")  # compile for a GPU without using one
os.environ.setdefault("JAX_SKIP_CUDA_CONSTRAINTS_CHECK", "1")  # no CUDA libraries needed
sys.path.insert(0, str(Path(__file__).resolve().parent))

H200 = """
gpu_device_info {
  threads_per_block_limit: 1024 threads_per_warp: 32 shared_memory_per_block: 49152
  shared_memory_per_core: 233472 threads_per_core_limit: 2048 core_count: 132
  fpus_per_core: 128 block_dim_limit_x: 2147483647 block_dim_limit_y: 65535
  block_dim_limit_z: 65535 memory_bandwidth: 4800000000000 l2_cache_size: 52428800
  clock_rate_ghz: 1.98 device_memory_size: 150754820096 shared_memory_per_block_optin: 232448
  cuda_compute_capability { major: 9 } registers_per_core_limit: 65536
  registers_per_block_limit: 65536
}
platform_name: "CUDA"
dnn_version_info { major: 9 minor: 8 }
runtime_version { major: 13 minor: 0 }
device_description_str: "NVIDIA H200"
"""

FREE = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def computations(hlo: str) -> dict[str, list[str]]:
    """The optimised HLO module's computations: name -> instruction lines."""
    comps, current = {}, None
    for line in hlo.splitlines():
        m = re.match(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if m and not line.startswith(" "):
            current = m.group(1)
            comps[current] = []
        elif current and line.startswith(" ") and line.strip():
            comps[current].append(line)
    return comps


def launches(lines: list[str]) -> tuple[int, collections.Counter, list[tuple[str, str]]]:
    """``(kernels, by op, nested loops [(condition, body)])`` of one computation: every
    instruction that runs on the device as its own kernel or copy (a ``while`` is not one;
    its condition and body are counted apart)."""
    ops, loops = collections.Counter(), []
    for line in lines:
        line = re.sub(r"/\*index=\d+\*/", "", line)  # tuple shapes carry these comments
        m = re.search(r"= (?:\([^=]*?\)|\S+) ([\w\-]+)\(", line)
        if m and m.group(1) not in FREE and m.group(1) != "while":
            ops[m.group(1)] += 1
        w = re.search(r"condition=%?([\w.\-]+), body=%?([\w.\-]+)", line)
        if w:
            loops.append((w.group(1), w.group(2)))
    return sum(ops.values()), ops, loops


def loop_tree(hlo: str) -> list[tuple[int, int, int, collections.Counter]]:
    """Every while loop of the module, depth first from the entry: ``(depth, body kernels,
    condition kernels, body ops)``."""
    comps = computations(hlo)
    entry = re.search(r"^ENTRY %?([\w.\-]+)", hlo, re.MULTILINE).group(1)
    rows = []

    def visit(name, depth):
        for cond, body in launches(comps[name])[2]:
            kernels, ops, _ = launches(comps[body])
            rows.append((depth, kernels, launches(comps[cond])[0], ops))
            visit(body, depth + 1)

    visit(entry, 1)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=22, help="sweep values (of PT1's 22)")
    ap.add_argument("--chains", type=int, default=4)
    args = ap.parse_args(argv)

    import jax
    import jax.numpy as jnp
    from common import load_pt1
    from jax.experimental import topologies

    from phasedsl.engines.many import stack_contexts
    from phasedsl.engines.flat_nuts import build_flat_chains
    from phasedsl.engines.nuts import build_chain, chain_keys
    from phasedsl.pipeline import point_key

    topology = topologies.get_topology_desc(platform="cuda", target_config=H200,
                                            topology="1x1x1")
    mesh = topologies.make_mesh(topology, (1,), ("x",))
    on_gpu = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
    checked, compiled = load_pt1(20000, 1000, args.chains)
    settings = checked.sample
    values = [float(v) for v in compiled.checked.sweep_values][:args.points]
    ctxs = stack_contexts([compiled.context(v) for v in values for _ in range(args.chains)])
    keys = jnp.concatenate([chain_keys(point_key(0, i), args.chains)
                            for i in range(len(values))])
    abstract = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=on_gpu), (keys, ctxs))
    build = {k: settings[k] for k in ("draws", "warmup", "target_accept", "max_depth")}
    width = len(values) * args.chains
    print(f"PT1, {len(values)} values x {args.chains} chains = {width} chains, n = 10,000, "
          f"compiled for an {H200.split('device_description_str: ')[1].strip()} "
          f"(jax {jax.__version__}, no device)")

    per_step = {}
    for method, fn in (("vectorized", jax.vmap(build_chain(compiled.target, **build))),
                       ("flat", build_flat_chains(compiled.target, **build))):
        hlo = jax.jit(fn).lower(*abstract).compile().as_text()
        rows = loop_tree(hlo)
        print(f"\n{method}: kernels per iteration of each while loop (body + condition)")
        for depth, body, cond, ops in rows:
            detail = ", ".join(f"{op} {k}" for op, k in ops.most_common())
            print(f"  {'  ' * depth}body {body:3d} + condition {cond}   ({detail})")
        deepest = max(d for d, *_ in rows)
        if method == "vectorized":
            # the draw phase's loops (the last nest): step loop at depth 3, U-turn loop at 4
            step = [r for r in rows if r[0] == deepest - 1][-1]
            uturn = [r for r in rows if r[0] == deepest][-1]
            per_step[method] = step[1] + step[2] + uturn[1] + 2 * uturn[2]
        else:
            (_, body, cond, _), = rows  # the one loop
            per_step[method] = body + cond
    print("\nkernels per leapfrog step of every chain: "
          + ", ".join(f"{m} {k:.1f}" for m, k in per_step.items())
          + f"; flat / vectorized = {per_step['flat'] / per_step['vectorized']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
