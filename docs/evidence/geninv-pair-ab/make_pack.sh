#!/usr/bin/env bash
# Paired blind A/B on fresh tuning digits (differing_digits.py, numpy seed 48): ℓ0 at 25 and 30 pixels, suggestions
# ranked by raw score (a: a93c78c) against raw score plus the pair prior (b: core.geninv.pairs), on the digits whose
# first suggestion differs (pack-l0, seed 48). Run from the repository root:
#   bash docs/evidence/geninv-pair-ab/make_pack.sh   (log: make_pack.log beside it)
set -euo pipefail
exec bash docs/evidence/make_ab_pack.sh docs/evidence/geninv-pair-ab a93c78c 48
