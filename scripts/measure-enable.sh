#!/usr/bin/env bash
# Wall time of `cq-apigw enable` against a fresh moto: 3 regions, 17 regions, and a repeated
# (no-op) enable over 17 regions. Each figure is the median of RUNS runs (default 3).
# Needs a built target/debug/cq-apigw and dist/cequence-apigw-forwarder-arm64.zip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs="${RUNS:-3}"
venv=$(scripts/python-tools.sh)
r3="us-east-1,eu-west-1,ap-southeast-2"
r17="us-east-1,us-east-2,us-west-1,us-west-2,ca-central-1,eu-west-1,eu-west-2,eu-west-3,eu-central-1,eu-north-1,ap-northeast-1,ap-northeast-2,ap-northeast-3,ap-southeast-1,ap-southeast-2,ap-south-1,sa-east-1"
work=$(mktemp -d)
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export CQ_FORWARDER_ZIP="$root/dist/cequence-apigw-forwarder-arm64.zip"
"$venv/bin/python" scripts/moto_server.py --port 0 --port-file "$work/port" >/dev/null 2>&1 &
moto=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$work/port")"
env_file() {
  cat >"$work/.env" <<ENV
cequence_is_aws_organization_deployment=false
cequence_is_multi_account_deployment=true
cequence_target_accounts=123456789012
cequence_aws_regions=$1
cequence_client_id=bench
cequence_client_secret=bench-secret
cequence_auth_endpoint=https://auth.example.com/token
cequence_edge_endpoint=https://edge.example.com/api-transactions
cequence_cfn_auto_delete_from_s3=true
ENV
}
seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cq() { target/debug/cq-apigw --env-file "$work/.env" "$@"; }
measure() {
  local regions=$1 label=$2 first=() again=()
  env_file "$regions"
  for _ in $(seq "$runs"); do
    curl -s -X POST "$AWS_ENDPOINT_URL/moto-api/reset" >/dev/null
    first+=("$(seconds cq enable --yes)")
    again+=("$(seconds cq enable --yes)")
  done
  printf '%-22s enable %6.2f s   repeated (no-op) enable %6.2f s\n' "$label" \
    "$(printf '%s\n' "${first[@]}" | median)" "$(printf '%s\n' "${again[@]}" | median)"
}
measure "$r3" "3 regions"
measure "$r17" "17 regions"
