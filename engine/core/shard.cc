#include "engine/core/shard.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <exception>
#include <iterator>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "engine/persist/snapshot.h"
#include "engine/util/str_cat.h"
#include "engine/util/utf8.h"
#include "sessionwheel/errors.h"

namespace sessionwheel::internal {
namespace {

constexpr size_t kMaxNameChars = 191;
constexpr size_t kMaxReasonChars = 255;
constexpr size_t kMaxParticipants = 2;
// A Participant's fields (docs/semantics.md, "Create"): Twilio's Participant
// resource documents 191 characters for an identifier and 255 for a
// friendly_name; a proxy identifier is the same kind of value as an
// identifier, so it gets the same bound.
constexpr size_t kMaxIdentifierChars = 191;
constexpr size_t kMaxFriendlyNameChars = 255;
// The latest instant the API can express: 9999-12-31T23:59:59.999Z.
constexpr int64_t kMaxMs = kLatestMs;
// Between two slices of bulk work, how long the bulk thread waits at most
// for the threads that were blocked on the lock to have had it
// (Mutex::LetWaitersIn): a futex wake-up takes tens of microseconds.
constexpr std::chrono::microseconds kWaitersFirst{200};

bool IsLive(SessionStatus s) {
  return s == SessionStatus::kOpen || s == SessionStatus::kInProgress;
}

absl::Time ToTime(int64_t ms) { return absl::FromUnixMillis(ms); }

// Asks for every cache line of a record just found, its inline name
// included, so that reading them costs one memory latency, not one per
// line.
void PrefetchRecord(const SessionRecord* rec) {
  const auto* p = reinterpret_cast<const char*>(rec);
  constexpr size_t kBytes = sizeof(SessionRecord);
  for (size_t offset = 0; offset < kBytes; offset += 64) {
    __builtin_prefetch(p + offset);
  }
  __builtin_prefetch(p + kBytes - 1);
}

std::optional<absl::Time> ToOptionalTime(int64_t ms) {
  if (ms == kNoTime) return std::nullopt;
  return ToTime(ms);
}

// The instant a live Session expires, or kNoTime (docs/semantics.md, "Expiry").
int64_t ExpiryInstant(const SessionRecord& rec) {
  if (!IsLive(rec.status)) return kNoTime;
  if (rec.date_expiry_ms() != kNoTime) return rec.date_expiry_ms();
  if (rec.ttl() > 0) return rec.base_ms() + rec.ttl() * 1000;
  return kNoTime;
}

absl::Status CheckDateExpiry(absl::Time t, int64_t now) {
  if (t == absl::InfiniteFuture() || t == absl::InfinitePast() ||
      absl::ToUnixMillis(t) > kMaxMs) {
    return InvalidParameter("DateExpiry", "It must be a date before 10000.");
  }
  if (absl::ToUnixMillis(t) <= now) {
    return InvalidParameter("DateExpiry", "It must be in the future.");
  }
  return absl::OkStatus();
}

// Enums arrive from C++ callers, who can cast any integer into one.
absl::Status CheckEnums(std::optional<SessionMode> mode,
                        std::optional<SessionStatus> status) {
  if (mode.has_value() && ModeName(*mode).empty()) {
    return InvalidParameter("Mode", "It is not a known Session mode.");
  }
  if (status.has_value() && StatusName(*status).empty()) {
    return InvalidParameter("Status", "It is not a known Session status.");
  }
  return absl::OkStatus();
}

// One field of a Participant: valid UTF-8 of at most `max_chars`
// characters; empty is allowed (the engine does not interpret it).
absl::Status CheckParticipantField(std::string_view field,
                                   std::string_view value, size_t max_chars) {
  if (!IsValidUtf8(value)) {
    return InvalidParameter("Participants",
                            Cat("Its ", field, " must be valid UTF-8."));
  }
  if (Utf8Length(value) > max_chars) {
    return InvalidParameter("Participants", Cat("Its ", field, " must be ",
                                                std::to_string(max_chars),
                                                " characters or fewer."));
  }
  return absl::OkStatus();
}

// Checks each Participant of a create, field by field in the order the
// API lists them, then that no identifier is given twice, as adding them one
// by one would (Shard::CreateParticipant). An empty identifier names no one,
// so it clashes with nothing. Errors: InvalidArgument/80701 naming
// `Participants`; AlreadyExists/80103.
absl::Status CheckParticipants(const std::vector<ParticipantParams>& list) {
  for (const ParticipantParams& p : list) {
    absl::Status s =
        CheckParticipantField("Identifier", p.identifier, kMaxIdentifierChars);
    if (s.ok()) {
      s = CheckParticipantField("FriendlyName", p.friendly_name,
                                kMaxFriendlyNameChars);
    }
    if (s.ok()) {
      s = CheckParticipantField("ProxyIdentifier", p.proxy_identifier,
                                kMaxIdentifierChars);
    }
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string& id = list[i].identifier;
    for (size_t j = 0; j < i && !id.empty(); ++j) {
      if (list[j].identifier == id) return IdentifierInSessionError(id);
    }
  }
  return absl::OkStatus();
}

absl::Status EndedError() {
  return ProxyError(absl::StatusCode::kFailedPrecondition, kErrorSessionClosed,
                    "The Session has ended and cannot be updated.");
}

absl::Status TransitionError(SessionStatus from, SessionStatus to) {
  return ProxyError(absl::StatusCode::kFailedPrecondition,
                    kErrorInvalidTransition,
                    Cat("Invalid status transition from '", StatusName(from),
                        "' to '", StatusName(to), "'."));
}

}  // namespace

uint8_t NameShardByte(const Sid128& service, std::string_view name) {
  return static_cast<uint8_t>(
      StableHash(name, service.hi ^ (service.lo * 0x9e3779b97f4a7c15ULL)) >>
      56);
}

NameKey RecordByName::Key(const SessionRecord* r) {
  const std::string_view name = r->unique_name();
  return NameKey{r->service->sid, {name.data(), name.size()}};
}

void RecordByName::Prefetch(uint32_t handle) const {
  PrefetchRecord(records->Get(handle));
}

// SessionRecord
// ----------------------------------------------------------------

void SessionRecord::SetName(std::string_view name) {
  static_assert(kInlineNameBytes < kLongName);
  assert(!name.empty() && name.size() <= kMaxNameChars * 4);
  if (name.size() <= kInlineNameBytes) {
    name_len_ = static_cast<uint8_t>(name.size());
    std::memcpy(inline_name, name.data(), name.size());
  } else {
    name_len_ = kLongName;
    MutableExtras().long_name.assign(name.data(), name.size());
  }
}

absl::Status CheckTtl(std::string_view param, int64_t seconds) {
  // The upper bound keeps base + ttl inside the representable dates.
  if (seconds < 0 || seconds > kMaxMs / 1000) {
    return InvalidParameter(
        param, "It must be a whole number of seconds from 0 to 253402300799.");
  }
  return absl::OkStatus();
}

absl::Status IdentifierInSessionError(std::string_view identifier) {
  return ProxyError(absl::StatusCode::kAlreadyExists,
                    kErrorParticipantInSession,
                    Cat("Participant identifier '", identifier,
                        "' is already in this Session."));
}

absl::Status CheckUniqueName(std::string_view name) {
  if (name.empty()) {
    return InvalidParameter("UniqueName", "It must not be empty.");
  }
  if (!IsValidUtf8(name)) {
    return InvalidParameter("UniqueName", "It must be valid UTF-8.");
  }
  if (Utf8Length(name) > kMaxNameChars) {
    return InvalidParameter("UniqueName",
                            "It must be 191 characters or fewer.");
  }
  return absl::OkStatus();
}

// ListenerList
// ------------------------------------------------------------------

ListenerList::~ListenerList() {
  Node* n = head_.load(std::memory_order_acquire);
  while (n != nullptr) {
    Node* next = n->next.load(std::memory_order_acquire);
    delete n;
    n = next;
  }
}

void ListenerList::Add(std::shared_ptr<SessionListener> listener) {
  const EventTypes hears = listener->Hears();
  auto* node = new Node;
  node->hears = hears;
  node->listener = std::move(listener);
  MutexLock l(&mu_);
  Node* tail = tail_.load(std::memory_order_relaxed);
  if (tail == nullptr) {
    head_.store(node, std::memory_order_release);
  } else {
    tail->next.store(node, std::memory_order_release);
  }
  tail_.store(node, std::memory_order_release);
  heard_.fetch_or(node->hears.bits(), std::memory_order_release);
}

void ListenerList::Deliver(const SessionEvent& event) const {
  // The tail is published after its link, so it is reachable from the head.
  const Node* const last = tail_.load(std::memory_order_acquire);
  if (last == nullptr) return;
  for (const Node* n = head_.load(std::memory_order_acquire);;
       n = n->next.load(std::memory_order_acquire)) {
    if (n->hears.contains(event.type)) n->listener->OnEvent(event);
    if (n == last) break;
  }
}

// Shard
// -----------------------------------------------------------------------------

Shard::Shard(const ShardContext* context, size_t journal_lane)
    : context_(context),
      journal_lane_(journal_lane),
      records_(context->returned_bytes),
      names_(RecordByName{&records_}, RecordByName{&records_}) {}

Shard::~Shard() {
  // Records own their wheel entries; the wheel holds only links into them.
  MutexLock l(&mu_);
  records_.ForEach([this](uint32_t, SessionRecord* rec) {
    mu_.AssertHeld();
    wheel_.Cancel(rec);
  });
}

int64_t Shard::NowMs() const { return ClockMs(context_->clock->Now()); }

uint64_t Shard::TickAtOrAfter(int64_t ms) const {
  if (ms <= context_->origin_ms) return 0;
  const uint64_t delta = static_cast<uint64_t>(ms - context_->origin_ms);
  const uint64_t tick = static_cast<uint64_t>(context_->tick_ms);
  return (delta + tick - 1) / tick;
}

uint64_t Shard::TickAtOrBefore(int64_t ms) const {
  if (ms <= context_->origin_ms) return 0;
  return static_cast<uint64_t>(ms - context_->origin_ms) /
         static_cast<uint64_t>(context_->tick_ms);
}

namespace {

// Sets *field to `text`, reusing the string it may already hold.
void AssignOptional(std::optional<std::string>* field, std::string_view text) {
  if (field->has_value()) {
    (*field)->assign(text.data(), text.size());
  } else {
    field->emplace(text);
  }
}

}  // namespace

// Why the record ended, as the API words it ("" while it has not).
std::string_view ClosedReason(const SessionRecord& rec) {
  switch (rec.end_reason) {
    case EndReason::kNone:
      return {};
    case EndReason::kApi:
      return kReasonApi;
    case EndReason::kTtl:
      return kReasonTtl;
    case EndReason::kDateExpiry:
      return kReasonDateExpiry;
    case EndReason::kHost:
      return rec.extras->host_reason;
  }
  return {};
}

void Shard::FillLocked(const SessionRecord& rec, Session* out) const {
  out->sid = ToSid("KC", rec.sid);
  out->service_sid = ToSid("KS", rec.service->sid);
  if (rec.has_name()) {
    AssignOptional(&out->unique_name, rec.unique_name());
  } else {
    out->unique_name.reset();
  }
  out->status = rec.status;
  if (rec.end_reason != EndReason::kNone) {
    AssignOptional(&out->closed_reason, ClosedReason(rec));
  } else {
    out->closed_reason.reset();
  }
  out->ttl = rec.ttl();
  out->mode = rec.mode;
  out->date_created = ToTime(rec.created_ms());
  out->date_updated = ToTime(rec.updated_ms());
  out->date_started = out->date_created;
  out->date_ended = ToOptionalTime(rec.ended_ms());
  out->date_last_interaction = ToOptionalTime(rec.last_interaction_ms());
  out->date_expiry = ToOptionalTime(rec.date_expiry_ms());
  if (rec.extras != nullptr) {
    out->participants = rec.extras->participants;
  } else {
    out->participants.clear();
  }
}

void Shard::EmitLocked(EventType type, const SessionRecord& rec,
                       int64_t time_ms) {
  // Nobody hears it: no copy at all.
  if (!context_->listeners->Hears(type)) return;
  queued_.store(true, std::memory_order_relaxed);
  QueuedEvent& q = pending_.emplace_back();
  q.type = type;
  q.status = rec.status;
  q.mode = rec.mode;
  q.end_reason = rec.end_reason;
  q.has_name = rec.has_name();
  q.time_ms = time_ms;
  q.created_ms = rec.created_ms();
  q.updated_ms = rec.updated_ms();
  q.ended_ms = rec.ended_ms();
  q.last_interaction_ms = rec.last_interaction_ms();
  q.date_expiry_ms = rec.date_expiry_ms();
  q.ttl = rec.ttl();
  q.sid = rec.sid;
  q.service = rec.service->sid;
  const std::string_view name = rec.unique_name();
  q.name_offset = static_cast<uint32_t>(pending_text_.size());
  q.name_size = static_cast<uint32_t>(name.size());
  pending_text_.append(name.data(), name.size());
  if (rec.end_reason == EndReason::kHost) {
    const std::string_view reason = ClosedReason(rec);
    q.reason_offset = static_cast<uint32_t>(pending_text_.size());
    q.reason_size = static_cast<uint32_t>(reason.size());
    pending_text_.append(reason.data(), reason.size());
  }
}

namespace {

// The event a listener sees, from a queued one whose text is in `text`.
void BuildEvent(const QueuedEvent& q, const std::string& text,
                SessionEvent* e) {
  e->type = q.type;
  e->status = q.status;
  e->mode = q.mode;
  e->has_unique_name = q.has_name;
  e->time = ToTime(q.time_ms);
  e->sid = ToSid("KC", q.sid);
  e->service_sid = ToSid("KS", q.service);
  e->ttl = q.ttl;
  e->unique_name = {text.data() + q.name_offset, q.name_size};
  switch (q.end_reason) {
    case EndReason::kNone:
      e->closed_reason = {};
      break;
    case EndReason::kApi:
      e->closed_reason = kReasonApi;
      break;
    case EndReason::kTtl:
      e->closed_reason = kReasonTtl;
      break;
    case EndReason::kDateExpiry:
      e->closed_reason = kReasonDateExpiry;
      break;
    case EndReason::kHost:
      e->closed_reason = {text.data() + q.reason_offset, q.reason_size};
      break;
  }
  e->date_created = ToTime(q.created_ms);
  e->date_updated = ToTime(q.updated_ms);
  e->date_ended = ToOptionalTime(q.ended_ms);
  e->date_last_interaction = ToOptionalTime(q.last_interaction_ms);
  e->date_expiry = ToOptionalTime(q.date_expiry_ms);
}

}  // namespace

namespace {
// While this thread delivers events, the shards whose events a listener's
// call back into a store queued: the outermost delivery loop drains them
// in turn, so listeners are never re-entered recursively.
struct DeferredShards {
  absl::InlinedVector<Shard*, 4> shards;
  size_t draining = 0;  // The shard being drained; those before are done.
};
thread_local DeferredShards* t_deferred = nullptr;
}  // namespace

void Shard::DeliverEvents() {
  // Events are queued only for a listener that hears them (EmitLocked):
  // with none queued on this shard, every call ends here, without the
  // lock. A thread that queued one reads its own `true` here, or the
  // `false` of a deliverer that has taken its event since.
  if (!queued_.load(std::memory_order_relaxed)) return;
  if (t_deferred != nullptr) {  // Inside a listener on this thread.
    // The shard being drained picks up what its listeners queue on it
    // itself; one drained before must be drained again.
    auto& list = t_deferred->shards;
    const auto from = list.begin() + t_deferred->draining;
    if (std::find(from, list.end(), this) == list.end()) list.push_back(this);
    return;
  }
  DeferredShards deferred;
  deferred.shards.push_back(this);
  t_deferred = &deferred;
  // Listeners cannot throw (OnEvent is noexcept), but an allocation here
  // can: this thread must never keep pointing at `deferred`.
  struct Reset {
    ~Reset() { t_deferred = nullptr; }
  } reset;
  for (; deferred.draining < deferred.shards.size(); ++deferred.draining) {
    deferred.shards[deferred.draining]->DrainEvents();
  }
}

void Shard::DrainEvents() {
  {
    MutexLock l(&mu_);
    if (delivering_ || pending_.empty()) return;
    delivering_ = true;
    queued_.store(false, std::memory_order_relaxed);
    batch_.swap(pending_);
    batch_text_.swap(pending_text_);
  }
  // This thread is now the shard's only deliverer: events leave the queue in
  // the order they entered it, so each Session's events stay in order. The
  // lock is taken once a batch and once more to find the queue empty.
  for (;;) {
    SessionEvent event;
    for (const QueuedEvent& q : batch_) {
      BuildEvent(q, batch_text_, &event);
      context_->listeners->Deliver(event);
    }
    batch_.clear();
    batch_text_.clear();
    MutexLock l(&mu_);
    if (pending_.empty()) {
      delivering_ = false;
      return;
    }
    queued_.store(false, std::memory_order_relaxed);
    batch_.swap(pending_);
    batch_text_.swap(pending_text_);
  }
}

void Shard::SetStatusLocked(SessionRecord* rec, SessionStatus status) {
  --stats_.by_status[static_cast<int>(rec->status)];
  ++stats_.by_status[static_cast<int>(status)];
  rec->status = status;
}

int64_t Shard::PurgeInstant(const SessionRecord& rec) const {
  if (!IsEnded(rec.status) || context_->retention_ms == kNoTime) {
    return kNoTime;
  }
  return rec.ended_ms() + context_->retention_ms;
}

void Shard::RescheduleLocked(SessionRecord* rec) {
  int64_t deadline = ExpiryInstant(*rec);
  if (IsEnded(rec->status)) deadline = PurgeInstant(*rec);
  if (deadline == kNoTime) {
    wheel_.Cancel(rec);
    return;
  }
  // At least one tick ahead of the wheel: if the clock went back, the wheel
  // may be ahead of it, and an entry due "now" would spin in Advance().
  const uint64_t tick = std::max(TickAtOrAfter(deadline), wheel_.now() + 1);
  wheel_.Schedule(rec, tick);
  if (context_->wakeup != nullptr) context_->wakeup->ScheduledAt(tick);
}

void Shard::ExpireLocked(SessionRecord* rec, int64_t instant) {
  SetStatusLocked(rec, SessionStatus::kClosed);
  rec->end_reason = rec->date_expiry_ms() != kNoTime ? EndReason::kDateExpiry
                                                     : EndReason::kTtl;
  rec->set_ended_ms(instant);
  // The instant, unless a later update made the Session overdue: no time
  // field moves backwards.
  rec->set_updated_ms(std::max(rec->updated_ms(), instant));
  ++stats_.expired;
  EmitLocked(EventType::kClosed, *rec, instant);
}

void Shard::EndLocked(SessionRecord* rec, SessionStatus status,
                      EndReason reason, std::string_view host_reason,
                      int64_t now) {
  SetStatusLocked(rec, status);
  rec->end_reason = reason;
  if (reason == EndReason::kHost) {
    rec->MutableExtras().host_reason = std::string(host_reason);
  }
  rec->set_ended_ms(now);
  rec->set_updated_ms(now);
  EmitLocked(EventType::kClosed, *rec, now);
  RescheduleLocked(rec);
}

bool Shard::SettleLocked(SessionRecord* rec, int64_t now) {
  const int64_t instant = ExpiryInstant(*rec);
  bool changed = false;
  if (instant != kNoTime && instant <= now) {
    ExpireLocked(rec, instant);
    changed = true;
  }
  const int64_t purge = PurgeInstant(*rec);
  if (purge != kNoTime && purge <= now) {
    ++stats_.purged;
    RemoveLocked(rec, EventType::kPurged, now);
    return false;
  }
  if (changed) RescheduleLocked(rec);
  return true;
}

absl::Status Shard::TakePlaceLocked(const ShardService& service) {
  if (!context_->quota->TryTake()) {
    return ProxyError(
        absl::StatusCode::kResourceExhausted, kErrorTooManyRequests,
        Cat("Too Many Requests: the store holds its maximum of ",
            std::to_string(context_->quota->max()), " Sessions."));
  }
  if (!service.quota->TryTake()) {
    context_->quota->Release();
    return ProxyError(
        absl::StatusCode::kResourceExhausted, kErrorTooManyRequests,
        Cat("Too Many Requests: the Service holds its maximum of ",
            std::to_string(service.quota->max()), " Sessions."));
  }
  return absl::OkStatus();
}

void Shard::RemoveLocked(SessionRecord* rec, EventType type, int64_t now) {
  EmitLocked(type, *rec, now);
  context_->quota->Release();
  rec->service->quota->Release();
  if (rec->extras != nullptr && !rec->extras->interactions.empty()) {
    const auto held = static_cast<int64_t>(rec->extras->interactions.size());
    context_->interaction_quota->Release(held);
    stats_.interactions -= held;
  }
  wheel_.Cancel(rec);
  bool foreign = false;
  const uint32_t handle = HandleOfLocked(rec, &foreign);
  if (rec->has_name()) {
    names_.Erase(handle);
    --stats_.named;
  }
  rec->service->order.Remove(rec->order_pos, MovedInOrderLocked());
  --stats_.by_status[static_cast<int>(rec->status)];
  if (foreign) foreign_.erase(rec->sid);
  records_.Free(handle);  // Frees rec: keep this last.
}

uint32_t Shard::HandleOfLocked(const SessionRecord* rec, bool* foreign) {
  // A Feistel decode, about 70 instructions: a removal asks once.
  const uint32_t carried = context_->handles->Decode(rec->sid.hi);
  const bool at_carried =
      records_.IsLive(carried) && records_.Get(carried) == rec;
  if (foreign != nullptr) *foreign = !at_carried;
  return at_carried ? carried : foreign_.at(rec->sid);
}

void Shard::AppendToOrderLocked(SessionRecord* rec, uint32_t handle) {
  rec->order_pos =
      rec->service->order.Append(handle, rec->seq, MovedInOrderLocked());
}

void Shard::PrefetchUnlocked(const Sid128& sid) const {
  records_.PrefetchUnlocked(context_->handles->Decode(sid.hi),
                            sizeof(SessionRecord));
}

SessionRecord* Shard::LookUpLocked(const Sid128& sid) {
  const uint32_t handle = context_->handles->Decode(sid.hi);
  if (records_.IsLive(handle)) {
    SessionRecord* rec = records_.Get(handle);
    if (rec->sid == sid) return rec;
  }
  if (foreign_.empty()) return nullptr;
  auto it = foreign_.find(sid);
  return it == foreign_.end() ? nullptr : records_.Get(it->second);
}

SessionRecord* Shard::FindLocked(const Sid128& service, const Sid128& sid,
                                 int64_t now) {
  SessionRecord* rec = LookUpLocked(sid);
  if (rec == nullptr) return nullptr;
  PrefetchRecord(rec);
  if (rec->service->sid != service || rec->service->dying) return nullptr;
  return SettleLocked(rec, now) ? rec : nullptr;
}

absl::Status Shard::Create(const Sid128& service, const Sid128& fresh,
                           const CreateSessionParams& params, Session* out) {
  MutexLock l(&mu_);
  // The name lookup below is a cache miss at a million Sessions: start it
  // now, so it overlaps with the checks.
  if (params.unique_name.has_value()) {
    const std::string& name = *params.unique_name;
    names_.Prefetch(NameKey{service, {name.data(), name.size()}});
  }
  auto svc = services_.find(service);
  if (svc == services_.end()) {
    return absl::NotFoundError("");  // The store words it.
  }
  const int64_t now = NowMs();
  if (params.participants.size() > kMaxParticipants) {
    return ProxyError(absl::StatusCode::kInvalidArgument,
                      kErrorTooManyParticipants,
                      "A Session can have at most 2 Participants.");
  }
  if (absl::Status s = CheckParticipants(params.participants); !s.ok()) {
    return s;
  }
  if (params.unique_name.has_value()) {
    if (absl::Status s = CheckUniqueName(*params.unique_name); !s.ok()) {
      return s;
    }
  }
  if (params.date_expiry.has_value()) {
    if (absl::Status s = CheckDateExpiry(*params.date_expiry, now); !s.ok()) {
      return s;
    }
  }
  if (params.ttl.has_value()) {
    if (absl::Status s = CheckTtl("Ttl", *params.ttl); !s.ok()) return s;
  }
  if (absl::Status s = CheckEnums(params.mode, params.status); !s.ok()) {
    return s;
  }
  if (params.unique_name.has_value()) {
    const uint32_t* held = names_.Find(NameKey{service, *params.unique_name});
    SessionRecord* holder = held == nullptr ? nullptr : records_.Get(*held);
    if (holder != nullptr && holder->service->dying) {
      // Of a deleted Service whose SID this one took (a caller may choose
      // a Service's SID), still on its way out: it goes now.
      RemoveLocked(holder, EventType::kDeleted, now);
      holder = nullptr;
    }
    // A holder whose purge is due no longer holds the name.
    if (holder != nullptr && SettleLocked(holder, now)) {
      return ProxyError(absl::StatusCode::kAlreadyExists,
                        kErrorSessionNameTaken,
                        Cat("Session UniqueName '", *params.unique_name,
                            "' is already in use in this Service."));
    }
  }
  const uint32_t handle = records_.Allocate();
  Sid128 sid;
  sid.hi = (fresh.hi & ~HandleCodec::kMask) |
           context_->handles->Encode(handle, fresh.hi);
  sid.lo = fresh.lo;
  // Only a restored SID of another store can be the same: mint again.
  if (!foreign_.empty() && foreign_.contains(sid)) {
    records_.Free(handle);
    return absl::AlreadyExistsError("SID collision");
  }
  // Last: a request refused for its own fault hears that fault, and nothing
  // below can fail, so a place taken is a Session held.
  if (absl::Status s = TakePlaceLocked(*svc->second); !s.ok()) {
    records_.Free(handle);
    return s;
  }

  SessionRecord* rec = records_.Get(handle);
  if (params.unique_name.has_value()) rec->SetName(*params.unique_name);
  rec->sid = sid;
  rec->service = svc->second.get();
  rec->seq = context_->next_seq->fetch_add(1, std::memory_order_relaxed);
  rec->set_created_ms(now);
  rec->set_updated_ms(now);
  rec->set_base_ms(now);
  rec->set_ttl(params.ttl.value_or(rec->service->default_ttl));
  if (params.date_expiry.has_value()) {
    rec->set_date_expiry_ms(absl::ToUnixMillis(*params.date_expiry));
  }
  rec->mode = params.mode.value_or(SessionMode::kVoiceAndMessage);
  rec->status = params.status.value_or(SessionStatus::kOpen);
  if (IsEnded(rec->status)) {
    rec->end_reason = EndReason::kApi;
    rec->set_ended_ms(now);
  }
  for (const ParticipantParams& p : params.participants) {
    rec->MutableExtras().participants.push_back(Participant{
        ToSid("KP", context_->sids->Next()), p.identifier, p.friendly_name,
        p.proxy_identifier, ToTime(now), ToTime(now), std::nullopt});
  }
  if (params.unique_name.has_value()) {
    names_.Insert(handle);
    ++stats_.named;
  }
  AppendToOrderLocked(rec, handle);
  ++stats_.by_status[static_cast<int>(rec->status)];
  EmitLocked(EventType::kCreated, *rec, now);
  RescheduleLocked(rec);
  JournalPutLocked(*rec);
  if (out != nullptr) FillLocked(*rec, out);
  return absl::OkStatus();
}

absl::Status Shard::FetchBySid(const Sid128& service, const Sid128& sid,
                               Session* out) {
  PrefetchUnlocked(sid);
  absl::Status s;
  bool queued = false;
  {
    MutexLock l(&mu_);
    const size_t before = pending_.size();
    SessionRecord* rec = FindLocked(service, sid, NowMs());
    if (rec == nullptr) {
      s = absl::NotFoundError("");
    } else if (out != nullptr) {
      FillLocked(*rec, out);
    }
    queued = pending_.size() != before;
  }
  // Only a fetch that applied an expiry delivers (its own event, and what
  // is queued with it): otherwise a reader could find itself delivering a
  // mass expiry's events for as long as the expiry makes them.
  if (queued) DeliverEvents();
  return s;
}

absl::Status Shard::FetchByName(const Sid128& service, std::string_view name,
                                Session* out) {
  absl::Status s;
  bool queued = false;
  {
    MutexLock l(&mu_);
    const size_t before = pending_.size();
    const NameKey key{service, {name.data(), name.size()}};
    names_.Prefetch(key);  // As in FindLocked.
    const uint32_t* held = names_.Find(key);
    SessionRecord* rec = held == nullptr ? nullptr : records_.Get(*held);
    if (rec != nullptr) PrefetchRecord(rec);
    if (rec == nullptr || rec->service->dying || !SettleLocked(rec, NowMs())) {
      s = absl::NotFoundError("");
    } else if (out != nullptr) {
      FillLocked(*rec, out);
    }
    queued = pending_.size() != before;
  }
  if (queued) DeliverEvents();  // As in FetchBySid.
  return s;
}

void Shard::FetchManyByName(const Sid128& service,
                            absl::Span<const std::string_view> names,
                            absl::Span<const uint32_t> which,
                            absl::Span<Session> out,
                            absl::Span<absl::Status> statuses) {
  static_assert(kNameRecordAhead < kNameSlotsAhead);
  auto key = [&](size_t j) {
    const std::string_view name = names[which[j]];
    return NameKey{service, {name.data(), name.size()}};
  };
  for (size_t begin = 0; begin < which.size(); begin += kNamesPerHold) {
    const size_t end = std::min(which.size(), begin + kNamesPerHold);
    bool queued = false;
    {
      MutexLock l(&mu_);
      const size_t before = pending_.size();
      const int64_t now = NowMs();
      // Three stages, a name at each: its index slots asked for, then (the
      // slots arrived) its record found and asked for, then read.
      std::array<SessionRecord*, kNameRecordAhead> found{};
      // Records live when each was found: a read may purge its record (its
      // retention over, or none), and a name given twice in a batch finds
      // that record for the second read too, so a read finds again if any
      // record went since.
      std::array<size_t, kNameRecordAhead> live_then{};
      auto find = [&](size_t j) {
        mu_.AssertHeld();  // The analysis does not follow into a lambda.
        const uint32_t* held = names_.Find(key(j));
        SessionRecord* rec = held == nullptr ? nullptr : records_.Get(*held);
        if (rec != nullptr) PrefetchRecord(rec);
        found[j % kNameRecordAhead] = rec;
        live_then[j % kNameRecordAhead] = records_.size();
      };
      for (size_t j = begin; j < end && j < begin + kNameSlotsAhead; ++j) {
        names_.Prefetch(key(j));
      }
      for (size_t j = begin; j < end && j < begin + kNameRecordAhead; ++j) {
        find(j);
      }
      for (size_t j = begin; j < end; ++j) {
        if (live_then[j % kNameRecordAhead] != records_.size()) find(j);
        SessionRecord* rec = found[j % kNameRecordAhead];
        if (j + kNameSlotsAhead < end) {
          names_.Prefetch(key(j + kNameSlotsAhead));
        }
        const size_t i = which[j];
        if (rec == nullptr || rec->service->dying || !SettleLocked(rec, now)) {
          statuses[i] = absl::NotFoundError("");
        } else {
          statuses[i] = absl::OkStatus();
          FillLocked(*rec, &out[i]);
        }
        if (j + kNameRecordAhead < end) find(j + kNameRecordAhead);
      }
      queued = pending_.size() != before;
    }
    if (queued) DeliverEvents();  // As in FetchBySid.
  }
}

absl::Status Shard::Update(const Sid128& service, const Sid128& sid,
                           const UpdateSessionParams& params, Session* out) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  if (rec == nullptr) return absl::NotFoundError("");

