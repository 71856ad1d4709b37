// The core's side of snapshots: a record converted to the persist room's
// SessionImage and back, a shard's records copied out under its lock and put
// back into a new store, and the name rules DecodeSnapshot checks against.
//
// This is the only place that knows both a record and an image, so the
// record's layout can change without touching the file format
// (engine/persist/snapshot.h) and the format without touching the record.

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/core/durability.h"
#include "engine/core/shard.h"
#include "engine/persist/journal.h"
#include "engine/persist/snapshot.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

// Slack past twice the records a shard will hold, within which a restored
// SID's handle is taken as this store's (the record placed at it) rather
// than another store's bits (placed anywhere, found through foreign_).
// 4096, as while the slab's chunks held 4096 records, so that smaller
// chunks do not send more of a sparse store's SIDs to foreign_.
constexpr uint64_t kRestoreHandleSlack = 4096;

// The enums, one by one: a switch, so an enumerator added to the record's
// enums fails the build here until the format gives it a number.
SessionImage::Status ToImage(SessionStatus status) {
  switch (status) {
    case SessionStatus::kOpen:
      return SessionImage::Status::kOpen;
    case SessionStatus::kInProgress:
      return SessionImage::Status::kInProgress;
    case SessionStatus::kClosed:
      return SessionImage::Status::kClosed;
    case SessionStatus::kFailed:
      return SessionImage::Status::kFailed;
    case SessionStatus::kUnknown:
      return SessionImage::Status::kUnknown;
  }
  assert(false);
  return SessionImage::Status::kUnknown;
}

SessionStatus FromImage(SessionImage::Status status) {
  switch (status) {
    case SessionImage::Status::kOpen:
      return SessionStatus::kOpen;
    case SessionImage::Status::kInProgress:
      return SessionStatus::kInProgress;
    case SessionImage::Status::kClosed:
      return SessionStatus::kClosed;
    case SessionImage::Status::kFailed:
      return SessionStatus::kFailed;
    case SessionImage::Status::kUnknown:
      return SessionStatus::kUnknown;
  }
  assert(false);  // DecodeSnapshot refuses any other number.
  return SessionStatus::kUnknown;
}

SessionImage::Mode ToImage(SessionMode mode) {
  switch (mode) {
    case SessionMode::kMessageOnly:
      return SessionImage::Mode::kMessageOnly;
    case SessionMode::kVoiceOnly:
      return SessionImage::Mode::kVoiceOnly;
    case SessionMode::kVoiceAndMessage:
      return SessionImage::Mode::kVoiceAndMessage;
  }
  assert(false);
  return SessionImage::Mode::kVoiceAndMessage;
}

SessionMode FromImage(SessionImage::Mode mode) {
  switch (mode) {
    case SessionImage::Mode::kMessageOnly:
      return SessionMode::kMessageOnly;
    case SessionImage::Mode::kVoiceOnly:
      return SessionMode::kVoiceOnly;
    case SessionImage::Mode::kVoiceAndMessage:
      return SessionMode::kVoiceAndMessage;
  }
  assert(false);  // DecodeSnapshot refuses any other number.
  return SessionMode::kVoiceAndMessage;
}

SessionImage::EndReason ToImage(EndReason reason) {
  switch (reason) {
    case EndReason::kNone:
      return SessionImage::EndReason::kNone;
    case EndReason::kApi:
      return SessionImage::EndReason::kApi;
    case EndReason::kTtl:
      return SessionImage::EndReason::kTtl;
    case EndReason::kDateExpiry:
      return SessionImage::EndReason::kDateExpiry;
    case EndReason::kHost:
      return SessionImage::EndReason::kHost;
  }
  assert(false);
  return SessionImage::EndReason::kNone;
}

