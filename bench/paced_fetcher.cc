#include "bench/paced_fetcher.h"

#include <pthread.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

namespace sessionwheel::bench {
namespace {

// How long before its instant a wait stops sleeping and spins: more than a
// sleep's usual lateness on a virtual machine.
constexpr int64_t kSpinNs = 200'000;

class SteadyClock final : public PaceClock {
 public:
  int64_t NowNs() override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void WaitUntilNs(int64_t ns) override {
    for (int64_t now = NowNs(); now < ns; now = NowNs()) {
      if (ns - now > kSpinNs) {
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(ns - now - kSpinNs));
      } else {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      }
    }
  }
};

}  // namespace

PaceClock* SteadyPaceClock() {
  static SteadyClock clock;
  return &clock;
}

PacedResult RunPaced(double rate, int64_t start_ns, int64_t record_from_ns,
                     const std::atomic<int64_t>& stop_ns,
                     const std::function<bool()>& fetch, PaceClock& clock) {
  PacedResult result;
  const double interval_ns = 1e9 / rate;
  for (int64_t i = 0;; ++i) {
    // From the slot's number, not by adding intervals: no drift.
    const int64_t intended =
        start_ns + static_cast<int64_t>(std::llround(i * interval_ns));
    if (intended >= stop_ns.load(std::memory_order_acquire)) break;
    clock.WaitUntilNs(intended);
    const bool right = fetch();
    const int64_t done = clock.NowNs();
    if (intended < record_from_ns) continue;
    result.latency.Record(done - intended);
    ++result.fetches;
    if (!right) ++result.wrong;
  }
  return result;
}

PacedFetcher::PacedFetcher(double rate, absl::Duration warmup,
                           std::function<bool()> fetch)
    : record_from_ns_(SteadyPaceClock()->NowNs() +
                      absl::ToInt64Nanoseconds(warmup)),
      stop_ns_(std::numeric_limits<int64_t>::max()) {
  const int64_t start_ns = SteadyPaceClock()->NowNs();
  thread_ = std::thread([this, rate, start_ns, fetch = std::move(fetch)] {
    pthread_setname_np(pthread_self(), "sw-paced-fetch");  // For perf.
    result_ = RunPaced(rate, start_ns, record_from_ns_, stop_ns_, fetch,
                       *SteadyPaceClock());
  });
}

PacedFetcher::~PacedFetcher() {
  if (thread_.joinable()) Stop(absl::ZeroDuration());
}

void PacedFetcher::WaitForRecording() {
  // Sleeps: the fetcher has the spinning to do.
  const int64_t now = SteadyPaceClock()->NowNs();
  if (now < record_from_ns_) {
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(record_from_ns_ - now));
  }
}

PacedResult PacedFetcher::Stop(absl::Duration tail) {
  stop_ns_.store(SteadyPaceClock()->NowNs() + absl::ToInt64Nanoseconds(tail),
                 std::memory_order_release);
  thread_.join();
  return std::move(result_);
}

}  // namespace sessionwheel::bench