  if (absl::Status s = CheckEnums(std::nullopt, params.status); !s.ok()) {
    return s;
  }
  const std::optional<SessionStatus> to = params.status;
  const bool reopen =
      rec->status == SessionStatus::kClosed && to == SessionStatus::kInProgress;
  if (IsEnded(rec->status) && !reopen) {
    if (rec->status == SessionStatus::kFailed &&
        to == SessionStatus::kInProgress) {
      return TransitionError(rec->status, *to);
    }
    return EndedError();
  }
  if (!reopen && to.has_value() && *to != SessionStatus::kClosed) {
    return TransitionError(rec->status, *to);
  }
  if (params.date_expiry.has_value()) {
    if (absl::Status s = CheckDateExpiry(*params.date_expiry, now); !s.ok()) {
      return s;
    }
  } else if (reopen && rec->date_expiry_ms() != kNoTime &&
             rec->date_expiry_ms() <= now) {
    return InvalidParameter(
        "DateExpiry",
        "Re-opening a Session whose DateExpiry has passed needs a new one.");
  }
  if (params.ttl.has_value()) {
    if (absl::Status s = CheckTtl("Ttl", *params.ttl); !s.ok()) return s;
  }

  if (params.ttl.has_value()) rec->set_ttl(*params.ttl);
  if (params.date_expiry.has_value()) {
    rec->set_date_expiry_ms(absl::ToUnixMillis(*params.date_expiry));
  }
  rec->set_updated_ms(now);
  if (reopen) {
    SetStatusLocked(rec, SessionStatus::kInProgress);
    rec->end_reason = EndReason::kNone;
    if (rec->extras != nullptr) rec->extras->host_reason.clear();
    rec->set_ended_ms(kNoTime);
    rec->set_base_ms(now);
  }
  if (to == SessionStatus::kClosed) {
    EndLocked(rec, SessionStatus::kClosed, EndReason::kApi, "", now);
  } else {
    EmitLocked(EventType::kUpdated, *rec, now);
    RescheduleLocked(rec);
    // A new Ttl may already be spent: the Session expires at once. If its
    // retention is spent too, it is purged, but only after the answer is
    // taken: the update did happen, and says what it did. (The journal
    // holds the closed state; recovery derives the purge.)
    const int64_t instant = ExpiryInstant(*rec);
    if (instant != kNoTime && instant <= now) {
      ExpireLocked(rec, instant);
      RescheduleLocked(rec);
      JournalPutLocked(*rec);
      if (out != nullptr) FillLocked(*rec, out);
      SettleLocked(rec, now);
      return absl::OkStatus();
    }
  }
  JournalPutLocked(*rec);
  if (out != nullptr) FillLocked(*rec, out);
  return absl::OkStatus();
}

