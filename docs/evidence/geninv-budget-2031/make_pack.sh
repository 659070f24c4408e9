#!/usr/bin/env bash
# The 2031 blind pack: pair-guided GenInv (p_human per norm and per (source, target) pair, fitted on the four earlier
# packs; ℓ0 neighbours chosen with the pair offsets) at ℓ0 25 and 30 pixels (40 digits each) and ℓ∞ 0.4 and 0.3
# (30 each), seed 2031. Run from the repository root: bash docs/evidence/geninv-budget-2031/make_pack.sh
# (log: make_pack.log beside it).
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2031 2031 l0@25:40,l0@30:40,linf@0.4:30,linf@0.3:30 \
  docs/evidence/geninv-budget-2030/used-indices.json docs/evidence/geninv-budget-2030/pack/organiser
