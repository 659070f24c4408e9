#!/usr/bin/env bash
# The held-out ℓ0 30 digits of the 2037-2039 packs whose suggestion changes when digits scoring under 3 nats (not 2)
# are searched again, wider (differing_digits.py): both versions (a: 8f147b6, the shipped code those packs rated;
# b: under 3 nats) side by side, rated again by new raters (pack-l0, seed 2040). Run from the repository root:
#   bash docs/evidence/geninv-widen3-heldout/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-widen3-heldout 8f147b6 2040