absl::Status Shard::Delete(const Sid128& service, const Sid128& sid) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  if (rec == nullptr) return absl::NotFoundError("");
  JournalDeleteLocked(service, sid);
  RemoveLocked(rec, EventType::kDeleted, now);
  return absl::OkStatus();
}

absl::Status Shard::RecordInteraction(const Sid128& service,
                                      const Sid128& sid) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  if (rec == nullptr) return absl::NotFoundError("");
  if (IsEnded(rec->status)) return EndedError();
  InteractLocked(rec, now);
  JournalInteractionLocked(*rec, now);
  return absl::OkStatus();
}

void Shard::InteractLocked(SessionRecord* rec, int64_t now) {
  rec->set_last_interaction_ms(now);
  rec->set_updated_ms(now);
  rec->set_base_ms(now);
  if (rec->status == SessionStatus::kOpen) {
    SetStatusLocked(rec, SessionStatus::kInProgress);
  }
  EmitLocked(EventType::kInteraction, *rec, now);
  RescheduleLocked(rec);
}

absl::Status Shard::End(const Sid128& service, const Sid128& sid,
                        SessionStatus status, std::string_view reason) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  if (rec == nullptr) return absl::NotFoundError("");
  if (IsEnded(rec->status)) return EndedError();
  if (reason.empty() || !IsValidUtf8(reason) ||
      Utf8Length(reason) > kMaxReasonChars) {
    return InvalidParameter("Reason",
                            "It must be 1 to 255 characters of UTF-8.");
  }
  EndLocked(rec, status, EndReason::kHost, reason, now);
  JournalPutLocked(*rec);
  return absl::OkStatus();
}

