#!/usr/bin/env bash
# Build the forwarder Lambda (`bootstrap`, provided.al2023) for arm64 and x86_64 and zip each.
#
#   scripts/build-lambda.sh             -> dist/cequence-apigw-forwarder-arm64.zip
#                                          dist/cequence-apigw-forwarder-x86_64.zip
#   scripts/build-lambda.sh arm64       -> only the arm64 one (or x86_64)
#
# Why cargo-zigbuild: the Lambda runs on Amazon Linux 2023 (glibc 2.34). A plain release build
# links against this machine's glibc and only works there by luck; zig links against a pinned
# glibc (the `.2.34` suffix of the target) and cross-links aarch64 without any other toolchain.
# Why one cargo run for both: the build scripts and proc macros (host code) are built once.
# Why `-p lambda-forwarder`: building only that package keeps the CLI's features out of it.
# Why `--profile lambda`: the release profile with fat LTO and one codegen unit (Cargo.toml),
# a smaller zip and a faster tick for a longer link; the CLI keeps thin LTO.
# The zips are deterministic (fixed mtime and permissions), so the CLI's content-addressed S3
# key is stable across rebuilds of the same code.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(arm64 x86_64)
triple() {
  case "$1" in
    arm64 | aarch64) echo aarch64-unknown-linux-gnu ;;
    x86_64 | amd64) echo x86_64-unknown-linux-gnu ;;
    *) echo "build-lambda: unknown architecture '$1' (expected arm64 or x86_64)" >&2; exit 2 ;;
  esac
}
name() { case "$1" in arm64 | aarch64) echo arm64 ;; *) echo x86_64 ;; esac; }

venv="${CQ_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/cargo-zigbuild" ]; then
  venv=$("$root/scripts/python-tools.sh" | tail -n1)
fi
export PATH="$venv/bin:$PATH"

targets=()
for a in "${archs[@]}"; do
  t=$(triple "$a")
  rustup target list --installed 2>/dev/null | grep -qx "$t" || rustup target add "$t" >&2
  targets+=(--target "$t.2.34")
done

started=$(date +%s)
cargo zigbuild --profile lambda -p lambda-forwarder --bin bootstrap "${targets[@]}"
elapsed=$(( $(date +%s) - started ))

mkdir -p "$root/dist"
for a in "${archs[@]}"; do
  bin="$root/target/$(triple "$a")/lambda/bootstrap"
  [ -x "$bin" ] || { echo "build-lambda: $bin was not produced" >&2; exit 1; }
  zip="$root/dist/cequence-apigw-forwarder-$(name "$a").zip"
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
  echo "bootstrap ($(name "$a")): $bin ($(stat -c %s "$bin") bytes)"
  echo "zip ($(name "$a")): $zip ($(stat -c %s "$zip") bytes)"
done
echo "built ${archs[*]} in ${elapsed}s"
