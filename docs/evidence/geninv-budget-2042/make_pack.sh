#!/usr/bin/env bash
# The 2042 blind pack: the shipped code (with the pair prior) on fresh held-out digits, ℓ0 at 25 pixels (40 digits)
# and 30 pixels (50 digits), with as many unchanged controls; MNIST test 7500-9999 minus every index an earlier
# figure, pack (controls and fillers included) or benchmark used, through the pair prior's re-rating. Run from the
# repository root:
#   bash docs/evidence/geninv-budget-2042/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
E=docs/evidence
exec bash $E/make_budget_pack.sh $E/geninv-budget-2042 2042 l0@25:40,l0@30:50 $E/geninv-budget-2036/used-indices.json \
  $E/geninv-budget-2036/pack/organiser $E/geninv-budget-2037/pack-l0/organiser $E/geninv-budget-2038/pack-l0/organiser \
  $E/geninv-budget-2039/pack-l0/organiser $E/geninv-widen3-heldout/pack-l0/organiser \
  $E/geninv-pair-heldout/pack-l0/organiser
