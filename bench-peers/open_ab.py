#!/usr/bin/env python3
"""Compares what a new process that opens a cache, hits once and exits
costs, between builds of bench-peers or between peers, in alternating
pairs with a process of the same binary that does nothing.

    python3 bench-peers/open_ab.py ROUNDS LABEL:BINARY:PEER:DIR[:VAR=VALUE] ...

Each round runs every spec once, each followed by `BINARY child nothing
DIR`; the figure is the median over the rounds of the difference, in CPU
time (user and system, from wait4: steadier than wall time on a shared
machine) and in wall time. Pairing with the same binary matters: a
do-nothing run of another binary leaves this one's pages colder. Fill the
directories first (`BINARY fill PEER DIR N`); builds whose system state
differs must not share one (opening another's index drops it).
"""
import os
import statistics
import sys
import time


def run(binary, peer, directory, env):
    start = time.perf_counter()
    out = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0)]
    pid = os.posix_spawn(binary, [binary, "child", peer, directory], env, file_actions=out)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{binary} child {peer} {directory} failed ({status})")
    return usage.ru_utime + usage.ru_stime, wall


def main():
    rounds = int(sys.argv[1])
    specs = []
    for arg in sys.argv[2:]:
        label, binary, peer, directory, *var = arg.split(":")
        env = dict(os.environ)
        if var:
            name, value = var[0].split("=", 1)
            env[name] = value
        specs.append((label, binary, peer, directory, env))
    cpu = {s[0]: [] for s in specs}
    wall = {s[0]: [] for s in specs}
    for _ in range(rounds):
        for label, binary, peer, directory, env in specs:
            c, w = run(binary, peer, directory, env)
            cn, wn = run(binary, "nothing", directory, dict(os.environ))
            cpu[label].append(c - cn)
            wall[label].append(w - wn)
    for label in cpu:
        print(
            f"{label:12s} CPU {statistics.median(cpu[label]) * 1e6:6.0f} µs"
            f"   wall {statistics.median(wall[label]) * 1e6:6.0f} µs  more than doing nothing"
        )


if __name__ == "__main__":
    main()
