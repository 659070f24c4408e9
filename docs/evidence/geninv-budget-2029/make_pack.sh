#!/usr/bin/env bash
# The 2029 blind pack: built at the unmerged widening rule's commit (see README.md); on main it builds the shipped search's pack instead.
# Run from the repository root: bash docs/evidence/geninv-budget-2029/make_pack.sh (log: make_pack.log beside it).
exec bash docs/evidence/make_budget_pack.sh docs/evidence/geninv-budget-2029 2029 l0@25:40,l0@30:40 \
  docs/evidence/geninv-budget-2028/used-indices.json docs/evidence/geninv-budget-2028/pack/organiser
