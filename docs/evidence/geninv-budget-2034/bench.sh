#!/usr/bin/env bash
# Speed of GenInv as shipped with the 2034 pack: ℓ0 at 30 and 25 pixels (docs/evidence/bench_geninv_l0.sh →
# bench.log) and ℓ∞ at 0.4 and 0.3 (bench-linf.log): invariance bench geninv --n 40 --repeats 2 --threads 1 --device cpu.
# Run from the repository root with the machine otherwise idle:  bash docs/evidence/geninv-budget-2034/bench.sh [FOLDER]
# (logs in FOLDER, default this folder)
set -euo pipefail
HERE=${1:-docs/evidence/geninv-budget-2034}
bash docs/evidence/bench_geninv_l0.sh "$HERE"
export INVARIANCE_CHECKPOINTS=$(pwd)/checkpoints INVARIANCE_THREADS=1
for eps in 0.4 0.3; do
  echo "== $(git rev-parse --short HEAD), $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "\$ invariance bench geninv --norm linf --eps $eps --n 40 --repeats 2 --threads 1 --device cpu"
  PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" -m core.cli bench geninv --norm linf --eps "$eps" --n 40 --repeats 2 \
    --threads 1 --device cpu
done 2>&1 | tee "$HERE/bench-linf.log"
