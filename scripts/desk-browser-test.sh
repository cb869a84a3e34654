#!/usr/bin/env bash
# The office desk in a real headless Chromium against a real relay process (tests/browser/):
# sign in, issue a dispatch, watch the matrix change as wards' phones sync, review, sign out,
# with the keyboard alone and axe-core's WCAG 2 A/AA checks on every page.
# Installs what it needs when missing: Debian's chromium and a font with Vietnamese glyphs, and
# the pinned npm packages (playwright-core, axe-core) into tests/browser/node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    echo "installing $* (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing $*; install it with your system's package manager" >&2
    exit 1
  fi
}
command -v chromium >/dev/null 2>&1 || apt_install chromium fonts-noto-core
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  (cd tests/browser && npm ci --silent --no-audit --no-fund)
fi

# The test suite's profile, so what it compiled is reused.
cargo build -p giaoban-relay --bin giaoban-relay --profile test --locked
cargo build -p giaoban-client-core --example device --profile test --locked
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
GIAOBAN_RELAY_BIN="$target_dir/debug/giaoban-relay" \
GIAOBAN_DEVICE_BIN="$target_dir/debug/examples/device" \
  node --test --test-concurrency=1 tests/browser/
