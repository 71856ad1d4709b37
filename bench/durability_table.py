#!/usr/bin/env python3
"""Prints the tables of docs/performance.md's "Durability" section from
sessionwheel-bench JSON and, if given, redis_aof.py's JSON lines.

From RESULTS.json (a run of the durable_* and disk_sync workloads, medians
when it has repetitions): the rates by sync policy, each with the ratio
measured in the same iteration (vs the in-memory store, or vs the disk's
syncs); group commit (16 threads against 1); recovery; the checkpoint. From
REDIS.jsonl (bench/peers/redis_aof.py, or build/peers/results.jsonl after
./dev.sh bench-peers): kEveryWrite against Redis appendfsync always, and
kInterval against everysec, at 1, 2 and 16 threads or clients, each also
against the disk's syncs measured in its own run. Standard library only.

Several RESULTS.json may be given: a later file's rows replace an earlier
one's (a re-run of some rows). Files named *.jsonl are Redis's lines.

Usage: bench/durability_table.py RESULTS.json... [REDIS.jsonl]
"""

import json
import sys

import results_table

POLICIES = ["memory", "os", "interval", "defaults", "every_write"]
HEADINGS = {
    "memory": "in memory",
    "os": "`kOs`",
    "interval": "`kInterval`",
    "defaults": "`kInterval`, automatic checkpoints",
    "every_write": "`kEveryWrite`",
}
THREADS = [1, 2, 16]


def medians(path):
    """results_table.py's, by name without the one-shot rows' suffix."""
    return {name.split("/iterations:")[0]: b
            for name, b in results_table.medians(path).items()}


def rate(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} M/s"
    if v >= 1e3:
        return f"{v / 1e3:.1f} k/s"
    return f"{v:.0f} /s"


def ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ms")]
    return b["real_time"] * scale


def sessions(b):
    """N, from a one-shot row's rate and time: "1M", "10M"."""
    n = round(b["items_per_second"] * ms(b) / 1e3)
    return f"{n / 1e6:g}M" if n >= 1e6 else f"{n:,}"


def rates_table(results):
    if not any(k.startswith(("durable_create/", "durable_interaction/"))
               for k in results):
        return
    print("| workload | " + " | ".join(HEADINGS[p] for p in POLICIES) + " |")
    print("|---" * (len(POLICIES) + 1) + "|")
    for workload, label in (("durable_create", "create"),
                            ("durable_interaction", "interaction")):
        for t in THREADS:
            cells = []
            for p in POLICIES:
                b = results.get(f"{workload}/{p}/threads:{t}")
                if b is None:
                    cells.append("-")
                elif "vs_memory" in b:
                    cells.append(f"{rate(b['items_per_second'])} "
                                 f"({b['vs_memory']:.2f}x)")
                elif "vs_disk" in b:
                    cells.append(f"{rate(b['items_per_second'])} "
                                 f"({b['vs_disk']:.2f}x disk)")
                else:
                    cells.append(rate(b["items_per_second"]))
            if any(c != "-" for c in cells):
                plural = "s" if t > 1 else ""
                print(f"| {label}, {t} thread{plural} | " + " | ".join(cells) + " |")
    disk = results.get("disk_sync/append_fdatasync")
    if disk is not None:
        print(f"\nThe disk (`disk_sync`: append 200 bytes, `fdatasync`): "
              f"{rate(disk['items_per_second'])}, "
              f"{disk['us_per_sync']:.0f} us a sync on average, "
              f"p50 {disk['p50_us']:.0f} us, p99 {disk['p99_us']:.0f} us.")


def group_commit(results):
    lines = []
    for workload, label in (("durable_create", "create"),
                            ("durable_interaction", "interaction")):
        one = results.get(f"{workload}/every_write/threads:1")
        many = results.get(f"{workload}/every_write/threads:16")
        if one is None or many is None:
            continue
        lines.append(f"| {label} | {rate(one['items_per_second'])} | "
                     f"{rate(many['items_per_second'])} | "
                     f"{many['items_per_second'] / one['items_per_second']:.2f}x | "
                     f"{many['vs_disk'] / one['vs_disk']:.2f}x |")
    if lines:
        print("\n| `kEveryWrite` | 1 thread | 16 threads | 16 / 1 | "
              "16 / 1, each against its disk |")
        print("|---|---|---|---|---|")
        print("\n".join(lines))


