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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "engine/core/page_token.h"
#include "engine/core/shard.h"
#include "engine/persist/file_io.h"
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

absl::Status NotFound(std::string_view resource) {
  return ProxyError(absl::StatusCode::kNotFound, kErrorNotFound,
                    Cat("The requested resource ", resource, " was not found"));
}

absl::Status SessionNotFound(std::string_view service, std::string_view id) {
  return NotFound(Cat("/Services/", service, "/Sessions/", id));
}

absl::Status MalformedSessionSid(std::string_view sid) {
  return ProxyError(absl::StatusCode::kInvalidArgument,
                    kErrorMalformedSessionSid,
                    Cat("Invalid Session SID '", sid, "'."));
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

// Replaces a shard's bare NotFound with the API's wording; passes the rest.
absl::Status Reword(absl::Status s, std::string_view service,
                    std::string_view id) {
  if (absl::IsNotFound(s) && !ProxyErrorCode(s).has_value()) {
    return SessionNotFound(service, id);
  }
  return s;
}

template <typename T>
absl::StatusOr<T> Reword(absl::StatusOr<T> s, std::string_view service,
                         std::string_view id) {
  if (s.ok()) return s;
  return Reword(s.status(), service, id);
}

class StoreImpl final : public SessionStore,
                        private internal::WakeupSink,
                        private ClockObserver {
 public:
  StoreImpl(const StoreOptions& options, std::string account_sid)
      : sids_(options.seed.has_value() ? *options.seed
                                       : internal::SidGenerator::RandomSeed()),
        mask_(static_cast<uint32_t>(options.shards - 1)),
        quota_(options.max_sessions),
        max_sessions_per_service_(options.max_sessions_per_service) {
    context_.clock = options.clock != nullptr ? options.clock : SystemClock();
    context_.origin_ms = absl::ToUnixMillis(context_.clock->Now());
    context_.tick_ms = absl::ToInt64Milliseconds(options.tick);
    context_.retention_ms =
        options.closed_retention == absl::InfiniteDuration()
            ? internal::kNoTime
            : absl::ToInt64Milliseconds(options.closed_retention);
    context_.account_sid = std::move(account_sid);
    context_.sids = &sids_;
    context_.next_seq = &next_seq_;
    context_.quota = &quota_;
    context_.listeners = &listeners_;
    context_.wakeup = options.background_expiry ? this : nullptr;
    for (int i = 0; i < options.shards; ++i) {
      shards_.push_back(std::make_unique<Shard>(&context_));
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
    std::optional<Sid128> chosen;
    if (params.sid.has_value()) {
      chosen = internal::ParseSid("KS", *params.sid);
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
    Sid128 sid;
    if (chosen) {
      sid = *chosen;
      if (services_.contains(sid)) {
        return ProxyError(absl::StatusCode::kAlreadyExists,
                          kErrorInvalidParameter,
                          "'Sid' is invalid. A Service with this SID exists.");
      }
    } else {
      do {
        sid = sids_.Next();
      } while (services_.contains(sid));
    }
    const absl::Time now = context_.clock->Now();
    ServiceEntry entry;
    entry.seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
    entry.service.sid = internal::FormatSid("KS", sid);
    entry.service.account_sid = context_.account_sid;
    entry.service.unique_name = params.unique_name;
    entry.service.default_ttl = params.default_ttl;
    entry.service.date_created = entry.service.date_updated =
        absl::FromUnixMillis(absl::ToUnixMillis(now));
    auto quota =
        std::make_shared<internal::SessionQuota>(max_sessions_per_service_);
    ForEachShardLocked([&](Shard& shard) {
      shard.mu().AssertHeld();
      shard.AddServiceLocked(sid, entry.service.sid, params.default_ttl, quota);
    });
    service_names_.emplace(params.unique_name, sid);
    services_by_seq_.emplace(entry.seq, sid);
    Service out = entry.service;
    services_.emplace(sid, std::move(entry));
    return out;
  }

  absl::StatusOr<Service> FetchService(std::string_view sid_text) override {
    MutexLock l(&services_mu_);
    const ServiceEntry* entry = FindServiceLocked(sid_text);
    if (entry == nullptr) return ServiceNotFound(sid_text);
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

  absl::StatusOr<Service> UpdateService(
      std::string_view sid_text, const UpdateServiceParams& params) override {
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
    ServiceEntry* entry = FindServiceLocked(sid_text);
    if (entry == nullptr) return ServiceNotFound(sid_text);
    const Sid128 sid = *internal::ParseSid("KS", entry->service.sid);
    if (params.unique_name.has_value() &&
        *params.unique_name != entry->service.unique_name) {
      if (service_names_.contains(*params.unique_name)) {
        return ServiceNameTaken(*params.unique_name);
      }
      service_names_.erase(entry->service.unique_name);
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
        absl::FromUnixMillis(absl::ToUnixMillis(context_.clock->Now()));
    return entry->service;
  }

  absl::Status DeleteService(std::string_view sid_text) override {
    {
      MutexLock l(&services_mu_);
      ServiceEntry* entry = FindServiceLocked(sid_text);
      if (entry == nullptr) return ServiceNotFound(sid_text);
      const Sid128 sid = *internal::ParseSid("KS", entry->service.sid);
      // Out of the registry first, so no new list starts; then out of each
      // shard, with the Sessions created there meanwhile.
      service_names_.erase(entry->service.unique_name);
      services_by_seq_.erase(entry->seq);
      services_.erase(sid);
      ForEachShardLocked([&](Shard& shard) {
        shard.mu().AssertHeld();
        shard.RemoveServiceLocked(sid);
      });
    }
    for (auto& shard : shards_) shard->DeliverEvents();
    return absl::OkStatus();
  }

  // Sessions
  // ----------------------------------------------------------------------

  absl::StatusOr<Session> CreateSession(
      std::string_view service_text,
      const CreateSessionParams& params) override {
    std::optional<Sid128> service = internal::ParseSid("KS", service_text);
    if (!service) return NotFound(CollectionPath(service_text));
    bool purged = false;
    for (;;) {
      Sid128 sid = sids_.Next();
      // A named Session lives in the shard of its name (see shard.h).
      if (params.unique_name.has_value()) {
        sid = internal::WithShardByte(
            sid, internal::NameShardByte(*service, *params.unique_name));
      }
      Shard& shard = ShardFor(sid);
      absl::StatusOr<Session> s = shard.Create(*service, sid, params);
      shard.DeliverEvents();
      if (absl::IsAlreadyExists(s.status()) &&
          !ProxyErrorCode(s.status()).has_value()) {
        continue;  // A restored SID collided with a fresh one: mint again.
      }
      // A Session whose purge is due holds no place, as it holds no name:
      // run what is due, once, before refusing.
      if (absl::IsResourceExhausted(s.status()) && !purged) {
        purged = true;
        if (Advance() > 0) continue;
      }
      if (absl::IsNotFound(s.status())) {
        return NotFound(CollectionPath(service_text));
      }
      return s;
    }
  }

  absl::StatusOr<Session> FetchSession(std::string_view service_text,
                                       std::string_view id) override {
    std::optional<Sid128> service = internal::ParseSid("KS", service_text);
    if (!service) return SessionNotFound(service_text, id);
    if (std::optional<Sid128> sid = internal::ParseSid("KC", id)) {
      Shard& shard = ShardFor(*sid);
      absl::StatusOr<Session> s = shard.FetchBySid(*service, *sid);
      shard.DeliverEvents();
      if (s.ok()) return s;
    }
    Shard& shard = NameShard(*service, id);
    absl::StatusOr<Session> s = shard.FetchByName(*service, id);
    shard.DeliverEvents();
    return Reword(std::move(s), service_text, id);
  }

  absl::StatusOr<SessionPage> ListSessions(std::string_view service_text,
                                           const ListParams& params) override {
    std::optional<Sid128> service = internal::ParseSid("KS", service_text);
    if (!service || !ServiceExists(*service)) {
      return NotFound(CollectionPath(service_text));
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
    std::vector<Shard::Listed> all;
    for (auto& shard : shards_) {
      std::vector<Shard::Listed> part = shard->List(*service, cursor, want);
      shard->DeliverEvents();
      std::move(part.begin(), part.end(), std::back_inserter(all));
    }
    // Nearest to the cursor first: descending, or ascending for "newer".
    std::sort(all.begin(), all.end(),
              [newer](const Shard::Listed& a, const Shard::Listed& b) {
                return newer ? a.seq < b.seq : a.seq > b.seq;
              });
    if (all.size() > want) all.resize(want);
    std::vector<std::pair<uint64_t, Sid128>> keys;
    for (const auto& item : all) keys.emplace_back(item.seq, item.sid);
    PagingResult r = Paginate(keys, params.page_size, cursor);
    if (all.size() > keys.size()) all.resize(keys.size());
    if (newer) std::reverse(all.begin(), all.end());
    SessionPage page;
    for (auto& item : all) page.sessions.push_back(std::move(item.session));
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

  absl::StatusOr<Session> UpdateSession(
      std::string_view service_text, std::string_view sid_text,
      const UpdateSessionParams& params) override {
    return OnSession(
        service_text, sid_text,
        [&](Shard& shard, const Sid128& service, const Sid128& sid) {
          return shard.Update(service, sid, params);
        });
  }

  absl::Status DeleteSession(std::string_view service_text,
                             std::string_view sid_text) override {
    return OnSession(service_text, sid_text,
                     [&](Shard& shard, const Sid128& service,
                         const Sid128& sid) -> absl::StatusOr<bool> {
                       absl::Status s = shard.Delete(service, sid);
                       if (!s.ok()) return s;
                       return true;
                     })
        .status();
  }

  absl::StatusOr<Session> RecordInteraction(
      std::string_view service_text, std::string_view sid_text) override {
    return OnSession(
        service_text, sid_text,
        [&](Shard& shard, const Sid128& service, const Sid128& sid) {
          return shard.RecordInteraction(service, sid);
        });
  }

  absl::StatusOr<Session> CloseSession(std::string_view service_text,
                                       std::string_view sid_text,
                                       std::string_view reason) override {
    return OnSession(
        service_text, sid_text,
        [&](Shard& shard, const Sid128& service, const Sid128& sid) {
          return shard.End(service, sid, SessionStatus::kClosed, reason);
        });
  }

  absl::StatusOr<Session> FailSession(std::string_view service_text,
                                      std::string_view sid_text,
                                      std::string_view reason) override {
    return OnSession(
        service_text, sid_text,
        [&](Shard& shard, const Sid128& service, const Sid128& sid) {
          return shard.End(service, sid, SessionStatus::kFailed, reason);
        });
  }

  // Expiry and events
  // -------------------------------------------------------------

  int64_t Advance() override {
    int64_t done = 0;
    for (auto& shard : shards_) {
      done += shard->Advance();
      shard->DeliverEvents();
    }
    return done;
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
    return internal::WriteFileAtomically(path,
                                         internal::EncodeSnapshot(Capture()));
  }

  // Fills this new, empty store with `image` (see OpenSnapshot).
  absl::Status Restore(const internal::StoreImage& image) {
    next_seq_.store(image.next_seq, std::memory_order_relaxed);
    sids_.SkipTo(image.sids_minted);
    {
      MutexLock l(&services_mu_);
      for (const internal::ServiceImage& s : image.services) {
        RestoreServiceLocked(s);
      }
    }
    std::vector<std::vector<const internal::SessionImage*>> by_shard(
        shards_.size());
    for (const internal::SessionImage& s : image.sessions) {
      by_shard[internal::ShardByte(s.sid) & mask_].push_back(&s);
    }
    for (size_t i = 0; i < shards_.size(); ++i) {
      if (absl::Status s = shards_[i]->RestoreSessions(by_shard[i]); !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }

 private:
  struct ServiceEntry {
    Service service;
    uint64_t seq = 0;
  };

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
    return *internal::ParseSid("KS", entry->service.sid);
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

  static std::string CollectionPath(std::string_view service) {
    return Cat("/Services/", service, "/Sessions");
  }

  static absl::Status ServiceNotFound(std::string_view sid) {
    return NotFound(Cat("/Services/", sid));
  }

  static absl::Status ServiceNameTaken(std::string_view name) {
    return ProxyError(
        absl::StatusCode::kAlreadyExists, kErrorServiceNameTaken,
        Cat("Service UniqueName '", name, "' is already in use."));
  }

  // Parses both SIDs, runs `op` on the Session's shard and delivers events.
  template <typename Op>
  auto OnSession(std::string_view service_text, std::string_view sid_text,
                 Op op)
      -> decltype(op(std::declval<Shard&>(), std::declval<const Sid128&>(),
                     std::declval<const Sid128&>())) {
    std::optional<Sid128> sid = internal::ParseSid("KC", sid_text);
    if (!sid) return MalformedSessionSid(sid_text);
    std::optional<Sid128> service = internal::ParseSid("KS", service_text);
    if (!service) return SessionNotFound(service_text, sid_text);
    Shard& shard = ShardFor(*sid);
    auto result = op(shard, *service, *sid);
    shard.DeliverEvents();
    return Reword(std::move(result), service_text, sid_text);
  }

  Shard& ShardFor(const Sid128& sid) {
    return *shards_[internal::ShardByte(sid) & mask_];
  }

  Shard& NameShard(const Sid128& service, std::string_view name) {
    return *shards_[internal::NameShardByte(service, name) & mask_];
  }

  ServiceEntry* FindServiceLocked(std::string_view sid_text)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    std::optional<Sid128> sid = internal::ParseSid("KS", sid_text);
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

  // Copies the store for a snapshot: the Services under services_mu_, then
  // each shard under its own lock alone, one after the other, with no
  // other lock held, so no call waits for more than one shard's copy.
  internal::StoreImage Capture() {
    internal::StoreImage image;
    image.account = *internal::ParseSid("AC", context_.account_sid);
    absl::flat_hash_set<Sid128> saved;
    {
      MutexLock l(&services_mu_);
      for (const auto& [seq, sid] : services_by_seq_) {
        const Service& s = services_.at(sid).service;
        image.services.push_back(internal::ServiceImage{
            sid, seq, absl::ToUnixMillis(s.date_created),
            absl::ToUnixMillis(s.date_updated), s.default_ttl, s.unique_name});
        saved.insert(sid);
      }
    }
    for (auto& shard : shards_) shard->CaptureSessions(&image.sessions);
    // Read after the walk: every Session copied was numbered and minted
    // before, so the restored store continues past all of them.
    image.next_seq = next_seq_.load(std::memory_order_relaxed);
    image.sids_minted = sids_.minted();
    // A Service created during the walk is not saved, so neither are its
    // Sessions: as if their shards had been copied before they existed.
    image.sessions.erase(
        std::remove_if(image.sessions.begin(), image.sessions.end(),
                       [&saved](const internal::SessionImage& s) {
                         return !saved.contains(s.service);
                       }),
        image.sessions.end());
    std::sort(image.sessions.begin(), image.sessions.end(),
              [](const internal::SessionImage& a,
                 const internal::SessionImage& b) { return a.seq < b.seq; });
    return image;
  }

  void RestoreServiceLocked(const internal::ServiceImage& image)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(services_mu_) {
    ServiceEntry entry;
    entry.seq = image.seq;
    entry.service.sid = internal::FormatSid("KS", image.sid);
    entry.service.account_sid = context_.account_sid;
    entry.service.unique_name = image.unique_name;
    entry.service.default_ttl = image.default_ttl;
    entry.service.date_created = absl::FromUnixMillis(image.created_ms);
    entry.service.date_updated = absl::FromUnixMillis(image.updated_ms);
    auto quota =
        std::make_shared<internal::SessionQuota>(max_sessions_per_service_);
    ForEachShardLocked([&](Shard& shard) {
      shard.mu().AssertHeld();
      shard.AddServiceLocked(image.sid, entry.service.sid, image.default_ttl,
                             quota);
    });
    service_names_.emplace(image.unique_name, image.sid);
    services_by_seq_.emplace(image.seq, image.sid);
    services_.emplace(image.sid, std::move(entry));
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
  internal::ShardContext context_;
  internal::ListenerList listeners_;
  internal::SidGenerator sids_;
  std::atomic<uint64_t> next_seq_{1};
  std::vector<std::unique_ptr<Shard>> shards_;
  const uint32_t mask_;
  internal::SessionQuota quota_;  // Atomic: every shard takes places.
  const int64_t max_sessions_per_service_;

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
};

}  // namespace

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::Open(
    const StoreOptions& options) {
  if (options.shards < 1 || options.shards > kMaxShards ||
      (options.shards & (options.shards - 1)) != 0) {
    return absl::InvalidArgumentError(
        "StoreOptions::shards must be a power of two from 1 to 256");
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
  if (options.max_sessions < 0 || options.max_sessions_per_service < 0) {
    return absl::InvalidArgumentError(
        "StoreOptions::max_sessions and max_sessions_per_service must be >= "
        "0 (kNoLimit for no limit)");
  }
  std::string account;
  if (options.account_sid.empty()) {
    const uint64_t seed = options.seed.has_value()
                              ? *options.seed ^ 0xac0c0u
                              : internal::SidGenerator::RandomSeed();
    account = internal::FormatSid("AC", internal::SidGenerator(seed).Next());
  } else {
    std::optional<Sid128> sid = internal::ParseSid("AC", options.account_sid);
    if (!sid) {
      return absl::InvalidArgumentError(
          "StoreOptions::account_sid must be AC + 32 hex digits");
    }
    account = internal::FormatSid("AC", *sid);
  }
  return std::unique_ptr<SessionStore>(new StoreImpl(options, account));
}

absl::StatusOr<std::unique_ptr<SessionStore>> SessionStore::OpenSnapshot(
    const std::string& path, const StoreOptions& options) {
  absl::StatusOr<std::string> bytes = internal::ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<internal::StoreImage> image =
      internal::DecodeSnapshot(*bytes, internal::SnapshotRulesOfTheStore());
  if (!image.ok()) {
    return absl::Status(image.status().code(),
                        Cat(path, ": ", std::string(image.status().message())));
  }
  StoreOptions restored = options;
  restored.account_sid = internal::FormatSid("AC", image->account);
  if (!options.account_sid.empty() &&
      internal::ParseSid("AC", options.account_sid) != image->account) {
    return absl::InvalidArgumentError(
        Cat("StoreOptions::account_sid ", options.account_sid,
            " is not the snapshot's account ", restored.account_sid));
  }
  absl::StatusOr<std::unique_ptr<SessionStore>> store = Open(restored);
  if (!store.ok()) return store.status();
  // Open always makes a StoreImpl.
  if (absl::Status s = static_cast<StoreImpl&>(**store).Restore(*image);
      !s.ok()) {
    return s;
  }
  return store;
}

}  // namespace sessionwheel
