#!/usr/bin/env bash
# The 2035 blind packs: on fresh held-out digits (draw_digits.py), GenInv as it was at the start of this round
# (a: e36c758, the plain judge, wider search only where no target is reached) beside GenInv as shipped (b: the
# blurred judge, weak digits searched again, wider), every digit in both arms: pack-l0 (ℓ0 25 and 30 pixels, 40
# digits, seed 2035) and pack-linf (ℓ∞ 0.4 and 0.3, 30 digits, seed 2036). Run from the repository root:
#   bash docs/evidence/geninv-budget-2035/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
HERE=docs/evidence/geninv-budget-2035
[ -s $HERE/differing-digits.json ] || PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" $HERE/draw_digits.py > $HERE/differing-digits.json
exec bash docs/evidence/make_ab_pack.sh $HERE e36c758 2035
