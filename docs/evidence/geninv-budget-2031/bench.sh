#!/usr/bin/env bash
# Speed and quality of the pair-guided l0 budget search (p_human per norm and (source, target) pair) at
# the default budget (25 pixels, no --eps) and at --eps 30. Run at commit e66fceb (branch s3gen);
# in another checkout it measures that checkout's code.
# Run from the repository root:  bash docs/evidence/geninv-budget-2031/bench.sh   (output: bench.log beside this script)
exec bash docs/evidence/bench_geninv_l0.sh docs/evidence/geninv-budget-2031
