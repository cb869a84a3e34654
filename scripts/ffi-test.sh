#!/usr/bin/env bash
# Proves the mobile bindings from real foreign languages against a real relay process:
# generates the Kotlin, Swift and Python bindings, runs the Python flow under pytest, compiles
# the Kotlin flow with kotlinc and runs it on the JVM with JNA, then a short benchmark run.
#   scripts/ffi-test.sh          tests + a benchmark smoke run (what CI runs)
#   scripts/ffi-test.sh --bench  the full per-call benchmark, release build
# Installs what it needs when missing: pytest (pip), kotlin-compiler (npm, into target/tools),
# JNA (Debian libjna-java, libjna-jni) and a JDK (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-test}"
# The test suite's profile, so what it compiled is reused; the benchmark measures release.
profile=test
dir=debug
if [ "$mode" = --bench ]; then profile=release; dir=release; fi
KOTLIN_VERSION=2.4.20
tools="$PWD/target/tools"

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing $* (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $*; install it with your system's package manager" >&2
    exit 1
  fi
}

command -v java >/dev/null 2>&1 || apt_install openjdk-17-jre-headless
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
[ -f /usr/share/java/jna.jar ] || apt_install libjna-java libjna-jni
python3 -m pytest --version >/dev/null 2>&1 || python3 -m pip install --quiet "pytest==8.3.5"
KT="$tools/kotlin/node_modules/kotlin-compiler"
if [ ! -x "$KT/bin/kotlinc" ]; then
  echo "installing kotlin-compiler $KOTLIN_VERSION (npm)"
  npm install --silent --no-audit --no-fund --prefix "$tools/kotlin" "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
fi

echo "== bindings ($profile)"
flag=(--profile "$profile")
cargo build -p giaoban-relay --bin giaoban-relay --locked "${flag[@]}"
./scripts/bindings.sh "$profile" target/bindings
build="${CARGO_TARGET_DIR:-$PWD/target}"
relay="$build/$dir/giaoban-relay"
for f in target/bindings/swift/GiaoBanCore.swift target/bindings/swift/GiaoBanCoreFFI.h; do
  [ -s "$f" ] || { echo "Swift binding $f was not generated" >&2; exit 1; }
done

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp="$scratch/flow.jar:/usr/share/java/jna.jar:$KT/lib/kotlinx-coroutines-core-jvm.jar:$KT/lib/kotlin-stdlib.jar"
echo "== kotlinc"
"$KT/bin/kotlinc" -nowarn -cp "/usr/share/java/jna.jar:$KT/lib/kotlinx-coroutines-core-jvm.jar" \
  target/bindings/kotlin/vn/giaoban/core/giaoban_ffi.kt ffi/tests/kotlin/*.kt -d "$scratch/flow.jar"
java_run() { java -Djna.library.path="$build/$dir" -cp "$cp" CadreFlowKt "$relay" "$@"; }

if [ "$mode" = --bench ]; then
  echo "== Kotlin per-call benchmark"
  java_run "$scratch/bench" bench
  exit 0
fi

echo "== Python flow (pytest)"
GIAOBAN_BINDINGS=target/bindings/python GIAOBAN_RELAY_BIN="$relay" python3 -m pytest -q ffi/tests/python

echo "== Kotlin flow (JVM + JNA)"
java_run "$scratch/flow"

echo "== Kotlin per-call benchmark, smoke run (full run: scripts/ffi-test.sh --bench)"
GIAOBAN_BENCH_SMOKE=1 java_run "$scratch/bench" bench
