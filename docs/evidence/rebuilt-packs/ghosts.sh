#!/usr/bin/env bash
# geninv-tuning-ghosts per its README, at f5a34db: pack B (VARIANT=noghost) then pack C (rated) with B's l0-30 added
set -uo pipefail
ROOT=/work/wt/regen-geninv-tuning-ghosts G=/tmp/ana/regen/work/ghosts
B=/tmp/ana/regen/work/ghosts-packB OUT=/tmp/ana/regen/geninv-tuning-ghosts
PYBIN=/work/main/.venv/bin
export INVARIANCE_THREADS=1 INVARIANCE_CHECKPOINTS=$ROOT/checkpoints PYTHONPATH=$ROOT
cd $ROOT; rm -rf $B $OUT
{
  echo "commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC')"
  VARIANT=noghost nice -n 5 $PYBIN/python $G/pack_variant.py bench geninv --human-pack $B --sets l0@30:40 --digits 2500:5000 \
    --exclude $G/used-indices.json --seed 3107
  echo "EXIT B $?"
  nice -n 5 $PYBIN/python $G/pack_variant.py bench geninv --human-pack $OUT --sets l0@30:40 --digits 2500:5000 \
    --exclude $G/used-indices.json --seed 3107 --add-collection l0-30-noghost=$B/organiser/collections/l0-30
  echo "EXIT C $?"
} 2>&1 | tee /tmp/ana/regen/logs/geninv-tuning-ghosts.log
