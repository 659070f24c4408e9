#!/usr/bin/env bash
# Fits the shipped p_human mapping (checkpoints/geninv-judge.p_human.json) on every rated blind pack whose images are
# kept (docs/evidence/rated_packs.sh), on the raw scores of the shipped judge (mapping-view.json): a curve on the raw
# score for all ratings, and per norm one on (raw score, aligned cost). Run from the repository root:
#   bash docs/evidence/p_human_fit.sh   (log: geninv-judge-view/fit.log)
# (The fit before the judge's blurred view: geninv-budget-2031/fit.log, on packs 2027-2031.)
set -euo pipefail
source docs/evidence/rated_packs.sh
args=()
for name in $(printf '%s\n' "${!RATED[@]}" | sort); do
  # shellcheck disable=SC2206
  args+=(--calibration ${RATED[$name]})
done
INVARIANCE_CHECKPOINTS=${INVARIANCE_CHECKPOINTS:-$(pwd)/checkpoints} PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" -m core.cli \
  bench geninv "${args[@]}" --fit 2>&1 | tee "$E/geninv-judge-view/fit.log"
