#!/usr/bin/env bash
# Builds the ffi library and generates its Kotlin, Swift and Python bindings.
#   scripts/bindings.sh [debug|release] [out-dir]
# Output: <out-dir>/{kotlin,swift,python}/ and the shared library beside the Python module.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-debug}"
out="${2:-target/bindings}"
flag=()
[ "$profile" = release ] && flag=(--release)

cargo build -p giaoban-ffi --lib --locked "${flag[@]}"
cargo build -p giaoban-ffi --bin uniffi-bindgen --locked
lib="target/$profile/libgiaoban_ffi.so"
[ -f "$lib" ] || lib="target/$profile/libgiaoban_ffi.dylib"
bindgen=target/debug/uniffi-bindgen

rm -rf "$out"
for lang in kotlin swift python; do
  "$bindgen" generate --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done
cp "$lib" "$out/python/"
echo "bindings in $out (library: $lib)"
