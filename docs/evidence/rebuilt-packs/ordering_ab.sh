#!/usr/bin/env bash
# adapted copy of docs/evidence/geninv-ordering-ab/make_pack.sh: new = /work/wt/regen-geninv-ordering-ab (bc0af14),
# old = /work/wt/regen-geninv-ordering-ab-old (09b2fb8); digits from the committed differing-digits.json
set -uo pipefail
ROOT=/work/wt/regen-geninv-ordering-ab OLD=/work/wt/regen-geninv-ordering-ab-old HERE=docs/evidence/geninv-ordering-ab
WORK=/tmp/ana/regen/work/ordering-ab-collections OUT=/tmp/ana/regen/geninv-ordering-ab
PYBIN=/work/main/.venv/bin
export INVARIANCE_THREADS=1
cd $ROOT; rm -rf $WORK $OUT; mkdir -p $WORK
{
  echo "commit $(git rev-parse --short HEAD) (old: $(git -C $OLD rev-parse --short HEAD)), $(date -u '+%Y-%m-%d %H:%M UTC')"
  for variant in old new; do
    code=$([ $variant = old ] && echo $OLD || echo "$ROOT")
    for eps in 25 30; do
      digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))['l0-$eps'])))" /tmp/ana/regen/work/ordering-differing-digits.json)
      PYTHONPATH=$code INVARIANCE_CHECKPOINTS=$code/checkpoints nice -n 5 "$PYBIN/python" -m core.cli geninv --norm l0 --eps $eps \
        --indices "$digits" --out "$WORK/$variant$eps" --device cpu 2>&1 | tail -1
    done
  done
  PYTHONPATH="$ROOT" INVARIANCE_CHECKPOINTS=$ROOT/checkpoints nice -n 5 "$PYBIN/python" -m core.cli bench geninv --human-pack "$OUT" --sets "" --seed 4242 --device cpu \
    --add-collection "old25=$WORK/old25" --add-collection "new25=$WORK/new25" \
    --add-collection "old30=$WORK/old30" --add-collection "new30=$WORK/new30"
  echo "EXIT $?"
} 2>&1 | tee /tmp/ana/regen/logs/geninv-ordering-ab.log
