#!/usr/bin/env bash
# Builds, tests and runs sessionwheel; installs what it needs on Debian 12.
# Usage: ./dev.sh help
set -euo pipefail
cd "$(dirname "$0")"

# Everything the presets need, by Debian package. libclang-rt-14-dev holds
# clang's sanitizer runtimes, which --no-install-recommends would leave out.
# hiredis and redis-server: the Redis scale-out and its loopback tests.
PACKAGES=(cmake ninja-build g++ clang libclang-rt-14-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev python3
  libhiredis-dev pkg-config redis-server)
# The Python SDK tests (adapters/python): Debian's twilio and pytest.
PACKAGES+=(python3-twilio python3-pytest)

# What bench-peers needs besides (and instead of) those: the peers themselves.
PEER_PACKAGES=(redis-server default-jdk-headless libcaffeine-java python3)

# What bench-storm needs besides PACKAGES: Redis and its C client, for the
# anchor.
STORM_PACKAGES=(redis-server libhiredis-dev pkg-config)

usage() {
  cat <<'EOF'
Usage: ./dev.sh COMMAND [ARGS...]

  demo [ARGS]     build the release preset and run the demo simulation
  test            build the dev preset (Debug, g++, -Werror) and run every test
  tsan            build with ThreadSanitizer (clang) and run the concurrency tests
  asan            build with AddressSanitizer + UBSan and run every test
  thread-safety   build with clang -Wthread-safety -Werror and run every test
  bench [ARGS]    build the release preset and run the benchmarks: medians of
                  5 repetitions; ARGS are Google Benchmark flags and override
                  those; SW_BENCH_SESSIONS=N sets the size (default 1000000)
  bench-peers [PEER...]
                  run the same kinds of workload on the peers a user might
                  pick instead, Caffeine (Java), Redis (loopback) and Redis
                  with its append-only file (appendfsync always and
                  everysec), each a median of 5 runs, as JSON lines (also
                  kept in build/peers/results.jsonl); PEER: caffeine, redis
                  or redis_aof to run only those; SW_BENCH_SESSIONS=N as
                  above. See bench/peers/README.md
  bench-storm [ARGS]
                  build the release preset and run sessionwheel-storm: the
                  latency of a fetcher at a fixed rate during bulk work
                  (mass expiry, purge, a Service delete, growth, a
                  snapshot, a checkpoint, a list walk, a clock jump), 10M
                  Sessions, medians of 5; ARGS are its flags (--help lists
                  them; e.g. --sessions=1000000 --unsliced-too); then the
                  same fetcher against Redis during a 1M-key PXAT drain
                  (bench/peers/redis_storm.py); results in build/storm/
                  (storm.json, redis.json, the chart storm.svg). See
                  docs/performance.md, "Pauses"
  fuzz [SECONDS]  build the fuzz preset (libFuzzer, ASan + UBSan, clang) and
                  run each target of tests/fuzz for SECONDS (default 60), one
                  after another, from build/fuzz/corpus/<target> (seeded with
                  the committed corpus and regressions); prints each target's
                  executions and findings; fails if any target finds one
  help            this text

Missing Debian packages are installed first (as root). Builds go to
build/<preset>/; each run's ctest output is kept in build/<preset>/ctest.log.
EOF
}