def redis_tables(results, path):
    redis = {}
    syncs = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("peer") != "redis_aof":
                continue
            if r["workload"] == "disk_sync":
                syncs[r["during"]] = r["median"]
            else:
                redis[r["workload"]] = r
    for policy, redis_policy, heading in (
            ("every_write", "always", "`kEveryWrite` creates against Redis "
             "`appendfsync always` SETs"),
            ("interval", "everysec", "`kInterval` creates against Redis "
             "`appendfsync everysec` SETs")):
        rows = []
        for t in THREADS:
            ours = results.get(f"durable_create/{policy}/threads:{t}")
            theirs = redis.get(f"{redis_policy}_set_c{t}")
            if ours is None or theirs is None:
                continue
            cells = [f"{t}", rate(ours["items_per_second"]),
                     rate(theirs["median"]),
                     f"{ours['items_per_second'] / theirs['median']:.2f}x"]
            if policy == "every_write" and redis_policy in syncs:
                disk = results.get("disk_sync/append_fdatasync")
                cells.append(f"{ours['vs_disk']:.2f}x")
                cells.append(f"{theirs['median'] / syncs[redis_policy]:.2f}x")
                cells.append(f"{ours['vs_disk'] / (theirs['median'] / syncs[redis_policy]):.2f}x")
            rows.append("| " + " | ".join(cells) + " |")
        if not rows:
            continue
        print(f"\n{heading}:\n")
        if policy == "every_write":
            print("| threads / clients | sessionwheel | Redis | ratio | "
                  "sessionwheel / its disk | Redis / its disk | ratio of those |")
            print("|---|---|---|---|---|---|---|")
        else:
            print("| threads / clients | sessionwheel | Redis | ratio |")
            print("|---|---|---|---|")
        print("\n".join(rows))
    for policy, r in sorted(syncs.items()):
        print(f"\nThe disk during Redis `{policy}`: {rate(r)} syncs.")


def recovery(results):
    rows = []
    for kind, label in (("journal", "all in the journal"),
                        ("checkpoint", "all in a checkpoint")):
        warm = results.get(f"durable_recover/{kind}")
        cold = results.get(f"durable_recover/{kind}_cold")
        if warm is None and cold is None:
            continue
        some = warm or cold
        cells = [sessions(some), label, f"{some['data_mb']:,.0f} MB",
                 f"{ms(warm) / 1e3:.2f} s" if warm else "-",
                 f"{ms(cold) / 1e3:.2f} s" if cold else "-"]
        rows.append("| " + " | ".join(cells) + " |")
    if rows:
        print("\n| N | the directory | its size | `Open`, files in the page "
              "cache | `Open`, files dropped from it |")
        print("|---|---|---|---|---|")
        print("\n".join(rows))


def checkpoint(results):
    b = results.get("durable_checkpoint/while_fetching")
    if b is None:
        return
    over = b.get("fetches_over_1ms")
    idle_over = b.get("idle_over_1ms")
    print("\n| N | checkpoint | fetch during it, p50 / p99 / max | "
          "fetches over 1 ms | fetch for as long after it, p99 / max | "
          "… over 1 ms | extra heap, peak | extra resident, peak | file |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {sessions(b)} | {ms(b) / 1e3:.2f} s | "
          f"{b['fetch_p50_us']:.2f} us / {b['fetch_p99_us']:.2f} us / "
          f"{b['fetch_max_us'] / 1e3:,.2f} ms | "
          f"{'-' if over is None else f'{over:.0f}'} | "
          f"{b['idle_p99_us']:.2f} us / {b['idle_max_us'] / 1e3:,.1f} ms | "
          f"{'-' if idle_over is None else f'{idle_over:.0f}'} | "
          f"{b['extra_heap_mb']:,.0f} MB | "
          f"{b.get('extra_rss_mb', float('nan')):,.0f} MB | "
          f"{b['checkpoint_mb']:,.0f} MB |")


def main():
    runs = [a for a in sys.argv[1:] if not a.endswith(".jsonl")]
    redis = [a for a in sys.argv[1:] if a.endswith(".jsonl")]
    if not runs or len(redis) > 1:
        sys.exit(__doc__)
    results = {}
    for path in runs:
        results.update(medians(path))
    rates_table(results)
    group_commit(results)
    if redis:
        redis_tables(results, redis[0])
    recovery(results)
    checkpoint(results)


if __name__ == "__main__":
    main()
