"""diskcache and joblib on the workloads of charm-bench-peers' `vs-python`.

Run by `charm-bench-peers vs-python` (through ./scripts/bench-python-peers.sh),
never alone: `python_peers.py PEER WORKLOAD DIR [ARGS]` prints one line,
seconds per operation and, for eviction, the entries kept.
"""

import os
import sys
import time

TINY_HITS = 20_000
TINY_MISSES = 2_000


def diskcache_open(folder, size_limit=None):
    import diskcache

    if size_limit is None:
        return diskcache.Cache(folder, size_limit=100 << 30)
    return diskcache.Cache(folder, size_limit=size_limit)


def lcg_keys(n, ops):
    k = 1
    for _ in range(ops):
        k = (k * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield k % n


def tiny_hit(peer, folder, n):
    if peer == "diskcache":
        cache = diskcache_open(folder)
        for k in range(n):
            cache.set(k, k)
        cache.close()
        cache = diskcache_open(folder)
        get = cache.get
    else:
        import joblib

        memory = joblib.Memory(folder, verbose=0)
        f = memory.cache(lambda k: k)
        for k in range(n):
            f(k)
        get = f
    start = time.perf_counter()
    for k in lcg_keys(n, TINY_HITS):
        assert get(k) == k
    return (time.perf_counter() - start) / TINY_HITS


def tiny_miss(peer, folder):
    start = time.perf_counter()
    if peer == "diskcache":
        cache = diskcache_open(folder)
        for k in range(TINY_MISSES):
            cache.set(k, k)
        cache.close()
    else:
        import joblib

        f = joblib.Memory(folder, verbose=0).cache(lambda k: k)
        for k in range(TINY_MISSES):
            f(k)
    return (time.perf_counter() - start) / TINY_MISSES


def big_hit(folder, mib, count):
    """`count` values of `mib` MiB stored, then each hit once (charm's side
    hits as many of the same size)."""
    cache = diskcache_open(folder)
    value = bytes([3]) * (mib << 20)
    for k in range(count):
        cache.set(k, value)
    os.sync()  # the hits do not wait on the stores' writeback
    time.sleep(0.5)
    start = time.perf_counter()
    for k in range(count):
        assert len(cache.get(k)) == len(value)
    return (time.perf_counter() - start) / count


def fine_grain_worker(folder, first, count):
    cache = diskcache_open(folder)
    for k in range(first, first + count):
        if cache.get(k) is None:
            cache.set(k, k)
    cache.close()


def eviction(folder, budget, misses, value_len):
    cache = diskcache_open(folder, size_limit=budget)
    value = bytes([7]) * value_len
    start = time.perf_counter()
    for k in range(misses):
        if cache.get(k) is None:
            cache.set(k, value)
    per_call = (time.perf_counter() - start) / misses
    kept = len(cache)
    cache.close()
    return per_call, kept


def main():
    peer, workload, folder = sys.argv[1:4]
    args = [int(a) for a in sys.argv[4:]]
    os.makedirs(folder, exist_ok=True)
    if workload == "tiny-hit":
        print(tiny_hit(peer, folder, args[0]))
    elif workload == "tiny-miss":
        print(tiny_miss(peer, folder))
    elif workload == "big-hit":
        print(big_hit(folder, args[0], args[1]))
    elif workload == "fine-grain-worker":
        fine_grain_worker(folder, args[0], args[1])
    elif workload == "eviction":
        per_call, kept = eviction(folder, *args)
        print(per_call, kept)
    else:
        sys.exit(f"no workload {workload}")


if __name__ == "__main__":
    main()
