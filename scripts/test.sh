#!/usr/bin/env bash
# Runs every check a change must pass: formatting, lints, the whole test suite, a 20 s fuzz run
# per target (which installs cargo-fuzz, about 40 s, if it is missing), the mobile bindings
# from Python and Kotlin, and short smoke runs of the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's header says how long the run has taken so far.
step() { echo "== $* (${SECONDS} s so far)"; }

step "toolchain"
cargo --version
rustc --version

step "format"
if rustfmt --version >/dev/null 2>&1; then
  cargo fmt --all -- --check
else
  echo "rustfmt not installed; skipping the format check"
fi

step "lints"
if cargo clippy --version >/dev/null 2>&1; then
  cargo clippy --workspace --all-targets --locked -- -D warnings
else
  echo "clippy not installed; skipping lints"
fi

step "an S3 server for the relay's object store of files (moto, into a venv under the target dir)"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
moto_venv="$target_dir/moto-venv"
if ! "$moto_venv/bin/moto_server" --help >/dev/null 2>&1; then
  python3 -m venv "$moto_venv" || { apt-get install -y -qq python3-venv >/dev/null && python3 -m venv "$moto_venv"; }
  "$moto_venv/bin/pip" install -q --disable-pip-version-check "moto[s3]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5"
fi
export GIAOBAN_MOTO_SERVER="$moto_venv/bin/moto_server"

step "a PostgreSQL 15 server for the relay's second backend (installed from Debian if missing)"
GIAOBAN_TEST_POSTGRES=$(scripts/postgres.sh start)
export GIAOBAN_TEST_POSTGRES
trap 'scripts/postgres.sh stop' EXIT
echo "$GIAOBAN_TEST_POSTGRES"

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --doc --locked
else
  # Without nextest the tests of a binary share one process, so the two that measure their own
  # process's memory run after the others, one at a time.
  alone=(file_memory:: desk_probe::sign_ins_sent_at_once_do_not_swell_the_relay)
  cargo test --workspace --locked --no-fail-fast -- "${alone[@]/#/--skip=}"
  cargo test -p giaoban-e2e --test e2e --locked -- --test-threads=1 "${alone[@]}"
fi

step "fuzz smoke run, 20 s per target (long run: scripts/fuzz.sh 600)"
scripts/fuzz.sh 20

step "mobile bindings: Python and Kotlin flows against a real relay, Swift generation"
./scripts/ffi-test.sh

step "office documents: DOCX and XLSX read back by python-docx and openpyxl, printed by LibreOffice"
./scripts/export-test.sh

step "the office desk in a real browser: Chromium, keyboard alone, axe-core on every page"
./scripts/desk-browser-test.sh

step "benchmark smoke runs (full runs: cargo bench -p giaoban-client-core --bench store; cargo bench -p giaoban-client-core --bench consolidation; cargo bench -p giaoban-export --bench export; cargo bench -p giaoban-relay --bench sync|writer|scale|log_backends; cargo bench -p giaoban-protocol --bench check; cargo bench -p giaoban-e2e --bench scale)"
cargo test -p giaoban-protocol -p giaoban-client-core -p giaoban-export -p giaoban-relay -p giaoban-e2e --benches --locked
step "all checks passed"

