#!/usr/bin/env bash
# Paired blind A/B on tuning digits (differing_digits.py): ℓ0 at 30 pixels, digits scoring under 2 nats searched again
# wider (a: 8f147b6) against under 3 nats (b), on the digits whose first suggestion differs (pack-l0, seed 47). Run from
# the repository root:
#   bash docs/evidence/geninv-widen3-ab/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-widen3-ab 8f147b6 47
