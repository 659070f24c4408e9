#!/usr/bin/env bash
# Builds the third blind GenInv pack at the paper's budgets (l0 25 and 30 pixels, 40 digits each). Run from the
# repository root:  bash docs/evidence/geninv-budget-2029/make_pack.sh   (output: make_pack.log beside this script)
# Digits: MNIST test indices 7500-9999 (held out; tuning used 2500-4999) minus every index an earlier figure, an
# earlier pack (the 2027 and 2028 budget packs, their controls included) or a benchmark used (used-indices.json, from
# used_indices.py); 40 per set, disjoint, seed 2029. Unchanged controls: as many as suggestions (core.study).
# p_human comes from checkpoints/geninv-judge.p_human.json as refitted on the 2027 and 2028 packs (fit.log).
set -euo pipefail
ROOT=$(pwd)
HERE=docs/evidence/geninv-budget-2029
PYBIN=${PYBIN:-$(pwd)/.venv/bin}  # the README's venv; PYBIN=... for another
export INVARIANCE_THREADS=1
export INVARIANCE_CHECKPOINTS="$ROOT/checkpoints"  # this checkout's judge and its refitted p_human mapping
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  PYTHONPATH="$ROOT" "$PYBIN/python" "$HERE/used_indices.py"
  PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --human-pack "$HERE/pack" \
    --sets l0@25:40,l0@30:40 --digits 7500:10000 \
    --exclude "$HERE/used-indices.json" --seed 2029 --threads 1 --device cpu
  echo "EXIT $?"
} 2>&1 | tee "$HERE/make_pack.log"
