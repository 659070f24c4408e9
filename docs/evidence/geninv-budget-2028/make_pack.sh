#!/usr/bin/env bash
# The 2028 blind pack: the staged ℓ0 search at 25 and 30 pixels, 40 digits each, seed 2028; p_human refitted on the 2027 pack.
# Run from the repository root: bash docs/evidence/geninv-budget-2028/make_pack.sh (log: make_pack.log beside it).
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2028 2028 l0@25:40,l0@30:40 \
  docs/evidence/geninv-budget/used-indices.json docs/evidence/geninv-budget/pack/organiser
