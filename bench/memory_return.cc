// sessionwheel-memory-return: does a store give its memory back after a
// mass expiry? (issue 11, "Memory that comes back").
//
// One Service in a 16-shard store on a manual clock; N Sessions (10,000,000
// by default) with 16-character unique_names and one ttl; then the clock
// jumps past their expiry and one Advance() expires them all, and purges
// them (closed_retention 0 frees a Session at its expiry; with
// --retention_s=R a second jump and Advance() purge them). The host does
// nothing else. The process's resident memory (/proc/self/statm) and the
// allocator's bytes in use (mallinfo2) are printed at each step, and, last,
// what a host's own malloc_trim(0) would still take back.
//
//   build/release/bench/sessionwheel-memory-return [--sessions=N]
//       [--retention_s=R] [--cycles=C] [--no_trim] [--unnamed]
//       [--delete_random]
//
// --cycles=C creates and expires the N Sessions C times, to show that a
// refilled store takes what it gave back and no more. --no_trim opens the
// store with StoreOptions::trim_after_purge off. --unnamed creates the
// Sessions without a unique_name, so the name index never grows: what the
// rest of the store gives back.
//
// --delete_random deletes the Sessions one DeleteSession at a time in a
// random order instead of expiring them, timing each call (in the
// thread's CPU time): the longest call shows the longest pause a removal can
// cause (before blocks, the creation order squeezed out its holes all at once,
// moving every live handle under the shard's lock). It keeps the SIDs, 24 bytes
// a Session.

#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/workload.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/store.h"

namespace sessionwheel::bench {
namespace {

int64_t ResidentMiB() {
  long size = 0;
  long resident = 0;
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  if (std::fscanf(statm, "%ld %ld", &size, &resident) != 2) resident = 0;
  std::fclose(statm);
  return int64_t{resident} * sysconf(_SC_PAGESIZE) >> 20;
}

int64_t HeapMiB() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd) >> 20;
}

void Report(const char* step) {
  std::printf("%-34s rss %6lld MiB   heap in use %6lld MiB\n", step,
              static_cast<long long>(ResidentMiB()),
              static_cast<long long>(HeapMiB()));
  std::fflush(stdout);
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double ThreadCpuSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) +
         1e-9 * static_cast<double>(now.tv_nsec);
}

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "sessionwheel-memory-return: %s\n",
                 v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

int Run(int argc, char** argv) {
  int64_t sessions = 10'000'000;
  int64_t retention_s = 0;
  int cycles = 1;
  bool trim = true;
  bool named = true;
  bool delete_random = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--sessions=", 11) == 0) {
      sessions = std::atoll(argv[i] + 11);
    } else if (std::strncmp(argv[i], "--retention_s=", 14) == 0) {
      retention_s = std::atoll(argv[i] + 14);
    } else if (std::strncmp(argv[i], "--cycles=", 9) == 0) {
      cycles = std::atoi(argv[i] + 9);
    } else if (std::strcmp(argv[i], "--no_trim") == 0) {
      trim = false;
    } else if (std::strcmp(argv[i], "--unnamed") == 0) {
      named = false;
    } else if (std::strcmp(argv[i], "--delete_random") == 0) {
      delete_random = true;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  constexpr int64_t kTtlS = 60;
  Report("start");
  ManualClock clock(Start());
  StoreOptions options;  // 16 shards.
  options.clock = &clock;
  options.seed = 1;
  options.closed_retention = absl::Seconds(retention_s);
  options.trim_after_purge = trim;
  std::unique_ptr<SessionStore> store = Must(SessionStore::Open(options));
  CreateServiceParams service_params;
  service_params.unique_name = "memory";
  const Sid service = Must(store->CreateService(service_params)).sid;
  Report("store open, one Service");
  std::vector<Sid> sids;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    auto start = std::chrono::steady_clock::now();
    Session answer;
    for (int64_t i = 0; i < sessions; ++i) {
      CreateSessionParams params;
      if (named) params.unique_name = UniqueName(static_cast<uint64_t>(i));
      params.ttl = kTtlS;
      if (!store->CreateSession(service, params, &answer).ok()) {
        std::fprintf(stderr, "create %lld refused\n",
                     static_cast<long long>(i));
        return 1;
      }
      if (delete_random) sids.push_back(answer.sid);
    }
    std::printf("cycle %d: created %lld Sessions in %.1f s\n", cycle,
                static_cast<long long>(sessions), SecondsSince(start));
    Report("  after create");
    if (delete_random) {
      std::shuffle(sids.begin(), sids.end(), std::mt19937_64(cycle));
      start = std::chrono::steady_clock::now();
      // Thread CPU time, not wall time: on a shared machine a call may be
      // preempted for milliseconds, which is not a pause of the store's.
      double longest = 0;
      int64_t over_1ms = 0;
      for (const Sid& sid : sids) {
        const double before = ThreadCpuSeconds();
        if (!store->DeleteSession(service, sid).ok()) {
          std::fprintf(stderr, "delete refused\n");
          return 1;
        }
        const double seconds = ThreadCpuSeconds() - before;
        longest = std::max(longest, seconds);
        if (seconds > 1e-3) ++over_1ms;
      }
      std::printf(
          "  DeleteSession, random order: %.1f s, longest call %.3f ms of "
          "CPU, %lld calls over 1 ms\n",
          SecondsSince(start), longest * 1e3, static_cast<long long>(over_1ms));
      std::vector<Sid>().swap(sids);
      store->Advance();  // Where the store trims.
      Report("  after delete and Advance");
      continue;
    }
    clock.Advance(absl::Seconds(kTtlS + 1));
    start = std::chrono::steady_clock::now();
    int64_t done = store->Advance();
    if (retention_s > 0) {
      Report("  after expiry (kept)");
      clock.Advance(absl::Seconds(retention_s + 1));
      done += store->Advance();
    }
    std::printf("  Advance: %lld expired or purged in %.2f s\n",
                static_cast<long long>(done), SecondsSince(start));
    Report("  after expiry and purge");
  }
  const auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  std::printf("host's malloc_trim(0): %.3f s\n", SecondsSince(start));
  Report("after the host's malloc_trim");
  return 0;
}

}  // namespace
}  // namespace sessionwheel::bench

int main(int argc, char** argv) { return sessionwheel::bench::Run(argc, argv); }