void Shard::List(const Sid128& service, const std::optional<PageCursor>& cursor,
                 size_t limit, std::vector<Listed>* out) {
  const size_t start = out->size();
  MutexLock l(&mu_);
  auto svc = services_.find(service);
  if (svc == services_.end()) return;
  const CreationOrder& order = svc->second->order;
  const int64_t now = NowMs();
  const bool newer =
      cursor.has_value() && cursor->direction == PageCursor::Direction::kBefore;
  auto seq_of = SeqOfLocked();
  // The live position the walk visits next, towards newer or older
  // Sessions past `seq`.
  auto seek = [&](uint64_t seq) {
    return newer ? order.FirstAfter(seq, seq_of)
                 : order.LastBefore(seq, seq_of);
  };
  uint32_t pos = order.Last();
  if (cursor.has_value()) {
    // The cursor's own Session, if it is here and still held, gives its
    // position at once; other shards search.
    const SessionRecord* at = LookUpLocked(cursor->sid);
    if (at != nullptr && at->service == svc->second.get() &&
        at->seq == cursor->seq) {
      pos = newer ? order.Next(at->order_pos) : order.Prev(at->order_pos);
    } else {
      pos = seek(cursor->seq);
    }
  }
  // Positions hold until a handle moves or a block goes (settling may
  // purge), and then the walk seeks past its last seq again.
  uint64_t generation = order.generation();
  while (out->size() - start < limit && pos != CreationOrder::kNoPosition) {
    SessionRecord* rec = records_.Get(order.at(pos));
    const uint64_t seq = rec->seq;
    const Sid128 sid = rec->sid;
    if (SettleLocked(rec, now)) out->push_back(Listed{seq, sid});
    if (order.generation() != generation) {
      generation = order.generation();
      pos = seek(seq);
    } else {
      pos = newer ? order.Next(pos) : order.Prev(pos);
    }
  }
}

