#!/usr/bin/env bash
# Paired, blind A/B on tuning digits: GenInv with the plain judge (a: main before the blurred view, e36c758) against
# the judge that looks at a σ 1 px blur (b: this checkout), on the digits where their first suggestion differs
# (differing_digits.py). Two packs, so that no rater sees more than about 300 trials: pack-l0 (ℓ0 25 and 30 pixels)
# and pack-linf (ℓ∞ 0.4). Run from the repository root:
#   bash docs/evidence/geninv-judge-view/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
ROOT=$(pwd) HERE=docs/evidence/geninv-judge-view WORK=${WORK:-/tmp/ab-view} OLD=${OLD:-/tmp/plainjudge}
PYBIN=${PYBIN:-$ROOT/.venv/bin}
export INVARIANCE_THREADS=1
[ -d "$OLD" ] || git worktree add -q --detach "$OLD" e36c758
mkdir -p "$WORK"
# Each arm runs from its own checkout: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH
# (run from this checkout, both arms were this checkout's code: void-same-code/).
cli() { local code=$1; shift; (cd "$code" && PYTHONPATH=$code INVARIANCE_CHECKPOINTS=$code/checkpoints "$PYBIN/python" -m core.cli "$@"); }
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  [ -s "$HERE/differing-digits.json" ] ||
    (cd "$ROOT" && PYTHONPATH="$ROOT" "$PYBIN/python" "$HERE/differing_digits.py") | tail -1 > "$HERE/differing-digits.json"
  cat "$HERE/differing-digits.json"
  for set in l0-25 l0-30 linf-0.4; do
    norm=${set%-*} eps=${set#*-}
    digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))[sys.argv[2]])))" "$HERE/differing-digits.json" "$set")
    cli "$OLD" geninv --norm "$norm" --eps "$eps" --indices "$digits" --out "$WORK/a-$set" --device cpu 2>&1 | tail -1
    cli "$ROOT" geninv --norm "$norm" --eps "$eps" --indices "$digits" --out "$WORK/b-$set" --device cpu 2>&1 | tail -1
  done
  cli "$ROOT" bench geninv --human-pack "$ROOT/$HERE/pack-l0" --sets l0@25:1 --digits 2500:5000 --exclude docs/evidence/geninv-budget-2033/used-indices.json --seed 6163 --device cpu \
    --add-collection "a25=$WORK/a-l0-25" --add-collection "b25=$WORK/b-l0-25" \
    --add-collection "a30=$WORK/a-l0-30" --add-collection "b30=$WORK/b-l0-30"
  cli "$ROOT" bench geninv --human-pack "$ROOT/$HERE/pack-linf" --sets l0@25:1 --digits 2500:5000 --exclude docs/evidence/geninv-budget-2033/used-indices.json --seed 6164 --device cpu \
    --add-collection "a40=$WORK/a-linf-0.4" --add-collection "b40=$WORK/b-linf-0.4"
} 2>&1 | tee "$HERE/make_pack.log"
