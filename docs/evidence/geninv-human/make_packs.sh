#!/usr/bin/env bash
# Builds the two blind GenInv human packs of issue 15 (phase 1). Run from the repository root:
#   bash docs/evidence/geninv-human/make_packs.sh
# CALIBRATION pack (fits p_human; tuning digits = test indices < 5000, seed 1):
#   new l0 top-1 for 40 digits, new linf eps=0.4 for 20, new linf eps=0.3 for 20, + as many unchanged controls.
# EVALUATION pack (held out: test indices >= 5000, seed 2):
#   new l0 for 40 digits, OLD l0 (commit 3da1540) for the same 40 digits, new linf 0.4 for 25, new linf 0.3
#   for 25, + as many unchanged controls.
# Digits without a suggestion within budget are counted in organiser/summary.json, never replaced.
set -euo pipefail
ROOT=$(pwd)
OUT=docs/evidence/geninv-human
PYBIN=${PYBIN:-$(pwd)/.venv/bin}  # the README's venv; PYBIN=... for another
OLD_COMMIT=3da1540
export INVARIANCE_THREADS=1
new() { PYTHONPATH="$ROOT" "$PYBIN/invariance" "$@"; }

# --- calibration pack
new bench geninv --human-pack "$OUT/calibration" --sets l0:40,linf@0.4:20,linf@0.3:20 --digits 0:5000 --seed 1 --threads 1

# --- evaluation pack: first the old GenInv (the code of commit 3da1540, exported as it was) on the same l0 digits
SETS=l0:40,linf@0.4:25,linf@0.3:25
DIGITS=$(new bench geninv --human-pack "$OUT/evaluation" --sets "$SETS" --digits 5000:10000 --seed 2 --print-digits)
L0=$(echo "$DIGITS" | "$PYBIN/python" -c 'import json, sys; print(",".join(map(str, json.load(sys.stdin)["l0"])))')
OLD=$(mktemp -d)
git archive "$OLD_COMMIT" core checkpoints/geninv-scorer.json checkpoints/geninv-scorer.safetensors | tar -x -C "$OLD"
PYTHONPATH="$OLD" "$PYBIN/invariance" geninv --norm l0 --indices "$L0" --seed 2 --threads 1 --out "$ROOT/$OUT/evaluation-old-l0"
rm -rf "$OLD"
new bench geninv --human-pack "$OUT/evaluation" --sets "$SETS" --digits 5000:10000 --seed 2 --threads 1 \
  --add-collection "old-l0=$OUT/evaluation-old-l0"
