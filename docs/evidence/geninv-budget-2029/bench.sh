#!/usr/bin/env bash
# Speed and quality of the l0 budget search before (BASE: a checkout of the code before the widening rule, e.g.
# `git archive 0dd05c9 core | tar -x -C /tmp/base`) and after (this checkout), interleaved, with the same
# (refitted) p_human mapping. Run from the repository root:
#   bash docs/evidence/geninv-budget-2029/bench.sh /tmp/base   (output: bench.log beside this script)
set -euo pipefail
BASE=${1:?give the folder holding the code before (its core/)}
ROOT=$(pwd)
PYBIN=${PYBIN:-/work/main/.venv/bin}
export INVARIANCE_CHECKPOINTS="$ROOT/checkpoints" INVARIANCE_THREADS=1
{
  for eps in 25 30; do
    for side in before after; do
      code=$ROOT; label="after ($(git rev-parse --short HEAD))"
      [ "$side" = before ] && code=$BASE && label="before ($BASE)"
      echo "== $label, eps $eps, $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
      echo "\$ invariance bench geninv --norm l0 --eps $eps --n 40 --repeats 2 --threads 1 --device cpu"
      # run from inside $code: python -m puts the working directory first on sys.path
      (cd "$code" && PYTHONPATH="$code" "$PYBIN/python" -c 'import core; print("code:", core.__file__)' &&
        PYTHONPATH="$code" "$PYBIN/python" -m core.cli bench geninv --norm l0 --eps "$eps" --n 40 --repeats 2 \
          --threads 1 --device cpu)
    done
  done
  echo "== done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$ROOT/docs/evidence/geninv-budget-2029/bench.log"
