// Baseline (c): one std::mutex, absl::flat_hash_map by SID and by name, and
// an indexed 4-ary min-heap of deadlines with position tracking.
//
// The heap is an array of (deadline, Session*) slots; each Session knows its
// slot, so a changed deadline sifts up or down from there and a removal swaps
// in the last slot: O(log n) for every operation, no stale entries. Four
// children per node make the heap half as deep as a binary one, and the
// deadline sits in the slot so a sift compares without visiting Sessions.
// Every move writes the moved Session's new position, one cache miss a level.
// The calls around the heap are BaselineStore's (bench/baseline_store.h).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "bench/baseline_common.h"
#include "bench/baseline_store.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

// An indexed 4-ary min-heap of Records by deadline; see BaselineStore for
// the hooks.
template <typename Record>
class IndexedHeapIndex {
 public:
  static constexpr size_t kNotInHeap = ~size_t{0};
  static constexpr size_t kArity = 4;

  struct Hook {
    size_t heap_index = kNotInHeap;
  };

  bool Set(Record* rec, int64_t deadline) {
    const size_t i = rec->heap_index;
    if (i == kNotInHeap) {
      slots_.push_back(Slot{deadline, rec});
      SiftUp(slots_.size() - 1);
      return true;
    }
    const int64_t old = slots_[i].deadline;
    if (old == deadline) return false;
    slots_[i].deadline = deadline;
    if (deadline < old) {
      SiftUp(i);
    } else {
      SiftDown(i);
    }
    return true;
  }

  void Remove(Record* rec) {
    const size_t i = rec->heap_index;
    if (i == kNotInHeap) return;
    rec->heap_index = kNotInHeap;
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

  Record* PopDue(int64_t now) {
    if (slots_.empty() || slots_.front().deadline > now) return nullptr;
    Record* rec = slots_.front().rec;
    Remove(rec);
    return rec;
  }

  int64_t NextDeadline() const {
    return slots_.empty() ? kNoTime : slots_.front().deadline;
  }

 private:
  struct Slot {
    int64_t deadline;
    Record* rec;
  };

  static size_t Parent(size_t i) { return (i - 1) / kArity; }
  static size_t FirstChild(size_t i) { return i * kArity + 1; }

  void Place(size_t i, const Slot& s) {
    slots_[i] = s;
    s.rec->heap_index = i;
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

template <typename Value>
using FlatStringMap = absl::flat_hash_map<absl::string_view, Value>;
template <typename Value>
using FlatSidMap = absl::flat_hash_map<Sid, Value>;

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenIndexedHeapBaseline(
    const StoreConfig& config) {
  return std::make_unique<
      BaselineStore<IndexedHeapIndex, FlatStringMap, FlatSidMap>>(config);
}

}  // namespace sessionwheel::bench