int64_t Shard::Advance() {
  int64_t done = 0;
  bool more = true;
  bool first = true;
  int64_t now = 0;
  uint64_t target = 0;
  while (more) {
    // A name table a resize drained, freed after the lock (TakeRetired).
    absl::flat_hash_set<uint32_t, RecordByName, RecordByName> retired(
        0, RecordByName{&records_}, RecordByName{&records_});
    size_t retired_bytes = 0;
    {
      MutexLock l(&mu_);
      if (first) {
        now = NowMs();
        target = TickAtOrBefore(now);
        first = false;
      }
      // Each slice first moves the wheel on (a cascade places entries
      // again), then settles due Sessions with what is left of its budget.
      size_t budget = context_->bulk_slice;
      const bool caught_up = wheel_.Advance(target, &budget);
      TimerEntry* e = nullptr;
      // With no retention an expiry frees the record at once, erasing its
      // name: two cache misses in the name index, started a few records
      // ahead so that they overlap (the wheel prefetches the records).
      const bool frees = context_->retention_ms == 0;
      if (frees) {
        // The first names: the loop, once it has popped one, asks for the
        // name kNameLookahead places past the new head, that is, for the
        // one kNameLookahead + 1 past the popped one.
        for (size_t i = 0; i <= kNameLookahead; ++i) {
          const auto* due =
              static_cast<const SessionRecord*>(wheel_.PeekDue(i));
          if (due != nullptr && due->has_name()) {
            names_.Prefetch(RecordByName::Key(due));
          }
        }
      }
      // Due entries were collected first; settling one may reschedule it.
      while (budget > 0 && (e = wheel_.PopDue()) != nullptr) {
        --budget;
        if (frees) {
          const auto* ahead =
              static_cast<const SessionRecord*>(wheel_.PeekDue(kNameLookahead));
          if (ahead != nullptr && ahead->has_name()) {
            names_.Prefetch(RecordByName::Key(ahead));
          }
        }
        auto* rec = static_cast<SessionRecord*>(e);
        // Its Service is being deleted: RemoveDetached takes it.
        if (rec->service->dying) continue;
        const SessionStatus before = rec->status;
        if (!SettleLocked(rec, now)) {
          ++done;
          continue;
        }
        if (rec->status != before) ++done;
        // Not due after all (the clock went back): back on the wheel.
        if (!rec->scheduled()) RescheduleLocked(rec);
      }
      // What is left of the budget moves a resize of the name index on
      // (name_index.h), so that one finishes while the store is idle.
      names_.Step(budget);
      retired_bytes = names_.TakeRetired(&retired);
      more = !caught_up || wheel_.HasDue() || names_.resizing();
    }
    if (retired_bytes != 0) {
      // Freed here, at the end of this pass of the loop.
      if (context_->returned_bytes != nullptr) {
        context_->returned_bytes->fetch_add(retired_bytes,
                                            std::memory_order_relaxed);
      }
    }
    if (more) {
      DeliverEvents();  // The last slice's: the caller delivers.
      mu_.LetWaitersIn(kWaitersFirst);
    }
  }
  return done;
}

