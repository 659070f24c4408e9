#!/usr/bin/env bash
# Run from the repository root: bash docs/evidence/p_human_leave_one_pack_out.sh (log: geninv-budget-2031/leave-one-pack-out.log).
# Each fold refits the mapping (bench geninv --calibration ... --fit) into a temporary copy of checkpoints/, on four
# packs, and reports the fifth with it. The shipped mapping is not touched.
# Leave-one-pack-out calibration of p_human over the five blind packs at the paper's budgets.
set -euo pipefail
E=docs/evidence
declare -A PACK=(
  [2027]="$E/geninv-budget/pack/organiser/mapping.json $E/geninv-budget/answers/answers-r1.json $E/geninv-budget/answers/answers-r2.json"
  [2028]="$E/geninv-budget-2028/pack/organiser/mapping.json $E/geninv-budget-2028/answers/answers-r3.json $E/geninv-budget-2028/answers/answers-r4.json"
  [2029]="$E/geninv-budget-2029/pack/organiser/mapping.json $E/geninv-budget-2029/answers/answers-r5.json $E/geninv-budget-2029/answers/answers-r6.json"
  [2030]="$E/geninv-budget-2030/pack/organiser/mapping.json $E/geninv-budget-2030/answers/answers-r7.json $E/geninv-budget-2030/answers/answers-r8.json"
  [2031]="$E/geninv-budget-2031/pack/organiser/mapping.json $E/geninv-budget-2031/answers/answers-r9.json $E/geninv-budget-2031/answers/answers-r10.json"
)
for out in 2027 2028 2029 2030 2031; do
  tmp=$(mktemp -d); cp -r checkpoints/. "$tmp/"
  args=(); for p in 2027 2028 2029 2030 2031; do [ $p = $out ] || args+=(--calibration ${PACK[$p]}); done
  echo "== held out: $out; fitted on the other four"
  INVARIANCE_CHECKPOINTS=$tmp "${PYBIN:-.venv/bin}/python" -m core.cli bench geninv "${args[@]}" --fit 2>&1 | grep -i "slope\|fit" | tail -2
  INVARIANCE_CHECKPOINTS=$tmp "${PYBIN:-.venv/bin}/python" -m core.cli bench geninv --calibration ${PACK[$out]} 2>&1 | tail -6
  rm -rf "$tmp"
done
