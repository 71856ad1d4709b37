// A Session's Participants and Interactions: what a Session accumulates
// after its create, kept in the record's extras (shard.h) under the
// Session's shard lock, journaled with it and saved in its image.
//
// The rules (docs/semantics.md, "Participants" and "Interactions"):
//
// - A Session holds at most 2 Participants, deleted ones included: a
//   delete is soft (date_deleted set), the Participant stays in the
//   Session, keeps its place and its identifier.
// - A message to a Participant is an Interaction of the Session and counts
//   as RecordInteraction does; it is refused on an ended Session (80607) and
//   to a deleted Participant (80614).
// - Interactions are bounded per Session and per store
//   (StoreOptions::max_interactions_per_session, max_interactions).
//
// Participant lists run in creation order and Interaction lists newest
// first; both are keyset pages over a seq that only grows within the
// Session (a Participant's position, an Interaction's seq), so a walk over
// a list that changes keeps every item that stays exactly once.

#include <algorithm>
#include <string>
#include <utility>

#include "engine/core/shard.h"
#include "engine/util/str_cat.h"
#include "engine/util/utf8.h"
#include "sessionwheel/errors.h"

namespace sessionwheel::internal {
namespace {

constexpr size_t kMaxParticipants = 2;
constexpr size_t kMaxIdentifierChars = 191;
constexpr size_t kMaxFriendlyNameChars = 255;
// Twilio's bound on a message body, in characters.
constexpr size_t kMaxBodyChars = 1600;

absl::Time ToTime(int64_t ms) { return absl::FromUnixMillis(ms); }

absl::Status CheckField(std::string_view param, std::string_view value,
                        size_t max_chars) {
  if (!IsValidUtf8(value)) {
    return InvalidParameter(param, "It must be valid UTF-8.");
  }
  if (Utf8Length(value) > max_chars) {
    return InvalidParameter(param, Cat("It must be ", std::to_string(max_chars),
                                       " characters or fewer."));
  }
  return absl::OkStatus();
}

absl::Status EndedError() {
  return ProxyError(absl::StatusCode::kFailedPrecondition, kErrorSessionClosed,
                    "The Session has ended: no Participant or message can be "
                    "added to it.");
}

Participant* FindParticipant(SessionRecord* rec, const Sid128& sid) {
  if (rec->extras == nullptr) return nullptr;
  for (Participant& p : rec->extras->participants) {
    if (Body(p.sid) == sid) return &p;
  }
  return nullptr;
}

std::vector<InteractionRecord>::iterator FindInteraction(SessionRecord* rec,
                                                         const Sid128& sid) {
  std::vector<InteractionRecord>& list = rec->MutableExtras().interactions;
  return std::find_if(list.begin(), list.end(),
                      [&](const InteractionRecord& i) { return i.sid == sid; });
}

void FillInteraction(const SessionRecord& rec, const InteractionRecord& i,
                     Interaction* out) {
  out->sid = ToSid("KI", i.sid);
  out->session_sid = ToSid("KC", rec.sid);
  out->service_sid = ToSid("KS", rec.service->sid);
  out->outbound_participant_sid = ToSid("KP", i.participant);
  out->body = i.body;
  out->date_created = out->date_updated = ToTime(i.created_ms);
}

// The page of `size` from `cursor` over `n` items whose (seq, SID) in list
// order is key(i), seqs strictly increasing along the list when
// `ascending`, strictly decreasing otherwise. "PA" (kAfter) is the page
// past the boundary in list order, "PB" (kBefore) the page before it, as
// the Session lists page (store.cc, Paginate).
template <typename KeyAt>
HistoryPaging PageOver(size_t n, KeyAt key, bool ascending,
                       const std::optional<PageCursor>& cursor, size_t size) {
  // Whether the item at i comes after seq `b` in list order.
  auto after = [&](size_t i, uint64_t b) {
    return ascending ? key(i).first > b : key(i).first < b;
  };
  HistoryPaging p;
  if (!cursor.has_value()) {
    p.begin = 0;
    p.end = std::min(n, size);
    if (p.end < n) p.next = key(p.end - 1);
    return p;
  }
  if (cursor->direction == PageCursor::Direction::kAfter) {
    size_t begin = 0;
    while (begin < n && !after(begin, cursor->seq)) ++begin;
    p.begin = begin;
    p.end = std::min(n, begin + size);
    if (p.end > p.begin) {
      p.previous = key(p.begin);
      if (p.end < n) p.next = key(p.end - 1);
    }
    return p;
  }
  // Before the boundary: the items that are not after it, nor it.
  size_t end = 0;
  while (end < n && !after(end, cursor->seq) && key(end).first != cursor->seq) {
    ++end;
  }
  p.end = end;
  p.begin = end > size ? end - size : 0;
  if (p.end > p.begin) {
    if (p.begin > 0) p.previous = key(p.begin);
    p.next = key(p.end - 1);
  }
  return p;
}

}  // namespace

absl::Status Shard::Read(absl::FunctionRef<absl::Status()> read) {
  absl::Status s;
  bool queued = false;
  {
    MutexLock l(&mu_);
    const size_t before = pending_.size();
    s = read();
    queued = pending_.size() != before;
  }
  // As FetchBySid: only a read that applied an expiry delivers.
  if (queued) DeliverEvents();
  return s;
}

// Participants
// -----------------------------------------------------------------

absl::Status Shard::CreateParticipant(const Sid128& service, const Sid128& sid,
                                      const ParticipantParams& params,
                                      Participant* out) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  if (rec == nullptr) return absl::NotFoundError("");
  if (params.identifier.empty()) {
    return InvalidParameter("Identifier", "It is required.");
  }
  if (absl::Status s =
          CheckField("Identifier", params.identifier, kMaxIdentifierChars);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckField("FriendlyName", params.friendly_name,
                                  kMaxFriendlyNameChars);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckField("ProxyIdentifier", params.proxy_identifier,
                                  kMaxIdentifierChars);
      !s.ok()) {
    return s;
  }
  if (IsEnded(rec->status)) return EndedError();
  const std::vector<Participant>* held =
      rec->extras == nullptr ? nullptr : &rec->extras->participants;
  if (held != nullptr) {
    for (const Participant& p : *held) {
      if (p.identifier == params.identifier) {
        return IdentifierInSessionError(params.identifier);
      }
    }
    if (held->size() >= kMaxParticipants) {
      return ProxyError(absl::StatusCode::kInvalidArgument,
                        kErrorTooManyParticipants,
                        "A Session can have at most 2 Participants (deleted "
                        "ones count).");
    }
  }
  Participant& p = rec->MutableExtras().participants.emplace_back();
  p.sid = ToSid("KP", context_->sids->Next());
  p.identifier = params.identifier;
  p.friendly_name = params.friendly_name;
  p.proxy_identifier = params.proxy_identifier;
  p.date_created = p.date_updated = ToTime(now);
  JournalPutLocked(*rec);
  if (out != nullptr) *out = p;
  return absl::OkStatus();
}

