// The demo's listener: counts events and measures how late expiries arrive.
//
// The store calls OnEvent from whichever thread caused the event (the
// background expiry thread for expiries and purges), with no lock held, so
// the listener only bumps atomics: no lock, no allocation.

#ifndef SESSIONWHEEL_BENCH_DEMO_LISTENER_H_
#define SESSIONWHEEL_BENCH_DEMO_LISTENER_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

#include "absl/time/time.h"
#include "demo_workload.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"

namespace demo {

// Lateness in 0.1 ms buckets up to 1 s, plus one bucket for anything later:
// fixed size, lock-free.
class LatenessHistogram {
 public:
  void Record(absl::Duration lateness) {
    const int64_t us =
        std::max<int64_t>(0, absl::ToInt64Microseconds(lateness));
    buckets_[std::min<int64_t>(us / kBucketUs, kBuckets)].fetch_add(
        1, std::memory_order_relaxed);
    int64_t max = max_us_.load(std::memory_order_relaxed);
    while (us > max &&
           !max_us_.compare_exchange_weak(max, us, std::memory_order_relaxed)) {
    }
  }

  int64_t Count() const {
    int64_t n = 0;
    for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
    return n;
  }

  // The q-th quantile in ms: the upper edge of its bucket, or the maximum.
  double QuantileMs(double q) const {
    const int64_t rank = static_cast<int64_t>(q * static_cast<double>(Count()));
    int64_t seen = 0;
    for (int64_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i].load(std::memory_order_relaxed);
      if (seen > rank) {
        return std::min(static_cast<double>((i + 1) * kBucketUs) / 1000,
                        MaxMs());
      }
    }
    return MaxMs();
  }

  double MaxMs() const {
    return static_cast<double>(max_us_.load(std::memory_order_relaxed)) / 1000;
  }

 private:
  static constexpr int64_t kBucketUs = 100;
  static constexpr int64_t kBuckets = 10000;
  std::array<std::atomic<int64_t>, kBuckets + 1> buckets_{};
  std::atomic<int64_t> max_us_{0};
};

class CountingListener : public sessionwheel::SessionListener {
 public:
  using Counter = std::atomic<int64_t>;
  Counter created{0}, interaction{0}, deleted{0}, purged{0};
  // Closed, by closed_reason.
  Counter closed_ttl{0}, closed_date_expiry{0}, closed_host{0}, closed_other{0};
  LatenessHistogram lateness;  // Of the ttl and date_expiry closes.

  int64_t Expired() const { return Get(closed_ttl) + Get(closed_date_expiry); }
  int64_t Closed() const {
    return Expired() + Get(closed_host) + Get(closed_other);
  }
  static int64_t Get(const Counter& c) {
    return c.load(std::memory_order_relaxed);
  }

  void OnEvent(const sessionwheel::SessionEvent& e) noexcept override {
    using sessionwheel::EventType;
    switch (e.type) {
      case EventType::kCreated:
        Bump(created);
        break;
      case EventType::kInteraction:
        Bump(interaction);
        break;
      case EventType::kDeleted:
        Bump(deleted);
        break;
      case EventType::kPurged:
        Bump(purged);
        break;
      case EventType::kClosed: {
        const std::string_view reason = e.closed_reason;
        if (reason == sessionwheel::kReasonTtl) {
          Bump(closed_ttl);
        } else if (reason == sessionwheel::kReasonDateExpiry) {
          Bump(closed_date_expiry);
        } else {
          Bump(reason == kHostReason ? closed_host : closed_other);
          break;
        }
        // An expiry: e.time is the instant it was due.
        lateness.Record(absl::Now() - e.time);
        break;
      }
      case EventType::kUpdated:
        break;
    }
  }

 private:
  static void Bump(Counter& c) { c.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace demo

#endif  // SESSIONWHEEL_BENCH_DEMO_LISTENER_H_
