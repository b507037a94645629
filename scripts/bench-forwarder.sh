#!/usr/bin/env bash
# Benchmark the forwarder at the vendor's published volume (issue 8; docs/benchmark.md).
# Not part of CI: a full run at scale 1 takes about 45 minutes on 2 cores.
#
#   scripts/bench-forwarder.sh [--bootstrap PATH] [--scale 0.1|1|10] [--scenario a,b] [...]
#
# Without --bootstrap it builds the release Lambda (scripts/build-lambda.sh) and measures that.
# Everything runs on 127.0.0.1 (moto, a CloudWatch Logs stand-in, a fake Cequence Edge, a local
# Lambda Runtime API) and stops by itself. `bench-forwarder --help` lists every option.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bootstrap=""
args=()
while (($#)); do
  case "$1" in
    --bootstrap) bootstrap="$2"; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done

venv=$("$root/scripts/python-tools.sh" | tail -n1)
if [ -z "$bootstrap" ]; then
  "$root/scripts/build-lambda.sh"
  bootstrap="$root/target/x86_64-unknown-linux-gnu/lambda/bootstrap"
fi
# Without the `aws` feature the harness compiles no AWS SDK crate.
cargo build --quiet --release -p cq-test-support --no-default-features --bin bench-forwarder
export CQ_MOTO_PYTHON="$venv/bin/python"
exec "$root/target/release/bench-forwarder" --bootstrap "$bootstrap" "${args[@]}"
