#!/usr/bin/env bash
# ℓ0 at 30 pixels, back to back: the code before the pair prior (a93c78c, in a worktree at OLD) and this checkout,
# three times each, alternating: invariance bench geninv --norm l0 --eps 30 --n 40 --repeats 2 --threads 1 --device cpu.
# Run from the repository root:  bash docs/evidence/geninv-pair-heldout/bench_b2b.sh > docs/evidence/geninv-pair-heldout/bench-a93c78c.log
set -euo pipefail
ROOT=$(pwd) OLD=${OLD:-/tmp/ab-old-a93c78c}
[ -d "$OLD" ] || git worktree add -q --detach "$OLD" a93c78c
for _ in 1 2 3; do
  for code in "$OLD" "$ROOT"; do
    echo "== $code $(cd "$code" && git rev-parse --short HEAD) $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
    (cd "$code" && INVARIANCE_CHECKPOINTS=$code/checkpoints INVARIANCE_THREADS=1 PYTHONPATH=$code \
      "${PYBIN:-$ROOT/.venv/bin}/python" -m core.cli bench geninv --norm l0 --eps 30 --n 40 --repeats 2 --threads 1 \
      --device cpu 2>&1 | grep "median seconds")
  done
done
