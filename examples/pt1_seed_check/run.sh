#!/bin/sh
# The seed's PT1 shares against phasedsl's, at theta = 1 and 1.26: four data sets at the
# spec's temperature (beta = 1/log n), and the untempered posterior (beta = 1) on data set 0.
# Tempered SMC, 500 particles x 4 runs per point. Writes runs/ here; then `python shares.py`
# (its output as measured: shares.txt; the draws it reads are not kept in the repository).
set -e
cd "$(dirname "$0")" && mkdir -p runs
base=../../specs/pt1_degeneracy.phase
variant() {  # variant NAME DATA_SEED BETA
  sed -e "s/^sweep theta over .*/sweep theta over 1, 1.26/" \
      -e "s/noise = 1 }/noise = 1; seed = $2 }/" \
      -e "s|^beta = .*|beta = $3|" \
      -e "s/^sample .*/sample smc { particles = 500; runs = 4 }/" "$base" > "runs/$1.phase"
  ${PHASEDSL:-phasedsl} run "runs/$1.phase" --out "runs/$1" --no-plots
}
for s in 0 1 2 3; do variant "data_seed_$s" "$s" "1 / log(n)"; done
variant beta_1 0 1
