#!/usr/bin/env bash
# Install the Python-side tools the tests and the demo need into ./.venv (idempotent).
# moto is the local AWS; cfn-lint and checkov lint the template; ziglang + cargo-zigbuild
# build the Lambda against glibc 2.34 without a download of any toolchain.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="${CQ_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.cq-tools-v2"
if [ ! -f "$stamp" ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'moto[server]==5.2.5' 'cfn-lint>=1.20,<2' 'checkov>=3.2,<4' 'ziglang==0.13.0' 'cargo-zigbuild>=0.19,<0.21' 'jsonschema>=4.20,<5'
  touch "$stamp"
fi
echo "$venv"
