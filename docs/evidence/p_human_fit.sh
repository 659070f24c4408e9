#!/usr/bin/env bash
# Fits the shipped p_human mapping (checkpoints/geninv-judge.p_human.json) on every rated blind pack: a curve on the
# judge's raw score for all ratings, and per norm one on (raw score, aligned cost). Run from the repository root:
#   bash docs/evidence/p_human_fit.sh   (log: geninv-budget-2031/fit.log)
set -euo pipefail
E=docs/evidence
args=()
for pack in "geninv-budget r1 r2" "geninv-budget-2028 r3 r4" "geninv-budget-2029 r5 r6" "geninv-budget-2030 r7 r8" \
  "geninv-budget-2031 r9 r10"; do
  set -- $pack
  args+=(--calibration "$E/$1/pack/organiser/mapping.json" "$E/$1/answers/answers-$2.json" "$E/$1/answers/answers-$3.json")
done
INVARIANCE_CHECKPOINTS=${INVARIANCE_CHECKPOINTS:-$(pwd)/checkpoints} PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" -m core.cli \
  bench geninv "${args[@]}" --fit 2>&1 | tee "$E/geninv-budget-2031/fit.log"