EndReason FromImage(SessionImage::EndReason reason) {
  switch (reason) {
    case SessionImage::EndReason::kNone:
      return EndReason::kNone;
    case SessionImage::EndReason::kApi:
      return EndReason::kApi;
    case SessionImage::EndReason::kTtl:
      return EndReason::kTtl;
    case SessionImage::EndReason::kDateExpiry:
      return EndReason::kDateExpiry;
    case SessionImage::EndReason::kHost:
      return EndReason::kHost;
  }
  assert(false);  // DecodeSnapshot refuses any other number.
  return EndReason::kNone;
}

// A nullable time: the record's null and the image's are each their own.
int64_t ToImageMs(int64_t ms) { return ms == kNoTime ? kNullMs : ms; }
int64_t FromImageMs(int64_t ms) { return ms == kNullMs ? kNoTime : ms; }

// Fills *image from the record, reusing the image's buffers; its
// Interactions too if `with_interactions` (a journal record of a change to
// the Session leaves them out: they have records of their own).
void FillImage(const SessionRecord& rec, SessionImage* image,
               bool with_interactions) {
  image->sid = rec.sid;
  image->service = rec.service->sid;
  image->seq = rec.seq;
  image->created_ms = rec.created_ms();
  image->updated_ms = rec.updated_ms();
  image->base_ms = rec.base_ms();
  image->ended_ms = ToImageMs(rec.ended_ms());
  image->last_interaction_ms = ToImageMs(rec.last_interaction_ms());
  image->date_expiry_ms = ToImageMs(rec.date_expiry_ms());
  image->ttl = rec.ttl();
  image->status = ToImage(rec.status);
  image->mode = ToImage(rec.mode);
  image->end_reason = ToImage(rec.end_reason);
  if (rec.has_name()) {
    const std::string_view name = rec.unique_name();
    if (image->unique_name.has_value()) {
      image->unique_name->assign(name.data(), name.size());
    } else {
      image->unique_name.emplace(name);
    }
  } else {
    image->unique_name.reset();
  }
  image->host_reason.clear();
  image->participants.clear();
  if (rec.extras != nullptr) {
    if (rec.end_reason == EndReason::kHost) {
      image->host_reason = rec.extras->host_reason;
    }
    for (const Participant& p : rec.extras->participants) {
      image->participants.push_back(ParticipantImage{
          Body(p.sid), p.identifier, p.friendly_name, p.proxy_identifier,
          absl::ToUnixMillis(p.date_created),
          absl::ToUnixMillis(p.date_updated),
          p.date_deleted.has_value() ? absl::ToUnixMillis(*p.date_deleted)
                                     : kNullMs});
    }
  }
  image->has_interactions = with_interactions;
  image->next_interaction_seq =
      rec.extras != nullptr ? rec.extras->next_interaction_seq : 0;
  image->interactions.clear();
  if (with_interactions && rec.extras != nullptr) {
    for (const InteractionRecord& i : rec.extras->interactions) {
      image->interactions.push_back(
          InteractionImage{i.sid, i.participant, i.seq, i.created_ms, i.body});
    }
  }
}

InteractionRecord FromImage(const InteractionImage& i) {
  return InteractionRecord{i.sid, i.participant, i.seq, i.created_ms, i.body};
}

int64_t InteractionsOf(const SessionRecord& rec) {
  return rec.extras == nullptr
             ? 0
             : static_cast<int64_t>(rec.extras->interactions.size());
}

