#include "bench/baseline_common.h"

#include <algorithm>
#include <utility>

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
  MintSid("AC");  // The account's draw, so the sequence stays as it was.
  service_sid_ = MintSid("KS");
}

Sid BaselineIdentity::MintSid(std::string_view prefix) {
  const uint64_t hi = rng_();
  return Sid(prefix, hi, rng_());
}

namespace {
void AssignOptional(std::optional<std::string>* field, std::string_view text) {
  if (field->has_value()) {
    (*field)->assign(text.data(), text.size());
  } else {
    field->emplace(text);
  }
}
}  // namespace

void BaselineIdentity::Snapshot(const BaselineSession& rec,
                                Session* out) const {
  out->sid = rec.sid;
  out->service_sid = service_sid_;
  AssignOptional(&out->unique_name, rec.unique_name);
  out->status = rec.status;
  if (!rec.closed_reason.empty()) {
    AssignOptional(&out->closed_reason, rec.closed_reason);
  } else {
    out->closed_reason.reset();
  }
  out->ttl = rec.ttl;
  out->mode = rec.mode;
  out->date_created = absl::FromUnixMillis(rec.created_ms);
  out->date_updated = absl::FromUnixMillis(rec.updated_ms);
  out->date_started = out->date_created;
  out->date_ended = OptionalTime(rec.ended_ms);
  out->date_last_interaction = OptionalTime(rec.last_interaction_ms);
  out->date_expiry = OptionalTime(rec.date_expiry_ms);
  out->participants = rec.participants;
}

SessionEvent BaselineIdentity::CloseEvent(const BaselineSession& rec) const {
  SessionEvent e;
  e.type = EventType::kClosed;
  e.status = rec.status;
  e.mode = rec.mode;
  e.has_unique_name = !rec.unique_name.empty();
  e.time = absl::FromUnixMillis(rec.ended_ms);
  e.sid = rec.sid;
  e.service_sid = service_sid_;
  e.ttl = rec.ttl;
  e.unique_name = rec.unique_name;
  e.closed_reason = rec.closed_reason;
  e.date_created = absl::FromUnixMillis(rec.created_ms);
  e.date_updated = absl::FromUnixMillis(rec.updated_ms);
  e.date_ended = OptionalTime(rec.ended_ms);
  e.date_last_interaction = OptionalTime(rec.last_interaction_ms);
  e.date_expiry = OptionalTime(rec.date_expiry_ms);
  return e;
}

// CloseEvents
// -------------------------------------------------------------------

void CloseEvents::Add(const SessionEvent& event) {
  std::lock_guard<std::mutex> l(mu_);
  Queued& q = pending_.emplace_back();
  q.event = event;
  q.name_offset = text_.size();
  text_.append(event.unique_name.data(), event.unique_name.size());
  q.reason_offset = text_.size();
  text_.append(event.closed_reason.data(), event.closed_reason.size());
}

void CloseEvents::Deliver() {
  if (listener_ == nullptr) return;
  std::lock_guard<std::mutex> deliver(deliver_mu_);
  {
    std::lock_guard<std::mutex> l(mu_);
    batch_.swap(pending_);
    batch_text_.swap(text_);
  }
  for (Queued& q : batch_) {
    q.event.unique_name = {batch_text_.data() + q.name_offset,
                           q.event.unique_name.size()};
    q.event.closed_reason = {batch_text_.data() + q.reason_offset,
                             q.event.closed_reason.size()};
    listener_->OnEvent(q.event);
  }
  batch_.clear();
  batch_text_.clear();
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
