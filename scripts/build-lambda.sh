#!/usr/bin/env bash
# Build the forwarder Lambda (`bootstrap`, provided.al2023, x86_64) and zip it.
#
#   scripts/build-lambda.sh            -> dist/cequence-apigw-forwarder.zip
#
# Why cargo-zigbuild: the Lambda runs on Amazon Linux 2023 (glibc 2.34). A plain release build
# links against this machine's glibc and only works there by luck; zig links against a pinned
# glibc (the `.2.34` suffix of the target) without downloading any toolchain.
# Why `-p lambda-forwarder`: building only that package keeps the CLI's features out of it.
# The zip is deterministic (fixed mtime and permissions), so the CLI's content-addressed S3 key
# is stable across rebuilds of the same code.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

venv="${CQ_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  venv=$("$root/scripts/python-tools.sh" | tail -n1)
fi
export PATH="$venv/bin:$PATH"

target=x86_64-unknown-linux-gnu
started=$(date +%s)
cargo zigbuild --release -p lambda-forwarder --bin bootstrap --target "$target.2.34"
bin="$root/target/$target/release/bootstrap"
[ -x "$bin" ] || { echo "build-lambda: $bin was not produced" >&2; exit 1; }

mkdir -p "$root/dist"
zip="$root/dist/cequence-apigw-forwarder.zip"
"$venv/bin/python" - "$bin" "$zip" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(1980, 1, 1, 0, 0, 0))
info.external_attr = (0o100755 << 16)  # regular file, rwxr-xr-x: Lambda execs it
info.create_system = 3                 # unix, so the mode above is honoured
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
elapsed=$(( $(date +%s) - started ))
bin_size=$(stat -c %s "$bin")
zip_size=$(stat -c %s "$zip")
echo "bootstrap: $bin ($bin_size bytes)"
echo "zip: $zip ($zip_size bytes, $(( (zip_size + 1023) / 1024 )) KiB), built in ${elapsed}s"
