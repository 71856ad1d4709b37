// Baseline (a): one std::mutex, std::unordered_map by SID and by name, and a
// std::multimap from deadline to Session.
//
// The textbook store: every Session is one heap node holding its fields; the
// two hash maps key string_views into that node, and the node remembers its
// multimap position so a reschedule is an O(log n) erase and insert (O(1)
// amortised when the new deadline is the latest, as after an interaction).
// Advance pops the multimap's front while it is due. The calls around the
// index are BaselineStore's (bench/baseline_store.h).

#include <cstdint>
#include <map>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "absl/hash/hash.h"
#include "bench/baseline_common.h"
#include "bench/baseline_store.h"
#include "bench/store_under_test.h"

namespace sessionwheel::bench {
namespace {

// A std::multimap from deadline to Record; see BaselineStore for the hooks.
template <typename Record>
class MultimapIndex {
 public:
  struct Hook {
    // Valid while scheduled.
    typename std::multimap<int64_t, Record*>::iterator due;
    bool scheduled = false;
  };

  bool Set(Record* rec, int64_t at) {
    if (rec->scheduled) {
      if (rec->due->first == at) return false;
      by_deadline_.erase(rec->due);
    }
    // A hint at the end: a new deadline is usually the latest.
    rec->due = by_deadline_.emplace_hint(by_deadline_.end(), at, rec);
    rec->scheduled = true;
    return true;
  }

  void Remove(Record* rec) {
    if (!rec->scheduled) return;
    by_deadline_.erase(rec->due);
    rec->scheduled = false;
  }

  Record* PopDue(int64_t now) {
    if (by_deadline_.empty() || by_deadline_.begin()->first > now) {
      return nullptr;
    }
    Record* rec = by_deadline_.begin()->second;
    by_deadline_.erase(by_deadline_.begin());
    rec->scheduled = false;
    return rec;
  }

  int64_t NextDeadline() const {
    return by_deadline_.empty() ? kNoTime : by_deadline_.begin()->first;
  }

 private:
  std::multimap<int64_t, Record*> by_deadline_;
};

template <typename Value>
using StdStringMap = std::unordered_map<std::string_view, Value>;
template <typename Value>
using StdSidMap = std::unordered_map<Sid, Value, absl::Hash<Sid>>;

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenMultimapBaseline(
    const StoreConfig& config) {
  return std::make_unique<
      BaselineStore<MultimapIndex, StdStringMap, StdSidMap>>(config);
}

}  // namespace sessionwheel::bench
