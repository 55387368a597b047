#!/bin/sh
# charm side by side with Python's diskcache 5.6 and joblib 1.6 (pinned
# below), installed from PyPI into a venv under bench-peers/target. Outside
# the main workspace and its CI run. Prints a Markdown table; run it on an
# idle machine.
set -eu
cd "$(dirname "$0")/../bench-peers"
venv=target/python-peers
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || {
        echo "python3 -m venv failed: install Debian's python3-venv" >&2
        exit 1
    }
    "$venv/bin/pip" install --quiet diskcache==5.6.3 joblib==1.6.0
fi
cargo build --release --quiet
# Writes still in the page cache (a benchmark run just before) would
# land on the fsyncs of the fine-grain rows: flush them first.
sync
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
exec ./target/release/charm-bench-peers vs-python "$venv/bin/python"
