#!/usr/bin/env bash
# The one test command: formatting, lints, every test, doctest and example
# of the workspace. The benchmarks are type-checked by clippy --all-targets
# (an optimized build of them took most of a cold run).
#
#   ./scripts/test.sh
#
# Environment: CHARM_REQUIRE_SERVICES=1 makes service-backed tests fail
# instead of skipping (CI sets it through .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null; then
  echo "cargo not found: install the Rust toolchain (rustup) first" >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo

# What the tests need beyond the toolchain: strace, for `charm run --trace`.
if ! command -v strace >/dev/null; then
  step "installing strace (for the charm run --trace tests)"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq strace
fi

# The servers the store tests run against (stopped when this script exits).
source scripts/services.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, -D warnings)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "cargo test (unit, integration, UI and doc tests)"
cargo test --workspace --all-features

step "cargo doc (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features --quiet

step "examples"
# Not `-p <crate>`: the features then unify over the whole workspace, as
# in the test build above, so only charm-build, charm-macros and the
# examples' crate (built for the host with other features under the
# tests' dev-dependencies) are compiled again; with `-p`, much of the
# workspace was.
for example in */examples/*.rs; do
  name=$(basename "$example" .rs)
  echo "--- ${example%%/*}: $name"
  cargo run --quiet --all-features --example "$name"
done

step "all checks passed"
