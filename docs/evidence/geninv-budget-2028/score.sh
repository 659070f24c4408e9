#!/usr/bin/env bash
# Scores the 2028 budget pack once raters filled its template. Run from the repository root:
#   bash docs/evidence/geninv-budget-2028/score.sh answers-r1.json answers-r2.json [MORE.json]
# 1. copies the filled templates to answers/ and writes each as a study-pack answers file (answers/pack-*.json);
# 2. invariance bench geninv --calibration (per suggestion, per digit asked for, controls, calibration) -> rates.log;
# 3. invariance study ingest into the pack's collections, then invariance evaluate (Table 1 at the 70% consensus
#    threshold, Table 2) -> evaluate.log.
# Ingesting writes ratings into pack/organiser/collections: run it once on a freshly built pack.
set -euo pipefail
ROOT=$(pwd)
HERE=${HERE:-docs/evidence/geninv-budget-2028}
PYBIN=${PYBIN:-$(pwd)/.venv/bin}  # the README's venv; PYBIN=... for another
export INVARIANCE_THREADS=1
export INVARIANCE_CHECKPOINTS="$ROOT/checkpoints"
[ $# -ge 1 ] || { echo "score.sh: give the filled answers-template files" >&2; exit 2; }
cli() { PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli "$@"; }
mkdir -p "$HERE/answers"
filled=() packs=()
for file in "$@"; do
  name=$(basename "$file")
  [ "$(realpath "$file")" = "$(realpath -m "$HERE/answers/$name")" ] || cp "$file" "$HERE/answers/$name"
  filled+=("$HERE/answers/$name")
  packs+=("$HERE/answers/pack-$name")
  PYTHONPATH="$ROOT" "$PYBIN/python" -c 'import json, sys
from core.geninv.human_pack import rater_view_answers_to_pack
json.dump(rater_view_answers_to_pack(sys.argv[1], sys.argv[2]), open(sys.argv[3], "w", encoding="utf-8"), indent=1)' \
    "$HERE/answers/$name" "$HERE/pack/pack" "$HERE/answers/pack-$name"
done
cli bench geninv --calibration "$HERE/pack/organiser/mapping.json" "${filled[@]}" | tee "$HERE/rates.log"
cli study ingest "${packs[@]}" --collection "$HERE/pack/organiser/collections/l0-25"
cli evaluate "$HERE/pack/organiser/collections/l0-25" "$HERE/pack/organiser/collections/l0-30" \
  --models undefended,linf-pgd-0.3,ibp-0.4 | tee "$HERE/evaluate.log"
