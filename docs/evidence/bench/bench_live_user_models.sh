#!/usr/bin/env bash
# `invariance bench live` with 6 zoo models plus 2 user models (issue 16), from the repository root:
#   bash docs/evidence/bench/bench_live_user_models.sh [RUNS]
# The two user models are zoo networks exported to ONNX and added back with `invariance models add`, so they take
# the ONNX -> onnx2torch route a researcher's model takes. They live in a temporary user folder.
set -euo pipefail
RUNS=${1:-3}
BIN=${BIN:-.venv/bin}
export INVARIANCE_USER_DIR=$(mktemp -d) QT_QPA_PLATFORM=offscreen
trap 'rm -rf "$INVARIANCE_USER_DIR"' EXIT
for name in linf-pgd-0.1 l1-slide-5; do
  "$BIN/python" - "$name" "$INVARIANCE_USER_DIR/$name.onnx" <<'PY'
import sys, torch
from core import zoo
model = zoo.load(sys.argv[1], device="cpu").eval()
torch.onnx.export(model, torch.zeros(1, 1, 28, 28), sys.argv[2], opset_version=17, dynamo=False,
                  input_names=["x"], output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
PY
  "$BIN/invariance" models add "user-$name" --onnx "$INVARIANCE_USER_DIR/$name.onnx" >/dev/null
done
MODELS=undefended,linf-pgd-0.3,l2-pgd-2.0,l1-slide-10,ibp-0.4,spatial-linf-0.3,user-linf-pgd-0.1,user-l1-slide-5
for run in $(seq "$RUNS"); do
  "$BIN/invariance" bench live --model-names "$MODELS" --json
done
