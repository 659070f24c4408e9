#!/usr/bin/env bash
# Speed and quality of the shipped l0 budget search (this checkout: the staged search of 0dd05c9, no widening) with
# the refitted p_human mapping, at the default budget (25 pixels, no --eps) and at --eps 30. In another checkout it
# measures that checkout's code.
# Run from the repository root:  bash docs/evidence/geninv-budget-2030/bench.sh   (output: bench.log beside this script)
exec bash docs/evidence/bench_geninv_l0.sh docs/evidence/geninv-budget-2030
