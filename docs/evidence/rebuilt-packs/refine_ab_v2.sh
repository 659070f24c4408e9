#!/usr/bin/env bash
# adapted copy of docs/evidence/geninv-refine-ab/make_pack.sh at 46d5d40; 8-neighbour code = worktree with refine = 8
set -uo pipefail
ROOT=/work/wt/regen-geninv-refine-ab R8=/work/wt/regen-geninv-refine-ab-refine8 HERE=docs/evidence/geninv-refine-ab
WORK=/tmp/ana/regen/work/refine-ab-collections OUT=/tmp/ana/regen/geninv-refine-ab
PYBIN=/work/main/.venv/bin
export INVARIANCE_THREADS=1 INVARIANCE_CHECKPOINTS=$ROOT/checkpoints
cd $ROOT; rm -rf $WORK $OUT
mkdir -p $WORK  # v2: each variant runs with cwd = its own code (python -m puts cwd before PYTHONPATH)
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  for variant in 16 8; do
    code=$([ $variant = 16 ] && echo "$ROOT" || echo $R8)
    for eps in 25 30; do
      digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))['l0-$eps'])))" "$ROOT/$HERE/differing-digits.json")
      (cd $code && PYTHONPATH=$code nice -n 5 "$PYBIN/python" -m core.cli geninv --norm l0 --eps $eps --indices "$digits" \
        --out "$WORK/r${variant}_$eps" --device cpu 2>&1 | tail -1)
    done
  done
  PYTHONPATH="$ROOT" nice -n 5 "$PYBIN/python" -m core.cli bench geninv --human-pack "$OUT" --sets l0@25:1 \
    --digits 2500:5000 --exclude docs/evidence/geninv-budget-2033/used-indices.json --seed 5151 --device cpu \
    --add-collection "a25=$WORK/r16_25" --add-collection "b25=$WORK/r8_25" \
    --add-collection "a30=$WORK/r16_30" --add-collection "b30=$WORK/r8_30"
  echo "EXIT $?"
} 2>&1 | tee /tmp/ana/regen/logs/geninv-refine-ab-v2.log
