#!/usr/bin/env bash
# Paired, blind A/B on tuning digits: GenInv with the plain judge (a: main before the blurred view, e36c758) against
# the judge that looks at a σ 1 px blur (b: the checkout, dc176c1), on the digits where their first suggestion
# differs (differing_digits.py): pack-l0 (ℓ0 25 and 30 pixels, seed 6163) and pack-linf (ℓ∞ 0.4, seed 6164).
# Run from the repository root at dc176c1 (this script then ran the same steps inline; log: make_pack.log):
#   bash docs/evidence/geninv-judge-view/make_pack.sh   (log: make_pack.log beside it)
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-judge-view e36c758 6163
