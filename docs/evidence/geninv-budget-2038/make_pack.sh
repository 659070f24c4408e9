#!/usr/bin/env bash
# The 2038 blind pack: on 80 fresh held-out digits (draw_digits.py), ℓ0 at 30 pixels, GenInv as shipped at the start of
# this round (a: f7ec8dd, aligning 24 candidates per query) beside GenInv as shipped now (b: 96 above the paper's 25
# pixels), every digit in both arms (pack-l0, seed 2038). Run from the repository root:
#   bash docs/evidence/geninv-budget-2038/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
HERE=docs/evidence/geninv-budget-2038
[ -s $HERE/differing-digits.json ] || PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" $HERE/draw_digits.py > $HERE/differing-digits.json
exec bash docs/evidence/make_ab_pack.sh $HERE f7ec8dd 2038