// Sets what changes can change: everything but the SID, the Service, the
// creation order and the name.
void SetState(const SessionImage& image, SessionRecord* rec) {
  rec->set_created_ms(image.created_ms);
  rec->set_updated_ms(image.updated_ms);
  rec->set_base_ms(image.base_ms);
  rec->set_ended_ms(FromImageMs(image.ended_ms));
  rec->set_last_interaction_ms(FromImageMs(image.last_interaction_ms));
  rec->set_date_expiry_ms(FromImageMs(image.date_expiry_ms));
  rec->set_ttl(image.ttl);
  rec->status = FromImage(image.status);
  rec->mode = FromImage(image.mode);
  rec->end_reason = FromImage(image.end_reason);
  if (rec->extras != nullptr) {
    rec->extras->host_reason.clear();
    rec->extras->participants.clear();
    if (image.has_interactions) rec->extras->interactions.clear();
  }
  if (!image.host_reason.empty() || !image.participants.empty() ||
      !image.interactions.empty() || image.next_interaction_seq != 0) {
    SessionRecord::Extras& extras = rec->MutableExtras();
    extras.host_reason = image.host_reason;
    for (const ParticipantImage& p : image.participants) {
      extras.participants.push_back(Participant{
          ToSid("KP", p.sid), p.identifier, p.friendly_name, p.proxy_identifier,
          absl::FromUnixMillis(p.created_ms),
          absl::FromUnixMillis(p.updated_ms),
          p.deleted_ms == kNullMs
              ? std::nullopt
              : std::optional<absl::Time>(absl::FromUnixMillis(p.deleted_ms))});
    }
    extras.next_interaction_seq =
        std::max(extras.next_interaction_seq, image.next_interaction_seq);
    for (const InteractionImage& i : image.interactions) {
      extras.interactions.push_back(FromImage(i));
    }
  }
}

// Fills a new record, already at its handle with its SID, from `image`.
void FillRecord(const SessionImage& image, ShardService* service,
                SessionRecord* rec) {
  if (image.unique_name.has_value()) rec->SetName(*image.unique_name);
  rec->service = service;
  rec->seq = image.seq;
  SetState(image, rec);
}

// The store's own rules, so a snapshot is checked by the very functions
// that check a create.
class StoreSnapshotRules final : public SnapshotRules {
 public:
  bool IsValidName(std::string_view name) const override {
    return CheckUniqueName(name).ok();
  }
  uint8_t NameShardByte(const Sid128& service,
                        std::string_view name) const override {
    return internal::NameShardByte(service, name);
  }
};

}  // namespace

const SnapshotRules& SnapshotRulesOfTheStore() {
  static const SnapshotRules* const rules = new StoreSnapshotRules;
  return *rules;
}

size_t Shard::CaptureSlice(uint32_t* cursor, std::vector<SessionImage>* out) {
  MutexLock l(&mu_);
  size_t copied = 0;
  uint32_t h = *cursor;
  // Handles are visited, not only live ones: a slice also bounds the walk
  // over freed handles.
  const uint32_t end = records_.end();
  for (size_t visited = 0;
       h < end && copied < out->size() && visited < 4 * kCaptureSlice;
       ++h, ++visited) {
    if (!records_.IsLive(h)) continue;
    const SessionRecord& rec = *records_.Get(h);
    // A deleted Service's Sessions are gone for every reader already.
    if (!rec.service->dying) {
      FillImage(rec, &(*out)[copied++], /*with_interactions=*/true);
    }
  }
  *cursor = h < end ? h : kCursorDone;
  return copied;
}

SessionRecord* Shard::PlaceRestoredLocked(const Sid128& sid,
                                          uint32_t max_handle) {
  const uint32_t carried = context_->handles->Decode(sid.hi);
  uint32_t handle = carried;
  if (!records_.AllocateAt(carried, max_handle)) {
    // Minted by another store, or its handle is taken: found by SID through
    // the foreign table instead (unless the slab happens to hand out the
    // very handle the SID carries).
    handle = records_.Allocate();
    if (handle != carried) foreign_.emplace(sid, handle);
  }
  SessionRecord* rec = records_.Get(handle);
  rec->sid = sid;
  return rec;
}

