#!/usr/bin/env bash
# Paired, blind A/B of the order of each digit's ℓ0 suggestions: main before this change (09b2fb8, p_human on the
# judge's raw score alone) against the shipped mapping (per norm, with the aligned cost), on the 2033 pack's ℓ0
# digits whose first suggestion differs between the two (34 of 100). Run from the repository root:
#   bash docs/evidence/geninv-ordering-ab/make_pack.sh   (log: make_pack.log beside it)
# Needs the 2033 pack built (its collections). Writes /tmp/ab-old (a worktree of 09b2fb8), WORK=${WORK:-/tmp/ab}.
set -euo pipefail
ROOT=$(pwd) HERE=docs/evidence/geninv-ordering-ab WORK=${WORK:-/tmp/ab}
PYBIN=${PYBIN:-$ROOT/.venv/bin}
export INVARIANCE_THREADS=1
[ -d /tmp/ab-old ] || git worktree add -q /tmp/ab-old 09b2fb8
mkdir -p "$WORK"
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  PYTHONPATH=/tmp/ab-old INVARIANCE_CHECKPOINTS=/tmp/ab-old/checkpoints "$PYBIN/python" "$HERE/differing_digits.py" \
    | tail -1 > "$HERE/differing-digits.json"
  cat "$HERE/differing-digits.json"
  for variant in old new; do
    code=$([ $variant = old ] && echo /tmp/ab-old || echo "$ROOT")
    for eps in 25 30; do
      digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))['l0-$eps'])))" "$HERE/differing-digits.json")
      PYTHONPATH=$code INVARIANCE_CHECKPOINTS=$code/checkpoints "$PYBIN/python" -m core.cli geninv --norm l0 --eps $eps \
        --indices "$digits" --out "$WORK/$variant$eps" --device cpu 2>&1 | tail -1
    done
  done
  PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --human-pack "$HERE/pack" --sets "" --seed 4242 --device cpu \
    --add-collection "old25=$WORK/old25" --add-collection "new25=$WORK/new25" \
    --add-collection "old30=$WORK/old30" --add-collection "new30=$WORK/new30"
} 2>&1 | tee "$HERE/make_pack.log"
