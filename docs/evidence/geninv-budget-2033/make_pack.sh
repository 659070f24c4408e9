#!/usr/bin/env bash
# The 2033 blind pack: the shipped GenInv again (as the 2032 pack, with the judge's faster pooling), at ℓ0 25 and 30
# pixels (50 digits each) and ℓ∞ 0.4 and 0.3 (30 each), seed 2033, for more digits and raters of the shipped code.
# Run from the repository root: bash docs/evidence/geninv-budget-2033/make_pack.sh (log: make_pack.log beside it).
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2033 2033 l0@25:50,l0@30:50,linf@0.4:30,linf@0.3:30 \
  docs/evidence/geninv-budget-2032/used-indices.json docs/evidence/geninv-budget-2032/pack/organiser