absl::Status Shard::RestoreSessions(std::vector<SessionImage>* images,
                                    absl::flat_hash_set<Sid128>* dropped) {
  // A Service's CreationOrder is built oldest first, and a file holds
  // Sessions in the order the writer's slices met them. Sorting the numbers
  // with their indexes keeps the sort in one small array.
  std::vector<std::pair<uint64_t, uint32_t>> by_seq(images->size());
  for (size_t i = 0; i < images->size(); ++i) {
    by_seq[i] = {(*images)[i].seq, static_cast<uint32_t>(i)};
  }
  std::sort(by_seq.begin(), by_seq.end());
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  // A SID of this store carries a handle below its count of records then;
  // anything far past what this shard will hold is another store's bits.
  const uint64_t bound =
      2 * (records_.size() + images->size()) + kRestoreHandleSlack;
  const uint32_t max_handle = static_cast<uint32_t>(
      std::min<uint64_t>(bound, std::numeric_limits<uint32_t>::max()));
  std::vector<ShardService*> out_of_order;
  for (const auto& [seq, i] : by_seq) {
    const SessionImage& image = (*images)[i];
    // A SID and a name each pick one shard (the reader checked a named
    // Session's shard byte), so this shard's tables find every duplicate.
    if (LookUpLocked(image.sid) != nullptr ||
        (!dropped->empty() && dropped->contains(image.sid))) {
      return absl::DataLossError(
          Cat("snapshot is corrupted: two Sessions have the SID ",
              FormatSid("KC", image.sid)));
    }
    auto svc = services_.find(image.service);
    if (svc == services_.end()) {
      return absl::InternalError("restored Session of an unknown Service");
    }
    ShardService* service = svc->second.get();
    if (image.unique_name.has_value()) {
      // Not damage: a snapshot is copied a slice at a time while the store
      // runs, so a Session deleted after its slice was copied and the one
      // that took its name, in a slice copied later, are both there. The
      // newer is kept; the older was gone before it was created.
      const uint32_t* held =
          names_.Find(NameKey{image.service, *image.unique_name});
      if (held != nullptr) {
        SessionRecord* other = records_.Get(*held);
        if (other->seq > image.seq) {
          dropped->insert(image.sid);
          continue;
        }
        dropped->insert(other->sid);
        RemoveLocked(other, EventType::kPurged, now);  // Nobody listens yet.
      }
    }
    // Never refused for a limit: a store's own snapshot can hold more than
    // its limits (shards are copied at different moments), and nothing is
    // trimmed. Creates wait until the count is below the limit again.
    context_->quota->Force();
    service->quota->Force();
    const CreationOrder& order = service->order;
    // Only a snapshot of a store with other shards hands this shard its
    // Sessions in more than one batch, and only then can one be older.
    if (!order.empty() && records_.Get(order.at(order.Last()))->seq > seq &&
        std::find(out_of_order.begin(), out_of_order.end(), service) ==
            out_of_order.end()) {
      out_of_order.push_back(service);
    }
    SessionRecord* rec = PlaceRestoredLocked(image.sid, max_handle);
    FillRecord(image, service, rec);
    CountInteractionsLocked(0, InteractionsOf(*rec));
    const uint32_t handle = HandleOfLocked(rec);
    if (rec->has_name()) {
      names_.Insert(handle);
      ++stats_.named;
    }
    AppendToOrderLocked(rec, handle);
    ++stats_.by_status[static_cast<int>(rec->status)];
    RescheduleLocked(rec);
  }
  for (ShardService* service : out_of_order) {
    service->order.Sort(SeqOfLocked(), MovedInOrderLocked());
  }
  return absl::OkStatus();
}

// Journal and replay
// -----------------------------------------------------------------

void Shard::JournalLocked(RecordType type,
                          absl::FunctionRef<void(std::string*)> write_body) {
  const ChangeHeader header{
      context_->sids->minted(),
      context_->next_seq->load(std::memory_order_relaxed)};
  ThreadJournalLsn() = context_->journal->AppendWith(
      journal_lane_, static_cast<uint8_t>(type), [&](std::string* out) {
        AppendChangeHeader(header, out);
        write_body(out);
      });
}

