#!/usr/bin/env bash
# Builds the blind GenInv pack at the paper's budgets (l0 25 and 30 pixels, linf 0.4 and 0.3). Run from the
# repository root:  bash docs/evidence/geninv-budget/make_pack.sh   (output: make_pack.log beside this script)
# Digits: MNIST test indices 7500-9999 (held out; tuning used 2500-4999) minus every index an earlier figure or
# pack used (used-indices.json, from used_indices.py at commit 0e17770); 30 per set, disjoint, seed 2027.
# Unchanged controls: as many as suggestions (core.study). Digits without a suggestion count as failures.
set -euo pipefail
ROOT=$(pwd)
HERE=docs/evidence/geninv-budget
PYBIN=${PYBIN:-$(pwd)/.venv/bin}  # the README's venv; PYBIN=... for another
export INVARIANCE_THREADS=1
PYTHONPATH="$ROOT" "$PYBIN/python" "$HERE/used_indices.py"
PYTHONPATH="$ROOT" "$PYBIN/python" -m core.cli bench geninv --human-pack "$HERE/pack" \
  --sets l0@25:30,l0@30:30,linf@0.4:30,linf@0.3:30 --digits 7500:10000 \
  --exclude "$HERE/used-indices.json" --seed 2027 --threads 1 --device cpu
