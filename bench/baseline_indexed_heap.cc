// Baseline (c): one std::mutex, absl::flat_hash_map by SID and by name, and
// an indexed 4-ary min-heap of deadlines with position tracking.
//
// The heap is an array of (deadline, Session*) slots; each Session knows its
// slot, so a changed deadline sifts up or down from there and a removal swaps
// in the last slot: O(log n) for every operation, no stale entries. Four
// children per node make the heap half as deep as a binary one, and the
// deadline sits in the slot so a sift compares without visiting Sessions.
// Every move writes the moved Session's new position, one cache miss a level.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bench/baseline_common.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

// An indexed 4-ary min-heap of `Node*` by deadline. A Node has a
// `size_t heap_index` member, kNotInHeap while it is not in the heap.
template <typename Node>
class IndexedHeap {
 public:
  static constexpr size_t kNotInHeap = ~size_t{0};
  static constexpr size_t kArity = 4;

  bool empty() const { return slots_.empty(); }
  int64_t min_deadline() const { return slots_.front().deadline; }
  Node* min_node() const { return slots_.front().node; }

  // Puts `node` at `deadline`, inserting or moving it.
  void Set(Node* node, int64_t deadline) {
    size_t i = node->heap_index;
    if (i == kNotInHeap) {
      slots_.push_back(Slot{deadline, node});
      SiftUp(slots_.size() - 1);
      return;
    }
    const int64_t old = slots_[i].deadline;
    if (old == deadline) return;
    slots_[i].deadline = deadline;
    if (deadline < old) {
      SiftUp(i);
    } else {
      SiftDown(i);
    }
  }

  // Takes `node` out of the heap if it is in it.
  void Remove(Node* node) {
    const size_t i = node->heap_index;
    if (i == kNotInHeap) return;
    node->heap_index = kNotInHeap;
    const Slot last = slots_.back();
    slots_.pop_back();
    if (i == slots_.size()) return;  // It was the last slot.
    Place(i, last);
    if (i > 0 && slots_[Parent(i)].deadline > last.deadline) {
      SiftUp(i);
    } else {
      SiftDown(i);
    }
  }

 private:
  struct Slot {
    int64_t deadline;
    Node* node;
  };

  static size_t Parent(size_t i) { return (i - 1) / kArity; }
  static size_t FirstChild(size_t i) { return i * kArity + 1; }

  void Place(size_t i, const Slot& s) {
    slots_[i] = s;
    s.node->heap_index = i;
  }

  void SiftUp(size_t i) {
    const Slot moving = slots_[i];
    while (i > 0 && slots_[Parent(i)].deadline > moving.deadline) {
      Place(i, slots_[Parent(i)]);
      i = Parent(i);
    }
    Place(i, moving);
  }

  void SiftDown(size_t i) {
    const Slot moving = slots_[i];
    const size_t n = slots_.size();
    for (;;) {
      const size_t first = FirstChild(i);
      if (first >= n) break;
      const size_t end = std::min(first + kArity, n);
      size_t least = first;
      for (size_t c = first + 1; c < end; ++c) {
        if (slots_[c].deadline < slots_[least].deadline) least = c;
      }
      if (slots_[least].deadline >= moving.deadline) break;
      Place(i, slots_[least]);
      i = least;
    }
    Place(i, moving);
  }

  std::vector<Slot> slots_;
};

class IndexedHeapBaseline final : public ExpiryStoreUnderTest {
 public:
  explicit IndexedHeapBaseline(const StoreConfig& config)
      : clock_(config.clock), identity_(config.seed), events_(config.listener) {
    if (config.background_expiry) {
      expiry_ = std::make_unique<ExpiryThread>(clock_, [this] {
        Advance();
        std::lock_guard<std::mutex> l(mu_);
        return heap_.empty() ? kNoTime : heap_.min_deadline();
      });
    }
  }

  // Stops the expiry thread before the tables it reads go.
  ~IndexedHeapBaseline() override { expiry_.reset(); }

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
    while (!heap_.empty() && heap_.min_deadline() <= now) {
      Record* rec = heap_.min_node();
      heap_.Remove(rec);
      ExpireLocked(rec);
      ++closed;
    }
    return closed;
  }

 private:
  struct Record : BaselineSession {
    size_t heap_index = IndexedHeap<Record>::kNotInHeap;
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
    heap_.Remove(rec);
    ExpireLocked(rec);
  }

  void ExpireLocked(Record* rec) {
    const int64_t instant = rec->ExpiryInstant();
    rec->Expire(instant);
    if (events_.enabled()) events_.Add(identity_.Snapshot(*rec), instant);
  }

  // Puts `rec` at its expiry instant in the heap, or takes it out.
  void ScheduleLocked(Record* rec) {
    const int64_t at = rec->ExpiryInstant();
    if (at == kNoTime) {
      heap_.Remove(rec);
      return;
    }
    heap_.Set(rec, at);
    if (expiry_ != nullptr) expiry_->ScheduledAt(at);
  }

  // Constant after construction
  Clock* const clock_;

  std::mutex mu_;
  // Protected by mu_
  BaselineIdentity identity_;
  absl::flat_hash_map<absl::string_view, std::unique_ptr<Record>> by_sid_;
  absl::flat_hash_map<absl::string_view, Record*> by_name_;
  IndexedHeap<Record> heap_;

  CloseEvents events_;
  std::unique_ptr<ExpiryThread> expiry_;  // Null without background expiry.
};

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenIndexedHeapBaseline(
    const StoreConfig& config) {
  return std::make_unique<IndexedHeapBaseline>(config);
}

}  // namespace sessionwheel::bench