# Installs only what is missing, so a ready machine never touches apt. Takes
# the packages to ensure; PACKAGES without arguments.
ensure_packages() {
  local wanted=("$@") missing=() p
  ((${#wanted[@]} > 0)) || wanted=("${PACKAGES[@]}")
  for p in "${wanted[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  if ((EUID != 0)); then
    echo "dev.sh: missing Debian packages; install them with:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "dev.sh: installing ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

# The Node adapter's tests (adapters/node) need node and npm, Debian's when
# node is absent, and node_modules as the lockfile pins it: `npm ci` when it
# is missing or older than package-lock.json. If npm ci fails, the tests go
# on and the node ones fail saying what is missing.
ensure_node_adapter() {
  local dir=adapters/node
  command -v node >/dev/null || ensure_packages nodejs npm
  command -v npm >/dev/null || ensure_packages npm
  if [[ ! -e $dir/node_modules/.package-lock.json ||
    $dir/package-lock.json -nt $dir/node_modules/.package-lock.json ]]; then
    echo "dev.sh: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund) ||
      echo "dev.sh: npm ci failed in $dir; its tests will fail" >&2
  fi
}

build() {
  cmake --preset "$1"
  cmake --build --preset "$1" -j "$(nproc)" "${@:2}"
}

# Runs a test preset, keeping its output for .ci/run to count. pipefail makes
# a ctest failure the pipeline's failure.
run_tests() {
  local log="build/$1/ctest.log"
  rm -f "$log"
  ctest --preset "$1" -j "$(nproc)" 2>&1 | tee "$log"
}

# The fuzz targets: one per tests/fuzz/*_fuzz.cc.
fuzz_targets() { basename -s .cc tests/fuzz/*_fuzz.cc; }

# Runs every fuzz target for $1 seconds and prints one line per target. The
# working corpus grows across runs under build/fuzz/corpus/; the committed
# one is only read. A finding is left in build/fuzz/findings/<target>/.
run_fuzzers() {
  local seconds=$1 failed=0 target seeds work findings log runs
  for target in $(fuzz_targets); do
    work=build/fuzz/corpus/$target
    findings=build/fuzz/findings/$target
    log=build/fuzz/$target.log
    mkdir -p "$work" "$findings"
    for seeds in tests/fuzz/corpus/$target tests/fuzz/regressions/$target; do
      if [[ -d $seeds ]]; then cp "$seeds"/* "$work"/; fi
    done
    if UBSAN_OPTIONS=print_stacktrace=1 build/fuzz/tests/fuzz/"$target" \
      -max_total_time="$seconds" -print_final_stats=1 -timeout=25 \
      -artifact_prefix="$findings/" "$work" >"$log" 2>&1; then
      runs=$(grep -oP 'number_of_executed_units: \K[0-9]+' "$log" || echo '?')
      echo "fuzz $target: $runs executions in ${seconds}s, nothing found"
    else
      runs=$(grep -oP 'number_of_executed_units: \K[0-9]+' "$log" || echo '?')
      echo "fuzz $target: FOUND A FAILURE after $runs executions:" \
        "$(grep -oP 'Test unit written to \K\S+' "$log" || echo "$findings/"),"\
        "log in $log"
      grep -m 3 -E 'fuzz check failed|ERROR: |runtime error' "$log" |
        sed 's/^/  /' || true
      failed=1
    fi
  done
  return "$failed"
}

command=${1:-help}
(($# > 0)) && shift

case "$command" in
  demo)
    ensure_packages
    build release --target sessionwheel-demo
    exec build/release/bench/sessionwheel-demo "$@"
    ;;
  test)
    ensure_packages
    ensure_node_adapter
    build dev
    run_tests dev
    ;;
  tsan | asan | thread-safety)
    ensure_packages
    ensure_node_adapter
    build "$command"
    run_tests "$command"
    ;;
  bench)
    ensure_packages
    build release --target sessionwheel-bench
    # Flags given later win, so ARGS can change any of these.
    exec build/release/bench/sessionwheel-bench --benchmark_repetitions=5 \
      --benchmark_report_aggregates_only=true "$@"
    ;;
  bench-peers)
    ensure_packages "${PEER_PACKAGES[@]}"
    exec bench/peers/run.sh "$@"
    ;;
  bench-storm)
    ensure_packages
    ensure_packages "${STORM_PACKAGES[@]}"
    build release --target sessionwheel-storm sessionwheel-redis-storm
    mkdir -p build/storm
    # --out comes last, so it wins over one in ARGS.
    build/release/bench/sessionwheel-storm "$@" --out=build/storm/storm.json
    # The anchor fetches as many times (--like), at 5000 a second: one
    # connection cannot hold 20000 GETs a second at loopback's 50 us round
    # trip here (bench/peers/redis_storm.py).
    /usr/bin/python3 bench/peers/redis_storm.py \
      --binary build/release/bench/sessionwheel-redis-storm \
      --like build/storm/storm.json --rate 5000 --out build/storm/redis.json
    bench/plot_storm.py build/storm/storm.json build/storm/redis.json \
      build/storm/storm.svg
    echo "dev.sh: results in build/storm/ (storm.json, redis.json, storm.svg)"
    ;;
  fuzz)
    ensure_packages
    # shellcheck disable=SC2046 # one word per target
    build fuzz --target $(fuzz_targets)
    run_fuzzers "${1:-60}"
    ;;
  help | -h | --help)
    usage
    ;;
  *)
    echo "dev.sh: unknown command '$command'" >&2
    usage >&2
    exit 2
    ;;
esac
