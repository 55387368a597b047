#!/usr/bin/env bash
# The CLI benchmark: hit latency of a cached `echo`, process start included,
# for `charm run` and for bkt (installed here, into target/bench-tools).
#
#   ./scripts/bench-cli.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tools="$PWD/target/bench-tools"
if [ ! -x "$tools/bin/bkt" ]; then
  echo "==> cargo install bkt (once, into $tools)"
  cargo install --quiet --locked --root "$tools" bkt
fi
BKT="$tools/bin/bkt" cargo bench -p charm-cli --bench hit -- "$@"