std::optional<uint64_t> Shard::NextEventTick() {
  MutexLock l(&mu_);
  return wheel_.NextEventTick();
}

void Shard::AddServiceLocked(const Sid128& sid, int64_t default_ttl,
                             std::shared_ptr<SessionQuota> quota) {
  auto svc = std::make_unique<ShardService>();
  svc->sid = sid;
  svc->default_ttl = default_ttl;
  svc->quota = std::move(quota);
  services_.emplace(sid, std::move(svc));
}

void Shard::SetDefaultTtlLocked(const Sid128& sid, int64_t default_ttl) {
  auto it = services_.find(sid);
  if (it != services_.end()) it->second->default_ttl = default_ttl;
}

void Shard::DetachServiceLocked(const Sid128& sid) {
  auto it = services_.find(sid);
  if (it == services_.end()) return;
  it->second->dying = true;
  dying_.push_back(std::move(it->second));
  services_.erase(it);
}

void Shard::RemoveDetached() {
  for (bool more = true; more;) {
    {
      MutexLock l(&mu_);
      const int64_t now = NowMs();
      size_t budget = context_->bulk_slice;
      while (budget > 0 && !dying_.empty()) {
        const CreationOrder& order = dying_.back()->order;
        while (budget > 0 && !order.empty()) {
          // Settled first, as a DeleteSession does: one whose purge was due
          // is counted purged, not deleted.
          SessionRecord* rec = records_.Get(order.at(order.Last()));
          if (SettleLocked(rec, now))
            RemoveLocked(rec, EventType::kDeleted, now);
          --budget;
        }
        if (order.empty()) dying_.pop_back();
      }
      more = !dying_.empty();
    }
    DeliverEvents();
    if (more) mu_.LetWaitersIn(kWaitersFirst);
  }
}

