#!/usr/bin/env bash
# Speed and quality of the l0 budget search with p_human per norm on (raw score, aligned cost) at the
# default budget (25 pixels, no --eps) and at --eps 30. Run from the repository
# root:  bash docs/evidence/geninv-budget-2032/bench.sh   (output: bench.log beside this script)
set -euo pipefail
ROOT=$(pwd)
PYBIN=${PYBIN:-$(pwd)/.venv/bin}  # the README's venv; PYBIN=... for another
export INVARIANCE_CHECKPOINTS="$ROOT/checkpoints" INVARIANCE_THREADS=1
{
  for budget in "--eps 30" ""; do
    echo "== $(git rev-parse --short HEAD), $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ invariance bench geninv --norm l0 $budget --n 40 --repeats 2 --threads 1 --device cpu"
    # shellcheck disable=SC2086  # $budget is two words or none
    PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --norm l0 $budget --n 40 --repeats 2 --threads 1 \
      --device cpu
  done
  echo "== done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$ROOT/docs/evidence/geninv-budget-2032/bench.log"
