#!/bin/sh
# charm side by side with cached's redb store and cacache (bench-peers/,
# outside the main workspace and its CI run). BENCH_PEERS_SCALE=0.1 for a
# short run. Prints a Markdown table; run it on an idle machine.
set -eu
cd "$(dirname "$0")/../bench-peers"
cargo build --release --quiet
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec ./target/release/charm-bench-peers
