#!/usr/bin/python3
"""Redis as a peer of sessionwheel: one JSON line per workload.

Starts its own redis-server (Debian's, version 7) on 127.0.0.1 at a free
port, with no persistence (--save '' --appendonly no) in a temporary
directory, and always stops it: on return, on an error, on SIGINT or SIGTERM,
and (through PR_SET_PDEATHSIG) if this script is killed.

Workloads, at N keys (SW_BENCH_SESSIONS, default 1,000,000), medians of 5:

  set_p1, get_p1    redis-benchmark -q -n N -r N -P 1 -t set,get: 50 clients
                    over loopback, one request at a time each (3-byte values)
  set_p32, get_p32  the same with -P 32: 32 requests pipelined per round trip
  drain             N Sessions loaded as SET <sid> <value> PXAT t (t a few
                    seconds ahead, sent with redis-cli --pipe), then the time
                    from t until DBSIZE reaches 0, polled every 10 ms: how
                    long Redis's own expiry (default hz 10) takes to free N
                    keys all due at one instant
  bytes_per_key     INFO memory used_memory after that load minus before, / N

Standard library only. Usage: bench/peers/redis_peer.py (./dev.sh bench-peers
runs it).
"""

import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("SW_BENCH_SESSIONS") or 1_000_000)
RUNS = 5
POLL_S = 0.010
PLACEHOLDER = b"T" * 13  # Stands for t, a 13-digit Unix millisecond time.


def die_with_parent():
    """Runs in the child before exec: SIGTERM it when this script dies."""
    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(
        pr_set_pdeathsig, signal.SIGTERM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """The few Redis commands this script sends, over one connection."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = self.sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        line = self.reader.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.reader.read(size + 2)[:-2]
        return rest

    def used_memory(self):
        info = self.call("INFO", "memory").decode()
        return int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))


@contextlib.contextmanager
def redis_server(tmp, persistence=("--appendonly", "no")):
    """A redis-server in `tmp` on a free port of 127.0.0.1, with no RDB
    snapshots and `persistence` for the append-only file (none by default),
    for the `with` block: yields its port and a connected Client, and stops
    it however the block ends."""
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", *persistence, "--dir", tmp,
         "--logfile", os.path.join(tmp, "redis.log")],
        preexec_fn=die_with_parent)
    try:
        for _ in range(500):
            try:
                client = Client(port)
                if client.call("PING") == b"PONG":
                    break
            except (ConnectionRefusedError, RuntimeError):
                pass  # Not listening yet, or still loading.
            time.sleep(0.01)
        else:
            raise RuntimeError("redis-server did not answer on port %d" % port)
        yield port, client
    finally:
        server.terminate()
        server.wait()


def run(main, name):
    """Runs `main`; SIGTERM unwinds like Ctrl-C, so every redis_server
    block stops its server on the way out."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("%s: interrupted; redis-server stopped" % name)


def emit(workload, unit, runs):
    print(json.dumps({"peer": "redis", "workload": workload, "n": N,
                      "median": round(statistics.median(runs), 1),
                      "unit": unit, "runs": [round(r, 1) for r in runs]}),
          flush=True)


def benchmark(port, pipeline):
    """redis-benchmark's SET and GET rates, RUNS times each."""
    sets, gets = [], []
    for _ in range(RUNS):
        out = subprocess.run(
            ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q",
             "-n", str(N), "-r", str(N), "-P", str(pipeline), "-t", "set,get"],
            check=True, capture_output=True, text=True).stdout
        rates = dict(re.findall(r"(SET|GET): ([\d.]+) requests per second", out))
        sets.append(float(rates["SET"]))
        gets.append(float(rates["GET"]))
    emit("set_p%d" % pipeline, "ops/s", sets)
    emit("get_p%d" % pipeline, "ops/s", gets)


def load_commands():
    """N SET <sid> <value> PXAT <t> commands in Redis protocol, t a
    placeholder. A SID as the engine mints it, a value of about a Session's
    size: its 16-character unique_name, status, ttl and creation time."""
    out = []
    for i in range(N):
        sid = b"KC%032x" % ((i * 0x9E3779B97F4A7C15 * 0xBF58476D1CE4E5B9)
                            % (1 << 128))
        value = b"%016x|open|3600|1798761600000" % (i * 0x94D049BB133111EB
                                                   % (1 << 64))
        out.append(b"*5\r\n$3\r\nSET\r\n$34\r\n%s\r\n$%d\r\n%s\r\n"
                   b"$4\r\nPXAT\r\n$13\r\n%s\r\n"
                   % (sid, len(value), value, PLACEHOLDER))
    return b"".join(out)


def drain(port, client, tmp):
    """Loads N keys due at one instant t, then times Redis's expiry of them
    from t. Returns (milliseconds, bytes per key)."""
    commands = load_commands()
    path = os.path.join(tmp, "load.resp")
    margin_s = 2 + N * 5e-6
    for _ in range(4):
        client.call("FLUSHALL")
        before = client.used_memory()
        t_ms = int(time.time() * 1000 + margin_s * 1000)
        with open(path, "wb") as f:
            f.write(commands.replace(PLACEHOLDER, b"%d" % t_ms))
        with open(path, "rb") as f:
            piped = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                stdin=f, check=True, capture_output=True, text=True).stdout
        if "errors: 0," not in piped:
            raise RuntimeError("redis-cli --pipe: " + piped.strip())
        loaded = client.call("DBSIZE")
        after = client.used_memory()
        if time.time() * 1000 < t_ms and loaded == N:
            break
        margin_s *= 2  # The load ran past t: give it more time.
    else:
        raise RuntimeError("could not load %d keys before their instant" % N)
    time.sleep(max(0.0, t_ms / 1000 - time.time()))
    while client.call("DBSIZE") > 0:
        time.sleep(POLL_S)
    return time.time() * 1000 - t_ms, (after - before) / N


def main():
    with tempfile.TemporaryDirectory(prefix="sw-redis-") as tmp, \
            redis_server(tmp) as (port, client):
        benchmark(port, 1)
        benchmark(port, 32)
        drains, sizes = [], []
        for _ in range(RUNS):
            ms, size = drain(port, client, tmp)
            drains.append(ms)
            sizes.append(size)
        emit("drain", "ms", drains)
        emit("bytes_per_key", "bytes", sizes)


if __name__ == "__main__":
    run(main, "redis_peer.py")
