#!/usr/bin/env bash
# AutoAttack (standard, torchattacks) card figures at n=1000, one model at a time, cheapest first; hard stop 18:25 UTC.
# /tmp/aa-snapshot was a copy of core/ taken at 16:41 UTC, so edits during the run could not change it; its
# core/zoo/autoattack.py and evaluate_autoattack are identical to commit ae769e8.
export PYTHONPATH=/tmp/aa-snapshot INVARIANCE_THREADS=1 INVARIANCE_CHECKPOINTS=/work/wt-16/checkpoints
deadline=$(date -u -d "18:25" +%s)
for name in undefended linf-pgd-0.1 linf-pgd-0.2 linf-pgd-0.3 linf-pgd-0.4 ibp-0.4 spatial-linf-0.3 l2-pgd-2.0; do
  left=$(( deadline - $(date -u +%s) ))
  if [ "$left" -lt 60 ]; then echo "$(date -u +%T) stop: deadline reached before $name"; break; fi
  echo "$(date -u +%T) start $name (limit ${left}s): invariance zoo --autoattack $name --n 1000"
  timeout "$left" /work/main/.venv/bin/invariance zoo --autoattack "$name" --n 1000
  echo "$(date -u +%T) end $name rc=$?"
done
echo "$(date -u +%T) done"