absl::Status Shard::FetchParticipant(const Sid128& service, const Sid128& sid,
                                     const Sid128& participant,
                                     Participant* out) {
  PrefetchUnlocked(sid);
  return Read([&]() -> absl::Status {
    mu_.AssertHeld();
    SessionRecord* rec = FindLocked(service, sid, NowMs());
    Participant* p =
        rec == nullptr ? nullptr : FindParticipant(rec, participant);
    if (p == nullptr) return absl::NotFoundError("");
    *out = *p;
    return absl::OkStatus();
  });
}

absl::Status Shard::DeleteParticipant(const Sid128& service, const Sid128& sid,
                                      const Sid128& participant) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  Participant* p = rec == nullptr ? nullptr : FindParticipant(rec, participant);
  if (p == nullptr) return absl::NotFoundError("");
  if (p->date_deleted.has_value()) return absl::OkStatus();
  p->date_deleted = p->date_updated = ToTime(now);
  JournalPutLocked(*rec);
  return absl::OkStatus();
}

absl::Status Shard::ListParticipants(const Sid128& service, const Sid128& sid,
                                     const std::optional<PageCursor>& cursor,
                                     size_t size, ParticipantPage* out,
                                     HistoryPaging* paging) {
  PrefetchUnlocked(sid);
  return Read([&]() -> absl::Status {
    mu_.AssertHeld();
    SessionRecord* rec = FindLocked(service, sid, NowMs());
    if (rec == nullptr) return absl::NotFoundError("");
    static const std::vector<Participant> kNone;
    const std::vector<Participant>& all =
        rec->extras == nullptr ? kNone : rec->extras->participants;
    // A Participant's position is its seq: none is ever taken out.
    *paging = PageOver(
        all.size(),
        [&](size_t i) { return std::make_pair(uint64_t{i}, Body(all[i].sid)); },
        /*ascending=*/true, cursor, size);
    out->participants.assign(all.begin() + paging->begin,
                             all.begin() + paging->end);
    return absl::OkStatus();
  });
}

// Interactions
// -----------------------------------------------------------------

