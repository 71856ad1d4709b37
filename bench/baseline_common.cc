#include "bench/baseline_common.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sessionwheel::bench {
namespace {

std::optional<absl::Time> OptionalTime(int64_t ms) {
  if (ms == kNoTime) return std::nullopt;
  return absl::FromUnixMillis(ms);
}

}  // namespace

int64_t NowMs(const Clock& clock) { return absl::ToUnixMillis(clock.Now()); }

int64_t BaselineSession::ExpiryInstant() const {
  if (!live()) return kNoTime;
  if (date_expiry_ms != kNoTime) return date_expiry_ms;
  if (ttl > 0) return base_ms + ttl * 1000;
  return kNoTime;
}

void BaselineSession::Expire(int64_t instant) {
  status = SessionStatus::kClosed;
  closed_reason = date_expiry_ms != kNoTime ? "date_expiry" : "ttl";
  ended_ms = instant;
  updated_ms = instant;
}

void BaselineSession::Interact(int64_t now) {
  status = SessionStatus::kInProgress;
  last_interaction_ms = updated_ms = base_ms = now;
}

// BaselineIdentity
// --------------------------------------------------------------

BaselineIdentity::BaselineIdentity(uint64_t seed) : rng_(seed) {
  account_sid_ = MintSid("AC");
  service_sid_ = MintSid("KS");
}

std::string BaselineIdentity::MintSid(const char* prefix) {
  const uint64_t high = rng_();
  const uint64_t low = rng_();
  return absl::StrCat(prefix, absl::Hex(high, absl::kZeroPad16),
                      absl::Hex(low, absl::kZeroPad16));
}

Session BaselineIdentity::Snapshot(const BaselineSession& rec) const {
  Session s;
  s.sid = rec.sid;
  s.service_sid = service_sid_;
  s.account_sid = account_sid_;
  s.unique_name = rec.unique_name;
  s.status = rec.status;
  if (!rec.closed_reason.empty()) s.closed_reason = rec.closed_reason;
  s.ttl = rec.ttl;
  s.mode = rec.mode;
  s.date_created = absl::FromUnixMillis(rec.created_ms);
  s.date_updated = absl::FromUnixMillis(rec.updated_ms);
  s.date_started = s.date_created;
  s.date_ended = OptionalTime(rec.ended_ms);
  s.date_last_interaction = OptionalTime(rec.last_interaction_ms);
  s.date_expiry = OptionalTime(rec.date_expiry_ms);
  s.participants = rec.participants;
  return s;
}

// CloseEvents
// -------------------------------------------------------------------

void CloseEvents::Add(Session session, int64_t instant_ms) {
  std::lock_guard<std::mutex> l(mu_);
  pending_.push_back(SessionEvent{EventType::kClosed, std::move(session),
                                  absl::FromUnixMillis(instant_ms)});
}

void CloseEvents::Deliver() {
  if (listener_ == nullptr) return;
  std::vector<SessionEvent> batch;
  {
    std::lock_guard<std::mutex> l(mu_);
    batch.swap(pending_);
  }
  for (const SessionEvent& e : batch) listener_->OnEvent(e);
}

// ExpiryThread
// ------------------------------------------------------------------

ExpiryThread::ExpiryThread(Clock* clock, std::function<int64_t()> advance)
    : clock_(clock), advance_(std::move(advance)), thread_([this] { Run(); }) {}

ExpiryThread::~ExpiryThread() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void ExpiryThread::ScheduledAt(int64_t deadline_ms) {
  if (deadline_ms < planned_.load(std::memory_order_acquire)) Wake();
}

void ExpiryThread::Wake() {
  if (dirty_.exchange(true, std::memory_order_acq_rel)) return;
  // Taking the mutex orders this wakeup after the thread's look at dirty_ or
  // before its wait, so it is never lost.
  { std::lock_guard<std::mutex> l(mu_); }
  cv_.notify_one();
}

void ExpiryThread::Run() {
  for (;;) {
    planned_.store(kNothingPlanned, std::memory_order_release);
    dirty_.store(false, std::memory_order_release);
    const int64_t next = advance_();
    std::unique_lock<std::mutex> l(mu_);
    if (stop_) return;
    if (dirty_.load(std::memory_order_acquire)) continue;
    planned_.store(next == kNoTime ? kNothingPlanned : next,
                   std::memory_order_release);
    absl::Duration wait = absl::Seconds(60);
    if (next != kNoTime) {
      wait = std::min(wait, absl::FromUnixMillis(next) - clock_->Now());
    }
    if (wait <= absl::ZeroDuration()) continue;
    cv_.wait_for(l, absl::ToChronoNanoseconds(wait), [this] {
      return stop_ || dirty_.load(std::memory_order_acquire);
    });
    if (stop_) return;
  }
}

}  // namespace sessionwheel::bench