void Shard::JournalPutLocked(const SessionRecord& rec) {
  if (context_->journal == nullptr) return;
  if (journal_image_ == nullptr) {
    journal_image_ = std::make_unique<SessionImage>();
  }
  FillImage(rec, journal_image_.get(), /*with_interactions=*/false);
  JournalLocked(RecordType::kSessionPut, [&](std::string* out) {
    mu_.AssertHeld();
    AppendSessionImage(*journal_image_, out);
  });
}

void Shard::JournalDeleteLocked(const Sid128& service, const Sid128& sid) {
  if (context_->journal == nullptr) return;
  JournalLocked(RecordType::kSessionDelete, [&](std::string* out) {
    AppendSidBytes(service, out);
    AppendSidBytes(sid, out);
  });
}

void Shard::JournalInteractionLocked(const SessionRecord& rec, int64_t at_ms) {
  if (context_->journal == nullptr) return;
  ThreadJournalLsn() = context_->journal->AppendWith(
      journal_lane_, static_cast<uint8_t>(RecordType::kSessionInteraction),
      [&](std::string* out) {
        AppendSidBytes(rec.sid, out);
        AppendU64(static_cast<uint64_t>(at_ms), out);
      });
}

absl::Status Shard::ApplySessionImage(const SessionImage& image) {
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  auto svc = services_.find(image.service);
  SessionRecord* rec = LookUpLocked(image.sid);
  // The same SID under another Service, or with another name, is not this
  // Session: nothing changes either. Make way for the record.
  if (rec != nullptr &&
      (rec->service->sid != image.service || rec->service->dying ||
       rec->has_name() != image.unique_name.has_value() ||
       (rec->has_name() && rec->unique_name() != *image.unique_name))) {
    RemoveLocked(rec, EventType::kDeleted, now);
    rec = nullptr;
  }
  if (svc == services_.end()) return absl::OkStatus();
  if (rec != nullptr) {
    --stats_.by_status[static_cast<int>(rec->status)];
    const int64_t before = InteractionsOf(*rec);
    SetState(image, rec);
    CountInteractionsLocked(before, InteractionsOf(*rec));
    ++stats_.by_status[static_cast<int>(rec->status)];
    RescheduleLocked(rec);
    return absl::OkStatus();
  }
  if (image.unique_name.has_value()) {
    const uint32_t* held =
        names_.Find(NameKey{image.service, *image.unique_name});
    if (held != nullptr) {
      SessionRecord* holder = records_.Get(*held);
      RemoveLocked(
          holder,
          holder->service->dying ? EventType::kDeleted : EventType::kPurged,
          now);
    }
  }
  context_->quota->Force();
  svc->second->quota->Force();
  const uint64_t bound = 2 * (records_.size() + 1) + kRestoreHandleSlack;
  rec = PlaceRestoredLocked(image.sid,
                            static_cast<uint32_t>(std::min<uint64_t>(
                                bound, std::numeric_limits<uint32_t>::max())));
  FillRecord(image, svc->second.get(), rec);
  CountInteractionsLocked(0, InteractionsOf(*rec));
  const uint32_t handle = HandleOfLocked(rec);
  if (rec->has_name()) {
    names_.Insert(handle);
    ++stats_.named;
  }
  // A fuzzy checkpoint may hold newer Sessions of the Service than one the
  // journal brings back: it goes in its place, not last.
  rec->order_pos = rec->service->order.Insert(handle, rec->seq, SeqOfLocked(),
                                              MovedInOrderLocked());
  ++stats_.by_status[static_cast<int>(rec->status)];
  RescheduleLocked(rec);
  return absl::OkStatus();
}

void Shard::SettleAll() {
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  records_.ForEach([&](uint32_t, SessionRecord* rec) {
    mu_.AssertHeld();
    // A record freed here is skipped by the walk: the slab marks it free.
    if (SettleLocked(rec, now)) RescheduleLocked(rec);
  });
}

