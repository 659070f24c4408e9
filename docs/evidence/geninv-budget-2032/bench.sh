#!/usr/bin/env bash
# Speed and quality of the l0 budget search with p_human per norm on (raw score, aligned cost) at
# the default budget (25 pixels, no --eps) and at --eps 30.
# Run from the repository root:  bash docs/evidence/geninv-budget-2032/bench.sh   (output: bench.log beside this script)
exec bash docs/evidence/bench_geninv_l0.sh docs/evidence/geninv-budget-2032
