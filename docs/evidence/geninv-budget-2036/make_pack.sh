#!/usr/bin/env bash
# The 2036 blind pack: GenInv as shipped (as the 2034 pack), at ℓ0 25 and 30 pixels (50 digits each) and ℓ∞ 0.4
# and 0.3 (30 each), seed 2036, on held-out digits that no earlier pack (the 2034 pack and both 2035 packs with
# their controls included), A/B or benchmark used. Run from the repository root:
#   bash docs/evidence/geninv-budget-2036/make_pack.sh   (log: make_pack.log beside it)
E=docs/evidence
exec bash $E/make_budget_pack.sh $E/geninv-budget-2036 2036 l0@25:50,l0@30:50,linf@0.4:30,linf@0.3:30 \
  $E/geninv-budget-2034/used-indices.json $E/geninv-budget-2034/pack/organiser $E/geninv-budget-2035/pack-l0/organiser \
  $E/geninv-budget-2035/pack-linf/organiser
