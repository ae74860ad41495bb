#!/usr/bin/env bash
# One accelerator session, run from the repository root: seed-scale sweeps within a time budget.
#
#   benchmarks/device_session.sh OUTDIR [SECONDS]
#
# 1. a smoke run of PT1 (--quick --batch 8) with XLA's default GPU settings and again with
#    while loops and conditionals captured in CUDA graphs (command buffers); the faster wins;
# 2. PT1 at the seed's scale (22 values x 4 chains x 20,000 draws after 1,000 warmup,
#    --batch 22: one compiled call), fewer draws only if the smoke timing says it cannot fit;
# 3. PT2 at the seed's scale (--batch 15) if the time left allows, else fewer draws;
# 4. the PT1 sweep with tempered SMC (its results are saved after every point);
# 5. the lowering tests on the accelerator, if time is left.
# Everything (results.json, figures, logs, a timing summary) is packed into OUTDIR/device.tar.gz.
# Wheels of packages the machine lacks (lark, blackjax, interegular) are taken from .whl/.
set -u
OUTDIR=${1:?usage: device_session.sh OUTDIR [SECONDS]}
BUDGET=${2:-540}
T0=$SECONDS
WORK=runs/device
mkdir -p "$OUTDIR" "$WORK"
left() { echo $((BUDGET - (SECONDS - T0))); }
say() { echo "[$((SECONDS - T0)) s] $*"; }

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 CI=1
PD="python3 -m phasedsl.cli"
CMDBUF="--xla_gpu_enable_command_buffer=FUSION,CUBLAS,CUBLASLT,CUSTOM_CALL,CUDNN,WHILE,CONDITIONAL"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
python3 -c "import jax, blackjax, numpy, sympy, lark; print('jax', jax.__version__, 'blackjax',
blackjax.__version__, 'numpy', numpy.__version__, jax.devices())" || exit 1
nproc

# seconds NAME: total sampling seconds and compile seconds of a finished run folder
seconds() {
  python3 - "$WORK/$1/results.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except OSError:
    print("nan nan"); raise SystemExit
d = [p["diagnostics"] for p in r["points"]]
if not d or r.get("status") != "complete":
    print("nan nan"); raise SystemExit
print(f'{sum(x["sample_s"] for x in d):.2f} {max(x["compile_s"] for x in d):.2f}')
EOF
}

run() {  # run NAME LIMIT_S ARGS...  (XLA_FLAGS from the environment)
  local name=$1 limit=$2; shift 2
  say "start $name (limit $limit s): $*"
  local t=$SECONDS
  timeout -s INT -k 10 "$limit" $PD run "$@" --out "$WORK/$name" >"$WORK/$name.log" 2>&1
  local rc=$?
  say "end $name rc=$rc wall=$((SECONDS - t)) s; sample/compile s: $(seconds "$name")"
  tail -n 40 "$WORK/$name.log"
  echo "$name rc=$rc wall_s=$((SECONDS - t)) xla_flags='${XLA_FLAGS:-}' $(seconds "$name")" >>"$WORK/summary.txt"
}

# 1. smoke runs: 8 PT1 values x 4 chains x (300 warmup + 200 draws), batched
run smoke_default 150 specs/pt1_degeneracy.phase --quick --batch 8
XLA_FLAGS=$CMDBUF run smoke_cmdbuf 150 specs/pt1_degeneracy.phase --quick --batch 8
read -r s_def _ <<<"$(seconds smoke_default)"
read -r s_cb _ <<<"$(seconds smoke_cmdbuf)"
FLAGS=$(python3 -c "
import math; a, b = float('$s_def'), float('$s_cb')
print('cmdbuf' if not math.isnan(b) and (math.isnan(a) or b < 0.9 * a) else 'default')")
[ "$FLAGS" = cmdbuf ] && export XLA_FLAGS=$CMDBUF
S=$(python3 -c "import math; a, b = float('$s_def'), float('$s_cb'); print(min(x for x in (a, b, 1e9) if not math.isnan(x)))")
say "smoke sampling seconds: default $s_def, command buffers $s_cb; using $FLAGS"

# draws D that fit LIMIT seconds at RATE s/iteration (1,000 warmup iterations, 60 s compile)
fit() { python3 -c "
rate, limit = float('$1'), float('$2')
d = int(((limit - 60) / rate - 1000) // 1000 * 1000)
print(min(max(d, 1000), 20000))"; }

# 2. PT1, seed scale. Smoke: 500 iterations of 32 chains; allow 1.5x for 88 chains in lockstep.
rate=$(python3 -c "print(1.5 * $S / 500)")
lim=$(($(left) - 150))
d=$(fit "$rate" "$lim")
[ "$lim" -gt 60 ] && run pt1_seed "$lim" specs/pt1_degeneracy.phase --batch 22 --set draws="$d"

# 3. PT2, seed scale if it fits (rate from PT1's own run, 1.5x for 13 parameters)
read -r s1 _ <<<"$(seconds pt1_seed)"
rate=$(python3 -c "import math; s = float('$s1'); print(1.5 * (s / (1000 + $d) if not math.isnan(s) else $rate))")
lim=$(($(left) - 70))
if [ "$lim" -gt 90 ]; then
  d2=$(fit "$rate" "$lim")
  run pt2_seed "$lim" specs/pt2_cancellation.phase --batch 15 --set draws="$d2"
fi

# 4. PT1 with tempered SMC (default 2,000 particles x 4 runs), as far as time allows
lim=$(($(left) - 40))
[ "$lim" -gt 40 ] && run pt1_smc "$lim" specs/pt1_degeneracy.phase --engine smc

# 5. lowering tests on the accelerator
lim=$(($(left) - 15))
if [ "$lim" -gt 30 ]; then
  say "pytest tests/test_lower.py (limit $lim s)"
  timeout -k 5 "$lim" python3 -m pytest -q -p no:cacheprovider tests/test_lower.py 2>&1 | tail -n 15
fi

cp "$WORK/summary.txt" "$OUTDIR/" 2>/dev/null
tar -czf "$OUTDIR/device.tar.gz" --exclude='draws' --exclude='*.npz' "$WORK"
say "packed: $(du -h "$OUTDIR/device.tar.gz" | cut -f1)"
