#!/usr/bin/env bash
# Builds the ffi library and generates its Kotlin, Swift and Python bindings.
#   scripts/bindings.sh [debug|test|release] [out-dir]
# (test: the profile the test suite builds with, so its compiled dependencies are reused.)
# Output: <out-dir>/{kotlin,swift,python}/ and the shared library beside the Python module.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${1:-debug}"
out="${2:-target/bindings}"
case "$profile" in
  debug) flag=(); dir=debug ;;
  test) flag=(--profile test); dir=debug ;;
  release) flag=(--release); dir=release ;;
  *) echo "unknown profile '$profile' (debug, test or release)" >&2; exit 2 ;;
esac

cargo build -p giaoban-ffi --lib --bin uniffi-bindgen --locked "${flag[@]}"
build="${CARGO_TARGET_DIR:-target}"
lib="$build/$dir/libgiaoban_ffi.so"
[ -f "$lib" ] || lib="$build/$dir/libgiaoban_ffi.dylib"
bindgen="$build/$dir/uniffi-bindgen"

rm -rf "$out"
for lang in kotlin swift python; do
  "$bindgen" generate --library "$lib" --language "$lang" --out-dir "$out/$lang" >/dev/null
done
cp "$lib" "$out/python/"
echo "bindings in $out (library: $lib)"
