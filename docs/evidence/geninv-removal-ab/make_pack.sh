#!/usr/bin/env bash
# Paired blind A/B on tuning digits (draw_digits.py): GenInv without (a: 4f6f829) and with (b) the charge of 0.1 nats
# per erased pixel, ℓ0 at 25 and 30 pixels, every digit in both arms (pack-l0, seed 43). Run from the repository root:
#   bash docs/evidence/geninv-removal-ab/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
HERE=docs/evidence/geninv-removal-ab
[ -s $HERE/differing-digits.json ] || PYTHONPATH=$(pwd) "${PYBIN:-.venv/bin}/python" $HERE/draw_digits.py > $HERE/differing-digits.json
exec bash docs/evidence/make_ab_pack.sh $HERE 4f6f829 43
