// Baseline (b): one std::mutex, absl::flat_hash_map by SID and by name, and a
// std::priority_queue of (deadline, version, Session) with lazy deletion.
//
// A reschedule never touches the queue's old entry: it bumps the Session's
// version and pushes a new entry, O(log n) but usually O(1), since a new
// deadline tends to be the latest. Advance pops due entries and skips those
// whose version is stale. Stale entries are dropped in one O(n) pass when
// they outnumber the live ones, so the queue stays within twice the live
// Sessions. The calls around the queue are BaselineStore's
// (bench/baseline_store.h).
//
// An entry points at its Session rather than holding its SID: records are
// never freed while the store lives (nothing here deletes or purges), so the
// pointer is safe, and it spares the queue a string per entry. That favours
// this baseline.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <queue>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bench/baseline_common.h"
#include "bench/baseline_store.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

// A priority queue of deadlines with lazy deletion; see BaselineStore for
// the hooks.
template <typename Record>
class LazyHeapIndex {
 public:
  struct Hook {
    uint64_t version = 0;         // Bumped by every reschedule.
    int64_t queued_at = kNoTime;  // The live entry's deadline, if any.
  };

  // Leaves the old entry, if any, behind as stale.
  bool Set(Record* rec, int64_t at) {
    if (rec->queued_at == at) return false;
    ++rec->version;
    if (rec->queued_at != kNoTime) --live_entries_;
    rec->queued_at = at;
    queue_.push(Entry{at, rec->version, rec});
    ++live_entries_;
    MaybeDropStale();
    return true;
  }

  void Remove(Record* rec) {
    if (rec->queued_at == kNoTime) return;
    ++rec->version;
    --live_entries_;
    rec->queued_at = kNoTime;
    MaybeDropStale();
  }

  Record* PopDue(int64_t now) {
    while (!queue_.empty() && queue_.top().deadline <= now) {
      const Entry e = queue_.top();
      queue_.pop();
      if (e.version != e.rec->version) continue;  // Rescheduled since.
      e.rec->queued_at = kNoTime;
      --live_entries_;
      return e.rec;
    }
    return nullptr;
  }

  // A stale top only wakes the thread early.
  int64_t NextDeadline() const {
    return queue_.empty() ? kNoTime : queue_.top().deadline;
  }

 private:
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
      std::vector<Entry>& entries = this->c;
      entries.erase(std::remove_if(entries.begin(), entries.end(),
                                   [](const Entry& e) {
                                     return e.version != e.rec->version;
                                   }),
                    entries.end());
      std::make_heap(entries.begin(), entries.end(), this->comp);
    }
  };

  // Below this many stale entries a sweep is not worth its pass.
  static constexpr size_t kMinStale = 4096;

  void MaybeDropStale() {
    if (queue_.size() > 2 * live_entries_ + kMinStale) queue_.DropStale();
  }

  DeadlineQueue queue_;
  size_t live_entries_ = 0;
};

template <typename Value>
using FlatStringMap = absl::flat_hash_map<absl::string_view, Value>;
template <typename Value>
using FlatSidMap = absl::flat_hash_map<Sid, Value>;

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenLazyHeapBaseline(
    const StoreConfig& config) {
  return std::make_unique<
      BaselineStore<LazyHeapIndex, FlatStringMap, FlatSidMap>>(config);
}

}  // namespace sessionwheel::bench
