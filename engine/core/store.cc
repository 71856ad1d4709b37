// SessionStore::Open and the store that routes each call to its shard.
//
// Lock order: services_mu_, then one shard lock. Session calls take exactly
// one shard lock (two, one after the other, for a fetch by a SID-shaped
// name). Service writes hold services_mu_, which serialises them, and visit
// the shards one lock at a time: a new Service is in every shard before it
// is in the registry; a deleted one leaves the registry first, and each
// shard drops it with the Sessions created there meanwhile. No lock is held
// while a listener runs.

#include "sessionwheel/store.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "engine/core/durability.h"
#include "engine/core/page_token.h"
#include "engine/core/shard.h"
#include "engine/persist/file_io.h"
#include "engine/persist/journal.h"
#include "engine/persist/snapshot.h"
#include "engine/util/sid.h"
#include "engine/util/str_cat.h"
#include "sessionwheel/errors.h"

namespace sessionwheel {
namespace {

using internal::Cat;
using internal::MutexLock;
using internal::PageCursor;
using internal::Shard;
using internal::Sid128;

constexpr int kMaxShards = 256;
constexpr int kMaxPageSize = 1000;
constexpr int kMaxInteractionPage = 100;
// Keys each shard is asked for beyond its share of a page.
constexpr size_t kListMargin = 16;

// The core says what was not found in its own words; the fake answers with
// the REST resource path (engine/fake/proxy_fake.cc).
absl::Status ServiceNotFound(const Sid& service) {
  return ProxyError(absl::StatusCode::kNotFound, kErrorNotFound,
                    Cat("Service ", service.ToString(), " not found"));
}

absl::Status SessionNotFound(const Sid& service, std::string_view id) {
  return ProxyError(
      absl::StatusCode::kNotFound, kErrorNotFound,
      Cat("Session ", id, " not found in Service ", service.ToString()));
}

absl::Status InvalidPageToken() {
  return ProxyError(absl::StatusCode::kInvalidArgument, kErrorInvalidPageToken,
                    "Invalid PageToken.");
}

absl::Status CheckPageSize(int page_size) {
  if (page_size < 1 || page_size > kMaxPageSize) {
    return InvalidParameter("PageSize", "It must be between 1 and 1000.");
  }
  return absl::OkStatus();
}

// The body of a SID of the kind `prefix`; nullopt for another kind.
std::optional<Sid128> BodyOf(std::string_view prefix, const Sid& sid) {
  if (sid.prefix() != prefix) return std::nullopt;
  return internal::Body(sid);
}

class StoreImpl final : public SessionStore,
                        public internal::DurableStore,
                        private internal::WakeupSink,
                        private ClockObserver {
 public:
  using SessionStore::CreateSession;
  using SessionStore::FetchSession;
  using SessionStore::UpdateSession;

  // `mint_salt`: 0 for a new store; else mixed into the key SIDs are
  // minted under (see sids_).
  StoreImpl(const StoreOptions& options, const Sid& account_sid,
            uint64_t mint_salt)
      : seed_(options.seed.has_value() ? *options.seed
                                       : internal::SidGenerator::RandomSeed()),
        sids_(seed_ ^ mint_salt, options.sid_tag),
        handles_(seed_),
        mask_(static_cast<uint32_t>(options.shards - 1)),
        quota_(options.max_sessions),
        interaction_quota_(options.max_interactions),
        max_sessions_per_service_(options.max_sessions_per_service),
        max_services_(options.max_services),
        follower_(options.follower),
        trim_after_purge_(options.trim_after_purge),
        account_sid_(account_sid) {
    context_.clock = options.clock != nullptr ? options.clock : SystemClock();
    context_.origin_ms = internal::ClockMs(context_.clock->Now());
    context_.tick_ms = absl::ToInt64Milliseconds(options.tick);
    context_.retention_ms =
        options.closed_retention == absl::InfiniteDuration()
            ? internal::kNoTime
            : absl::ToInt64Milliseconds(options.closed_retention);
    context_.bulk_slice = static_cast<size_t>(options.bulk_slice);
    context_.sids = &sids_;
    context_.next_seq = &next_seq_;
    context_.handles = &handles_;
    context_.returned_bytes = &returned_bytes_;
    context_.quota = &quota_;
    context_.interaction_quota = &interaction_quota_;
    context_.max_interactions_per_session =
        options.max_interactions_per_session;
    context_.listeners = &listeners_;
    context_.wakeup = options.background_expiry ? this : nullptr;
    for (int i = 0; i < options.shards; ++i) {
      shards_.push_back(std::make_unique<Shard>(&context_, i));
    }
    if (options.background_expiry) {
      context_.clock->AddObserver(this);
      thread_ = std::thread([this] { RunExpiry(); });
    }
  }

  ~StoreImpl() override {
    if (thread_.joinable()) {
      context_.clock->RemoveObserver(this);
      {
        std::lock_guard<std::mutex> l(wake_mu_);
        stop_ = true;
      }
      wake_cv_.notify_one();
      thread_.join();
    }
  }

  // Services
  // ----------------------------------------------------------------------

  absl::StatusOr<Service> CreateService(
      const CreateServiceParams& params) override {
    if (absl::Status s = Writable(); !s.ok()) return s;
    return Acknowledged(CreateServiceInMemory(params));
  }

  absl::StatusOr<Service> UpdateService(
      const Sid& service_sid, const UpdateServiceParams& params) override {
    if (absl::Status s = Writable(); !s.ok()) return s;
    return Acknowledged(UpdateServiceInMemory(service_sid, params));
  }

  // The change itself, journaled but not yet acknowledged.
  absl::StatusOr<Service> CreateServiceInMemory(
      const CreateServiceParams& params) {
    std::optional<Sid128> chosen;
    if (params.sid.has_value()) {
      chosen = BodyOf("KS", *params.sid);
      if (!chosen) return InvalidParameter("Sid", "It must be KS + 32 hex.");
    }
    if (absl::Status s = internal::CheckUniqueName(params.unique_name);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = internal::CheckTtl("DefaultTtl", params.default_ttl);
        !s.ok()) {
      return s;
    }
    MutexLock l(&services_mu_);
    if (service_names_.contains(params.unique_name)) {
      return ServiceNameTaken(params.unique_name);
    }
    if (chosen && services_.contains(*chosen)) {
      return InvalidParameter("Sid", "A Service with this SID exists.",
                              absl::StatusCode::kAlreadyExists);
    }
    // Last, as the Session limits are: a request that fails anyway hears
    // why, and takes no place.
    if (static_cast<uint64_t>(services_.size()) >=
        static_cast<uint64_t>(max_services_)) {
      return ProxyError(
          absl::StatusCode::kResourceExhausted, kErrorTooManyRequests,
          Cat("Too Many Requests: the store holds its maximum of ",
              std::to_string(max_services_), " Services."));
    }
    Sid128 sid;
    if (chosen) {
      sid = *chosen;
    } else {
      do {
        sid = sids_.Next();
      } while (services_.contains(sid));
    }
    const absl::Time now = context_.clock->Now();
    ServiceEntry entry;
    entry.seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
    entry.service.sid = internal::ToSid("KS", sid);
    entry.service.unique_name = params.unique_name;
    entry.service.default_ttl = params.default_ttl;
    entry.service.date_created = entry.service.date_updated =
        absl::FromUnixMillis(internal::ClockMs(now));
    auto quota =
        std::make_shared<internal::SessionQuota>(max_sessions_per_service_);
    // Journaled before any shard has it: a Session created in a shard the
    // Service has reached, while the others wait their turn, is journaled
    // after it, so recovery and followers find its Service first.
    JournalServiceLocked(sid, entry);
    ForEachShardLocked([&](Shard& shard) {
      shard.mu().AssertHeld();
      shard.AddServiceLocked(sid, params.default_ttl, quota);
    });
    service_names_.emplace(params.unique_name, sid);
    services_by_seq_.emplace(entry.seq, sid);
    Service out = entry.service;
    services_.emplace(sid, std::move(entry));
    return out;
  }

  Sid account_sid() const override { return account_sid_; }

  absl::StatusOr<Service> FetchService(const Sid& sid) override {
    MutexLock l(&services_mu_);
    const ServiceEntry* entry = FindServiceLocked(sid);
    if (entry == nullptr) return ServiceNotFound(sid);
    return entry->service;
  }

  absl::StatusOr<ServicePage> ListServices(const ListParams& params) override {
    if (absl::Status s = CheckPageSize(params.page_size); !s.ok()) return s;
    std::optional<PageCursor> cursor;
    if (!params.page_token.empty()) {
      cursor = internal::DecodePageToken(params.page_token, Sid128{});
      if (!cursor) return InvalidPageToken();
    }
    MutexLock l(&services_mu_);
    std::vector<std::pair<uint64_t, const ServiceEntry*>> items;
    const size_t want = static_cast<size_t>(params.page_size) + 1;
    const bool newer =
        cursor && cursor->direction == PageCursor::Direction::kBefore;
    if (newer) {
      for (auto it = services_by_seq_.upper_bound(cursor->seq);
           it != services_by_seq_.end() && items.size() < want; ++it) {
        items.emplace_back(it->first, &services_.at(it->second));
      }
    } else {
      auto end = cursor ? services_by_seq_.lower_bound(cursor->seq)
                        : services_by_seq_.end();
      for (auto it = end;
           it != services_by_seq_.begin() && items.size() < want;) {
        --it;
        items.emplace_back(it->first, &services_.at(it->second));
      }
    }
    ServicePage page;
    PagingResult r = Paginate(items, params.page_size, cursor);
    if (newer) std::reverse(items.begin(), items.end());
    for (const auto& [seq, entry] : items) {
      page.services.push_back(entry->service);
    }
    page.next_page_token =
        r.next ? MakeToken(PageCursor::Direction::kAfter, *r.next, Sid128{})
               : "";
    page.previous_page_token =
        r.previous
            ? MakeToken(PageCursor::Direction::kBefore, *r.previous, Sid128{})
            : "";
    return page;
  }

  absl::StatusOr<Service> UpdateServiceInMemory(
      const Sid& service_sid, const UpdateServiceParams& params) {
    if (params.unique_name.has_value()) {
      if (absl::Status s = internal::CheckUniqueName(*params.unique_name);
          !s.ok()) {
        return s;
      }
    }
    if (params.default_ttl.has_value()) {
      if (absl::Status s =
              internal::CheckTtl("DefaultTtl", *params.default_ttl);
          !s.ok()) {
        return s;
      }
    }
    MutexLock l(&services_mu_);
    ServiceEntry* entry = FindServiceLocked(service_sid);
    if (entry == nullptr) return ServiceNotFound(service_sid);
    const Sid128 sid = internal::Body(service_sid);
    if (params.unique_name.has_value() &&
        *params.unique_name != entry->service.unique_name) {
      if (service_names_.contains(*params.unique_name)) {
        return ServiceNameTaken(*params.unique_name);
      }
      ReleaseNameLocked(entry->service.unique_name, sid);
      service_names_.emplace(*params.unique_name, sid);
      entry->service.unique_name = *params.unique_name;
    }
    if (params.default_ttl.has_value()) {
      entry->service.default_ttl = *params.default_ttl;
      ForEachShardLocked([&](Shard& shard) {
        shard.mu().AssertHeld();
        shard.SetDefaultTtlLocked(sid, *params.default_ttl);
      });
    }
    entry->service.date_updated =
        absl::FromUnixMillis(internal::ClockMs(context_.clock->Now()));
    JournalServiceLocked(sid, *entry);
    return entry->service;
  }

  absl::Status DeleteService(const Sid& service_sid) override {
    if (absl::Status s = Writable(); !s.ok()) return s;
    {
      MutexLock l(&services_mu_);
      ServiceEntry* entry = FindServiceLocked(service_sid);
      if (entry == nullptr) return ServiceNotFound(service_sid);
      const Sid128 sid = internal::Body(service_sid);
      // Out of the registry first, so no new list starts; then detached
      // from each shard (O(1) each), after which no call finds it or its
      // Sessions, and no create lands in it.
      ReleaseNameLocked(entry->service.unique_name, sid);
      services_by_seq_.erase(entry->seq);
      services_.erase(sid);
      // Journaled first: a Session a shard takes in meanwhile is journaled
      // after it, and dropped on replay as the shard drops it here.
      if (internal::JournalWriter* journal = context_.journal) {
        internal::ThreadJournalLsn() = journal->AppendWith(
            ServiceLane(),
            static_cast<uint8_t>(internal::RecordType::kServiceDelete),
            [&](std::string* out) {
              internal::AppendChangeHeader(SeenNow(), out);
              internal::AppendSidBytes(sid, out);
            });
      }
      ForEachShardLocked([&](Shard& shard) {
        shard.mu().AssertHeld();
        shard.DetachServiceLocked(sid);
      });
    }
    // Acknowledged before its Sessions go: their events reach listeners,
    // whose calls into the store (a failing one too) must not change which
    // record this call waits for.
    absl::Status acknowledged = Acknowledge(absl::OkStatus());
    // Its Sessions go in slices, with no registry lock: other Services
    // never wait for this one.
    RemoveDetached();
    GiveMemoryBack();
    return acknowledged;
  }

  // Sessions
  // ----------------------------------------------------------------------

  absl::Status CreateSession(const Sid& service_sid,
                             const CreateSessionParams& params,
                             Session* out) override {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    if (!service) return ServiceNotFound(service_sid);
    bool purged = false;
    for (;;) {
      if (absl::Status s = Writable(); !s.ok()) return s;
      // The shard mints the SID from this one (see shard.h); a named
      // Session lives in the shard of its name.
      uint64_t draw;
      Sid128 fresh = sids_.Next(&draw);
      if (params.unique_name.has_value()) {
        fresh = internal::WithShardByte(
            fresh, internal::NameShardByte(*service, *params.unique_name));
      }
      Shard& shard = ShardFor(fresh);
      absl::Status s = shard.Create(*service, fresh, params, out);
      // A restored SID collided with a fresh one: mint again.
      const bool collided =
          absl::IsAlreadyExists(s) && !ProxyErrorCode(s).has_value();
      // A refused create takes no SID (docs/semantics.md, "Limits"): the
      // shard picked by the SID checks the request, so the SID is drawn
      // first and given back, before any listener can draw one. Only a
      // refusal pays for it; a create that succeeds does what it did.
      if (!s.ok() && !collided) sids_.GiveBack(draw);
      s = Acknowledge(std::move(s));
      shard.DeliverEvents();
      if (collided) continue;
      // A Session whose purge is due holds no place, as it holds no name:
      // run what is due, once, before refusing.
      if (absl::IsResourceExhausted(s) && !purged) {
        purged = true;
        if (Advance() > 0) continue;
      }
      if (absl::IsNotFound(s)) return ServiceNotFound(service_sid);
      return s;
    }
  }

  absl::Status FetchSession(const Sid& service_sid, const Sid& sid,
                            Session* out) override {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    std::optional<Sid128> body = BodyOf("KC", sid);
    if (service && body) {
      absl::Status s = ShardFor(*body).FetchBySid(*service, *body, out);
      if (s.ok()) return s;
    }
    return SessionNotFound(service_sid, sid.ToString());
  }

  absl::Status FetchSessions(const Sid& service_sid, absl::Span<const Sid> sids,
                             absl::Span<Session> out,
                             absl::Span<absl::Status> statuses) override {
    if (out.size() != sids.size() || statuses.size() != sids.size()) {
      return absl::InvalidArgumentError(
          "FetchSessions needs as many Sessions and statuses as SIDs.");
    }
    // A record is a cache miss (and a page walk) at a million Sessions, and
    // one call's work is too long for the processor to start the next
    // call's miss while this one's is outstanding ("The no-concurrency
    // limit" in docs/performance.md): so the batch asks for the records
    // kAhead places ahead itself, and their misses overlap. 16 is about
    // the misses a core keeps in flight.
    constexpr size_t kAhead = 16;
    auto prefetch = [&](size_t i) {
      if (std::optional<Sid128> body = BodyOf("KC", sids[i])) {
        ShardFor(*body).Prefetch(*body);
      }
    };
    for (size_t i = 0; i < std::min(kAhead, sids.size()); ++i) prefetch(i);
    for (size_t i = 0; i < sids.size(); ++i) {
      if (i + kAhead < sids.size()) prefetch(i + kAhead);
      statuses[i] = FetchSession(service_sid, sids[i], &out[i]);
    }
    return absl::OkStatus();
  }

  absl::Status FetchSessionsByName(const Sid& service_sid,
                                   absl::Span<const std::string_view> names,
                                   absl::Span<Session> out,
                                   absl::Span<absl::Status> statuses) override {
    if (out.size() != names.size() || statuses.size() != names.size()) {
      return absl::InvalidArgumentError(
          "FetchSessionsByName needs as many Sessions and statuses as "
          "names.");
    }
    if (names.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError(
          "FetchSessionsByName takes at most 2^32 - 1 names a call.");
    }
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    // The batch's indexes grouped by the shard of their name (a counting
    // sort), in buffers inline for up to 64 names and the default 16
    // shards, so that these take no allocation. Not kept across calls:
    // other threads call at once, and a listener may call here again from
    // inside a delivery below.
    constexpr uint16_t kNotByName = UINT16_MAX;
    constexpr size_t kInlineShards = 16;  // StoreOptions::shards' default.
    absl::InlinedVector<uint16_t, 64> shard_of(names.size());
    absl::InlinedVector<uint32_t, 64> by_shard(names.size());
    absl::InlinedVector<uint32_t, kInlineShards + 1> starts(shards_.size() + 1,
                                                            0);
    for (size_t i = 0; i < names.size(); ++i) {
      shard_of[i] = kNotByName;
      if (!service) {
        statuses[i] = SessionNotFound(service_sid, names[i]);
      } else if (internal::ParseSid("KC", names[i])) {
        // A SID's text: as FetchSession, by SID and then as a name.
        statuses[i] = FetchSession(service_sid, names[i], &out[i]);
      } else {
        shard_of[i] = internal::NameShardByte(*service, names[i]) & mask_;
        ++starts[shard_of[i] + 1];
      }
    }
    for (size_t k = 1; k < starts.size(); ++k) starts[k] += starts[k - 1];
    const size_t named = starts.back();
    for (size_t i = 0; i < names.size(); ++i) {
      if (shard_of[i] != kNotByName) {
        by_shard[starts[shard_of[i]]++] = static_cast<uint32_t>(i);
      }
    }
    // Each group's start moved to its end: the group of shard k now begins
    // at the end of group k - 1.
    for (size_t k = 0, begin = 0; k < shards_.size(); ++k) {
      const size_t end = starts[k];
      if (end != begin) {
        shards_[k]->FetchManyByName(
            *service, names,
            absl::MakeConstSpan(by_shard.data() + begin, end - begin), out,
            statuses);
      }
      begin = end;
    }
    for (size_t k = 0; k < named; ++k) {
      const uint32_t i = by_shard[k];
      if (absl::IsNotFound(statuses[i])) {
        statuses[i] = SessionNotFound(service_sid, names[i]);
      }
    }
    return absl::OkStatus();
  }

  absl::Status FetchSession(const Sid& service_sid,
                            std::string_view sid_or_name,
                            Session* out) override {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    if (!service) return SessionNotFound(service_sid, sid_or_name);
    if (std::optional<Sid128> sid = internal::ParseSid("KC", sid_or_name)) {
      absl::Status s = ShardFor(*sid).FetchBySid(*service, *sid, out);
      if (s.ok()) return s;
    }
    absl::Status s = NameShard(*service, sid_or_name)
                         .FetchByName(*service, sid_or_name, out);
    if (absl::IsNotFound(s)) return SessionNotFound(service_sid, sid_or_name);
    return s;
  }

  absl::StatusOr<SessionPage> ListSessions(const Sid& service_sid,
                                           const ListParams& params) override {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    if (!service || !ServiceExists(*service)) {
      return ServiceNotFound(service_sid);
    }
    if (absl::Status s = CheckPageSize(params.page_size); !s.ok()) return s;
    std::optional<PageCursor> cursor;
    if (!params.page_token.empty()) {
      cursor = internal::DecodePageToken(params.page_token, *service);
      if (!cursor) return InvalidPageToken();
    }
    const bool newer =
        cursor && cursor->direction == PageCursor::Direction::kBefore;
    const size_t want = static_cast<size_t>(params.page_size) + 1;
    std::vector<Shard::Listed> keys = NearestKeys(*service, cursor, want);
    std::vector<std::pair<uint64_t, Sid128>> page_keys;
    page_keys.reserve(keys.size());
    for (const auto& k : keys) page_keys.emplace_back(k.seq, k.sid);
    PagingResult r = Paginate(page_keys, params.page_size, cursor);
    if (newer) std::reverse(page_keys.begin(), page_keys.end());
    SessionPage page;
    page.sessions.reserve(page_keys.size());
    for (const auto& [seq, sid] : page_keys) {
      Shard& shard = ShardFor(sid);
      // A Session deleted since its key was read is left out: it did not
      // exist for the whole walk.
      if (!shard.FetchBySid(*service, sid, &page.sessions.emplace_back())
               .ok()) {
        page.sessions.pop_back();
      }
    }
    if (r.next) {
      page.next_page_token =
          MakeToken(PageCursor::Direction::kAfter, *r.next, *service);
    }
    if (r.previous) {
      page.previous_page_token =
          MakeToken(PageCursor::Direction::kBefore, *r.previous, *service);
    }
    return page;
  }

  absl::Status UpdateSession(const Sid& service_sid, const Sid& sid,
                             const UpdateSessionParams& params,
                             Session* out) override {
    return OnSession(
        service_sid, sid,
        [&](Shard& shard, const Sid128& service, const Sid128& body) {
          return shard.Update(service, body, params, out);
        });
  }

  absl::Status DeleteSession(const Sid& service_sid, const Sid& sid) override {
    absl::Status s =
        OnSession(service_sid, sid,
                  [&](Shard& shard, const Sid128& service, const Sid128& body) {
                    return shard.Delete(service, body);
                  });
    // A mass delete's memory comes back at the next Advance(): the host's
    // own, or the background thread's, woken now (never in this call).
    if (context_.wakeup != nullptr &&
        returned_bytes_.load(std::memory_order_relaxed) >= kTrimBytes) {
      Wake();
    }
    return s;
  }

  absl::Status RecordInteraction(const Sid& service_sid,
                                 const Sid& sid) override {
    return OnSession(
        service_sid, sid,
        [&](Shard& shard, const Sid128& service, const Sid128& body) {
          return shard.RecordInteraction(service, body);
        });
  }

  absl::Status CloseSession(const Sid& service_sid, const Sid& sid,
                            std::string_view reason) override {
    return OnSession(
        service_sid, sid,
        [&](Shard& shard, const Sid128& service, const Sid128& body) {
          return shard.End(service, body, SessionStatus::kClosed, reason);
        });
  }

  absl::Status FailSession(const Sid& service_sid, const Sid& sid,
                           std::string_view reason) override {
    return OnSession(
        service_sid, sid,
        [&](Shard& shard, const Sid128& service, const Sid128& body) {
          return shard.End(service, body, SessionStatus::kFailed, reason);
        });
  }

  // Participants and Interactions (engine/core/shard_history.cc)
  // -------------------------------------------------

  absl::StatusOr<Participant> CreateParticipant(
      const Sid& service_sid, const Sid& sid,
      const ParticipantParams& params) override {
    Participant out;
    absl::Status s =
        OnSession(service_sid, sid,
                  [&](Shard& shard, const Sid128& service, const Sid128& body) {
                    return shard.CreateParticipant(service, body, params, &out);
                  });
    if (!s.ok()) return s;
    return out;
  }

  absl::StatusOr<Participant> FetchParticipant(
      const Sid& service_sid, const Sid& sid, const Sid& participant) override {
    std::optional<Sid128> kp = BodyOf("KP", participant);
    Participant out;
    absl::Status s =
        OnRead(service_sid, sid,
               [&](Shard& shard, const Sid128& service, const Sid128& body) {
                 if (!kp) return absl::NotFoundError("");
                 return shard.FetchParticipant(service, body, *kp, &out);
               });
    if (!s.ok()) return Missing(s, "Participant", participant);
    return out;
  }

  absl::StatusOr<ParticipantPage> ListParticipants(
      const Sid& service_sid, const Sid& sid,
      const ListParams& params) override {
    if (absl::Status s = CheckPageSize(params.page_size); !s.ok()) return s;
    const Sid128 scope = HistoryScope(sid, kParticipantsScope);
    std::optional<PageCursor> cursor;
    if (!params.page_token.empty()) {
      cursor = internal::DecodePageToken(params.page_token, scope);
      if (!cursor) return InvalidPageToken();
    }
    ParticipantPage page;
    internal::HistoryPaging paging;
    absl::Status s =
        OnRead(service_sid, sid,
               [&](Shard& shard, const Sid128& service, const Sid128& body) {
                 return shard.ListParticipants(
                     service, body, cursor,
                     static_cast<size_t>(params.page_size), &page, &paging);
               });
    if (!s.ok()) return s;
    SetTokens(paging, scope, &page.next_page_token, &page.previous_page_token);
    return page;
  }

  absl::Status DeleteParticipant(const Sid& service_sid, const Sid& sid,
                                 const Sid& participant) override {
    std::optional<Sid128> kp = BodyOf("KP", participant);
    absl::Status s =
        OnSession(service_sid, sid,
                  [&](Shard& shard, const Sid128& service, const Sid128& body) {
                    if (!kp) return absl::NotFoundError("");
                    return shard.DeleteParticipant(service, body, *kp);
                  });
    return Missing(s, "Participant", participant);
  }

  absl::StatusOr<Interaction> RecordMessageInteraction(
      const Sid& service_sid, const Sid& sid, const Sid& participant,
      std::string_view body_text) override {
    std::optional<Sid128> kp = BodyOf("KP", participant);
    Interaction out;
    absl::Status s = OnSession(
        service_sid, sid,
        [&](Shard& shard, const Sid128& service, const Sid128& body) {
          if (!kp) return absl::NotFoundError("");
          return shard.RecordMessage(service, body, *kp, body_text, &out);
        });
    if (!s.ok()) return Missing(s, "Participant", participant);
    return out;
  }

  absl::StatusOr<Interaction> FetchInteraction(
      const Sid& service_sid, const Sid& sid, const Sid& interaction) override {
    std::optional<Sid128> ki = BodyOf("KI", interaction);
    Interaction out;
    absl::Status s =
        OnRead(service_sid, sid,
               [&](Shard& shard, const Sid128& service, const Sid128& body) {
                 if (!ki) return absl::NotFoundError("");
                 return shard.FetchInteraction(service, body, *ki, &out);
               });
    if (!s.ok()) return Missing(s, "Interaction", interaction);
    return out;
  }

  absl::StatusOr<InteractionPage> ListInteractions(
      const Sid& service_sid, const Sid& sid,
      const ListParams& params) override {
    if (absl::Status s = CheckPageSize(params.page_size); !s.ok()) return s;
    const Sid128 scope = HistoryScope(sid, kInteractionsScope);
    std::optional<PageCursor> cursor;
    if (!params.page_token.empty()) {
      cursor = internal::DecodePageToken(params.page_token, scope);
      if (!cursor) return InvalidPageToken();
    }
    InteractionPage page;
    internal::HistoryPaging paging;
    // The Proxy API serves at most 100 Interactions a page.
    const size_t size =
        static_cast<size_t>(std::min(params.page_size, kMaxInteractionPage));
    absl::Status s =
        OnRead(service_sid, sid,
               [&](Shard& shard, const Sid128& service, const Sid128& body) {
                 return shard.ListInteractions(service, body, cursor, size,
                                               &page, &paging);
               });
    if (!s.ok()) return s;
    SetTokens(paging, scope, &page.next_page_token, &page.previous_page_token);
    return page;
  }

  absl::Status DeleteInteraction(const Sid& service_sid, const Sid& sid,
                                 const Sid& interaction) override {
    std::optional<Sid128> ki = BodyOf("KI", interaction);
    absl::Status s =
        OnSession(service_sid, sid,
                  [&](Shard& shard, const Sid128& service, const Sid128& body) {
                    if (!ki) return absl::NotFoundError("");
                    return shard.DeleteInteraction(service, body, *ki);
                  });
    return Missing(s, "Interaction", interaction);
  }

  // Expiry and events
  // -------------------------------------------------------------

  int64_t Advance() override {
    int64_t done = 0;
    for (auto& shard : shards_) {
      done += shard->Advance();
      shard->DeliverEvents();
    }
    GiveMemoryBack();
    return done;
  }

  // Removals release slab chunks, whose memory the shards keep (retired)
  // until it is freed here, at the end of Advance() or DeleteService(),
  // with no engine lock held: a free of a chunk may be a munmap or glibc
  // trimming its heap's top. Drained name tables are freed as Advance goes
  // and counted here too. Once 64 MiB have come back, every shard frees its
  // retired chunks and its spare, and malloc_trim(0) hands glibc's free
  // pages below the top of its heap to the system. One thread at a time.
  void GiveMemoryBack() {
    uint64_t returned = returned_bytes_.load(std::memory_order_relaxed);
    do {
      if (returned < kTrimBytes) return;
    } while (!returned_bytes_.compare_exchange_weak(returned, 0,
                                                    std::memory_order_relaxed));
    for (auto& shard : shards_) shard->FreeRetiredMemory();
#ifdef __GLIBC__
    if (trim_after_purge_) malloc_trim(0);
#endif
  }

  std::optional<absl::Time> NextWakeup() override {
    std::optional<uint64_t> tick = NextEventTick();
    if (!tick) return std::nullopt;
    return TickTime(*tick);
  }

  void AddListener(std::shared_ptr<SessionListener> listener) override {
    if (listener != nullptr) listeners_.Add(std::move(listener));
  }

  // Introspection
  // -----------------------------------------------------------------

  StoreStats Stats() override {
    StoreStats out;
    {
      MutexLock l(&services_mu_);
      out.services = static_cast<int64_t>(services_.size());
    }
    for (auto& shard : shards_) {
      internal::ShardStats s = shard->Stats();
      out.open += s.by_status[static_cast<int>(SessionStatus::kOpen)];
      out.in_progress +=
          s.by_status[static_cast<int>(SessionStatus::kInProgress)];
      out.closed += s.by_status[static_cast<int>(SessionStatus::kClosed)];
      out.failed += s.by_status[static_cast<int>(SessionStatus::kFailed)];
      out.unknown += s.by_status[static_cast<int>(SessionStatus::kUnknown)];
      out.named += s.named;
      out.interactions += s.interactions;
      out.expired += s.expired;
      out.purged += s.purged;
    }
    out.sessions =
        out.open + out.in_progress + out.closed + out.failed + out.unknown;
    return out;
  }

  absl::Status CheckInvariants() override {
    {
      MutexLock l(&services_mu_);
      if (services_.size() != service_names_.size() ||
          services_.size() != services_by_seq_.size()) {
        return absl::InternalError("Service indexes disagree");
      }
    }
    for (auto& shard : shards_) {
      if (absl::Status s = shard->CheckInvariants(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // Snapshots
  // ---------------------------------------------------------------------

  absl::Status WriteSnapshot(const std::string& path) override {
    return WriteSnapshotFile(path, [] { return absl::OkStatus(); }).status();
  }

  // Durability
  // --------------------------------------------------------------------

  absl::Status Checkpoint() override {
    if (durability_ == nullptr) {
      return absl::FailedPreconditionError(
          "Checkpoint() needs a store opened with StoreOptions::data_dir");
    }
    return durability_->Checkpoint();
  }

  absl::Status FlushJournal() override {
    if (durability_ == nullptr) {
      return absl::FailedPreconditionError(
          "FlushJournal() needs a store opened with StoreOptions::data_dir");
    }
    return durability_->FlushJournal();
  }

  absl::StatusOr<uint64_t> ReadChanges(
      uint64_t from_lsn,
      absl::FunctionRef<absl::Status(const Change&)> fn) override {
    if (durability_ == nullptr) {
      return absl::FailedPreconditionError(
          "ReadChanges() needs a store opened with StoreOptions::data_dir");
    }
    return durability_->ReadChanges(
        from_lsn, [&](const internal::JournalRecord& record) {
          return fn(Change{record.lsn, record.type, record.payload});
        });
  }

  absl::StatusOr<CheckpointPosition> LatestCheckpoint() override {
    if (durability_ == nullptr) {
      return absl::FailedPreconditionError(
          "LatestCheckpoint() needs a store opened with "
          "StoreOptions::data_dir");
    }
    absl::StatusOr<std::pair<std::string, uint64_t>> latest =
        durability_->LatestCheckpoint();
    if (!latest.ok()) return latest.status();
    return CheckpointPosition{latest->first, latest->second};
  }

  absl::Status ApplyChange(const Change& change) override {
    if (!follower_) {
      return absl::FailedPreconditionError(
          "ApplyChange() needs a store opened with StoreOptions::follower");
    }
    internal::JournalRecord record;
    record.type = change.type;
    record.lsn = change.lsn;
    record.payload = change.payload;
    internal::ChangeHeader seen;
    absl::Status s = ApplyJournalRecord(*this, record, &seen);
    // What applying it removed is heard before the call returns, as after
    // any call (a shard with nothing queued costs one atomic load).
    for (auto& shard : shards_) shard->DeliverEvents();
    if (!s.ok()) return s;
    ContinuePast(seen);
    return absl::OkStatus();
  }

  // Takes over `durability`, recovers from it and journals from then on.
  absl::Status RecoverFrom(std::unique_ptr<internal::Durability> durability) {
    durability_ = std::move(durability);
    if (absl::Status s = durability_->Recover(*this); !s.ok()) return s;
    context_.journal = durability_->journal();
    SettleAll();
    return absl::OkStatus();
  }

  // Closes and purges what fell due while the store was on disk, after the
  // last Session is back: no listener exists yet to hear of it.
  void SettleAll() {
    for (auto& shard : shards_) shard->SettleAll();
  }

  absl::Status RestoreSnapshot(internal::SnapshotReader& reader) override {
    return Restore(reader);
  }

  // A name held by another Service when the record is applied: in the
  // store that wrote it, the name was free then, so the other Service took
  // it later, and a fuzzy checkpoint's registry (copied after its roll)
  // already shows that later state. The record that gave it the name comes
  // later in the replay and gives it back; meanwhile this Service holds the
  // name and the other keeps its Sessions. (Detaching the other Service,
  // as this did until 2026-12-01, deleted its Sessions for good.) A
  // recovery that stops before that record (RecoveryMode::kPointInTime)
  // leaves the other Service's entry naming what it does not hold:
  // ReleaseNameLocked lets go of a name only for the Service it maps to.
  absl::Status ApplyServicePut(const internal::ServiceImage& image) override {
    MutexLock l(&services_mu_);
    auto it = services_.find(image.sid);
    if (it == services_.end()) {
      RestoreServiceLocked(image);
      return absl::OkStatus();
    }
    ServiceEntry& entry = it->second;
    if (entry.service.unique_name != image.unique_name) {
      ReleaseNameLocked(entry.service.unique_name, image.sid);
      entry.service.unique_name = image.unique_name;
    }
    service_names_[image.unique_name] = image.sid;
    entry.service.date_updated = absl::FromUnixMillis(image.updated_ms);
    if (entry.service.default_ttl != image.default_ttl) {
      entry.service.default_ttl = image.default_ttl;
      ForEachShardLocked([&](Shard& shard) {
        shard.mu().AssertHeld();
        shard.SetDefaultTtlLocked(image.sid, image.default_ttl);
      });
    }
    return absl::OkStatus();
  }

  void ApplyServiceDelete(const Sid128& service) override {
    {
      MutexLock l(&services_mu_);
      if (services_.contains(service)) DetachServiceLocked(service);
    }
    RemoveDetached();
  }

  absl::Status ApplySessionPut(const internal::SessionImage& image) override {
    return ShardFor(image.sid).ApplySessionImage(image);
  }

  void ApplySessionInteraction(const Sid128& session, int64_t at_ms) override {
    ShardFor(session).ApplySessionInteraction(session, at_ms);
  }

  void ApplyMessage(const Sid128& session,
                    const internal::InteractionImage& image) override {
    ShardFor(session).ApplyMessage(session, image);
  }

  void ApplyInteractionDelete(const Sid128& session,
                              const Sid128& interaction) override {
    ShardFor(session).ApplyInteractionDelete(session, interaction);
  }

  void ApplySessionDelete(const Sid128& service,
                          const Sid128& session) override {
    ShardFor(session).ApplySessionDelete(service, session);
  }

  void ContinuePast(const internal::ChangeHeader& seen) override {
    sids_.SkipTo(seen.sids_minted);
    uint64_t next = next_seq_.load(std::memory_order_relaxed);
    while (next < seen.next_seq &&
           !next_seq_.compare_exchange_weak(next, seen.next_seq,
                                            std::memory_order_relaxed)) {
    }
  }

  absl::StatusOr<uint64_t> WriteCheckpointFile(
      const std::string& path,
      absl::FunctionRef<absl::Status()> before_commit) override {
    return WriteSnapshotFile(path, before_commit);
  }

  // Sessions a shard's batch holds before Restore hands it over as the file
  // moves on to another shard.
  static constexpr size_t kRestoreBatch = 4096;

  // Fills this new, empty store from `reader`, a shard's Sessions at a
  // time: the file holds them shard by shard (WriteSnapshotFile), so each
  // shard's are handed over as the file moves past them, and memory holds
  // about one shard's images, never the whole store's. Settles nothing
  // (SettleAll) and reads the reader to its end (Finish). On an error the
  // store holds part of the snapshot: its caller throws it away.
  absl::Status Restore(internal::SnapshotReader& reader) {
    next_seq_.store(reader.next_seq(), std::memory_order_relaxed);
    // The count carries on, so a snapshot of this store says how many SIDs
    // were minted in all; uniqueness comes from sids_'s own key.
    sids_.SkipTo(reader.sids_minted());
    {
      MutexLock l(&services_mu_);
      for (const internal::ServiceImage& s : reader.services()) {
        RestoreServiceLocked(s);
      }
    }
    std::vector<std::vector<internal::SessionImage>> batches(shards_.size());
    const size_t expected =
        static_cast<size_t>(reader.sessions()) / shards_.size() * 9 / 8;
    absl::flat_hash_set<Sid128> dropped;
    auto hand_over = [&](size_t i) {
      absl::Status s = shards_[i]->RestoreSessions(&batches[i], &dropped);
      std::vector<internal::SessionImage>().swap(batches[i]);
      return s.ok() ? s : reader.Refuse(s);
    };
    size_t last = 0;
    internal::SessionImage image;
    for (;;) {
      absl::StatusOr<bool> more = reader.Next(&image);
      if (!more.ok()) return more.status();
      if (!*more) break;
      const size_t i = internal::ShardByte(image.sid) & mask_;
      // A small batch waits: from a store with more shards than this one,
      // this shard's Sessions come in runs, and each later batch costs a
      // sort of its Services' creation orders.
      if (i != last && batches[last].size() >= kRestoreBatch) {
        if (absl::Status s = hand_over(last); !s.ok()) return s;
      }
      last = i;
      if (batches[i].empty()) batches[i].reserve(expected);
      batches[i].push_back(std::move(image));
    }
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (batches[i].empty()) continue;
      if (absl::Status s = hand_over(i); !s.ok()) return s;
    }
    return reader.Finish();
  }

 private:
  struct ServiceEntry {
    Service service;
    uint64_t seq = 0;
  };

  // Refuses a change once the journal has failed: it could not be made
  // durable (Durability::Acknowledge).
  absl::Status Writable() const {
    if (follower_) {
      return absl::FailedPreconditionError(
          "a follower store changes only through ApplyChange()");
    }
    return durability_ == nullptr ? absl::OkStatus() : durability_->health();
  }

  // A change's own outcome, once its journal record is as durable as the
  // sync policy asks; the journal's error if it cannot be.
  absl::Status Acknowledge(absl::Status s) {
    if (durability_ == nullptr) return s;
    if (!s.ok()) {
      internal::ThreadJournalLsn() = 0;
      return s;
    }
    return durability_->Acknowledge();
  }
  template <typename T>
  absl::StatusOr<T> Acknowledged(absl::StatusOr<T> result) {
    if (absl::Status s = Acknowledge(result.status()); !s.ok()) return s;
    return result;
  }

  // The journal lane of the Service registry's records: the one after the
  // shards' (Shard's journal_lane). They are appended under services_mu_.
  size_t ServiceLane() const { return shards_.size(); }

  // What every journal record starts with (engine/core/durability.h).
  internal::ChangeHeader SeenNow() const {
    return internal::ChangeHeader{sids_.minted(),
                                  next_seq_.load(std::memory_order_relaxed)};
  }

  static internal::ServiceImage ServiceImageOf(const Sid128& sid,
                                               const ServiceEntry& entry) {
    const Service& s = entry.service;
    return internal::ServiceImage{sid,
                                  entry.seq,
                                  absl::ToUnixMillis(s.date_created),
                                  absl::ToUnixMillis(s.date_updated),
                                  s.default_ttl,
                                  s.unique_name};
  }

  void JournalServiceLocked(const Sid128& sid, const ServiceEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    internal::JournalWriter* journal = context_.journal;
    if (journal == nullptr) return;
    const internal::ServiceImage image = ServiceImageOf(sid, entry);
    internal::ThreadJournalLsn() = journal->AppendWith(
        ServiceLane(), static_cast<uint8_t>(internal::RecordType::kServicePut),
        [&](std::string* out) {
          internal::AppendChangeHeader(SeenNow(), out);
          internal::AppendServiceImage(image, out);
        });
  }

  // Takes a Service out of the registry and detaches it from every shard,
  // for a replayed record; its Sessions go at the next RemoveDetached(),
  // which the caller makes once it has let go of the registry lock.
  void DetachServiceLocked(Sid128 sid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    auto it = services_.find(sid);
    if (it == services_.end()) return;
    ReleaseNameLocked(it->second.service.unique_name, sid);
    services_by_seq_.erase(it->second.seq);
    services_.erase(it);
    ForEachShardLocked([&](Shard& shard) {
      shard.mu().AssertHeld();
      shard.DetachServiceLocked(sid);
    });
  }

  // Removes the Sessions of every detached Service, shard by shard, in
  // slices (Shard::RemoveDetached).
  void RemoveDetached() ABSL_LOCKS_EXCLUDED(services_mu_) {
    for (auto& shard : shards_) shard->RemoveDetached();
  }

  // Where a page ends: the boundary items for the neighbouring pages' tokens.
  struct PagingResult {
    std::optional<std::pair<uint64_t, Sid128>> next;
    std::optional<std::pair<uint64_t, Sid128>> previous;
  };

  // `items` holds up to page_size + 1 entries, nearest to the cursor first;
  // trims it to the page and says which neighbouring pages exist. For a walk
  // towards newer items ("PB"), items are in ascending order.
  template <typename Item>
  static PagingResult Paginate(std::vector<Item>& items, int page_size,
                               const std::optional<PageCursor>& cursor) {
    const bool more = items.size() > static_cast<size_t>(page_size);
    if (more) items.resize(static_cast<size_t>(page_size));
    PagingResult r;
    if (items.empty()) return r;
    const bool newer =
        cursor && cursor->direction == PageCursor::Direction::kBefore;
    auto key = [](const Item& item) {
      return std::make_pair(item.first, KeySid(item.second));
    };
    if (newer) {
      if (more) r.previous = key(items.back());  // The newest on the page.
      r.next = key(items.front());               // The oldest on the page.
    } else {
      if (more) r.next = key(items.back());
      if (cursor) r.previous = key(items.front());
    }
    return r;
  }

  static Sid128 KeySid(const Sid128& sid) { return sid; }
  static Sid128 KeySid(const ServiceEntry* entry) {
    return internal::Body(entry->service.sid);
  }

  static std::string MakeToken(PageCursor::Direction direction,
                               const std::pair<uint64_t, Sid128>& at,
                               const Sid128& scope) {
    PageCursor c;
    c.direction = direction;
    c.seq = at.first;
    c.sid = at.second;
    return internal::EncodePageToken(c, scope);
  }

  static absl::Status ServiceNameTaken(std::string_view name) {
    return ProxyError(
        absl::StatusCode::kAlreadyExists, kErrorServiceNameTaken,
        Cat("Service UniqueName '", name, "' is already in use."));
  }

  // The keys of the `want` Sessions of `service` nearest to `cursor` in its
  // direction (from the newest without one), nearest first. Keys only: the
  // Sessions are copied for the page alone.
  //
  // Each shard is asked first for its share and a margin, not for `want`:
  // at 256 shards that is a few keys each rather than 256 x 1001. A shard
  // is asked again, from the last key it gave, only while that key is
  // nearer than the want-th nearest key gathered so far (and it may hold
  // more): its keys not yet read are all farther than the last one.
  std::vector<Shard::Listed> NearestKeys(
      const Sid128& service, const std::optional<PageCursor>& cursor,
      size_t want) {
    const bool newer =
        cursor && cursor->direction == PageCursor::Direction::kBefore;
    auto nearer = [newer](const Shard::Listed& a, const Shard::Listed& b) {
      return newer ? a.seq < b.seq : a.seq > b.seq;
    };
    const size_t share =
        std::min(want, 2 * (want / shards_.size()) + kListMargin);
    struct Source {
      std::optional<PageCursor> from;
      size_t asked = 0;
      size_t got = 0;  // Of the last ask.
      Shard::Listed last{};
    };
    std::vector<Source> sources(shards_.size());
    std::vector<Shard::Listed> keys;
    for (size_t i = 0; i < shards_.size(); ++i) sources[i].from = cursor;
    std::vector<size_t> ask(shards_.size());
    for (size_t i = 0; i < ask.size(); ++i) ask[i] = i;
    while (!ask.empty()) {
      for (size_t i : ask) {
        Source& src = sources[i];
        const size_t before = keys.size();
        const size_t limit = src.asked == 0 ? share : want;
        shards_[i]->List(service, src.from, limit, &keys);
        shards_[i]->DeliverEvents();
        src.asked = limit;
        src.got = keys.size() - before;
        if (src.got > 0) {
          src.last = keys.back();
          PageCursor next;
          next.direction = newer ? PageCursor::Direction::kBefore
                                 : PageCursor::Direction::kAfter;
          next.seq = src.last.seq;
          next.sid = src.last.sid;
          src.from = next;
        }
      }
      if (keys.size() >= want) {
        std::nth_element(keys.begin(), keys.begin() + (want - 1), keys.end(),
                         nearer);
        keys.resize(want);  // keys[want - 1] is now the farthest kept.
      }
      ask.clear();
      for (size_t i = 0; i < sources.size(); ++i) {
        const Source& src = sources[i];
        const bool may_hold_more = src.got == src.asked && src.got > 0;
        if (!may_hold_more) continue;
        // Its next keys could be in the page if its last one is.
        if (keys.size() < want || nearer(src.last, keys[want - 1])) {
          ask.push_back(i);
        }
      }
    }
    std::sort(keys.begin(), keys.end(), nearer);
    return keys;
  }

  // Runs `op` on the Session's shard and delivers events; a bare NotFound
  // from the shard becomes the store's.
  template <typename Op>
  absl::Status OnSession(const Sid& service_sid, const Sid& sid, Op op) {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    std::optional<Sid128> body = BodyOf("KC", sid);
    if (!service || !body) return SessionNotFound(service_sid, sid.ToString());
    Shard& shard = ShardFor(*body);
    if (absl::Status s = Writable(); !s.ok()) return s;
    absl::Status s = Acknowledge(op(shard, *service, *body));
    shard.DeliverEvents();
    if (absl::IsNotFound(s) && !ProxyErrorCode(s).has_value()) {
      return SessionNotFound(service_sid, sid.ToString());
    }
    return s;
  }

  // As OnSession for a read: no journal, no Writable() (a follower
  // reads); the shard delivers the events only if the read queued one.
  template <typename Op>
  absl::Status OnRead(const Sid& service_sid, const Sid& sid, Op op) {
    std::optional<Sid128> service = BodyOf("KS", service_sid);
    std::optional<Sid128> body = BodyOf("KC", sid);
    if (!service || !body) return SessionNotFound(service_sid, sid.ToString());
    Shard& shard = ShardFor(*body);
    absl::Status s = op(shard, *service, *body);
    if (absl::IsNotFound(s) && !ProxyErrorCode(s).has_value()) {
      return SessionNotFound(service_sid, sid.ToString());
    }
    return s;
  }

  // A NotFound of a Session's Participant or Interaction: OnSession words a
  // bare one as the Session's; say what was missing instead. The Session
  // itself may be what is gone: the message names both.
  static absl::Status Missing(const absl::Status& s, std::string_view what,
                              const Sid& sid) {
    if (!absl::IsNotFound(s)) return s;
    const absl::string_view why = s.message();
    return ProxyError(absl::StatusCode::kNotFound, kErrorNotFound,
                      Cat(what, " ", sid.ToString(), " not found (",
                          std::string_view(why.data(), why.size()), ")"));
  }

  // The page-token scope of a Session's Participants or Interactions: the
  // Session, told apart by kind, so a token of one list fits no other.
  static constexpr uint64_t kParticipantsScope = 0x7061727469636970ULL;
  static constexpr uint64_t kInteractionsScope = 0x696e746572616374ULL;
  static Sid128 HistoryScope(const Sid& session, uint64_t kind) {
    Sid128 scope = internal::Body(session);
    scope.hi ^= kind;
    return scope;
  }

  static void SetTokens(const internal::HistoryPaging& paging,
                        const Sid128& scope, std::string* next,
                        std::string* previous) {
    if (paging.next) {
      *next = MakeToken(PageCursor::Direction::kAfter, *paging.next, scope);
    }
    if (paging.previous) {
      *previous =
          MakeToken(PageCursor::Direction::kBefore, *paging.previous, scope);
    }
  }

  Shard& ShardFor(const Sid128& sid) {
    return *shards_[internal::ShardByte(sid) & mask_];
  }

  Shard& NameShard(const Sid128& service, std::string_view name) {
    return *shards_[internal::NameShardByte(service, name) & mask_];
  }

  ServiceEntry* FindServiceLocked(const Sid& service)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    std::optional<Sid128> sid = BodyOf("KS", service);
    if (!sid) return nullptr;
    auto it = services_.find(*sid);
    return it == services_.end() ? nullptr : &it->second;
  }

  bool ServiceExists(const Sid128& sid) {
    MutexLock l(&services_mu_);
    return services_.contains(sid);
  }

  // Runs `fn` on each shard in index order, under that shard's lock alone.
  // Holding one shard lock at a time keeps Service writes from stalling
  // every shard at once (and within what ThreadSanitizer can track).
  template <typename Fn>
  void ForEachShardLocked(Fn fn) {
    for (auto& shard : shards_) {
      MutexLock l(&shard->mu());
      fn(*shard);
    }
  }

  std::optional<uint64_t> NextEventTick() {
    std::optional<uint64_t> next;
    for (auto& shard : shards_) {
      std::optional<uint64_t> t = shard->NextEventTick();
      if (t && (!next || *t < *next)) next = t;
    }
    return next;
  }

  absl::Time TickTime(uint64_t tick) const {
    return absl::FromUnixMillis(context_.origin_ms +
                                static_cast<int64_t>(tick) * context_.tick_ms);
  }

  // Writes the store into a snapshot file: the Services, copied under
  // services_mu_, then each shard's Sessions a slice at a time
  // (Shard::CaptureSlice), encoded and written with no lock held. No call
  // waits longer than one slice's copy, and memory holds one slice and the
  // writer's buffer, whatever the store's size. `before_commit` runs after
  // the last slice is copied, before the file takes its name; its error
  // leaves no file. Returns the file's size.
  absl::StatusOr<uint64_t> WriteSnapshotFile(
      const std::string& path,
      absl::FunctionRef<absl::Status()> before_commit) {
    std::vector<internal::ServiceImage> services;
    absl::flat_hash_set<Sid128> saved;
    {
      MutexLock l(&services_mu_);
      for (const auto& [seq, sid] : services_by_seq_) {
        services.push_back(ServiceImageOf(sid, services_.at(sid)));
        saved.insert(sid);
      }
    }
    return internal::WriteSnapshotFile(
        path, internal::Body(account_sid_),
        [&](internal::SnapshotWriter& writer) -> absl::Status {
          for (const internal::ServiceImage& s : services) {
            if (absl::Status st = writer.AddService(s); !st.ok()) return st;
          }
          std::vector<internal::SessionImage> slice(Shard::kCaptureSlice);
          for (auto& shard : shards_) {
            uint32_t cursor = 0;
            while (cursor != Shard::kCursorDone) {
              const size_t n = shard->CaptureSlice(&cursor, &slice);
              for (size_t i = 0; i < n; ++i) {
                // A Service created during the walk is not saved, so
                // neither are its Sessions: as if their slices had been
                // copied before they existed.
                if (!saved.contains(slice[i].service)) continue;
                if (absl::Status st = writer.AddSession(slice[i]); !st.ok()) {
                  return st;
                }
              }
            }
          }
          // Read after the walk: every Session copied was numbered and
          // minted before, so the restored store continues past all.
          if (absl::Status st = writer.Finish(
                  next_seq_.load(std::memory_order_relaxed), sids_.minted());
              !st.ok()) {
            return st;
          }
          return before_commit();
        });
  }

  void RestoreServiceLocked(const internal::ServiceImage& image)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    ServiceEntry entry;
    entry.seq = image.seq;
    entry.service.sid = internal::ToSid("KS", image.sid);
    entry.service.unique_name = image.unique_name;
    entry.service.default_ttl = image.default_ttl;
    entry.service.date_created = absl::FromUnixMillis(image.created_ms);
    entry.service.date_updated = absl::FromUnixMillis(image.updated_ms);
    auto quota =
        std::make_shared<internal::SessionQuota>(max_sessions_per_service_);
    ForEachShardLocked([&](Shard& shard) {
      shard.mu().AssertHeld();
      shard.AddServiceLocked(image.sid, image.default_ttl, quota);
    });
    service_names_[image.unique_name] = image.sid;  // ApplyServicePut says why.
    services_by_seq_.emplace(image.seq, image.sid);
    services_.emplace(image.sid, std::move(entry));
  }

  // Lets go of `name` if `sid` holds it: during a replay another Service
  // may hold it for a while (ApplyServicePut).
  void ReleaseNameLocked(const std::string& name, const Sid128& sid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    auto held = service_names_.find(name);
    if (held != service_names_.end() && held->second == sid) {
      service_names_.erase(held);
    }
  }

  // The background thread
  // ------------------------------------------------------------
  //
  // It runs Advance(), finds the next event tick of every wheel, publishes it
  // in planned_ and sleeps until then. A shard that schedules earlier than
  // planned_ (or a clock jump) sets dirty_ and wakes it. While it works,
  // planned_ is kNothingPlanned so every schedule counts as earlier.

  static constexpr uint64_t kNothingPlanned = ~uint64_t{0};

  void ScheduledAt(uint64_t tick) override {
    if (tick < planned_.load(std::memory_order_acquire)) Wake();
  }

  void OnClockJump() override { Wake(); }

  void Wake() {
    if (dirty_.exchange(true, std::memory_order_acq_rel)) return;
    // Taking the mutex orders this wakeup after the thread's check of dirty_
    // or before its wait: either way it is not lost.
    { std::lock_guard<std::mutex> l(wake_mu_); }
    wake_cv_.notify_one();
  }

  void RunExpiry() {
    for (;;) {
      planned_.store(kNothingPlanned, std::memory_order_release);
      dirty_.store(false, std::memory_order_release);
      try {
        Advance();
      } catch (...) {
        // A listener threw, and this thread has no caller to tell. The
        // events it did not deliver stay queued; the loop runs again at
        // once and delivers them.
        continue;
      }
      const std::optional<uint64_t> next = NextEventTick();
      std::unique_lock<std::mutex> l(wake_mu_);
      if (stop_) return;
      if (dirty_.load(std::memory_order_acquire)) continue;
      planned_.store(next.value_or(kNothingPlanned), std::memory_order_release);
      // A cap on the sleep guards against the wall clock being stepped.
      absl::Duration wait = absl::Seconds(60);
      if (next) wait = std::min(wait, TickTime(*next) - context_.clock->Now());
      if (wait <= absl::ZeroDuration()) continue;
      wake_cv_.wait_for(l, absl::ToChronoNanoseconds(wait), [this] {
        return stop_ || dirty_.load(std::memory_order_acquire);
      });
      if (stop_) return;
    }
  }

  // Constant after construction
  // The seed of the handle codec, and of the SID generator of a store
  // opened empty: a seeded store restored with the same seed finds its
  // Sessions' handles in their SIDs.
  const uint64_t seed_;
  internal::ShardContext context_;
  internal::ListenerList listeners_;
  // A store opened from a snapshot mints under a key of its own, the seed
  // mixed with the random device's bits, never the writer's key; a durable
  // store, under the seed mixed with the number of times its directory has
  // been opened (Durability::Identity), so a seeded one stays reproducible.
  // Carrying the writer's count on (Restore's SkipTo) is not enough: the count
  // is where the writer was at the snapshot, and the writer may have gone on
  // minting after it (or a crash may be followed by two opens of one
  // file), so a seeded store would hand out again SIDs already handed out,
  // and an old SID would fetch someone else's Session. Under a fresh key a
  // new SID meets an earlier one only by a 64-bit chance, as between any
  // two unseeded stores, and Create mints again on a clash with a
  // restored SID.
  internal::SidGenerator sids_;
  const internal::HandleCodec handles_;
  std::atomic<uint64_t> next_seq_{1};
  std::vector<std::unique_ptr<Shard>> shards_;
  const uint32_t mask_;
  internal::SessionQuota quota_;  // Atomic: every shard takes places.
  internal::SessionQuota interaction_quota_;  // As quota_, for Interactions.
  const int64_t max_sessions_per_service_;
  const int64_t max_services_;  // Checked by CreateService alone.
  const bool follower_;
  const bool trim_after_purge_;
  const Sid account_sid_;
  // What the shards' slabs released since memory was last given back
  // (GiveMemoryBack), which happens once it reaches kTrimBytes. 64 MiB is
  // about 440,000 Sessions' records: a churning store that reuses its
  // chunks never trims, a mass expiry trims once or a few times.
  static constexpr uint64_t kTrimBytes = uint64_t{64} << 20;
  std::atomic<uint64_t> returned_bytes_{0};

  // The Service registry; shards hold replicas (see the file comment).
  internal::Mutex services_mu_;
  absl::flat_hash_map<Sid128, ServiceEntry> services_
      ABSL_GUARDED_BY(services_mu_);
  absl::flat_hash_map<std::string, Sid128> service_names_
      ABSL_GUARDED_BY(services_mu_);
  absl::btree_map<uint64_t, Sid128> services_by_seq_
      ABSL_GUARDED_BY(services_mu_);

  // Background expiry. wake_mu_ is a plain std::mutex because the
  // condition variable needs one; it guards stop_ and orders wakeups.
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool stop_ = false;
  std::atomic<bool> dirty_{false};
  std::atomic<uint64_t> planned_{kNothingPlanned};
  std::thread thread_;

  // Null for a store in memory only. Last, so it goes first: its
  // checkpoint thread copies the shards.
  std::unique_ptr<internal::Durability> durability_;
};

// Checks the options every store shares.
absl::Status CheckOptions(const StoreOptions& options) {
  if (options.shards < 1 || options.shards > kMaxShards ||
      (options.shards & (options.shards - 1)) != 0) {
    return absl::InvalidArgumentError(
        "StoreOptions::shards must be a power of two from 1 to 256");
  }
  if (options.bulk_slice < 1) {
    return absl::InvalidArgumentError("StoreOptions::bulk_slice must be >= 1");
  }
  if (options.tick < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("StoreOptions::tick must be >= 1 ms");
  }
  if (options.closed_retention < absl::ZeroDuration() ||
      (options.closed_retention > absl::Hours(24 * 365 * 100) &&
       options.closed_retention != absl::InfiniteDuration())) {
    return absl::InvalidArgumentError(
        "StoreOptions::closed_retention must be from 0 to 100 years, or "
        "infinite");
  }
  if (options.max_interactions < 0 ||
      options.max_interactions_per_session < 0) {
    return absl::InvalidArgumentError(
        "StoreOptions::max_interactions and max_interactions_per_session must "
        "be >= 0 (kNoLimit for no limit)");
  }
  if (options.max_sessions < 0 || options.max_sessions_per_service < 0 ||
      options.max_services < 0) {
    return absl::InvalidArgumentError(
        "StoreOptions::max_sessions, max_sessions_per_service and "
        "max_services must be >= 0 (kNoLimit for no limit)");
  }
  if (options.sync_interval < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError(
        "StoreOptions::sync_interval must be >= 1 ms");
  }
  if (options.follower && !options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "a follower (StoreOptions::follower) lives in memory: its leader's "
        "journal is its durability; data_dir must be empty");
  }
  return absl::OkStatus();
}

// Open, for OpenSnapshot and a durable store too: checks `options` and
// builds an empty store in memory.
absl::StatusOr<std::unique_ptr<StoreImpl>> NewStore(const StoreOptions& options,
                                                    uint64_t mint_salt) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  Sid account;
  if (options.account_sid.empty()) {
    const uint64_t seed = options.seed.has_value()
                              ? *options.seed ^ 0xac0c0u
                              : internal::SidGenerator::RandomSeed();
    account = internal::ToSid("AC", internal::SidGenerator(seed).Next());
  } else {
    std::optional<Sid128> sid = internal::ParseSid("AC", options.account_sid);
    if (!sid) {
      return absl::InvalidArgumentError(
          "StoreOptions::account_sid must be AC + 32 hex digits");
    }
    account = internal::ToSid("AC", *sid);
  }
  return std::make_unique<StoreImpl>(options, account, mint_salt);
}

}  // namespace

