#include "sessionwheel/clock.h"

#include <algorithm>
#include <cstdint>

#include "absl/time/clock.h"

namespace sessionwheel {
namespace {

class WallClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock* SystemClock() {
  // Never destroyed, so a store torn down during static destruction can
  // still read the time.
  static Clock* const clock = new WallClock;
  return clock;
}

absl::Time ManualClock::Now() const {
  // Every store call reads the clock: a lock here would serialise them all.
  const int64_t ns = now_ns_.load(std::memory_order_acquire);
  if (ns != kOutOfRange) return absl::FromUnixNanos(ns);
  internal::MutexLock l(&mu_);
  return now_;
}

void ManualClock::PublishLocked() {
  const bool fits = now_ > absl::FromUnixNanos(kOutOfRange) &&
                    now_ < absl::FromUnixNanos(INT64_MAX);
  now_ns_.store(fits ? absl::ToUnixNanos(now_) : kOutOfRange,
                std::memory_order_release);
}

void ManualClock::Advance(absl::Duration delta) {
  if (delta <= absl::ZeroDuration()) return;
  {
    internal::MutexLock l(&mu_);
    now_ += delta;
    PublishLocked();
  }
  NotifyObservers();
}

void ManualClock::Set(absl::Time t) {
  {
    internal::MutexLock l(&mu_);
    if (now_ == t) return;
    now_ = t;
    PublishLocked();
  }
  NotifyObservers();
}

void ManualClock::AddObserver(ClockObserver* observer) {
  internal::MutexLock l(&mu_);
  observers_.push_back(observer);
}

void ManualClock::RemoveObserver(ClockObserver* observer) {
  // Waits for a notification in flight, so the caller may destroy
  // `observer` as soon as this returns.
  internal::MutexLock n(&notify_mu_);
  internal::MutexLock l(&mu_);
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer),
                   observers_.end());
}

void ManualClock::NotifyObservers() {
  // Lock order: notify_mu_ before mu_. An observer may read Now() (mu_ is
  // free while it runs) but must not add, remove or move this clock from
  // OnClockJump: notify_mu_ is held.
  internal::MutexLock n(&notify_mu_);
  std::vector<ClockObserver*> observers;
  {
    internal::MutexLock l(&mu_);
    observers = observers_;
  }
  for (ClockObserver* observer : observers) observer->OnClockJump();
}

}  // namespace sessionwheel
