// Time sources for sessionwheel.
//
// The engine never reads the time itself: every store is given a `Clock`.
// Hosts use `SystemClock()`; tests use a `ManualClock` and move it by hand,
// so no test ever sleeps to wait for time to pass.
//
// Example:
//
//   sessionwheel::ManualClock clock(absl::FromUnixSeconds(1700000000));
//   sessionwheel::StoreOptions options;
//   options.clock = &clock;
//   auto store = sessionwheel::SessionStore::Open(options).value();
//   ...
//   clock.Advance(absl::Hours(1));  // an hour later, in no time at all
//   store->Advance();               // deliver the expiries that came due

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_CLOCK_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_CLOCK_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "sessionwheel/internal/mutex.h"

namespace sessionwheel {

// Told when a clock jumps, so a thread waiting for a deadline on that clock
// can wake up and look again.
class ClockObserver {
 public:
  virtual ~ClockObserver() = default;
  // Called after the clock's time changed by a jump. Called with no lock of
  // the clock held.
  virtual void OnClockJump() = 0;
};

// A source of the current time. Implementations are safe for concurrent use.
class Clock {
 public:
  virtual ~Clock() = default;

  // Returns the current time.
  virtual absl::Time Now() const = 0;

  // Registers `observer` to hear of jumps. A clock that only moves on its own
  // (the system clock) never calls it; the default does nothing. The observer
  // must stay alive until it is removed.
  virtual void AddObserver(ClockObserver* observer) { (void)observer; }
  // Undoes `AddObserver`. After it returns the observer is not called again.
  virtual void RemoveObserver(ClockObserver* observer) { (void)observer; }
};

// Returns the process-wide wall clock (`absl::Now()`). Never null.
Clock* SystemClock();

// A clock that moves only when told to. Safe for concurrent use.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::UnixEpoch()) : now_(start) {
    internal::MutexLock l(&mu_);
    PublishLocked();
  }

  absl::Time Now() const override;

  // Moves the clock forward by `delta`. A negative `delta` is ignored: time
  // set by `Advance` never runs backwards.
  void Advance(absl::Duration delta);

  // Sets the clock to `t`, which may be earlier than now (a test's opening
  // move). The store tolerates a clock that goes back: nothing expires early
  // and nothing is lost, but timestamps follow the clock.
  void Set(absl::Time t);

  void AddObserver(ClockObserver* observer) override;
  void RemoveObserver(ClockObserver* observer) override;

 private:
  void NotifyObservers();
  // Copies now_ to now_ns_ for Now()'s lock-free read.
  void PublishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  static constexpr int64_t kOutOfRange = INT64_MIN;  // now_ns_: take the lock.

  // Held only to read or write `now_` and `observers_`, never while calling
  // an observer.
  mutable internal::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // now_ in Unix nanoseconds (written under mu_), or kOutOfRange when it does
  // not fit (before 1678 or after 2262).
  std::atomic<int64_t> now_ns_{kOutOfRange};
  std::vector<ClockObserver*> observers_ ABSL_GUARDED_BY(mu_);
  // Serialises notifications with RemoveObserver, so an observer is never
  // called after RemoveObserver returned.
  internal::Mutex notify_mu_;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_CLOCK_H_
