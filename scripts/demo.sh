#!/usr/bin/env bash
# End-to-end demo on a local AWS emulator (moto), nothing to configure:
#   sample REST and HTTP APIs in three regions -> the operator's role and policy ->
#   `cq-apigw doctor` -> `cq-apigw enable` -> `cq-apigw status`
#   -> API traffic logged -> the forwarder's tick delivers transactions to a local fake Cequence
#   -> `cq-apigw disable --destroy` -> `cq-apigw status`.
# Everything runs on 127.0.0.1 and stops when the script ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
regions="${DEMO_REGIONS:-us-east-1,eu-west-1,ap-southeast-2}"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing the local test bed (moto) into ./.venv"
venv=$(scripts/python-tools.sh)
py="$venv/bin/python"

say "Building cq-apigw, the forwarder and the fake Cequence server (debug), and the Lambda zip (release)"
cargo build --quiet -p cq-apigw -p lambda-forwarder -p cq-test-support --bins
[ -f dist/cequence-apigw-forwarder-arm64.zip ] || scripts/build-lambda.sh arm64
bin="$root/target/debug"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$py" scripts/moto_server.py --port 0 --port-file "$work/moto.port" >/dev/null 2>&1 &
pids+=($!)
"$bin/fake-cequence" --client-id demo-client --client-secret demo-secret-never-printed \
  >"$work/fake-cequence.out" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  [ -s "$work/moto.port" ] && grep -q '^PORT=' "$work/fake-cequence.out" && break
  sleep 0.1
done
endpoint="http://127.0.0.1:$(cat "$work/moto.port")"
cequence="http://127.0.0.1:$(sed -n 's/^PORT=//p' "$work/fake-cequence.out")"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="$endpoint" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
echo "moto at $endpoint, fake Cequence auth+edge at $cequence"

say "A customer's account (moto's 123456789012) with REST and HTTP APIs in $regions"
"$py" scripts/demo/seed.py apis --endpoint "$endpoint" --regions "$regions"

cat >"$work/.env" <<ENV
# One account, self-managed StackSet (an organization deployment would skip the management
# account, where these sample APIs live).
cequence_is_aws_organization_deployment=false
cequence_is_multi_account_deployment=true
cequence_target_accounts=123456789012
cequence_aws_regions=$regions
cequence_client_id=demo-client
cequence_client_secret=demo-secret-never-printed
cequence_auth_endpoint=$cequence/auth/realms/cequence/protocol/openid-connect/token
cequence_edge_endpoint=$cequence/api-transactions
cequence_cfn_auto_delete_from_s3=true
ENV
# cq-apigw runs with the operator's credentials (set below); the command is shown, the keys not.
operator_keys=""
cq() {
  echo "+ cq-apigw --env-file $work/.env $*" >&2
  # shellcheck disable=SC2086 # two NAME=value words
  env $operator_keys "$bin/cq-apigw" --env-file "$work/.env" "$@"
}

say "The operator's prerequisites: the StackSet administration role and an IAM user with docs/iam-policy.json"
operator_keys=$("$py" scripts/demo/seed.py operator --endpoint "$endpoint" --regions "$regions" | tr '\n' ' ')

say "cq-apigw doctor (read-only: what would make enable fail)"
cq doctor

say "cq-apigw enable"
cq enable --yes

say "cq-apigw enable (again: nothing to change)"
cq enable --yes

say "cq-apigw status"
cq status

say "API traffic: API Gateway writes execution and access logs"
seeded=$("$py" scripts/demo/seed.py traffic --endpoint "$endpoint" --regions "$regions")
grep -v '^EXPECTED_TRANSACTIONS=' <<<"$seeded"
expected=$(sed -n 's/^EXPECTED_TRANSACTIONS=//p' <<<"$seeded")

say "The forwarder's scheduled tick in each region (the bootstrap binary, invoked locally)"
IFS=, read -ra region_list <<<"$regions"
for r in "${region_list[@]}"; do
  # The state table, spool bucket and token parameter the region's stack created.
  forwarder_env=$("$py" scripts/demo/seed.py forwarder-env --endpoint "$endpoint" --regions "$r")
  env $forwarder_env AWS_REGION=$r \
  CEQUENCE_AUTH_ENDPOINT="$cequence/auth/realms/cequence/protocol/openid-connect/token" \
  CEQUENCE_EDGE_ENDPOINT="$cequence/api-transactions" \
  CEQUENCE_CLIENT_ID=demo-client CEQUENCE_CLIENT_SECRET=demo-secret-never-printed \
  CEQUENCE_REST_API_ENABLED=true CEQUENCE_HTTP_API_ENABLED=true LOG_LEVEL=info \
    "$bin/bootstrap" invoke '{}' 2>&1 | grep -E "LAMBDA FINISHED|ERROR" || true
done
read -r received duplicates truncated largest < <(curl -s "$cequence/_received" |
  "$py" -c 'import json,sys; r=json.load(sys.stdin); print(r["count"], len(r["duplicates"]), r["truncated_bodies"], r["largest_request_body"])')
echo "fake Cequence edge received $received transactions ($duplicates duplicates) for $expected API requests"
echo "request bodies: the largest arrived whole at $largest bytes; $truncated sent as {\"cq_body_truncated\":\"true\"}"

say "cq-apigw disable --destroy"
cq disable --destroy --yes

say "cq-apigw status (after destroy)"
cq status

if [ "$largest" -lt 50000 ] || [ "$truncated" != 0 ]; then
  echo "demo: full execution logs should carry the 50 KB bodies whole: largest $largest bytes, $truncated truncated" >&2
  exit 1
fi
if [ "$received" != "$expected" ] || [ "$duplicates" != 0 ]; then
  echo "demo: expected $expected transactions without duplicates, the edge received $received ($duplicates duplicates)" >&2
  exit 1
fi
say "Demo finished: $received transactions forwarded, everything removed again"
