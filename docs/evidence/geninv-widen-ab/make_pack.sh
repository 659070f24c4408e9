#!/usr/bin/env bash
# Paired, blind A/B on tuning digits: GenInv with the judge's blurred view, searching again only digits that reach
# no target (a: 323704f) against also searching again, wider, digits whose best raw score is below 2 nats (b: this
# checkout), on the digits where their first suggestion differs (differing_digits.py): pack-l0 (ℓ0 25 and 30
# pixels, seed 6171) and pack-linf (ℓ∞ 0.4, seed 6172). Run from the repository root:
#   bash docs/evidence/geninv-widen-ab/make_pack.sh   (log: make_pack.log beside it)
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-widen-ab 323704f 6171
