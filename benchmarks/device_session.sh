#!/usr/bin/env bash
# One accelerator session, run from the repository root: seed-scale sweeps within a time budget.
#
#   benchmarks/device_session.sh OUTDIR [SECONDS] [PT1_DRAWS]
#
# 1. PT1 at the seed's scale (22 values x 4 chains x PT1_DRAWS draws after 1,000 warmup,
#    default 20,000; --batch 22: one compiled call). Measured on an H200: 23 ms per iteration
#    of all 88 chains, so 20,000 draws take about 8 minutes; the draws are cut to what the
#    budget holds at 24 ms per iteration;
# 2. PT2 with the draws that the time left allows at PT1's measured rate (x 1.25);
# 3. the PT1 sweep with tempered SMC, as far as time allows (results saved after every point).
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

# 1. PT1 at the seed's scale
lim=$(($(left) - 30))
d=$(fit 0.024 "$lim" "$PT1_DRAWS")
run pt1_seed "$lim" specs/pt1_degeneracy.phase --batch 22 --set draws="$d"

# 2. PT2 with what is left (its rate: PT1's measured one x 1.25)
read -r s1 _ <<<"$(seconds pt1_seed)"
rate=$(python3 -c "import math; s = float('$s1'); print(1.25 * (s / (1000 + $d) if not math.isnan(s) else 0.023))")
lim=$(($(left) - 30))
if [ "$lim" -gt 100 ]; then
  run pt2_seed "$lim" specs/pt2_cancellation.phase --batch 15 --set draws="$(fit "$rate" "$lim" 20000)"
fi

# 3. PT1 with tempered SMC (default 2,000 particles x 4 runs), as far as time allows
lim=$(($(left) - 20))
[ "$lim" -gt 60 ] && run pt1_smc "$lim" specs/pt1_degeneracy.phase --engine smc

cp "$WORK/summary.txt" "$OUTDIR/" 2>/dev/null
tar -czf "$OUTDIR/device.tar.gz" --exclude='draws' --exclude='*.npz' "$WORK"
say "packed: $(du -h "$OUTDIR/device.tar.gz" | cut -f1)"
