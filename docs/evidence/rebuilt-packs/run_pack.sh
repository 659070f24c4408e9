#!/usr/bin/env bash
# usage: run_pack.sh WT PACK SEED SETS EXCLUDE [extra bench args...]
set -uo pipefail
WT=$1 PACK=$2 SEED=$3 SETS=$4 EXCL=$5; shift 5
OUT=/tmp/ana/regen/$PACK
export PYBIN=/work/main/.venv/bin INVARIANCE_THREADS=1 INVARIANCE_CHECKPOINTS=$WT/checkpoints PYTHONPATH=$WT
cd "$WT"
rm -rf "$OUT"
mkdir -p /tmp/ana/regen/logs
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cmd: python -m core.cli bench geninv --human-pack $OUT --sets $SETS --digits 7500:10000 --exclude $EXCL --seed $SEED --threads 1 --device cpu $*"
  nice -n 5 $PYBIN/python -m core.cli bench geninv --human-pack "$OUT" --sets "$SETS" \
    --digits 7500:10000 --exclude "$EXCL" --seed "$SEED" --threads 1 --device cpu "$@"
  echo "EXIT $?"
} 2>&1 | tee /tmp/ana/regen/logs/$PACK.log
