#!/usr/bin/env bash
# Speed and quality of GenInv's ℓ0 budget search in this checkout, at --eps 30 and at the default budget (25 pixels,
# no --eps): invariance bench geninv --norm l0 [--eps 30] --n 40 --repeats 2 --threads 1 --device cpu.
# Run from the repository root:  bash docs/evidence/bench_geninv_l0.sh FOLDER   (output: FOLDER/bench.log)
set -euo pipefail
[ $# -eq 1 ] || { sed -n 2,4p "$0" >&2; exit 2; }
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
} 2>&1 | tee "$ROOT/$1/bench.log"
