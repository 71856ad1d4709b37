#!/usr/bin/env bash
# Runs the peers a user might pick instead of sessionwheel, on this machine:
# Caffeine (Java 17, CaffeinePeer.java) and Redis (redis_peer.py), each
# printing one JSON line per workload; the lines are also kept in
# build/peers/results.jsonl. SW_BENCH_SESSIONS=N sets the size (default
# 1000000). Needs javac, Debian's /usr/share/java/caffeine.jar, redis-server
# and redis-benchmark: ./dev.sh bench-peers installs them first. No downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."

CAFFEINE_JAR=/usr/share/java/caffeine.jar
OUT=build/peers

mkdir -p "$OUT"
nice javac -d "$OUT" -cp "$CAFFEINE_JAR" bench/peers/CaffeinePeer.java

# A fixed heap, so that the JVM resizing it is not part of any run; the
# default collector (G1), as a user would run it.
{
  java -Xms3g -Xmx3g -cp "$OUT:$CAFFEINE_JAR" CaffeinePeer
  /usr/bin/python3 bench/peers/redis_peer.py
} | tee "$OUT/results.jsonl"
