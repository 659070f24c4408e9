#!/usr/bin/env bash
# The 2034 blind pack: GenInv with the judge's blurred view (σ 1 px) and p_human refitted on the rescored ratings,
# at ℓ0 25 and 30 pixels (50 digits each) and ℓ∞ 0.4 and 0.3 (30 each), seed 2034, on held-out test digits that no
# earlier pack, A/B (controls and fillers included) or benchmark used. Run from the repository root:
#   bash docs/evidence/geninv-budget-2034/make_pack.sh   (log: make_pack.log beside it)
E=docs/evidence
exec bash $E/make_budget_pack.sh $E/geninv-budget-2034 2034 l0@25:50,l0@30:50,linf@0.4:30,linf@0.3:30 \
  $E/geninv-budget-2033/used-indices.json $E/geninv-budget-2033/pack/organiser $E/geninv-ordering-ab/pack/organiser \
  $E/geninv-refine-ab/pack/organiser $E/geninv-tuning-ghosts/pack/organiser $E/geninv-judge-view/pack-l0/organiser \
  $E/geninv-judge-view/pack-linf/organiser $E/geninv-judge-view/void-same-code/pack-l0/organiser \
  $E/geninv-judge-view/void-same-code/pack-linf/organiser $E/geninv-widen-ab/pack-l0/organiser $E/geninv-widen-ab/pack-linf/organiser
