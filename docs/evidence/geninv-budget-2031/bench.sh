#!/usr/bin/env bash
# Speed and quality of the pair-guided l0 budget search (p_human per norm and (source, target) pair) at the
# default budget (25 pixels, no --eps) and at --eps 30. Run from the repository
# root:  bash docs/evidence/geninv-budget-2031/bench.sh   (output: bench.log beside this script)
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
} 2>&1 | tee "$ROOT/docs/evidence/geninv-budget-2031/bench.log"
