#!/usr/bin/env bash
# The 2030 blind pack: the shipped staged ℓ0 search at 25 and 30 pixels, 40 digits each, seed 2030; p_human refitted on the 2027 and 2028 packs.
# Run from the repository root: bash docs/evidence/geninv-budget-2030/make_pack.sh (log: make_pack.log beside it).
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2030 2030 l0@25:40,l0@30:40 \
  docs/evidence/geninv-budget-2029/used-indices.json docs/evidence/geninv-budget-2029/pack/organiser
