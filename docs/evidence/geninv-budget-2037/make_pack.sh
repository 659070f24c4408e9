#!/usr/bin/env bash
# The 2037 blind pack: on fresh held-out digits (draw_digits.py), GenInv as shipped at the start of this round
# (a: f7ec8dd, ℓ0 aligning 24 candidates per query) beside GenInv aligning 96 for ℓ0 (b), every digit in both arms:
# pack-l0 (ℓ0 at 30 pixels, 60 digits, and at 25 pixels, 40 other digits; seed 2037). ℓ∞ is unchanged by b. Run from
# the repository root:
#   bash docs/evidence/geninv-budget-2037/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
HERE=docs/evidence/geninv-budget-2037
[ -s $HERE/differing-digits.json ] || PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" $HERE/draw_digits.py > $HERE/differing-digits.json
exec bash docs/evidence/make_ab_pack.sh $HERE f7ec8dd 2037