void Shard::ApplySessionInteraction(const Sid128& sid, int64_t at_ms) {
  MutexLock l(&mu_);
  SessionRecord* rec = LookUpLocked(sid);
  if (rec == nullptr) return;
  ApplyInteractionLocked(rec, at_ms);
}

void Shard::ApplyMessage(const Sid128& sid, const InteractionImage& image) {
  MutexLock l(&mu_);
  SessionRecord* rec = LookUpLocked(sid);
  if (rec == nullptr) return;
  ApplyInteractionLocked(rec, image.created_ms);
  SessionRecord::Extras& extras = rec->MutableExtras();
  extras.next_interaction_seq =
      std::max(extras.next_interaction_seq, image.seq + 1);
  std::vector<InteractionRecord>& list = extras.interactions;
  // Replayed over a checkpoint that may hold it already, or newer ones.
  auto at = std::lower_bound(
      list.begin(), list.end(), image.seq,
      [](const InteractionRecord& i, uint64_t seq) { return i.seq < seq; });
  if (at != list.end() && at->sid == image.sid) return;
  list.insert(at, FromImage(image));
  CountInteractionsLocked(0, 1);
}

void Shard::ApplyInteractionDelete(const Sid128& sid,
                                   const Sid128& interaction) {
  MutexLock l(&mu_);
  SessionRecord* rec = LookUpLocked(sid);
  if (rec == nullptr || rec->extras == nullptr) return;
  std::vector<InteractionRecord>& list = rec->extras->interactions;
  auto it = std::find_if(
      list.begin(), list.end(),
      [&](const InteractionRecord& i) { return i.sid == interaction; });
  if (it == list.end()) return;
  list.erase(it);
  CountInteractionsLocked(1, 0);
}

void Shard::CountInteractionsLocked(int64_t before, int64_t after) {
  stats_.interactions += after - before;
  if (after > before) context_->interaction_quota->Force(after - before);
  if (after < before) context_->interaction_quota->Release(before - after);
}

void Shard::JournalMessageLocked(const SessionRecord& rec,
                                 const InteractionRecord& interaction) {
  if (context_->journal == nullptr) return;
  JournalLocked(RecordType::kMessageInteraction, [&](std::string* out) {
    AppendSidBytes(rec.sid, out);
    AppendInteractionImage(
        InteractionImage{interaction.sid, interaction.participant,
                         interaction.seq, interaction.created_ms,
                         interaction.body},
        out);
  });
}

void Shard::JournalInteractionDeleteLocked(const SessionRecord& rec,
                                           const Sid128& interaction) {
  if (context_->journal == nullptr) return;
  JournalLocked(RecordType::kInteractionDelete, [&](std::string* out) {
    AppendSidBytes(rec.sid, out);
    AppendSidBytes(interaction, out);
  });
}

void Shard::ApplyInteractionLocked(SessionRecord* rec, int64_t at_ms) {
  --stats_.by_status[static_cast<int>(rec->status)];
  rec->set_last_interaction_ms(at_ms);
  rec->set_updated_ms(at_ms);
  rec->set_base_ms(at_ms);
  rec->status = SessionStatus::kInProgress;
  rec->set_ended_ms(kNoTime);
  rec->end_reason = EndReason::kNone;
  if (rec->extras != nullptr) rec->extras->host_reason.clear();
  ++stats_.by_status[static_cast<int>(rec->status)];
  RescheduleLocked(rec);
}

void Shard::ApplySessionDelete(const Sid128& service, const Sid128& sid) {
  MutexLock l(&mu_);
  SessionRecord* rec = LookUpLocked(sid);
  if (rec != nullptr && rec->service->sid == service) {
    RemoveLocked(rec, EventType::kDeleted, NowMs());
  }
}

}  // namespace sessionwheel::internal
