#!/usr/bin/env bash
# The 2039 blind pack: on fresh held-out digits (draw_digits.py), GenInv without (a: 4f6f829) and with (b) the charge
# of 0.1 nats per erased pixel, ℓ0 at 25 pixels (60 digits) and 30 pixels (80 others), every digit in both arms
# (pack-l0, seed 2039). Which arm ships is decided by the tuning-digit A/B (../geninv-removal-ab/), not by this pack.
# Run from the repository root:
#   bash docs/evidence/geninv-budget-2039/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
HERE=docs/evidence/geninv-budget-2039
[ -s $HERE/differing-digits.json ] || PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" $HERE/draw_digits.py > $HERE/differing-digits.json
exec bash docs/evidence/make_ab_pack.sh $HERE 4f6f829 2039
