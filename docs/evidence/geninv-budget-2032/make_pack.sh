#!/usr/bin/env bash
# The 2032 blind pack: GenInv with p_human per norm on (raw score, aligned cost), fitted on the five earlier packs
# (the search itself is that of the 2028 and 2030 packs; the mapping orders each digit's suggestions), at ℓ0 25 and
# 30 pixels (50 digits each) and ℓ∞ 0.4 and 0.3 (30 each), seed 2032. Run from the repository root:
#   bash docs/evidence/geninv-budget-2032/make_pack.sh   (log: make_pack.log beside it)
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2032 2032 l0@25:50,l0@30:50,linf@0.4:30,linf@0.3:30 \
  docs/evidence/geninv-budget-2031/used-indices.json docs/evidence/geninv-budget-2031/pack/organiser