namespace internal {

absl::StatusOr<std::unique_ptr<SessionStore>> OpenDurableStore(
    const StoreOptions& options, JournalFiles* files) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Durability>> durability =
      Durability::Open(options, files);
  if (!durability.ok()) return durability.status();
  StoreOptions in_memory = options;
  in_memory.data_dir.clear();
  in_memory.seed = (*durability)->identity().seed;
  in_memory.account_sid = FormatSid("AC", (*durability)->identity().account);
  absl::StatusOr<std::unique_ptr<StoreImpl>> store =
      NewStore(in_memory, (*durability)->MintSalt());
  if (!store.ok()) return store.status();
  if (absl::Status s = (*store)->RecoverFrom(*std::move(durability)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<SessionStore>(*std::move(store));
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::Open(
    const StoreOptions& options) {
  if (!options.data_dir.empty()) {
    return internal::OpenDurableStore(options, nullptr);
  }
  return NewStore(options, /*mint_salt=*/0);
}

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::OpenSnapshot(
    const std::string& path, const StoreOptions& options) {
  if (!options.data_dir.empty()) {
    return absl::InvalidArgumentError(
        "OpenSnapshot opens a store in memory: StoreOptions::data_dir must "
        "be empty");
  }
  absl::StatusOr<std::unique_ptr<internal::SnapshotReader>> reader =
      internal::SnapshotReader::OpenFile(path,
                                         internal::SnapshotRulesOfTheStore());
  if (!reader.ok()) return reader.status();
  StoreOptions restored = options;
  restored.account_sid = internal::FormatSid("AC", (*reader)->account());
  if (!options.account_sid.empty() &&
      internal::ParseSid("AC", options.account_sid) != (*reader)->account()) {
    return (*reader)->Refuse(absl::InvalidArgumentError(
        Cat("StoreOptions::account_sid ", options.account_sid,
            " is not the snapshot's account ", restored.account_sid)));
  }
  absl::StatusOr<std::unique_ptr<StoreImpl>> store =
      NewStore(restored, internal::SidGenerator::RandomSeed());
  if (!store.ok()) return store.status();
  // Built as the file is read: a damaged file's error drops the store here,
  // before anyone can see it.
  if (absl::Status s = (*store)->Restore(**reader); !s.ok()) return s;
  // A follower's snapshot is a checkpoint its leader's feed continues: as
  // in recovery, nothing is settled before the feed's changes can reach it
  // (a read or the next tick settles what is still due then).
  if (!options.follower) (*store)->SettleAll();
  return std::unique_ptr<SessionStore>(*std::move(store));
}

// The overloads that answer by value -------------------------------------

namespace {
// Runs `call` into a new Session and returns it, or the call's error.
template <typename Call>
absl::StatusOr<Session> Answer(Call call) {
  Session out;
  if (absl::Status s = call(&out); !s.ok()) return s;
  return out;
}
}  // namespace

absl::StatusOr<Session> SessionStore::CreateSession(
    const Sid& service, const CreateSessionParams& params) {
  return Answer(
      [&](Session* out) { return CreateSession(service, params, out); });
}

absl::StatusOr<Session> SessionStore::FetchSession(const Sid& service,
                                                   const Sid& sid) {
  return Answer([&](Session* out) { return FetchSession(service, sid, out); });
}

absl::StatusOr<Session> SessionStore::FetchSession(
    const Sid& service, std::string_view sid_or_name) {
  return Answer(
      [&](Session* out) { return FetchSession(service, sid_or_name, out); });
}

absl::StatusOr<Session> SessionStore::UpdateSession(
    const Sid& service, const Sid& sid, const UpdateSessionParams& params) {
  return Answer(
      [&](Session* out) { return UpdateSession(service, sid, params, out); });
}

}  // namespace sessionwheel
