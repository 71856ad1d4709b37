// Baseline (a): one std::mutex, std::unordered_map by SID and by name, and a
// std::multimap from deadline to Session.
//
// The textbook store: every Session is one heap node holding its fields; the
// two hash maps key string_views into that node, and the node remembers its
// multimap position so a reschedule is an O(log n) erase and insert (O(1)
// amortised when the new deadline is the latest, as after an interaction).
// Advance pops the multimap's front while it is due.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "bench/baseline_common.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

class MultimapBaseline final : public ExpiryStoreUnderTest {
 public:
  explicit MultimapBaseline(const StoreConfig& config)
      : clock_(config.clock), identity_(config.seed), events_(config.listener) {
    if (config.background_expiry) {
      expiry_ = std::make_unique<ExpiryThread>(clock_, [this] {
        Advance();
        std::lock_guard<std::mutex> l(mu_);
        return by_deadline_.empty() ? kNoTime : by_deadline_.begin()->first;
      });
    }
  }

  // Stops the expiry thread before the tables it reads go.
  ~MultimapBaseline() override { expiry_.reset(); }

  std::optional<Session> Create(std::string_view unique_name,
                                int64_t ttl) override {
    std::lock_guard<std::mutex> l(mu_);
    // Ended Sessions are never purged here, so a held name stays held.
    if (by_name_.count(unique_name) != 0) return std::nullopt;
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
    return identity_.Snapshot(*rec);
  }

  std::optional<Session> FetchBySid(std::string_view sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_sid_.find(sid);
    if (it == by_sid_.end()) return std::nullopt;
    SettleLocked(it->second.get(), NowMs(*clock_));
    return identity_.Snapshot(*it->second);
  }

  std::optional<Session> FetchByName(std::string_view unique_name) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_name_.find(unique_name);
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
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
      Record* rec = by_deadline_.begin()->second;
      by_deadline_.erase(by_deadline_.begin());
      rec->scheduled = false;
      ExpireLocked(rec);
      ++closed;
    }
    return closed;
  }

 private:
  struct Record : BaselineSession {
    std::multimap<int64_t, Record*>::iterator due;  // Valid while scheduled.
    bool scheduled = false;
  };

  // The live Session with this SID after settling it, or null.
  Record* FindLiveLocked(std::string_view sid, int64_t now) {
    auto it = by_sid_.find(sid);
    if (it == by_sid_.end()) return nullptr;
    Record* rec = it->second.get();
    SettleLocked(rec, now);
    return rec->live() ? rec : nullptr;
  }

  // Closes `rec` if its expiry instant has passed.
  void SettleLocked(Record* rec, int64_t now) {
    const int64_t instant = rec->ExpiryInstant();
    if (instant == kNoTime || instant > now) return;
    if (rec->scheduled) {
      by_deadline_.erase(rec->due);
      rec->scheduled = false;
    }
    ExpireLocked(rec);
  }

  void ExpireLocked(Record* rec) {
    const int64_t instant = rec->ExpiryInstant();
    rec->Expire(instant);
    if (events_.enabled()) events_.Add(identity_.Snapshot(*rec), instant);
  }

  // Puts `rec` at its expiry instant in the multimap, or takes it out.
  void ScheduleLocked(Record* rec) {
    const int64_t at = rec->ExpiryInstant();
    if (rec->scheduled) {
      if (rec->due->first == at) return;
      by_deadline_.erase(rec->due);
      rec->scheduled = false;
    }
    if (at == kNoTime) return;
    rec->due = by_deadline_.emplace_hint(by_deadline_.end(), at, rec);
    rec->scheduled = true;
    if (expiry_ != nullptr) expiry_->ScheduledAt(at);
  }

  // Constant after construction
  Clock* const clock_;

  std::mutex mu_;
  // Protected by mu_
  BaselineIdentity identity_;
  std::unordered_map<std::string_view, std::unique_ptr<Record>> by_sid_;
  std::unordered_map<std::string_view, Record*> by_name_;
  std::multimap<int64_t, Record*> by_deadline_;

  CloseEvents events_;
  std::unique_ptr<ExpiryThread> expiry_;  // Null without background expiry.
};

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenMultimapBaseline(
    const StoreConfig& config) {
  return std::make_unique<MultimapBaseline>(config);
}

}  // namespace sessionwheel::bench