absl::Status Shard::RecordMessage(const Sid128& service, const Sid128& sid,
                                  const Sid128& participant,
                                  std::string_view body, Interaction* out) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  SessionRecord* rec = FindLocked(service, sid, now);
  Participant* p = rec == nullptr ? nullptr : FindParticipant(rec, participant);
  if (p == nullptr) return absl::NotFoundError("");
  if (body.empty()) return InvalidParameter("Body", "It is required.");
  if (absl::Status s = CheckField("Body", body, kMaxBodyChars); !s.ok()) {
    return s;
  }
  if (IsEnded(rec->status)) return EndedError();
  if (p->date_deleted.has_value()) {
    return ProxyError(absl::StatusCode::kFailedPrecondition,
                      kErrorNoParticipant,
                      Cat("Participant ", p->sid.ToString(),
                          " was removed from the Session and cannot be sent "
                          "messages."));
  }
  SessionRecord::Extras& extras = rec->MutableExtras();
  const int64_t per_session = context_->max_interactions_per_session;
  if (per_session != kNoLimit &&
      static_cast<int64_t>(extras.interactions.size()) >= per_session) {
    return ProxyError(absl::StatusCode::kResourceExhausted,
                      kErrorTooManyRequests,
                      Cat("Too Many Requests: the Session holds its maximum "
                          "of ",
                          std::to_string(per_session), " Interactions."));
  }
  if (!context_->interaction_quota->TryTake()) {
    return ProxyError(absl::StatusCode::kResourceExhausted,
                      kErrorTooManyRequests,
                      Cat("Too Many Requests: the store holds its maximum of ",
                          std::to_string(context_->interaction_quota->max()),
                          " Interactions."));
  }
  InteractionRecord& i = extras.interactions.emplace_back();
  i.sid = context_->sids->Next();
  i.participant = participant;
  i.seq = extras.next_interaction_seq++;
  i.created_ms = now;
  i.body.assign(body.data(), body.size());
  ++stats_.interactions;
  InteractLocked(rec, now);
  JournalMessageLocked(*rec, i);
  FillInteraction(*rec, i, out);
  return absl::OkStatus();
}

absl::Status Shard::FetchInteraction(const Sid128& service, const Sid128& sid,
                                     const Sid128& interaction,
                                     Interaction* out) {
  PrefetchUnlocked(sid);
  return Read([&]() -> absl::Status {
    mu_.AssertHeld();
    SessionRecord* rec = FindLocked(service, sid, NowMs());
    if (rec == nullptr || rec->extras == nullptr) {
      return absl::NotFoundError("");
    }
    auto it = FindInteraction(rec, interaction);
    if (it == rec->extras->interactions.end()) return absl::NotFoundError("");
    FillInteraction(*rec, *it, out);
    return absl::OkStatus();
  });
}

absl::Status Shard::DeleteInteraction(const Sid128& service, const Sid128& sid,
                                      const Sid128& interaction) {
  PrefetchUnlocked(sid);
  MutexLock l(&mu_);
  SessionRecord* rec = FindLocked(service, sid, NowMs());
  if (rec == nullptr || rec->extras == nullptr) {
    return absl::NotFoundError("");
  }
  auto it = FindInteraction(rec, interaction);
  if (it == rec->extras->interactions.end()) return absl::NotFoundError("");
  rec->extras->interactions.erase(it);
  context_->interaction_quota->Release();
  --stats_.interactions;
  JournalInteractionDeleteLocked(*rec, interaction);
  return absl::OkStatus();
}

absl::Status Shard::ListInteractions(const Sid128& service, const Sid128& sid,
                                     const std::optional<PageCursor>& cursor,
                                     size_t size, InteractionPage* out,
                                     HistoryPaging* paging) {
  PrefetchUnlocked(sid);
  return Read([&]() -> absl::Status {
    mu_.AssertHeld();
    SessionRecord* rec = FindLocked(service, sid, NowMs());
    if (rec == nullptr) return absl::NotFoundError("");
    static const std::vector<InteractionRecord> kNone;
    const std::vector<InteractionRecord>& all =
        rec->extras == nullptr ? kNone : rec->extras->interactions;
    const size_t n = all.size();
    // Newest first: list position i is the vector's n - 1 - i.
    *paging = PageOver(
        n,
        [&](size_t i) {
          const InteractionRecord& r = all[n - 1 - i];
          return std::make_pair(r.seq, r.sid);
        },
        /*ascending=*/false, cursor, size);
    out->interactions.clear();
    for (size_t i = paging->begin; i < paging->end; ++i) {
      FillInteraction(*rec, all[n - 1 - i], &out->interactions.emplace_back());
    }
    return absl::OkStatus();
  });
}

}  // namespace sessionwheel::internal
