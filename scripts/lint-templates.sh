#!/usr/bin/env bash
# Lint every CloudFormation template with cfn-lint and checkov; exit non-zero on any finding.
#
# Tools come from the workspace venv (scripts/python-tools.sh), or from $CQ_VENV. checkov runs
# offline (--skip-download): CI and this sandbox have no access to the Prisma Cloud API, and the
# policies bundled with checkov are the ones we check against. Suppressions live in each template
# (Metadata: checkov: skip) with their reason, listed in docs/template.md.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${CQ_VENV:-$root/.venv}"
cfn_lint="$venv/bin/cfn-lint"
checkov="$venv/bin/checkov"
for tool in "$cfn_lint" "$checkov"; do
  if [ ! -x "$tool" ]; then
    echo "lint-templates: $tool not found; run scripts/python-tools.sh (or set CQ_VENV)" >&2
    exit 2
  fi
done

templates=(
  "$root/templates/template.yaml"
  "$root/templates/stackset-roles/administration-role.yaml"
  "$root/templates/stackset-roles/execution-role.yaml"
)

status=0
for t in "${templates[@]}"; do
  rel=${t#"$root"/}
  if [ ! -f "$t" ]; then
    echo "lint-templates: missing $rel" >&2
    status=1
    continue
  fi
  echo "== cfn-lint $rel"
  # Warnings count as failures too: each one must be fixed or justified in the template.
  if ! "$cfn_lint" --non-zero-exit-code informational -- "$t"; then
    status=1
  fi
  echo "== checkov $rel"
  if ! "$checkov" --quiet --compact --skip-download --framework cloudformation -f "$t"; then
    status=1
  fi
done

if [ "$status" -eq 0 ]; then
  echo "lint-templates: all templates clean"
else
  echo "lint-templates: findings above" >&2
fi
exit "$status"
