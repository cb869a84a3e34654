#!/usr/bin/env bash
# Coverage-guided fuzzing of the relay's frame decoder (wire_decode) and push checks
# (check_push) with cargo-fuzz (libFuzzer + AddressSanitizer), each for the given seconds
# (default 60). Installs cargo-fuzz if missing. cargo-fuzz needs nightly compiler flags; the
# stable toolchain accepts them with RUSTC_BOOTSTRAP=1. Findings go to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
export RUSTC_BOOTSTRAP=1
# The push-check target meets Automerge panics the relay catches and refuses; one line each is
# enough (a real crash still stops the run and leaves its input in fuzz/artifacts/).
export RUST_BACKTRACE="${RUST_BACKTRACE:-0}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
for target in wire_decode check_push; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "corpus/$target"
  cargo fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1
done
