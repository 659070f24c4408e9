#!/usr/bin/env bash
# Builds the two blind packs of a paired A/B of GenInv on tuning digits: arm a is the code at OLD_REV, arm b this
# checkout; the digits are those of HERE/differing-digits.json (written by HERE/differing_digits.py if missing: sets
# l0-25 and/or l0-30, optionally linf-0.4 and linf-0.3). pack-l0 holds a25/b25 and a30/b30 (seed SEED), pack-linf a40/b40
# and a03/b03 (seed SEED + 1), each with as many unchanged controls as suggestions and one tuning-digit filler. Run
# from the repository root:
#   bash docs/evidence/make_ab_pack.sh HERE OLD_REV SEED   (log: HERE/make_pack.log)
set -euo pipefail
[ $# -eq 3 ] || { sed -n 2,6p "$0" >&2; exit 2; }
HERE=$1 OLD_REV=$2 SEED=$3
ROOT=$(pwd) WORK=${WORK:-/tmp/ab-$(basename "$HERE")} OLD=${OLD:-/tmp/ab-old-$OLD_REV}
PYBIN=${PYBIN:-$ROOT/.venv/bin}
export INVARIANCE_THREADS=1
[ -d "$OLD" ] || git worktree add -q --detach "$OLD" "$OLD_REV"
mkdir -p "$WORK"
# Each arm runs from its own checkout: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH
# (docs/evidence/geninv-judge-view/void-same-code/).
cli() { local code=$1; shift; (cd "$code" && PYTHONPATH=$code INVARIANCE_CHECKPOINTS=$code/checkpoints "$PYBIN/python" -m core.cli "$@"); }
filler=(--sets l0@25:1 --digits 2500:5000 --exclude docs/evidence/geninv-budget-2033/used-indices.json --device cpu)
{
  echo "commit $(git rev-parse --short HEAD) against $OLD_REV, $(date -u '+%Y-%m-%d %H:%M UTC')"
  [ -s "$HERE/differing-digits.json" ] ||
    PYTHONPATH="$ROOT" "$PYBIN/python" "$HERE/differing_digits.py" | tail -1 > "$HERE/differing-digits.json"
  cat "$HERE/differing-digits.json"
  sets=$(python3 -c "import json,sys;print(' '.join(k for k in json.load(open(sys.argv[1])) if k != 'digits'))" "$HERE/differing-digits.json")
  for set in $sets; do
    norm=${set%-*} eps=${set#*-}
    digits=$(python3 -c "import json,sys;print(','.join(map(str,json.load(open(sys.argv[1]))[sys.argv[2]])))" "$HERE/differing-digits.json" "$set")
    cli "$OLD" geninv --norm "$norm" --eps "$eps" --indices "$digits" --out "$WORK/a-$set" --device cpu 2>&1 | tail -1
    cli "$ROOT" geninv --norm "$norm" --eps "$eps" --indices "$digits" --out "$WORK/b-$set" --device cpu 2>&1 | tail -1
  done
  l0=()
  for eps in 25 30; do
    [ ! -d "$WORK/b-l0-$eps" ] || l0+=(--add-collection "a$eps=$WORK/a-l0-$eps" --add-collection "b$eps=$WORK/b-l0-$eps")
  done
  cli "$ROOT" bench geninv --human-pack "$ROOT/$HERE/pack-l0" "${filler[@]}" --seed "$SEED" "${l0[@]}"
  packs=(pack-l0)
  if [ -d "$WORK/b-linf-0.4" ]; then
    linf=(--add-collection "a40=$WORK/a-linf-0.4" --add-collection "b40=$WORK/b-linf-0.4")
    [ ! -d "$WORK/b-linf-0.3" ] || linf+=(--add-collection "a03=$WORK/a-linf-0.3" --add-collection "b03=$WORK/b-linf-0.3")
    cli "$ROOT" bench geninv --human-pack "$ROOT/$HERE/pack-linf" "${filler[@]}" --seed $((SEED + 1)) "${linf[@]}"
    packs+=(pack-linf)
  fi
  for pack in "${packs[@]}"; do
    PYTHONPATH="$ROOT" "$PYBIN/python" docs/evidence/rated_images.py "$HERE/$pack/organiser" "$HERE/$pack/organiser/rated-images.npz"
  done
} 2>&1 | tee "$HERE/make_pack.log"
