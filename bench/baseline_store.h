// The store the three baselines share: one std::mutex over a hash map of
// Sessions by SID (owning), one by unique_name, and a deadline index. The
// baselines differ only in that index and in the hash map type, the two
// template parameters; everything a call does around them is written once,
// here.
//
// A DeadlineIndex<Record> is a class template over the store's record type
// with these members, called only under the store's lock:
//
//   struct Hook                        the fields it keeps in every Record
//   bool Set(Record* rec, int64_t at)  puts `rec` at deadline `at` (never
//                                      kNoTime), inserting or moving it;
//                                      false if it was at `at` already
//   void Remove(Record* rec)           takes `rec` out, if it is in
//   Record* PopDue(int64_t now)        takes out a Record due at or before
//                                      `now` and returns it; null for none
//   int64_t NextDeadline() const       the earliest deadline, or kNoTime; may
//                                      be early (it only wakes a thread)
//
// A StringMap<Value> is a hash map from a string view type to Value whose
// key_type is constructible from (data, size): std::unordered_map over
// std::string_view, or absl::flat_hash_map over absl::string_view. A
// SidMap<Value> is the same family's hash map from Sid to Value.
//
// Templates rather than virtual hooks: each baseline compiles to the code a
// hand-written store would be, with no indirect call per operation to bias
// the comparison.
//
// Example (bench/baseline_multimap.cc):
//
//   template <typename Value>
//   using StringMap = std::unordered_map<std::string_view, Value>;
//   template <typename Value>
//   using SidMap = std::unordered_map<Sid, Value, absl::Hash<Sid>>;
//   auto store = std::make_unique<
//       BaselineStore<MultimapIndex, StringMap, SidMap>>(config);

#ifndef SESSIONWHEEL_BENCH_BASELINE_STORE_H_
#define SESSIONWHEEL_BENCH_BASELINE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "bench/baseline_common.h"
#include "bench/store_under_test.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/session.h"

namespace sessionwheel::bench {

template <template <typename> class DeadlineIndex,
          template <typename> class StringMap, template <typename> class SidMap>
class BaselineStore final : public ExpiryStoreUnderTest {
 public:
  explicit BaselineStore(const StoreConfig& config)
      : clock_(config.clock),
        free_on_expiry_(config.free_on_expiry),
        identity_(config.seed),
        events_(config.listener) {
    if (config.background_expiry) {
      expiry_ = std::make_unique<ExpiryThread>(clock_, [this] {
        Advance();
        std::lock_guard<std::mutex> l(mu_);
        return index_.NextDeadline();
      });
    }
  }

  // Stops the expiry thread before the tables it reads go.
  ~BaselineStore() override { expiry_.reset(); }

  bool Create(std::string_view unique_name, int64_t ttl,
              Session* out) override {
    std::lock_guard<std::mutex> l(mu_);
    // Ended Sessions are never purged here, so a held name stays held.
    if (by_name_.count(Key(unique_name)) != 0) return false;
    const int64_t now = NowMs(*clock_);
    auto owned = std::make_unique<Record>();
    Record* rec = owned.get();
    do {
      rec->sid = identity_.MintSessionSid();
    } while (by_sid_.count(rec->sid) != 0);
    rec->unique_name = unique_name;
    rec->ttl = ttl;
    rec->created_ms = rec->updated_ms = rec->base_ms = now;
    by_sid_.emplace(rec->sid, std::move(owned));
    by_name_.emplace(rec->unique_name, rec);
    ScheduleLocked(rec);
    identity_.Snapshot(*rec, out);
    return true;
  }

  bool FetchBySid(const Sid& sid, Session* out) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_sid_.find(sid);
    if (it == by_sid_.end()) return false;
    Record* rec = it->second.get();
    if (!SettleLocked(rec, NowMs(*clock_))) return false;
    identity_.Snapshot(*rec, out);
    return true;
  }

  bool FetchByName(std::string_view unique_name, Session* out) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_name_.find(Key(unique_name));
    if (it == by_name_.end()) return false;
    Record* rec = it->second;
    if (!SettleLocked(rec, NowMs(*clock_))) return false;
    identity_.Snapshot(*rec, out);
    return true;
  }

  bool UpdateTtl(const Sid& sid, int64_t ttl, Session* out) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    Record* rec = FindLiveLocked(sid, now);
    if (rec == nullptr) return false;
    rec->ttl = ttl;
    rec->updated_ms = now;
    ScheduleLocked(rec);
    // The new ttl may be spent already.
    if (!SettleLocked(rec, now)) return false;
    identity_.Snapshot(*rec, out);
    return true;
  }

  bool RecordInteraction(const Sid& sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    Record* rec = FindLiveLocked(sid, now);
    if (rec == nullptr) return false;
    rec->Interact(now);
    ScheduleLocked(rec);
    return true;
  }

  int64_t Advance() override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    int64_t closed = 0;
    while (Record* rec = index_.PopDue(now)) {
      ExpireLocked(rec);
      ++closed;
    }
    return closed;
  }

 private:
  // A Session with the fields its deadline index keeps in it.
  struct Record : BaselineSession, DeadlineIndex<Record>::Hook {};

  using NameMap = StringMap<Record*>;

  // Debian's Abseil keeps absl::string_view distinct from std::string_view.
  static typename NameMap::key_type Key(std::string_view s) {
    return {s.data(), s.size()};
  }

  // The live Session with this SID after settling it, or null.
  Record* FindLiveLocked(const Sid& sid, int64_t now) {
    auto it = by_sid_.find(sid);
    if (it == by_sid_.end()) return nullptr;
    Record* rec = it->second.get();
    if (!SettleLocked(rec, now)) return nullptr;
    return rec->live() ? rec : nullptr;
  }

  // Closes `rec` if its expiry instant has passed. False if that freed it.
  bool SettleLocked(Record* rec, int64_t now) {
    const int64_t instant = rec->ExpiryInstant();
    if (instant == kNoTime || instant > now) return true;
    index_.Remove(rec);
    ExpireLocked(rec);
    return !free_on_expiry_;
  }

  // Closes `rec`, already out of the index, and frees it if asked to.
  void ExpireLocked(Record* rec) {
    const int64_t instant = rec->ExpiryInstant();
    rec->Expire(instant);
    if (events_.enabled()) events_.Add(identity_.CloseEvent(*rec));
    if (free_on_expiry_) {
      by_name_.erase(Key(rec->unique_name));
      const Sid sid = rec->sid;  // The key must outlive the record.
      by_sid_.erase(sid);
    }
  }

  // Puts `rec` at its expiry instant in the index, or takes it out.
  void ScheduleLocked(Record* rec) {
    const int64_t at = rec->ExpiryInstant();
    if (at == kNoTime) {
      index_.Remove(rec);
      return;
    }
    if (index_.Set(rec, at) && expiry_ != nullptr) expiry_->ScheduledAt(at);
  }

  // Constant after construction
  Clock* const clock_;
  const bool free_on_expiry_;

  std::mutex mu_;
  // Protected by mu_
  BaselineIdentity identity_;
  SidMap<std::unique_ptr<Record>> by_sid_;
  NameMap by_name_;
  DeadlineIndex<Record> index_;

  CloseEvents events_;
  std::unique_ptr<ExpiryThread> expiry_;  // Null without background expiry.
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_BASELINE_STORE_H_
