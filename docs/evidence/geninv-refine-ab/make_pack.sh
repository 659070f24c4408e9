#!/usr/bin/env bash
# Paired, blind A/B on tuning digits: GenInv's ℓ0 search refining 16 aligned neighbours (a, as shipped before) against
# 8 (b), on the digits where the two give a different first suggestion. Run from the repository root:
#   bash docs/evidence/geninv-refine-ab/make_pack.sh   (log: make_pack.log beside it)
# The 8-neighbour code is this checkout with SearchSettings.refine = 8, in a worktree at /tmp/refine8.
set -euo pipefail
ROOT=$(pwd) HERE=docs/evidence/geninv-refine-ab WORK=${WORK:-/tmp/ab2}
PYBIN=${PYBIN:-$ROOT/.venv/bin}
export INVARIANCE_THREADS=1 INVARIANCE_CHECKPOINTS=$ROOT/checkpoints
[ -d /tmp/refine8 ] || { git worktree add -q /tmp/refine8 HEAD
  sed -i 's/^    refine: int = 16$/    refine: int = 8/' /tmp/refine8/core/geninv/api.py; }
mkdir -p "$WORK"
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  PYTHONPATH="$ROOT" "$PYBIN/python" "$HERE/differing_digits.py" | tail -1 > "$HERE/differing-digits.json"
  for variant in 16 8; do
    code=$([ $variant = 16 ] && echo "$ROOT" || echo /tmp/refine8)
    for eps in 25 30; do
      digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))['l0-$eps'])))" "$HERE/differing-digits.json")
      PYTHONPATH=$code "$PYBIN/python" -m core.cli geninv --norm l0 --eps $eps --indices "$digits" \
        --out "$WORK/r${variant}_$eps" --device cpu 2>&1 | tail -1
    done
  done
  PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --human-pack "$HERE/pack" --sets l0@25:1 \
    --digits 2500:5000 --exclude docs/evidence/geninv-budget-2033/used-indices.json --seed 5151 --device cpu \
    --add-collection "a25=$WORK/r16_25" --add-collection "b25=$WORK/r8_25" \
    --add-collection "a30=$WORK/r16_30" --add-collection "b30=$WORK/r8_30"
} 2>&1 | tee "$HERE/make_pack.log"
