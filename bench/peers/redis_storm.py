#!/usr/bin/python3
"""The storm benchmark's anchor: its fetcher against Redis 7 on loopback.

Starts a redis-server of its own (redis_peer.py's redis_server: 127.0.0.1,
a free port, no persistence, a temporary directory, always stopped) and
runs sessionwheel-redis-storm against it (bench/peers/redis_storm.cc): the
same paced, coordinated-omission-corrected fetcher as sessionwheel-storm,
GETting random keys one at a time, during

  redis_idle   no storm: keys/10 keys with no expiry, fetched for a second
  redis_drain  `keys` keys SET with PXAT at one instant, beside those, from
               that instant until Redis's own expiry has freed them all
               (DBSIZE polled every 10 ms on a second connection)

each --repetitions times (alternating), and writes the medians and the
runs as JSON in sessionwheel-storm's format (a "storms" list) for
bench/plot_storm.py. --like STORM.json takes the rate, repetitions,
warm-up and tail of a sessionwheel-storm run, so that both fetch alike
(flags given as well win). One connection holds one GET at a time, so
the rate must stay below one over the loopback round trip (about 50 us on
the project's machine: `redis-benchmark -c 1 -t get`), or the fetcher
falls behind even with no storm: the redis_idle row says so.

Standard library only. Usage:
  bench/peers/redis_storm.py --binary build/release/bench/sessionwheel-redis-storm \
      [--like build/storm/storm.json] [--rate R] [--repetitions N] \
      [--keys K] --out redis.json
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from redis_peer import redis_server, run  # noqa: E402

STORMS = [
    ("redis_idle", "idle", "Redis 7, no storm: the fetcher alone"),
    ("redis_drain", "drain", "Redis 7: N keys set with PXAT at one instant, "
     "freed by its own expiry"),
]


def load_average():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def medians(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--like", help="a sessionwheel-storm JSON to match")
    parser.add_argument("--rate", type=float)
    parser.add_argument("--repetitions", type=int)
    parser.add_argument("--warmup-ms", type=float)
    parser.add_argument("--tail-ms", type=float)
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    # Given flags win; then --like's run; then the storm benchmark's own
    # defaults.
    like = {"rate": 20000, "repetitions": 5, "warmup_ms": 200, "tail_ms": 20}
    if args.like:
        with open(args.like) as f:
            like.update({k: v for k, v in json.load(f)["context"].items()
                         if k in like})
    for key, value in like.items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    version = subprocess.run(["redis-server", "--version"], check=True,
                             capture_output=True, text=True).stdout.strip()
    doc = {"context": {
        "program": "redis_storm.py",
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(sys.argv),
        "redis": version,
        "cpus": os.cpu_count(),
        "load_average_before": load_average(),
        "keys": args.keys, "rate": args.rate,
        "repetitions": args.repetitions, "warmup_ms": args.warmup_ms,
        "tail_ms": args.tail_ms}, "storms": []}
    runs = {name: [] for name, _, _ in STORMS}
    with tempfile.TemporaryDirectory(prefix="sw-redis-storm-") as tmp, \
            redis_server(tmp) as (port, _):
        for rep in range(args.repetitions):
            for name, storm, _ in STORMS:
                out = subprocess.run(
                    [args.binary, "--port", str(port), "--storm", storm,
                     "--keys", str(args.keys), "--rate", str(args.rate),
                     "--warmup-ms", str(args.warmup_ms),
                     "--tail-ms", str(args.tail_ms)],
                    check=True, capture_output=True, text=True).stdout
                r = json.loads(out)
                runs[name].append(r)
                print("%s run %d/%d: %.3f s, %d fetches, p99.9 %.1f us, "
                      "max %.1f us" % (name, rep + 1, args.repetitions,
                                       r["seconds"], r["fetches"],
                                       r["p999_us"], r["max_us"]),
                      file=sys.stderr, flush=True)
    for name, _, what in STORMS:
        m = medians(runs[name])
        doc["storms"].append({
            "storm": name, "system": "redis", "description": what,
            "median": m, "runs": runs[name],
            "targets": {"p999_le_1ms": m["p999_us"] <= 1000,
                        "max_le_5ms": m["max_us"] <= 5000}})
        print("%-12s %8.3f s  %7d fetches  p50 %8.1f  p99 %8.1f  "
              "p99.9 %8.1f  max %8.1f us  >1ms %5d" % (
                  name, m["seconds"], m["fetches"], m["p50_us"], m["p99_us"],
                  m["p999_us"], m["max_us"], m["over_1ms"]))
    doc["context"]["load_average_after"] = load_average()
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    run(main, "redis_storm.py")
