#!/usr/bin/env bash
# What a new process that opens a cache of 1000 entries, hits once and
# exits executes, per peer, beyond a process that does nothing: the
# instructions, and the distinct 64-byte lines of code it runs (cachegrind's
# first-level instruction-cache misses; each is code a new process fetches
# cold). Unlike timings on a shared machine these counts are repeatable, so
# they show what a change to the open, hit and close path does to the
# "open + 1 hit + exit" row of ./scripts/bench-peers.sh.
#
#   ./scripts/bench-footprint.sh        # about a minute after the build
set -euo pipefail
cd "$(dirname "$0")/../bench-peers"

if ! command -v valgrind >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing valgrind (for cachegrind)"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq valgrind
fi
cargo build --release --quiet
bin=./target/release/charm-bench-peers
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Counts of one run of `child PEER DIR` under cachegrind: "instructions lines".
counts() {
  valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file="$dir/out" \
    "$bin" child "$1" "$2" >/dev/null 2>"$dir/log"
  awk '/I *refs:/ {gsub(",", "", $4); ir = $4} /I1 *misses:/ {gsub(",", "", $4); i1 = $4}
       END {print ir, i1}' "$dir/log"
}

echo "| peer | instructions | code lines run | beyond a process that does nothing |"
echo "|---|---|---|---|"
read -r base_ir base_i1 < <(counts nothing "$dir")
for peer in charm cacache redb-nofsync; do
  "$bin" fill "$peer" "$dir/$peer" 1000
  "$bin" child "$peer" "$dir/$peer" >/dev/null # the cache as a rerun finds it
  read -r ir i1 < <(counts "$peer" "$dir/$peer")
  echo "| $peer | $ir | $i1 | $((ir - base_ir)) instructions, $((i1 - base_i1)) lines |"
done
