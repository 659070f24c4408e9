#!/usr/bin/env bash
# Builds a blind GenInv pack at the paper's budgets from MNIST test indices 7500-9999 (held out; tuning used
# 2500-4999), minus every index an earlier figure, pack (controls included) or benchmark used. Run from the
# repository root:
#   bash docs/evidence/make_budget_pack.sh FOLDER SEED SETS EARLIER.json PACK_ORGANISER_DIR...
# e.g. bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2030 2030 l0@25:40,l0@30:40 \
#        docs/evidence/geninv-budget-2029/used-indices.json docs/evidence/geninv-budget-2029/pack/organiser
# Writes FOLDER/used-indices.json (docs/evidence/exclusions.py), FOLDER/pack (bench geninv --human-pack; unchanged
# controls: as many as suggestions) and FOLDER/make_pack.log. p_human: checkpoints/geninv-judge.p_human.json.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,9p "$0" >&2; exit 2; }
HERE=$1 SEED=$2 SETS=$3 EARLIER=$4
shift 4
ROOT=$(pwd)
PYBIN=${PYBIN:-$ROOT/.venv/bin}  # the README's venv; PYBIN=... for another
export INVARIANCE_THREADS=1
export INVARIANCE_CHECKPOINTS="$ROOT/checkpoints"  # this checkout's judge and p_human mapping
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  "$PYBIN/python" docs/evidence/exclusions.py "$HERE/used-indices.json" "$EARLIER" "$@"
  PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --human-pack "$HERE/pack" --sets "$SETS" \
    --digits 7500:10000 --exclude "$HERE/used-indices.json" --seed "$SEED" --threads 1 --device cpu
  echo "EXIT $?"
} 2>&1 | tee "$HERE/make_pack.log"
