#!/usr/bin/env bash
# Pooled rates of the search before the blurred judge (this round's shipped figures: ../geninv-budget-2036/pooled.py),
# run from the repository root (log: pooled.log beside this script):
#   ℓ0 sets: the 2028, 2030, 2032 and 2033 packs (the staged, debris-aware ℓ0 search; ordering by the mapping of its day);
#   ℓ∞ sets: the 2027, 2031, 2032 and 2033 packs (the ℓ∞ search unchanged since 2027; only the ordering mapping differed).
set -euo pipefail
E=docs/evidence
cal() { local pack=$1; shift; printf -- '--calibration %s ' "$E/$pack/pack/organiser/mapping.json"; for r in "$@"; do printf '%s ' "$E/$pack/answers/answers-$r.json"; done; }
cli() { INVARIANCE_CHECKPOINTS=$(pwd)/checkpoints PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" -m core.cli "$@"; }
{
  echo "== l0: 2028 + 2030 + 2032 + 2033"
  # shellcheck disable=SC2046
  cli bench geninv $(cal geninv-budget-2028 r3 r4) $(cal geninv-budget-2030 r7 r8) $(cal geninv-budget-2032 r11 r12 r13 r14) $(cal geninv-budget-2033 r15 r16 r17 r18) | sed -n '/^pooled/,$p'
  echo "== linf: 2027 + 2031 + 2032 + 2033"
  # shellcheck disable=SC2046
  cli bench geninv $(cal geninv-budget r1 r2) $(cal geninv-budget-2031 r9 r10) $(cal geninv-budget-2032 r11 r12 r13 r14) $(cal geninv-budget-2033 r15 r16 r17 r18) | sed -n '/^pooled/,$p'
} 2>&1 | tee docs/evidence/geninv-budget-2033/pooled.log
{
  echo "== the shipped code only (p_human per norm with the aligned cost): 2032 + 2033, every set"
  # shellcheck disable=SC2046
  cli bench geninv $(cal geninv-budget-2032 r11 r12 r13 r14) $(cal geninv-budget-2033 r15 r16 r17 r18) | sed -n '/^pooled/,$p'
} 2>&1 | tee -a docs/evidence/geninv-budget-2033/pooled.log