void Shard::FreeRetiredMemory() {
  std::vector<Slab<SessionRecord>::RetiredChunk> retired;
  {
    MutexLock l(&mu_);
    records_.ReleaseSpare();
    records_.TakeRetired(&retired);
  }
  retired.clear();  // The frees: a munmap, or glibc trimming its heap's top.
}

ShardStats Shard::Stats() {
  MutexLock l(&mu_);
  return stats_;
}

absl::Status Shard::CheckInvariants() {
  MutexLock l(&mu_);
  ShardStats counted;
  size_t indexed = 0;
  size_t foreign = 0;
  absl::Status broken;
  auto check = [&](uint32_t handle, SessionRecord* rec) -> absl::Status {
    mu_.AssertHeld();
    if (HandleOfLocked(rec) != handle) {
      return absl::InternalError("record's SID does not lead to its handle");
    }
    if (LookUpLocked(rec->sid) != rec) {
      return absl::InternalError("record not found by its SID");
    }
    if (context_->handles->Decode(rec->sid.hi) != handle) ++foreign;
    // A dying Service's Sessions wait for RemoveDetached, maybe off the
    // wheel (Advance leaves them).
    const bool dying = rec->service->dying;
    const bool known =
        dying ? std::any_of(dying_.begin(), dying_.end(),
                            [&](const std::unique_ptr<ShardService>& svc) {
                              return svc.get() == rec->service;
                            })
              : services_.contains(rec->service->sid) &&
                    services_.at(rec->service->sid).get() == rec->service;
    if (!known) return absl::InternalError("record of an unknown Service");
    const CreationOrder& order = rec->service->order;
    if (order.at(rec->order_pos) != handle) {
      return absl::InternalError("record missing from creation order");
    }
    ++counted.by_status[static_cast<int>(rec->status)];
    if (rec->has_name()) {
      ++counted.named;
      const uint32_t* n = names_.Find(RecordByName::Key(rec));
      if (n == nullptr || *n != handle) {
        return absl::InternalError("named record missing from name index");
      }
      if (NameShardByte(rec->service->sid, rec->unique_name()) !=
          ShardByte(rec->sid)) {
        return absl::InternalError("named record in the wrong shard");
      }
    }
    const bool needs_timer =
        ExpiryInstant(*rec) != kNoTime || PurgeInstant(*rec) != kNoTime;
    if (!dying && needs_timer != rec->scheduled()) {
      return absl::InternalError(
          Cat("record ", FormatSid("KC", rec->sid),
              needs_timer ? " is off the wheel" : " is on the wheel"));
    }
    if (IsEnded(rec->status) != (rec->ended_ms() != kNoTime) ||
        IsEnded(rec->status) != (rec->end_reason != EndReason::kNone)) {
      return absl::InternalError("ended state and date_ended disagree");
    }
    if (rec->extras != nullptr) {
      const SessionRecord::Extras& x = *rec->extras;
      counted.interactions += static_cast<int64_t>(x.interactions.size());
      uint64_t next = 0;
      for (const InteractionRecord& i : x.interactions) {
        if (i.seq < next || i.seq >= x.next_interaction_seq) {
          return absl::InternalError("Interactions out of order");
        }
        next = i.seq + 1;
      }
      if (x.participants.size() > 2) {
        return absl::InternalError("more than 2 Participants");
      }
    }
    return absl::OkStatus();
  };
  records_.ForEach([&](uint32_t handle, SessionRecord* rec) {
    if (broken.ok()) broken = check(handle, rec);
  });
  if (!broken.ok()) return broken;
  if (foreign != foreign_.size()) {
    return absl::InternalError("foreign SID table has stale entries");
  }
  for (const auto& svc : dying_) indexed += svc->order.size();
  for (const auto& [sid, svc] : services_) {
    const CreationOrder& order = svc->order;
    indexed += order.size();
    // Live cells in strictly increasing creation order.
    uint64_t last = 0;
    size_t live = 0;
    for (uint32_t pos = order.First(); pos != CreationOrder::kNoPosition;
         pos = order.Next(pos)) {
      ++live;
      const uint64_t seq = records_.Get(order.at(pos))->seq;
      if (live > 1 && seq <= last) {
        return absl::InternalError("creation order out of order");
      }
      last = seq;
    }
    if (live != order.size()) {
      return absl::InternalError("creation order miscounts its Sessions");
    }
  }
  if (indexed != records_.size()) {
    return absl::InternalError("creation order size differs from table");
  }
  if (names_.size() != static_cast<size_t>(counted.named)) {
    return absl::InternalError("name index has stale entries");
  }
  if (wheel_.size() > records_.size()) {
    return absl::InternalError("wheel holds more entries than records");
  }
  if (counted.by_status != stats_.by_status || counted.named != stats_.named) {
    return absl::InternalError("status counters drifted");
  }
  if (counted.interactions != stats_.interactions) {
    return absl::InternalError("Interaction counter drifted");
  }
  return absl::OkStatus();
}

}  // namespace sessionwheel::internal
