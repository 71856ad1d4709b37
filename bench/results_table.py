#!/usr/bin/env python3
"""Prints the results table of docs/performance.md from sessionwheel-bench JSON.

For each workload: the median rate of sessionwheel, of each baseline and of
the no-concurrency limit, sessionwheel's ratio to the best baseline (above 1
means sessionwheel is faster) and to the limit (a reference, never counted
as a baseline); then, if it ran, memory_latency's time of one dependent DRAM load,
the floor under every single-call rate. Standard library only.

Usage: bench/results_table.py RESULTS.json
"""

import json
import sys

STORES = ["sessionwheel", "multimap", "lazy_heap", "indexed_heap", "limit"]
BASELINES = ["multimap", "lazy_heap", "indexed_heap"]
# (label, benchmark prefix, how to read a result)
ROWS = [
    ("create (1M, with TTL)", "create/", "rate"),
    ("create, no TTL", "create_no_ttl/", "rate"),
    ("fetch by SID, 1 thread", "fetch_sid/{}/real_time/threads:1", "rate"),
    ("fetch by SID, 2 threads", "fetch_sid/{}/real_time/threads:2", "rate"),
    ("fetch by SID, 64 a call", "fetch_sid_batch/", "rate"),
    ("fetch by unique_name", "fetch_name/", "rate"),
    ("fetch by unique_name, 64 a call", "fetch_name_batch/", "rate"),
    ("update ttl", "update_ttl/", "rate"),
    ("record interaction", "interaction/", "rate"),
    ("80/20 fetch/interaction, 1 thread", "mix_80_20/{}/real_time/threads:1", "rate"),
    ("80/20 fetch/interaction, 2 threads", "mix_80_20/{}/real_time/threads:2", "rate"),
    ("1M due in one tick, one advance", "expire_same_tick/{}/1000000", "ms"),
    ("1M due in one tick, from creation (cold)", "expire_same_tick_cold/{}/1000000", "ms"),
    ("1M due in one tick, kept, heard", "expire_same_tick_heard/{}/1000000", "ms"),
    ("1M due in one tick, freed, warm", "expire_same_tick_freed/{}/1000000", "ms"),
    ("1M due in one tick, freed, cold", "expire_same_tick_freed_cold/{}/1000000", "ms"),
    ("1M due in one tick, freed and heard, warm", "expire_same_tick_freed_heard/{}/1000000", "ms"),
    ("1M due in one tick, freed and heard, cold",
     "expire_same_tick_freed_heard_cold/{}/1000000", "ms"),
    ("1M due in one tick, freed, heard by a listener of every type, warm",
     "expire_same_tick_freed_heard_all/{}/1000000", "ms"),
    ("1M, TTLs over 60 s, ticking through", "expire_spread/", "ms"),
    ("1M over 60 s, 10 ms ticks, freed and heard", "expire_spread_freed_heard/", "ms"),
    ("1M over 60 s, 1 s steps, freed and heard", "expire_spread_freed_heard_1s/", "ms"),
    ("bytes per live Session (1M)", "create/", "bytes"),
]


def medians(path):
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        out[b.get("run_name", b["name"])] = b
    return out


def find(results, pattern, store):
    name = pattern.format(store) if "{}" in pattern else pattern + store
    for run_name, b in results.items():
        if run_name == name or run_name.startswith(name + "/"):
            return b
    return None


def value(b, kind):
    if b is None:
        return None
    if kind == "rate":
        return b.get("items_per_second")
    if kind == "bytes":
        return b.get("bytes_per_session")
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def show(v, kind):
    if v is None:
        return "-"
    if kind == "rate":
        return f"{v / 1e6:.2f} M/s"
    if kind == "bytes":
        return f"{v:.0f} B"
    return f"{v:.1f} ms"


def ratio(engine, other, kind):
    """sessionwheel against `other`: above 1x, sessionwheel is ahead."""
    if not engine or not other:
        return "-"
    # Rates: higher is better; times and bytes: lower is better.
    return f"{(engine / other) if kind == 'rate' else (other / engine):.2f}x"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    results = medians(sys.argv[1])
    print("| workload | " + " | ".join(STORES) + " | vs best baseline | vs limit |")
    print("|---" * (len(STORES) + 3) + "|")
    for label, pattern, kind in ROWS:
        vals = dict((s, value(find(results, pattern, s), kind)) for s in STORES)
        base = [vals[s] for s in BASELINES if vals[s] is not None]
        best = None
        if base:
            best = max(base) if kind == "rate" else min(base)
        cells = [show(vals[s], kind) for s in STORES]
        cells += [ratio(vals["sessionwheel"], best, kind),
                  ratio(vals["sessionwheel"], vals["limit"], kind)]
        print(f"| {label} | " + " | ".join(cells) + " |")
    # Not per store: its name has no "/<store>" part.
    latency = find(results, "memory_latency", "")
    if latency is not None and "ns_per_load" in latency:
        print(f"\nMemory latency (one dependent load): {latency['ns_per_load']:.0f} ns")


if __name__ == "__main__":
    main()
