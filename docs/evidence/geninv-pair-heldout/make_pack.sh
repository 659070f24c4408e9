#!/usr/bin/env bash
# The held-out ℓ0 digits whose first suggestion changes with the pair prior (differing_digits.py: 25 pixels from the
# 2034-2037 and 2039 packs, 30 pixels from the 2037-2039 packs): both versions (a: a93c78c, the shipped code whose
# images those packs rated; b: with the prior) side by side, rated again by new raters (pack-l0, seed 2041). Run from
# the repository root:
#   bash docs/evidence/geninv-pair-heldout/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-pair-heldout a93c78c 2041
