#!/usr/bin/env bash
# One accelerator session, run from the repository root: seed-scale sweeps within a time budget.
#
#   benchmarks/device_session.sh OUTDIR [SECONDS] [PT1_DRAWS]
#
# 1. the PT1 sweep (22 values x 4 chains, --batch 22: one compiled call) with 1,000 warmup
#    and 500 draws, chains in lockstep (--chain-method vectorized; measured on an H200 before:
#    23 ms per iteration of all 88 chains) and flat (phasedsl/flat_nuts.py, the GPU default:
#    1.6x fewer iterations, 17 kernels per iteration against 22 compiled for an H200 by
#    benchmarks/gpu_kernels.py; not yet timed on a GPU);
# 2. PT1 at the seed's scale (PT1_DRAWS draws, default 20,000) with the faster of the two, the
#    draws cut to what the budget holds at its measured rate;
# 3. PT2 with the draws that the time left allows at that rate (x 1.25).
# Everything (results.json, figures, logs, a timing summary) is packed into OUTDIR/device.tar.gz.
# Wheels of packages the machine lacks (lark, blackjax, interegular) are taken from .whl/:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux2014_x86_64 -d .whl lark==1.3.1 blackjax==1.7.1 interegular
# phasedsl turns on XLA's command buffers itself (phasedsl/accelerator.py; 1.8x on an H200).
set -u
OUTDIR=${1:?usage: device_session.sh OUTDIR [SECONDS] [PT1_DRAWS]}
BUDGET=${2:-540}
PT1_DRAWS=${3:-20000}
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

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
python3 -c "import jax, blackjax, numpy, sympy, lark; print('jax', jax.__version__, 'blackjax',
blackjax.__version__, 'numpy', numpy.__version__, jax.devices())" || exit 1

# seconds NAME: total sampling seconds, compile seconds and the busiest chain's leapfrog steps
# (a flat batch's loop iterations) of a finished run folder
seconds() {
  python3 - "$WORK/$1/results.json" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except OSError:
    print("nan nan 0"); raise SystemExit
d = [p["diagnostics"] for p in r["points"]]
if not d or r.get("status") != "complete":
    print("nan nan 0"); raise SystemExit
busiest = max((max(x.get("grad_evals_per_chain") or [0]) for x in d), default=0)
print(f'{sum(x["sample_s"] for x in d):.2f} {max(x["compile_s"] for x in d):.2f} {busiest}')
EOF
}

run() {  # run NAME LIMIT_S ARGS...
  local name=$1 limit=$2; shift 2
  say "start $name (limit $limit s): $*"
  local t=$SECONDS
  timeout -s INT -k 10 "$limit" $PD run "$@" --out "$WORK/$name" >"$WORK/$name.log" 2>&1
  local rc=$?
  say "end $name rc=$rc wall=$((SECONDS - t)) s; sample/compile s: $(seconds "$name")"
  tail -n 40 "$WORK/$name.log"
  echo "$name rc=$rc wall_s=$((SECONDS - t)) $* : $(seconds "$name")" >>"$WORK/summary.txt"
}

# draws that fit LIMIT seconds at RATE s per iteration (1,000 warmup iterations, 40 s for
# compiling, writing draws and figures), in thousands, at most MAX
fit() { python3 -c "
rate, limit, top = float('$1'), float('$2'), int('$3')
d = int(((limit - 40) / rate - 1000) // 1000 * 1000)
print(min(max(d, 1000), top))"; }

# 1. lockstep against flat chains on the same short PT1 sweep (22 x 4 x (1,000 + 500))
for m in vectorized flat; do
  run "ab_$m" 150 specs/pt1_degeneracy.phase --engine nuts --set target_accept=0.9 --batch 22 --set draws=500 --chain-method "$m" \
    --no-plots
done
best=$(python3 - "$WORK" <<'EOF'
import json, sys
best = None
for m in ("vectorized", "flat"):
    try:
        r = json.load(open(f"{sys.argv[1]}/ab_{m}/results.json"))
        s = sum(p["diagnostics"]["sample_s"] for p in r["points"]) / 1500
    except (OSError, KeyError, ZeroDivisionError):
        continue
    if r.get("status") == "complete" and (best is None or s < best[1]):
        best = (m, s)
print(*(best or ("vectorized", 0.024)))
EOF
)
read -r method rate <<<"$best"
say "faster: $method at $rate s per iteration"

# 2. PT1 at the seed's scale with the faster method
lim=$(($(left) - 30))
d=$(fit "$(python3 -c "print(1.05 * $rate)")" "$lim" "$PT1_DRAWS")
run pt1_seed "$lim" specs/pt1_degeneracy.phase --engine nuts --set target_accept=0.9 --batch 22 --set draws="$d" --chain-method "$method"

# 3. PT2 with what is left (its rate: PT1's x 1.25)
lim=$(($(left) - 30))
if [ "$lim" -gt 100 ]; then
  run pt2_seed "$lim" specs/pt2_cancellation.phase --engine nuts --set target_accept=0.9 --batch 15 --chain-method "$method" \
    --set draws="$(fit "$(python3 -c "print(1.25 * $rate)")" "$lim" 20000)"
fi

cp "$WORK/summary.txt" "$OUTDIR/" 2>/dev/null
tar -czf "$OUTDIR/device.tar.gz" --exclude='draws' --exclude='*.npz' "$WORK"
say "packed: $(du -h "$OUTDIR/device.tar.gz" | cut -f1)"
