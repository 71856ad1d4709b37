// What the three baselines share: the record they store, the SIDs they mint,
// the snapshot every call returns, close-event delivery, and an expiry thread.
//
// The baselines are what a careful engineer would write without a timer
// wheel: one mutex, standard or Abseil containers, a textbook deadline index.
// Their record keeps the fields of the engine's (engine/core/shard.h) so that
// memory and copying compare, with the SID as the 34-character string a host
// sees. Their semantics are the engine's where the workloads reach: an
// expiry closes a live Session at base + ttl with reason "ttl", and any call
// that touches a due Session closes it first. Unlike the engine they never
// purge ended Sessions (the engine's 90-day purge never comes due in a
// benchmark, but the engine does the bookkeeping for it).

#ifndef SESSIONWHEEL_BENCH_BASELINE_COMMON_H_
#define SESSIONWHEEL_BENCH_BASELINE_COMMON_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel::bench {

// Times are Unix milliseconds; kNoTime stands for null.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

int64_t NowMs(const Clock& clock);

// A Session as a baseline stores it.
struct BaselineSession {
  Sid sid;  // "KC" + 128 random bits.
  std::string unique_name;
  std::string closed_reason;              // Empty until the Session ends.
  std::vector<Participant> participants;  // Never filled by the benchmarks.
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t base_ms = 0;  // The ttl window's start: create or last interaction.
  int64_t ended_ms = kNoTime;
  int64_t last_interaction_ms = kNoTime;
  int64_t date_expiry_ms = kNoTime;  // Never set by the benchmarks.
  int64_t ttl = 0;                   // Seconds; 0 means none.
  SessionStatus status = SessionStatus::kOpen;
  SessionMode mode = SessionMode::kVoiceAndMessage;

  bool live() const {
    return status == SessionStatus::kOpen ||
           status == SessionStatus::kInProgress;
  }
  // The instant a live Session expires (date_expiry, else base + ttl), or
  // kNoTime.
  int64_t ExpiryInstant() const;
  // Closes it at `instant` as the engine's expiry does.
  void Expire(int64_t instant);
  // An interaction at `now`: in-progress, and the ttl window restarts.
  void Interact(int64_t now);
};

// The Service and account a baseline's Sessions belong to, and the SIDs it
// mints. Not thread-safe: the store calls it under its lock.
class BaselineIdentity {
 public:
  explicit BaselineIdentity(uint64_t seed);

  // "KC" + 128 random bits, the shape of the engine's SIDs.
  Sid MintSessionSid() { return MintSid("KC"); }

  // Fills *out as the engine fills its answer, reusing out's buffers.
  void Snapshot(const BaselineSession& rec, Session* out) const;

  // The close event of `rec`, as the engine reports it; its string views
  // point into `rec`.
  SessionEvent CloseEvent(const BaselineSession& rec) const;

 private:
  Sid MintSid(std::string_view prefix);

  std::mt19937_64 rng_;
  Sid service_sid_;
};

// Close events, queued under the store's lock and delivered after it.
class CloseEvents {
 public:
  explicit CloseEvents(std::shared_ptr<SessionListener> listener)
      : listener_(std::move(listener)) {}

  // Whether anyone listens; if not, the store builds no events.
  bool enabled() const { return listener_ != nullptr; }

  // Queues `event`, copying its name and reason, so the record it came from
  // may change or go before delivery.
  void Add(const SessionEvent& event);

  // Delivers what is queued. Call with no store lock held.
  void Deliver();

  // Delivers at the end of its scope. Declared before a store's lock guard,
  // it runs after the lock is released, whichever way the call returns.
  class DeliverAtExit {
   public:
    explicit DeliverAtExit(CloseEvents* events) : events_(events) {}
    DeliverAtExit(const DeliverAtExit&) = delete;
    DeliverAtExit& operator=(const DeliverAtExit&) = delete;
    ~DeliverAtExit() { events_->Deliver(); }

   private:
    CloseEvents* const events_;
  };

 private:
  const std::shared_ptr<SessionListener> listener_;
  // An event whose views are offsets into the text arena until delivery:
  // both keep their capacity, so a steady stream allocates nothing, as in
  // the engine.
  struct Queued {
    SessionEvent event;
    size_t name_offset;
    size_t reason_offset;
  };
  std::mutex mu_;
  std::vector<Queued> pending_;  // Guarded by mu_.
  std::string text_;             // Guarded by mu_.
  std::mutex deliver_mu_;        // One deliverer at a time, in order.
  std::vector<Queued> batch_;    // Guarded by deliver_mu_.
  std::string batch_text_;       // Guarded by deliver_mu_.
};

// A thread that runs a store's expiry: it calls `advance`, which closes what
// is due and returns the next deadline (kNoTime for none), then sleeps until
// that deadline, until a Session is scheduled earlier (ScheduledAt), or for
// at most a minute. The engine's background thread works the same way.
class ExpiryThread {
 public:
  ExpiryThread(Clock* clock, std::function<int64_t()> advance);
  ExpiryThread(const ExpiryThread&) = delete;
  ExpiryThread& operator=(const ExpiryThread&) = delete;
  // Stops and joins the thread.
  ~ExpiryThread();

  // Tells the thread a Session is due at `deadline_ms`; wakes it if that is
  // earlier than it planned to wake. Cheap when it is not.
  void ScheduledAt(int64_t deadline_ms);

 private:
  static constexpr int64_t kNothingPlanned =
      std::numeric_limits<int64_t>::max();

  void Run();
  void Wake();

  Clock* const clock_;
  const std::function<int64_t()> advance_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // Guarded by mu_.
  std::atomic<bool> dirty_{false};
  std::atomic<int64_t> planned_{kNothingPlanned};
  std::thread thread_;  // Last: it starts once everything above is ready.
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_BASELINE_COMMON_H_
