#!/usr/bin/env bash
# Issue 17 before/after, each benchmark run alternately on the two trees, from the repository root:
#   git worktree add /tmp/before 1df6e9c && BEFORE=/tmp/before bash docs/evidence/bench/issue17_before_after.sh
# Results (JSON per run) go to $OUT (default docs/evidence/bench/issue17). The ℓ0 GenInv pair was run 3 times.
set -u
AFTER=$(pwd); BEFORE=${BEFORE:?set BEFORE to a checkout of 1df6e9c}; B=${BIN:-$AFTER/.venv/bin}
OUT=${OUT:-$AFTER/docs/evidence/bench/issue17}; mkdir -p "$OUT"; export QT_QPA_PLATFORM=offscreen
tree() { if [ "$1" = before ]; then echo "$BEFORE"; else echo "$AFTER"; fi; }
for i in 1 2 3; do
  for side in before after; do
    T=$(tree $side); (cd "$T" && PYTHONPATH=$T "$B/invariance" bench live --json > "$OUT/$side-live-$i.json")
  done
done
for spec in "l0::l0" "linf:0.4:linf04" "linf:0.3:linf03"; do
  IFS=: read -r norm eps tag <<< "$spec"
  for side in before after; do
    T=$(tree $side); extra=(); [ -n "$eps" ] && extra=(--eps "$eps")
    (cd "$T" && PYTHONPATH=$T "$B/invariance" bench geninv --norm "$norm" "${extra[@]}" --n 20 --repeats 3 --json \
      > "$OUT/$side-geninv-$tag.json")
  done
done
