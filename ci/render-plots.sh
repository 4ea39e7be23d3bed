#!/usr/bin/env bash
# Renders approved SVG snapshots to PNG with headless Chromium, to look at them (README, reviews).
# Usage: ci/render-plots.sh OUT_DIR [SVG...]   (default: every Approved/*.svg)
# Needs: apt-get install -y chromium
set -euo pipefail
out=${1:?usage: ci/render-plots.sh OUT_DIR [SVG...]}; shift || true
mkdir -p "$out"
files=("$@"); [ ${#files[@]} -gt 0 ] || files=(Approved/*.svg)
profile=$(mktemp -d)
for f in "${files[@]}"; do
  name=$(basename "$f"); name=${name%.verified.svg}; name=${name%.received.svg}
  w=$(grep -o 'width="[0-9.]*"' "$f" | head -1 | tr -dc '0-9.'); h=$(grep -o 'height="[0-9.]*"' "$f" | head -1 | tr -dc '0-9.')
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --hide-scrollbars \
    --window-size="${w%.*},${h%.*}" --screenshot="$out/$name.png" "file://$(realpath "$f")" >/dev/null 2>&1
  echo "$out/$name.png"
done
rm -rf "$profile"
