#!/usr/bin/env bash
# Runs the peers a user might pick instead of sessionwheel, on this machine:
# Caffeine (Java 17, CaffeinePeer.java), Redis in memory (redis_peer.py) and
# Redis with its append-only file at appendfsync always and everysec
# (redis_aof.py), each printing one JSON line per workload; the lines are
# also kept in build/peers/results.jsonl. SW_BENCH_SESSIONS=N sets the size
# (default 1000000).
#
# Usage: bench/peers/run.sh [PEER...], PEER one of caffeine, redis,
# redis_aof (default: all three, in that order).
#
# Needs javac, Debian's /usr/share/java/caffeine.jar, redis-server and
# redis-benchmark: ./dev.sh bench-peers installs them first. No downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."

CAFFEINE_JAR=/usr/share/java/caffeine.jar
OUT=build/peers

peers=("$@")
((${#peers[@]} > 0)) || peers=(caffeine redis redis_aof)
for peer in "${peers[@]}"; do
  case "$peer" in
    caffeine | redis | redis_aof) ;;
    *)
      echo "run.sh: unknown peer '$peer' (caffeine, redis, redis_aof)" >&2
      exit 2
      ;;
  esac
done

mkdir -p "$OUT"
for peer in "${peers[@]}"; do
  case "$peer" in
    caffeine)
      nice javac -d "$OUT" -cp "$CAFFEINE_JAR" bench/peers/CaffeinePeer.java
      # A fixed heap, so that the JVM resizing it is not part of any run; the
      # default collector (G1), as a user would run it.
      java -Xms3g -Xmx3g -cp "$OUT:$CAFFEINE_JAR" CaffeinePeer
      ;;
    redis) /usr/bin/python3 bench/peers/redis_peer.py ;;
    redis_aof) /usr/bin/python3 bench/peers/redis_aof.py ;;
  esac
done | tee "$OUT/results.jsonl"
