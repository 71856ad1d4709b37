// Baseline (b): one std::mutex, absl::flat_hash_map by SID and by name, and a
// std::priority_queue of (deadline, version, Session) with lazy deletion.
//
// A reschedule never touches the queue's old entry: it bumps the Session's
// version and pushes a new entry, O(log n) but usually O(1), since a new
// deadline tends to be the latest. Advance pops due entries and skips those
// whose version is stale. Stale entries are dropped in one O(n) pass when
// they outnumber the live ones, so the queue stays within twice the live
// Sessions.
//
// An entry points at its Session rather than holding its SID: records are
// never freed while the store lives (nothing here deletes or purges), so the
// pointer is safe, and it spares the queue a string per entry. That favours
// this baseline.

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bench/baseline_common.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

class LazyHeapBaseline final : public ExpiryStoreUnderTest {
 public:
  explicit LazyHeapBaseline(const StoreConfig& config)
      : clock_(config.clock), identity_(config.seed), events_(config.listener) {
    if (config.background_expiry) {
      expiry_ = std::make_unique<ExpiryThread>(clock_, [this] {
        Advance();
        std::lock_guard<std::mutex> l(mu_);
        // A stale top only wakes the thread early.
        return queue_.empty() ? kNoTime : queue_.top().deadline;
      });
    }
  }

  // Stops the expiry thread before the tables it reads go.
  ~LazyHeapBaseline() override { expiry_.reset(); }

  std::optional<Session> Create(std::string_view unique_name,
                                int64_t ttl) override {
    std::lock_guard<std::mutex> l(mu_);
    // Ended Sessions are never purged here, so a held name stays held.
    if (by_name_.contains(Key(unique_name))) return std::nullopt;
    const int64_t now = NowMs(*clock_);
    auto owned = std::make_unique<Record>();
    Record* rec = owned.get();
    do {
      rec->sid = identity_.MintSessionSid();
    } while (by_sid_.contains(rec->sid));
    rec->unique_name = unique_name;
    rec->ttl = ttl;
    rec->created_ms = rec->updated_ms = rec->base_ms = now;
    by_sid_.emplace(rec->sid, std::move(owned));
    by_name_.emplace(rec->unique_name, rec);
    ScheduleLocked(rec);
    return identity_.Snapshot(*rec);
  }

  std::optional<Session> FetchBySid(std::string_view sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_sid_.find(Key(sid));
    if (it == by_sid_.end()) return std::nullopt;
    SettleLocked(it->second.get(), NowMs(*clock_));
    return identity_.Snapshot(*it->second);
  }

  std::optional<Session> FetchByName(std::string_view unique_name) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_name_.find(Key(unique_name));
    if (it == by_name_.end()) return std::nullopt;
    SettleLocked(it->second, NowMs(*clock_));
    return identity_.Snapshot(*it->second);
  }

  std::optional<Session> UpdateTtl(std::string_view sid, int64_t ttl) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    Record* rec = FindLiveLocked(sid, now);
    if (rec == nullptr) return std::nullopt;
    rec->ttl = ttl;
    rec->updated_ms = now;
    ScheduleLocked(rec);
    SettleLocked(rec, now);  // The new ttl may be spent already.
    return identity_.Snapshot(*rec);
  }

  std::optional<Session> RecordInteraction(std::string_view sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    Record* rec = FindLiveLocked(sid, now);
    if (rec == nullptr) return std::nullopt;
    rec->Interact(now);
    ScheduleLocked(rec);
    return identity_.Snapshot(*rec);
  }

  int64_t Advance() override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    const int64_t now = NowMs(*clock_);
    int64_t closed = 0;
    while (!queue_.empty() && queue_.top().deadline <= now) {
      const Entry e = queue_.top();
      queue_.pop();
      if (e.version != e.rec->version) continue;  // Rescheduled since.
      e.rec->queued_at = kNoTime;
      --live_entries_;
      ExpireLocked(e.rec);
      ++closed;
    }
    return closed;
  }

 private:
  struct Record : BaselineSession {
    uint64_t version = 0;         // Bumped by every reschedule.
    int64_t queued_at = kNoTime;  // The live entry's deadline, if any.
  };

  struct Entry {
    int64_t deadline;
    uint64_t version;
    Record* rec;
  };
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.deadline > b.deadline;
    }
  };

  // A std::priority_queue that can drop its stale entries in O(n).
  class DeadlineQueue
      : public std::priority_queue<Entry, std::vector<Entry>, Later> {
   public:
    void DropStale() {
      c.erase(std::remove_if(
                  c.begin(), c.end(),
                  [](const Entry& e) { return e.version != e.rec->version; }),
              c.end());
      std::make_heap(c.begin(), c.end(), comp);
    }
  };

  // Debian's Abseil keeps absl::string_view distinct from std::string_view.
  static absl::string_view Key(std::string_view s) {
    return {s.data(), s.size()};
  }

  Record* FindLiveLocked(std::string_view sid, int64_t now) {
    auto it = by_sid_.find(Key(sid));
    if (it == by_sid_.end()) return nullptr;
    Record* rec = it->second.get();
    SettleLocked(rec, now);
    return rec->live() ? rec : nullptr;
  }

  // Closes `rec` if its expiry instant has passed.
  void SettleLocked(Record* rec, int64_t now) {
    const int64_t instant = rec->ExpiryInstant();
    if (instant == kNoTime || instant > now) return;
    ExpireLocked(rec);
    ScheduleLocked(rec);  // Its entry is stale now.
  }

  void ExpireLocked(Record* rec) {
    const int64_t instant = rec->ExpiryInstant();
    rec->Expire(instant);
    if (events_.enabled()) events_.Add(identity_.Snapshot(*rec), instant);
  }

  // Makes the queue agree with `rec`'s expiry instant: a new entry if it
  // changed, the old one left behind as stale.
  void ScheduleLocked(Record* rec) {
    const int64_t at = rec->ExpiryInstant();
    if (rec->queued_at == at) return;
    ++rec->version;
    if (rec->queued_at != kNoTime) --live_entries_;
    rec->queued_at = at;
    if (at != kNoTime) {
      queue_.push(Entry{at, rec->version, rec});
      ++live_entries_;
      if (expiry_ != nullptr) expiry_->ScheduledAt(at);
    }
    if (queue_.size() > 2 * live_entries_ + kMinStale) queue_.DropStale();
  }

  // Below this many stale entries a sweep is not worth its pass.
  static constexpr size_t kMinStale = 4096;

  // Constant after construction
  Clock* const clock_;

  std::mutex mu_;
  // Protected by mu_
  BaselineIdentity identity_;
  absl::flat_hash_map<absl::string_view, std::unique_ptr<Record>> by_sid_;
  absl::flat_hash_map<absl::string_view, Record*> by_name_;
  DeadlineQueue queue_;
  size_t live_entries_ = 0;

  CloseEvents events_;
  std::unique_ptr<ExpiryThread> expiry_;  // Null without background expiry.
};

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenLazyHeapBaseline(
    const StoreConfig& config) {
  return std::make_unique<LazyHeapBaseline>(config);
}

}  // namespace sessionwheel::bench
