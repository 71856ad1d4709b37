#!/usr/bin/python3
"""Redis with its append-only file, the durable peer of sessionwheel's sync
policies: one JSON line per workload.

For each fsync policy, starts a redis-server of its own (Debian's, version
7; redis_peer.py's redis_server) on 127.0.0.1 at a free port with
`--appendonly yes --appendfsync <policy>` and no RDB snapshots, its data in
a temporary directory on the disk ($TMPDIR if set, else build/peers/; a
warning if that is tmpfs, where fsync costs nothing), and always stops it
and removes the directory. The other settings are Redis's defaults, so an
AOF rewrite may start during a run, as it would for a user: each line says
how many did (aof_rewrites).

Workloads, medians of 5 runs, the runs of the three client counts taking
turns so that the machine's drift falls on all three alike:

  always_set_c1, always_set_c2, always_set_c16
        redis-benchmark -t set -P 1 -c C -d 200 -r N -n OPS with
        appendfsync always: C clients (to compare with sessionwheel's
        kEveryWrite at C threads), one request at a time each, 200-byte
        values (about a Session's journal record), random keys among N;
        OPS = 2,000 per client, at most N (as sessionwheel-bench's
        every_write rows: each write waits for an fsync)
  everysec_set_c1, everysec_set_c2, everysec_set_c16
        the same with appendfsync everysec (sessionwheel's kInterval), OPS =
        min(N, 100,000)
  disk_sync
        append 200 bytes to a file and fdatasync it, 2,000 times, in the
        same directory, once per round: the disk's sync rate in this run
        (sessionwheel-bench's disk_sync/append_fdatasync), so each rate can
        be read against it

N is SW_BENCH_SESSIONS (default 1,000,000). Standard library only. Usage:
bench/peers/redis_aof.py (./dev.sh bench-peers runs it).
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from redis_peer import N, RUNS, redis_server, run

CLIENTS = (1, 2, 16)
SYNC_OPS = 2000
EVERYSEC_OPS = 100_000
VALUE_BYTES = 200
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def scratch_root():
    """$TMPDIR, or the repository's build/peers/."""
    root = os.environ.get("TMPDIR") or os.path.join(ROOT, "build", "peers")
    os.makedirs(root, exist_ok=True)
    return os.path.realpath(root)


def file_system(path):
    """The type of the file system holding `path`, from /proc/mounts."""
    best, kind = "", "?"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def disk_syncs_per_second(directory):
    """Appends 200 bytes to a new file and fdatasyncs it SYNC_OPS times."""
    path = os.path.join(directory, "disk_sync.bin")
    record = b"r" * VALUE_BYTES
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND,
                 0o600)
    try:
        start = time.perf_counter()
        for _ in range(SYNC_OPS):
            os.write(fd, record)
            os.fdatasync(fd)
        return SYNC_OPS / (time.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)


def set_rate(port, clients, ops):
    """redis-benchmark's SET rate with `clients` clients, unpipelined."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
         "-t", "set", "-P", "1", "-c", str(clients), "-d", str(VALUE_BYTES),
         "-r", str(N), "-n", str(ops)],
        check=True, capture_output=True, text=True).stdout
    return float(re.findall(r"SET: ([\d.]+) requests per second", out)[-1])


def aof_rewrites(client):
    info = client.call("INFO", "persistence").decode()
    return int(re.search(r"^aof_rewrites:(\d+)", info, re.M).group(1))


def emit(workload, ops, unit, runs, **extra):
    print(json.dumps({"peer": "redis_aof", "workload": workload, "n": ops,
                      "median": round(statistics.median(runs), 1),
                      "unit": unit, "runs": [round(r, 1) for r in runs],
                      **extra}),
          flush=True)


def main():
    root = scratch_root()
    if file_system(root) in ("tmpfs", "ramfs"):
        print("redis_aof.py: WARNING: %s is in memory (%s): fsync costs "
              "nothing there; set TMPDIR to a directory on a disk"
              % (root, file_system(root)), file=sys.stderr)
    for policy, ops_of in (("always", lambda c: min(N, SYNC_OPS * c)),
                           ("everysec", lambda c: min(N, EVERYSEC_OPS))):
        with tempfile.TemporaryDirectory(prefix="sw-redis-aof-",
                                         dir=root) as tmp, \
                redis_server(tmp, ("--appendonly", "yes", "--appendfsync",
                                   policy)) as (port, client):
            rates = {c: [] for c in CLIENTS}
            syncs = []
            for _ in range(RUNS):
                for c in CLIENTS:
                    rates[c].append(set_rate(port, c, ops_of(c)))
                syncs.append(disk_syncs_per_second(tmp))
            rewrites = aof_rewrites(client)
            for c in CLIENTS:
                emit("%s_set_c%d" % (policy, c), ops_of(c), "ops/s",
                     rates[c], aof_rewrites=rewrites)
            emit("disk_sync", SYNC_OPS, "syncs/s", syncs, during=policy)


if __name__ == "__main__":
    run(main, "redis_aof.py")
