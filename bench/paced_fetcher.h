// A fetcher at a fixed rate whose latencies are corrected for coordinated
// omission, as wrk2 measures them: what a steady stream of calls sees while
// something else runs.
//
// A fetcher that waits for each answer before sending the next one sends
// fewer calls while the store stalls, so a 10 ms stall costs it one slow
// sample where a client on a schedule would have had 200 calls waiting (at
// 20,000 a second). Here every fetch has an intended start on a fixed
// schedule, start + i / rate, and its latency is its completion minus that
// intended start: a stall is charged to every fetch that should have
// started during it, and a fetcher that has fallen behind sends at once
// until it has caught up.
//
// Example:
//
//   PacedFetcher fetcher(20000, absl::Milliseconds(200), [&] {
//     return store->FetchSession(service, RandomSid(), &session).ok();
//   });
//   fetcher.WaitForRecording();  // after the warm-up: recorded from here
//   RunTheStorm();
//   PacedResult result = fetcher.Stop(absl::Milliseconds(20));
//   result.latency.PercentileUs(0.999);

#ifndef SESSIONWHEEL_BENCH_PACED_FETCHER_H_
#define SESSIONWHEEL_BENCH_PACED_FETCHER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/time/time.h"
#include "bench/latency_histogram.h"

namespace sessionwheel::bench {

// Where a paced run reads the time and how it waits: nanoseconds on one
// monotonic scale. Tests supply one that moves by hand.
class PaceClock {
 public:
  virtual ~PaceClock() = default;
  virtual int64_t NowNs() = 0;
  // Returns at or after `ns`; at once if it has passed.
  virtual void WaitUntilNs(int64_t ns) = 0;
};

// std::chrono::steady_clock. It waits by sleeping until shortly before the
// instant and spinning the rest, so a fetch starts within a microsecond or
// two of its slot rather than a scheduler's wake-up later. Never null.
PaceClock* SteadyPaceClock();

// What a paced run measured over its recorded slots.
struct PacedResult {
  LatencyHistogram latency;  // Completion minus intended start.
  int64_t fetches = 0;       // Recorded fetches.
  int64_t wrong = 0;         // Recorded fetches whose answer was wrong.
};

// Runs `fetch` once per slot of a fixed schedule on the calling thread, as
// the file comment says: slot i's intended start is start_ns + i * 1e9 /
// rate; its fetch starts then, or at once when the run is behind. Slots
// whose intended start is before record_from_ns run unrecorded (a warm-up).
// Stops before the first slot whose intended start is at or after
// `stop_ns`, which is read before each slot, so another thread may set it.
// `fetch` returns whether its answer was right.
PacedResult RunPaced(double rate, int64_t start_ns, int64_t record_from_ns,
                     const std::atomic<int64_t>& stop_ns,
                     const std::function<bool()>& fetch, PaceClock& clock);

// RunPaced on a thread of its own, on the steady clock, started at once:
// it warms up for `warmup`, then records until Stop().
class PacedFetcher {
 public:
  PacedFetcher(double rate, absl::Duration warmup, std::function<bool()> fetch);
  ~PacedFetcher();  // Stops it if Stop() was not called.
  PacedFetcher(const PacedFetcher&) = delete;
  PacedFetcher& operator=(const PacedFetcher&) = delete;

  // Returns once the warm-up is over: every slot from now on is recorded.
  void WaitForRecording();

  // Lets the fetcher run the slots intended up to `tail` from now, then
  // joins it and returns what it recorded. Call once.
  PacedResult Stop(absl::Duration tail);

 private:
  const int64_t record_from_ns_;
  std::atomic<int64_t> stop_ns_;
  PacedResult result_;
  std::thread thread_;
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_PACED_FETCHER_H_
